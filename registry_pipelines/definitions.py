"""The code location: every declared model's lifecycle, the sensors, schedules and jobs."""

from __future__ import annotations

import dagster as dg

from registry_pipelines.jobs import promotion_job, rollback_job
from registry_pipelines.lifecycle import build_lifecycle
from registry_pipelines.resources import RegistryResource
from registry_pipelines.sensors import build_promotion_sensor
from registry_pipelines.specs import load_specs
from registry_pipelines.webhook_sensor import webhook_sensor

LIFECYCLES = [build_lifecycle(spec) for spec in load_specs()]

all_models_training = dg.define_asset_job(
    "all_models_training",
    selection=[key for lc in LIFECYCLES for key in lc.keys.training_chain],
    description="Retrain every declared model; steps of different models run in parallel.",
)

defs = dg.Definitions(
    assets=[asset for lc in LIFECYCLES for asset in lc.assets],
    jobs=[
        *(lc.training_job for lc in LIFECYCLES),
        *(lc.promotion_job for lc in LIFECYCLES),
        all_models_training,
        promotion_job,
        rollback_job,
    ],
    schedules=[lc.schedule for lc in LIFECYCLES],
    sensors=[build_promotion_sensor(LIFECYCLES), webhook_sensor],
    resources={"registry": RegistryResource()},
)


def all_models_training_job() -> dg.JobDefinition:
    """The all-models job, resolved, for `dagster.reconstructable` (multiprocess execution)."""
    return defs.resolve_job_def("all_models_training")
