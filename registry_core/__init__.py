"""The model registry library: a DuckDB file, an artifact folder, an MLflow-style client.

`import registry_core as rc` gives the fluent API of `mlflow` (`rc.start_run`, `rc.log_metric`,
`rc.log_model`, `rc.register_model`, `rc.load_model`) and `rc.RegistryClient`, whose methods
are named as `mlflow.MlflowClient`'s.
"""

from registry_core.client import Lineage, RegistryClient, ResolvedModel
from registry_core.config import set_registry_uri
from registry_core.entities import (
    Metric,
    ModelVersion,
    PagedList,
    RegisteredModel,
    Run,
    RunArtifact,
    StageTransition,
)
from registry_core.errors import (
    ArtifactIntegrityError,
    InvalidParameterValue,
    InvalidState,
    RegistryError,
    RegistryLocked,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
    UntrustedModelError,
)
from registry_core.loaded_model import LoadedModel
from registry_core.loading import load_model
from registry_core.signature import ModelSignature, infer_signature
from registry_core.tracking import (
    ActiveRun,
    LoggedModelInfo,
    active_run,
    end_run,
    get_registry_uri,
    log_input,
    log_metric,
    log_metrics,
    log_model,
    log_param,
    log_params,
    register_model,
    set_tag,
    set_tags,
    start_run,
)

MlflowClient = RegistryClient

__all__ = [
    "ActiveRun",
    "ArtifactIntegrityError",
    "InvalidParameterValue",
    "InvalidState",
    "Lineage",
    "LoadedModel",
    "LoggedModelInfo",
    "Metric",
    "MlflowClient",
    "ModelSignature",
    "ModelVersion",
    "PagedList",
    "RegisteredModel",
    "RegistryClient",
    "RegistryError",
    "RegistryLocked",
    "ResolvedModel",
    "ResourceAlreadyExists",
    "ResourceDoesNotExist",
    "Run",
    "RunArtifact",
    "StageTransition",
    "UntrustedModelError",
    "active_run",
    "end_run",
    "get_registry_uri",
    "infer_signature",
    "load_model",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_param",
    "log_params",
    "register_model",
    "set_registry_uri",
    "set_tag",
    "set_tags",
    "start_run",
]
