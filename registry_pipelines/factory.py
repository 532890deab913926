"""The Python way to declare a model: one call per model, returning definitions that merge with
the project's own. It takes the same options, through the same schema, as the component."""

from __future__ import annotations

from typing import Any

import dagster as dg

from registry_pipelines.lifecycle import build_lifecycle
from registry_pipelines.resources import RegistryResource
from registry_pipelines.sensors import build_promotion_sensor
from registry_pipelines.specs import ModelSpec, parse_spec

DEFAULT_REGISTRY = RegistryResource()


def lifecycle_definitions(
    spec: ModelSpec, registry: RegistryResource | None = None
) -> dg.Definitions:
    """One model's assets, checks, jobs, schedule and promotion sensor, with the registry bound.

    Every model shares `DEFAULT_REGISTRY` (`MODEL_REGISTRY_URI`, else `./.registry/`) unless given
    another; pass the same resource to every call so the definitions merge.
    """
    lc = build_lifecycle(spec)
    sensor = build_promotion_sensor(lc)
    return dg.Definitions(
        assets=lc.assets,
        jobs=[lc.training_job, lc.promotion_job],
        schedules=[lc.schedule] if lc.schedule else [],
        sensors=[sensor] if sensor else [],
        resources={"registry": registry or DEFAULT_REGISTRY},
    )


def model_lifecycle_defs(
    *, registry: RegistryResource | None = None, **options: Any
) -> dg.Definitions:
    """The definitions of one model declared with the component's fields as keyword arguments
    (`name=`, `task=`, `data=`, `training=`, `metrics=`, ...; sections as dicts or spec objects).

    Raises SpecError naming the model and the field when an option is invalid. Relative data paths
    are relative to the working directory of the process that runs the steps.
    """
    return lifecycle_definitions(parse_spec(options, source="model_lifecycle_defs"), registry)
