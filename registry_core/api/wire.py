"""How values travel over HTTP: MLflow's JSON shapes for what MLflow has, plain JSON for the rest.

Each `Codec` turns one Python value into its JSON form and back, and names the JSON's type (for
request validation and the OpenAPI schema). The server decodes requests and encodes results with
the same codecs the HTTP store uses to encode requests and decode results, so the two sides
cannot disagree. Entities are MLflow's messages plus extension fields (an artifact's sha256, a
version's signature), which MLflow's own client ignores.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar, Union

from pydantic import BaseModel, ConfigDict

from registry_core.artifacts import ArtifactRef
from registry_core.entities import (
    ApiToken,
    ArtifactFile,
    Experiment,
    LoggedModel,
    Metric,
    ModelOutput,
    ModelVersion,
    PagedList,
    RegisteredModel,
    ResolvedModel,
    Run,
    RunArtifact,
    StageProtection,
    StageTransition,
    TransitionRequest,
    VersionComment,
)
from registry_core.mlflow_artifacts import artifact_uri, run_folder
from registry_core.webhooks.entities import Delivery, DeliveryAttempt, DeliverySummary, Webhook

T = TypeVar("T")


class Codec(Generic[T]):
    """A value's JSON form: `encode` (Python to JSON), `decode` (JSON to Python), `schema`."""

    def __init__(self, schema: Any, encode: Callable[[T], Any], decode: Callable[[Any], T]) -> None:
        self.schema = schema
        self.encode = encode
        self.decode = decode


def _same(value: Any) -> Any:
    return value


def plain(schema: Any) -> Codec[Any]:
    """A value that JSON carries as it is (strings, numbers, booleans, lists and maps of them)."""
    return Codec(schema, _same, _same)


class KeyValue(BaseModel):
    """MLflow's tag and param shape."""

    model_config = ConfigDict(extra="ignore")
    key: str
    value: str = ""


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _pairs(mapping: Mapping[str, Any]) -> list[dict[str, str]]:
    return [{"key": key, "value": _text(value)} for key, value in mapping.items()]


def _mapping(items: Any) -> dict[str, str]:
    return {item["key"]: item.get("value", "") for item in items or ()}


KEY_VALUES: Codec[dict[str, Any]] = Codec(list[KeyValue], _pairs, _mapping)
"""A dict of tags or params as MLflow's list of `{"key", "value"}`."""


class MetricWire(BaseModel):
    """MLflow's metric shape."""

    model_config = ConfigDict(extra="ignore")
    key: str
    value: float | str
    timestamp: int = 0
    step: int = 0


def _metric_json(metric: Metric) -> dict[str, Any]:
    return {
        "key": metric.key,
        "value": metric.value,
        "timestamp": metric.timestamp,
        "step": metric.step,
    }


def _metric(data: Mapping[str, Any]) -> Metric:
    return Metric(
        data["key"], data["value"], int(data.get("step") or 0), int(data.get("timestamp") or 0)
    )


METRICS: Codec[list[Metric]] = Codec(
    list[MetricWire],
    lambda ms: [_metric_json(m) for m in ms],
    lambda items: [_metric(m) for m in items or ()],
)


def _omit_none(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


# -- MLflow's entities -------------------------------------------------------------------------


def _version_json(mv: ModelVersion) -> dict[str, Any]:
    return _omit_none(
        {
            "name": mv.name,
            "version": mv.version,
            "creation_timestamp": mv.creation_timestamp,
            "last_updated_timestamp": mv.last_updated_timestamp,
            "current_stage": mv.current_stage,
            "description": mv.description,
            "source": mv.source,
            "run_id": mv.run_id,
            "run_link": mv.run_link,
            "status": mv.status,
            "tags": _pairs(mv.tags),
            "aliases": list(mv.aliases),
            "artifact_sha256": mv.artifact_sha256,
            "artifact_size": mv.artifact_size,
            "artifact_format": mv.artifact_format,
            "signature": mv.signature,
        }
    )


def _version(data: Mapping[str, Any]) -> ModelVersion:
    return ModelVersion(
        name=data["name"],
        version=str(data["version"]),
        source=data.get("source", ""),
        run_id=data.get("run_id") or None,
        run_link=data.get("run_link") or None,
        current_stage=data.get("current_stage", "None"),
        status=data.get("status", "READY"),
        description=data.get("description"),
        tags=_mapping(data.get("tags")),
        aliases=tuple(data.get("aliases") or ()),
        creation_timestamp=int(data.get("creation_timestamp") or 0),
        last_updated_timestamp=int(data.get("last_updated_timestamp") or 0),
        artifact_sha256=data.get("artifact_sha256"),
        artifact_size=data.get("artifact_size"),
        artifact_format=data.get("artifact_format"),
        signature=data.get("signature"),
    )


MODEL_VERSION: Codec[ModelVersion] = Codec(dict[str, Any], _version_json, _version)


def _model_json(rm: RegisteredModel) -> dict[str, Any]:
    return _omit_none(
        {
            "name": rm.name,
            "creation_timestamp": rm.creation_timestamp,
            "last_updated_timestamp": rm.last_updated_timestamp,
            "description": rm.description,
            "latest_versions": [_version_json(mv) for mv in rm.latest_versions],
            "tags": _pairs(rm.tags),
            "aliases": [{"alias": a, "version": v} for a, v in rm.aliases.items()],
        }
    )


def _model(data: Mapping[str, Any]) -> RegisteredModel:
    return RegisteredModel(
        name=data["name"],
        description=data.get("description"),
        tags=_mapping(data.get("tags")),
        aliases={a["alias"]: str(a["version"]) for a in data.get("aliases") or ()},
        latest_versions=tuple(_version(mv) for mv in data.get("latest_versions") or ()),
        creation_timestamp=int(data.get("creation_timestamp") or 0),
        last_updated_timestamp=int(data.get("last_updated_timestamp") or 0),
    )


REGISTERED_MODEL: Codec[RegisteredModel] = Codec(dict[str, Any], _model_json, _model)


def _experiment_json(e: Experiment) -> dict[str, Any]:
    return {
        "experiment_id": e.experiment_id,
        "name": e.name,
        "artifact_location": e.artifact_location,
        "lifecycle_stage": e.lifecycle_stage,
        "creation_time": e.creation_time,
        "last_update_time": e.last_update_time,
        "tags": _pairs(e.tags),
    }


def _experiment(data: Mapping[str, Any]) -> Experiment:
    return Experiment(
        experiment_id=str(data["experiment_id"]),
        name=data["name"],
        artifact_location=data.get("artifact_location", ""),
        lifecycle_stage=data.get("lifecycle_stage", "active"),
        tags=_mapping(data.get("tags")),
        creation_time=int(data.get("creation_time") or 0),
        last_update_time=int(data.get("last_update_time") or 0),
    )


EXPERIMENT: Codec[Experiment] = Codec(dict[str, Any], _experiment_json, _experiment)


def _run_info_json(run: Run) -> dict[str, Any]:
    return _omit_none(
        {
            "run_id": run.run_id,
            "run_uuid": run.run_id,
            "run_name": run.run_name,
            "experiment_id": run.experiment_id,
            "user_id": run.user_id,
            "status": run.status,
            "start_time": run.start_time,
            "end_time": run.end_time,
            "artifact_uri": artifact_uri(run_folder(run.experiment_id, run.run_id)),
            "lifecycle_stage": "active",
            "code_version": run.code_version,
            "data_fingerprint": run.data_fingerprint,
            "source_info": run.source_info,
            "artifacts": [dataclasses.asdict(a) for a in run.artifacts],
        }
    )


def _run_json(run: Run) -> dict[str, Any]:
    outputs = [{"model_id": out.model_id, "step": out.step} for out in run.model_outputs]
    return {
        "info": _run_info_json(run),
        "data": {
            "metrics": [
                {"key": k, "value": v, "timestamp": 0, "step": 0} for k, v in run.metrics.items()
            ],
            "params": _pairs(run.params),
            "tags": _pairs(run.tags),
        },
        "inputs": {},
        "outputs": {"model_outputs": outputs} if outputs else {},
    }


def _run(data: Mapping[str, Any]) -> Run:
    info, values = data["info"], data.get("data") or {}
    return Run(
        run_id=info["run_id"],
        run_name=info.get("run_name"),
        status=info.get("status", "RUNNING"),
        start_time=int(info.get("start_time") or 0),
        end_time=info.get("end_time"),
        params=_mapping(values.get("params")),
        metrics={m["key"]: m["value"] for m in values.get("metrics") or ()},
        tags=_mapping(values.get("tags")),
        code_version=info.get("code_version"),
        data_fingerprint=info.get("data_fingerprint"),
        source_info=info.get("source_info") or {},
        artifacts=tuple(RunArtifact(**a) for a in info.get("artifacts") or ()),
        experiment_id=str(info.get("experiment_id", "0")),
        user_id=info.get("user_id"),
        model_outputs=tuple(
            ModelOutput(out["model_id"], int(out.get("step") or 0))
            for out in (data.get("outputs") or {}).get("model_outputs") or ()
        ),
    )


RUN: Codec[Run] = Codec(dict[str, Any], _run_json, _run)
RUN_INFO: Codec[Run] = Codec(dict[str, Any], _run_info_json, lambda info: _run({"info": info}))


def _logged_model_json(model: LoggedModel) -> dict[str, Any]:
    return {
        "info": _omit_none(
            {
                "model_id": model.model_id,
                "experiment_id": model.experiment_id,
                "name": model.name,
                "artifact_uri": model.artifact_uri,
                "status": model.status,
                "creation_timestamp_ms": model.creation_timestamp,
                "last_updated_timestamp_ms": model.last_updated_timestamp,
                "source_run_id": model.source_run_id,
                "model_type": model.model_type,
                "tags": _pairs(model.tags),
            }
        ),
        "data": {"params": _pairs(model.params)},
    }


def _logged_model(data: Mapping[str, Any]) -> LoggedModel:
    info = data["info"]
    return LoggedModel(
        model_id=info["model_id"],
        experiment_id=str(info["experiment_id"]),
        name=info["name"],
        artifact_uri=info["artifact_uri"],
        status=info["status"],
        creation_timestamp=int(info.get("creation_timestamp_ms") or 0),
        last_updated_timestamp=int(info.get("last_updated_timestamp_ms") or 0),
        source_run_id=info.get("source_run_id") or None,
        model_type=info.get("model_type") or None,
        tags=_mapping(info.get("tags")),
        params=_mapping((data.get("data") or {}).get("params")),
    )


LOGGED_MODEL: Codec[LoggedModel] = Codec(dict[str, Any], _logged_model_json, _logged_model)
"""MLflow's LoggedModel message: `info` (id, status, where its files are, tags) and `data`."""


class ModelOutputWire(BaseModel):
    """MLflow's LoggedModelOutput: a logged model a run output, at a step of the run."""

    model_config = ConfigDict(extra="ignore")
    model_id: str
    step: int = 0


MODEL_OUTPUTS: Codec[list[tuple[str, int]]] = Codec(
    list[ModelOutputWire],
    lambda outputs: [{"model_id": model_id, "step": step} for model_id, step in outputs],
    lambda items: [(item["model_id"], int(item.get("step") or 0)) for item in items or ()],
)


class OrderByWire(BaseModel):
    """One of MLflow's logged-model sort keys, `{"field_name", "ascending"}`."""

    model_config = ConfigDict(extra="ignore")
    field_name: str
    ascending: bool = True


ORDER_BY_FIELDS: Codec[list[str]] = Codec(
    list[OrderByWire],
    lambda clauses: [
        {"field_name": key, "ascending": direction != "DESC"}
        for key, _, direction in (clause.partition(" ") for clause in clauses)
    ],
    lambda items: [
        f"{item['field_name']} {'ASC' if item.get('ascending', True) else 'DESC'}"
        for item in items or ()
    ],
)
"""Sort keys sent as MLflow's objects and handled as this registry's `KEY ASC|DESC` clauses."""


def _file_json(entry: ArtifactFile) -> dict[str, Any]:
    return _omit_none({"path": entry.path, "is_dir": entry.is_dir, "file_size": entry.file_size})


FILE_INFO: Codec[ArtifactFile] = Codec(
    dict[str, Any],
    _file_json,
    lambda data: ArtifactFile(data["path"], bool(data.get("is_dir")), data.get("file_size")),
)
"""MLflow's FileInfo: an entry of an artifact-proxy listing (a folder has no size)."""


# -- this registry's own entities: their dataclass fields as they are ------------------------


def dataclass_codec(cls: type[T]) -> Codec[T]:
    """A frozen dataclass as a JSON object of its fields (tuples become lists and back)."""
    hints = typing.get_type_hints(cls)

    def encode(value: T) -> dict[str, Any]:
        return dataclasses.asdict(value)  # type: ignore[call-overload]

    def decode(data: Mapping[str, Any]) -> T:
        known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        values = {key: _revive(hints[key], value) for key, value in data.items() if key in known}
        return cls(**values)

    return Codec(dict[str, Any], encode, decode)


def validated_dataclass(cls: type[T]) -> Codec[T]:
    """A dataclass sent as a request: its JSON schema is the class itself, so the server
    refuses a body of the wrong shape before the store sees it."""
    codec = dataclass_codec(cls)
    return Codec(cls, codec.encode, codec.decode)


def _revive(hint: Any, value: Any) -> Any:
    """JSON back to the annotated type: lists to tuples, nested dataclasses to instances."""
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        options = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _revive(options[0], value) if len(options) == 1 else value
    if origin is tuple:
        item = typing.get_args(hint)[0]
        return tuple(_revive(item, v) for v in value)
    if dataclasses.is_dataclass(hint):
        return dataclass_codec(hint).decode(value)  # type: ignore[arg-type]
    return value


STAGE_TRANSITION = dataclass_codec(StageTransition)
TRANSITION_REQUEST = dataclass_codec(TransitionRequest)
VERSION_COMMENT = dataclass_codec(VersionComment)
STAGE_PROTECTION = dataclass_codec(StageProtection)
RESOLVED_MODEL: Codec[ResolvedModel] = Codec(
    dict[str, Any],
    lambda r: {
        **{f.name: getattr(r, f.name) for f in dataclasses.fields(r) if f.name != "model_version"},
        "model_version": _version_json(r.model_version) if r.model_version else None,
    },
    lambda d: ResolvedModel(
        uri=d["uri"],
        sha256=d["sha256"],
        format=d["format"],
        signature=d.get("signature"),
        model_version=_version(d["model_version"]) if d.get("model_version") else None,
        run_id=d.get("run_id"),
    ),
)
RUN_ARTIFACT = dataclass_codec(RunArtifact)
WEBHOOK = dataclass_codec(Webhook)
DELIVERY = dataclass_codec(Delivery)
DELIVERY_ATTEMPT = dataclass_codec(DeliveryAttempt)
DELIVERY_SUMMARY = dataclass_codec(DeliverySummary)
API_TOKEN = dataclass_codec(ApiToken)
ARTIFACT_REF = dataclass_codec(ArtifactRef)


def list_of(codec: Codec[T]) -> Codec[list[T]]:
    """A JSON list of values of one codec."""
    return Codec(
        list[codec.schema],  # type: ignore[name-defined]
        lambda values: [codec.encode(v) for v in values],
        lambda items: [codec.decode(v) for v in items or ()],
    )


def optional(codec: Codec[T]) -> Codec[T | None]:
    """A value that may be absent (null)."""
    return Codec(
        codec.schema | None,
        lambda value: None if value is None else codec.encode(value),
        lambda data: None if data is None else codec.decode(data),
    )


# -- the body of a response -------------------------------------------------------------------


class Reply:
    """How a store method's result is wrapped in a JSON response body, and unwrapped."""

    def encode(self, result: Any) -> dict[str, Any]:
        return {}

    def decode(self, data: Mapping[str, Any]) -> Any:
        return None


class Empty(Reply):
    """No result: an empty JSON object, as MLflow answers tag and delete calls."""


class One(Reply):
    """One value under one key, `{"registered_model": {...}}`; None leaves the key out."""

    def __init__(self, key: str, codec: Codec[Any]) -> None:
        self.key, self.codec = key, codec

    def encode(self, result: Any) -> dict[str, Any]:
        return {} if result is None else {self.key: self.codec.encode(result)}

    def decode(self, data: Mapping[str, Any]) -> Any:
        value = data.get(self.key)
        return None if value is None else self.codec.decode(value)


class Page(Reply):
    """A search page, `{"model_versions": [...], "next_page_token": "..."}`."""

    def __init__(self, key: str, codec: Codec[Any]) -> None:
        self.key, self.codec = key, codec

    def encode(self, result: PagedList[Any]) -> dict[str, Any]:
        return _omit_none(
            {self.key: [self.codec.encode(v) for v in result], "next_page_token": result.token}
        )

    def decode(self, data: Mapping[str, Any]) -> PagedList[Any]:
        items = [self.codec.decode(v) for v in data.get(self.key) or ()]
        return PagedList(items, data.get("next_page_token") or None)


class Pair(Reply):
    """A two-value result, each under its own key."""

    def __init__(self, first: tuple[str, Codec[Any]], second: tuple[str, Codec[Any]]) -> None:
        self.parts = (first, second)

    def encode(self, result: tuple[Any, Any]) -> dict[str, Any]:
        return {
            key: codec.encode(value) for (key, codec), value in zip(self.parts, result, strict=True)
        }

    def decode(self, data: Mapping[str, Any]) -> tuple[Any, Any]:
        first, second = (codec.decode(data[key]) for key, codec in self.parts)
        return first, second
