"""The model registry library: a DuckDB file, an artifact folder, an MLflow-style client.

`import registry_core as rc` gives the fluent API of `mlflow` (`rc.start_run`, `rc.log_metric`,
`rc.log_model`, `rc.register_model`, `rc.load_model`) and `rc.RegistryClient`, whose methods
are named as `mlflow.MlflowClient`'s.
"""

import importlib
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
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

# The fluent API and the model loader, imported on first use: the CLI, the server and a client
# that only reads the registry never need them (the names stay importable from here).
_LAZY_MODULES: dict[str, tuple[str, ...]] = {
    "registry_core.loaded_model": ("LoadedModel",),
    "registry_core.loading": ("load_model",),
    "registry_core.signature": ("ModelSignature", "infer_signature"),
    "registry_core.tracking": (
        "ActiveRun",
        "LoggedModelInfo",
        "active_run",
        "end_run",
        "get_registry_uri",
        "log_input",
        "log_metric",
        "log_metrics",
        "log_model",
        "log_param",
        "log_params",
        "register_model",
        "set_tag",
        "set_tags",
        "start_run",
    ),
}
_LAZY = {name: module for module, names in _LAZY_MODULES.items() for name in names}


def __getattr__(name: str) -> Any:
    """A lazily exported name, imported from its module the first time it is asked for."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'registry_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


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
