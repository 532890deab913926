"""Model URIs as MLflow writes them: `models:/NAME/VERSION|STAGE|latest`, `models:/NAME@ALIAS`
and `runs:/RUN_ID/PATH`."""

from __future__ import annotations

from dataclasses import dataclass

from registry_core import validation as check
from registry_core.errors import InvalidParameterValue


@dataclass(frozen=True)
class ModelUri:
    """A `models:/` URI: exactly one of version, stage, alias or latest is set."""

    name: str
    version: int | None = None
    stage: str | None = None
    alias: str | None = None
    latest: bool = False


@dataclass(frozen=True)
class RunUri:
    """A `runs:/RUN_ID/PATH` URI: an artifact logged by a run."""

    run_id: str
    path: str


def parse_uri(uri: str) -> ModelUri | RunUri:
    """Parse a model or run URI, naming the fault when it is malformed."""
    if not isinstance(uri, str):
        raise InvalidParameterValue(f"A model URI must be a string, got {uri!r}.")
    if uri.startswith("models:/"):
        return _parse_models(uri, uri[len("models:/") :])
    if uri.startswith("runs:/"):
        run_id, _, path = uri[len("runs:/") :].strip("/").partition("/")
        if not run_id or not path:
            raise InvalidParameterValue(f"Invalid run URI {uri!r}: expected runs:/RUN_ID/PATH.")
        return RunUri(run_id=run_id, path=path.strip("/"))
    raise InvalidParameterValue(
        f"Unsupported URI {uri!r}: use models:/NAME/VERSION, models:/NAME/STAGE, "
        "models:/NAME/latest, models:/NAME@ALIAS or runs:/RUN_ID/PATH."
    )


def _parse_models(uri: str, rest: str) -> ModelUri:
    rest = rest.rstrip("/")
    if "/" in rest:
        name, _, suffix = rest.rpartition("/")
        if "@" in suffix:
            raise InvalidParameterValue(
                f"Invalid model URI {uri!r}: give a version, a stage or an alias, not both."
            )
        check.model_name(name)
        if suffix.isdigit():
            return ModelUri(name=name, version=check.version_number(suffix))
        if suffix.lower() == "latest":
            return ModelUri(name=name, latest=True)
        try:
            return ModelUri(name=name, stage=check.stage(suffix))
        except InvalidParameterValue:
            raise InvalidParameterValue(
                f"Invalid model URI {uri!r}: {suffix!r} is not a version number, a stage "
                "(None, Staging, Production, Archived) or 'latest'."
            ) from None
    if "@" in rest:
        name, _, alias = rest.rpartition("@")
        return ModelUri(name=check.model_name(name), alias=check.alias(alias))
    raise InvalidParameterValue(
        f"Invalid model URI {uri!r}: expected models:/NAME/VERSION, models:/NAME/STAGE, "
        "models:/NAME/latest or models:/NAME@ALIAS."
    )
