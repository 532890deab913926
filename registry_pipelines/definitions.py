"""The shipped code location: the models under `registry_pipelines/defs/`, loaded by Dagster's
component tree exactly as a user's project loads its own, plus the jobs and sensors that are
not per model."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

import registry_pipelines.defs
from registry_pipelines.component import ModelLifecycleComponent
from registry_pipelines.factory import DEFAULT_REGISTRY
from registry_pipelines.jobs import approval_job, promotion_job, rollback_job
from registry_pipelines.lifecycle import LIFECYCLE_TAG
from registry_pipelines.specs import ModelSpec
from registry_pipelines.webhook_sensor import webhook_sensor

TREE = dg.ComponentTree.from_module(
    defs_module=registry_pipelines.defs, project_root=Path(__file__).resolve().parent
)
SPECS: list[ModelSpec] = TREE.get_all_components(of_type=ModelLifecycleComponent)

all_models_training = dg.define_asset_job(
    "all_models_training",
    selection=dg.AssetSelection.tag(LIFECYCLE_TAG, "training"),
    description="Retrain every declared model; steps of different models run in parallel.",
)

defs = dg.Definitions.merge(
    TREE.build_defs(),
    dg.Definitions(
        jobs=[all_models_training, promotion_job, rollback_job, approval_job],
        sensors=[webhook_sensor],
        resources={"registry": DEFAULT_REGISTRY},
    ),
)


def all_models_training_job() -> dg.JobDefinition:
    """The all-models job, resolved, for `dagster.reconstructable` (multiprocess execution)."""
    return defs.resolve_job_def("all_models_training")
