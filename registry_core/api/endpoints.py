"""Every endpoint of the registry server, declared once.

The server builds its routes from this table and the HTTP store builds its methods from it, as
MLflow derives both from its service definition. An endpoint names the store method it carries
(with each parameter's JSON field and codec), the reply's shape, and the role a caller needs.
MLflow's Model Registry and tracking endpoints keep MLflow's paths, methods and JSON; what MLflow
lacks lives under `/api/2.0/registry/`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from registry_core.api import wire
from registry_core.api.wire import Codec, Empty, One, Page, Pair, Reply, plain
from registry_core.entities import STAGE_ARCHIVED, STAGE_PRODUCTION, Metric
from registry_core.mlflow_import.bundle import ImportedModel, ModelImportResult

READER, WRITER, PROMOTER, ADMIN = "reader", "writer", "promoter", "admin"
CHAMPION_ALIAS = "champion"
IDEMPOTENCY_HEADER = "Idempotency-Key"
"""A write's key, the same across its retries: the server answers a repeated key once."""
EPOCH_HEADER = "Registry-Epoch"
"""Every answer names the server's idempotency epoch, which clients start their keys with."""
MLFLOW = "/api/2.0/mlflow"
MLFLOW_ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
"""MLflow's artifact proxy: GET lists a folder (`?path=`); GET and PUT `/<path>` download and
upload one file (streamed routes, `server/mlflow_artifact_routes.py`)."""
REGISTRY = "/api/2.0/registry"
ARTIFACT_PATH = REGISTRY + "/artifacts/{sha256}"
"""Artifacts by digest: PUT uploads (checked against the digest), GET downloads, HEAD tells
whether one is stored, and `.../verify` says what is wrong with one."""
EXPORT_PATH = REGISTRY + "/admin/export"
"""GET: a dump of the whole registry, made in one snapshot, as an uncompressed tar stream."""
IMPORT_PATH = REGISTRY + "/admin/import"
"""POST a dump as a tar stream (`?on_conflict=fail|skip|overwrite`): the import's summary."""

STR = plain(str)
OPT_STR = plain(str | None)
INT = plain(int)
OPT_INT = plain(int | None)
BOOL = plain(bool)
OPT_FLOAT = plain(float | None)
STRINGS = plain(list[str])
OPT_STRINGS = plain(list[str] | None)
OBJECT = plain(dict[str, Any] | None)
NUMBERS = plain(dict[str, float])
VERSION = plain(int | str)
OPT_VERSION = plain(int | str | None)


@dataclass(frozen=True)
class Param:
    """One argument: the store method's parameter, its JSON field, codec and requiredness."""

    name: str
    codec: Codec[Any] = STR
    wire: str = ""
    required: bool = False

    @property
    def field(self) -> str:
        return self.wire or self.name


Role = str | Callable[[Mapping[str, Any]], str]


@dataclass(frozen=True)
class Endpoint:
    """One route. `method` is the store method it carries; `call` adapts a route that only
    MLflow's clients use onto the store (the HTTP store then never calls it)."""

    http: str
    path: str
    method: str
    params: tuple[Param, ...]
    reply: Reply
    role: Role
    identity: str | None = None
    ignored: tuple[str, ...] = ()
    call: Callable[[Any, dict[str, Any]], Any] | None = None
    summary: str = ""
    mlflow: bool = False
    secret_reply: bool = False
    """The reply holds a secret: it is never kept as an idempotent answer (so never on disk)."""
    combined: str = ""
    """A store method making many of these calls at once (a list of their arguments, a list of
    their results): concurrent calls then share their statements."""

    @property
    def name(self) -> str:
        """A unique name of the route (its OpenAPI operation id)."""
        return f"{self.http.lower()}_{self.path.strip('/').replace('/', '_').replace('-', '_')}"

    @property
    def writes(self) -> bool:
        return self.http != "GET" and self.role != READER

    @property
    def path_fields(self) -> tuple[str, ...]:
        """The fields the path carries (`{model_id}`), not the body or the query."""
        return tuple(re.findall(r"{(\w+)}", self.path))

    def role_for(self, arguments: Mapping[str, Any]) -> str:
        return self.role(arguments) if callable(self.role) else self.role


@dataclass(frozen=True)
class Table:
    endpoints: tuple[Endpoint, ...]
    by_method: dict[str, Endpoint] = field(init=False)

    def __post_init__(self) -> None:
        by_method = {ep.method: ep for ep in self.endpoints if ep.call is None}
        object.__setattr__(self, "by_method", by_method)


def _stage_role(arguments: Mapping[str, Any]) -> str:
    """Production and Archived are a promoter's; None and Staging a writer's."""
    stage = str(arguments.get("stage") or "").lower()
    return PROMOTER if stage in (STAGE_PRODUCTION.lower(), STAGE_ARCHIVED.lower()) else WRITER


def _alias_role(arguments: Mapping[str, Any]) -> str:
    """Moving `champion` is a promoter's; other aliases a writer's."""
    return PROMOTER if arguments.get("alias") == CHAMPION_ALIAS else WRITER


def _log_param(store: Any, a: dict[str, Any]) -> None:
    store.log_batch(a["run_id"], (), {a["key"]: a["value"]}, None)


def _log_metric(store: Any, a: dict[str, Any]) -> None:
    metric = Metric(a["key"], a["value"], a.get("step") or 0, a.get("timestamp") or 0)
    store.log_batch(a["run_id"], [metric], None, None)


def _set_run_tag(store: Any, a: dict[str, Any]) -> None:
    store.log_batch(a["run_id"], (), None, {a["key"]: a["value"]})


def _download_uri(store: Any, a: dict[str, Any]) -> str:
    return store.model_version_download_uri(a["name"], a["version"])


def _mlflow_only(method: str) -> Callable[[Any, dict[str, Any]], Any]:
    """The call of a route only MLflow's client uses: the embedded store's `method`."""
    return lambda store, a: getattr(store, method)(**a)


_NAME = Param("name", required=True)
_VERSION = Param("version", VERSION, required=True)
_RUN_ID = Param("run_id", required=True)
_SEARCH = (
    Param("filter_string", OPT_STR, wire="filter"),
    Param("max_results", OPT_INT),
    Param("order_by", OPT_STRINGS),
    Param("page_token", OPT_STR),
)
_ACTOR_REASON = (Param("actor", OPT_STR), Param("reason", OPT_STR))
_STAGE = Param("stage", required=True)
_COMMENT_ACTOR = (Param("comment", OPT_STR), Param("actor", OPT_STR))
_COMMENT_ID = Param("comment_id", INT, wire="id", required=True)
_REQUEST = One("request", wire.TRANSITION_REQUEST)
_COMMENT = One("comment", wire.VERSION_COMMENT)
_PROTECTION = One("protection", wire.STAGE_PROTECTION)
_MV = One("model_version", wire.MODEL_VERSION)
_RM = One("registered_model", wire.REGISTERED_MODEL)
_LOGGED_MODEL = One("model", wire.LOGGED_MODEL)
_MODEL_ID = Param("model_id", required=True)
_LOGGED_MODELS = "/logged-models"


def _mlflow(http: str, path: str, method: str, *params: Param, **options: Any) -> Endpoint:
    return Endpoint(http, MLFLOW + path, method, params, mlflow=True, **options)


def _ours(http: str, path: str, method: str, *params: Param, **options: Any) -> Endpoint:
    return Endpoint(http, REGISTRY + path, method, params, **options)


ENDPOINTS = Table(
    (
        # -- MLflow's Model Registry ------------------------------------------------------
        _mlflow(
            "POST",
            "/registered-models/create",
            "create_registered_model",
            _NAME,
            Param("tags", wire.KEY_VALUES),
            Param("description", OPT_STR),
            reply=_RM,
            role=WRITER,
            ignored=("deployment_job_id",),
        ),
        _mlflow(
            "GET", "/registered-models/get", "get_registered_model", _NAME, reply=_RM, role=READER
        ),
        _mlflow(
            "POST",
            "/registered-models/rename",
            "rename_registered_model",
            _NAME,
            Param("new_name", required=True),
            reply=_RM,
            role=WRITER,
        ),
        _mlflow(
            "PATCH",
            "/registered-models/update",
            "update_registered_model",
            _NAME,
            Param("description", OPT_STR),
            reply=_RM,
            role=WRITER,
            ignored=("deployment_job_id",),
        ),
        _mlflow(
            "DELETE",
            "/registered-models/delete",
            "delete_registered_model",
            _NAME,
            reply=Empty(),
            role=ADMIN,
        ),
        _mlflow(
            "GET",
            "/registered-models/search",
            "search_registered_models",
            *_SEARCH,
            reply=Page("registered_models", wire.REGISTERED_MODEL),
            role=READER,
        ),
        _mlflow(
            "POST",
            "/registered-models/set-tag",
            "set_registered_model_tag",
            _NAME,
            Param("key", required=True),
            Param("value", plain(Any), required=True),
            reply=Empty(),
            role=WRITER,
        ),
        _mlflow(
            "DELETE",
            "/registered-models/delete-tag",
            "delete_registered_model_tag",
            _NAME,
            Param("key", required=True),
            reply=Empty(),
            role=WRITER,
        ),
        _mlflow(
            "POST",
            "/registered-models/get-latest-versions",
            "get_latest_versions",
            _NAME,
            Param("stages", OPT_STRINGS),
            reply=One("model_versions", wire.list_of(wire.MODEL_VERSION)),
            role=READER,
        ),
        _mlflow(
            "GET",
            "/registered-models/get-latest-versions",
            "get_latest_versions",
            _NAME,
            Param("stages", OPT_STRINGS),
            reply=One("model_versions", wire.list_of(wire.MODEL_VERSION)),
            role=READER,
            call=lambda store, a: store.get_latest_versions(a["name"], a.get("stages")),
        ),
        _mlflow(
            "POST",
            "/registered-models/alias",
            "set_registered_model_alias",
            _NAME,
            Param("alias", required=True),
            _VERSION,
            *_ACTOR_REASON,
            reply=Empty(),
            role=_alias_role,
            identity="actor",
        ),
        _mlflow(
            "DELETE",
            "/registered-models/alias",
            "delete_registered_model_alias",
            _NAME,
            Param("alias", required=True),
            *_ACTOR_REASON,
            reply=Empty(),
            role=_alias_role,
            identity="actor",
        ),
        _mlflow(
            "GET",
            "/registered-models/alias",
            "get_model_version_by_alias",
            _NAME,
            Param("alias", required=True),
            reply=_MV,
            role=READER,
        ),
        _mlflow(
            "POST",
            "/model-versions/create",
            "create_model_version",
            _NAME,
            Param("source", required=True),
            Param("run_id", OPT_STR),
            Param("tags", wire.KEY_VALUES),
            Param("run_link", OPT_STR),
            Param("description", OPT_STR),
            Param("actor", OPT_STR),
            reply=_MV,
            role=WRITER,
            combined="create_model_versions",
            identity="actor",
            ignored=("model_id",),
        ),
        _mlflow(
            "GET",
            "/model-versions/get",
            "get_model_version",
            _NAME,
            _VERSION,
            reply=_MV,
            role=READER,
        ),
        _mlflow(
            "PATCH",
            "/model-versions/update",
            "update_model_version",
            _NAME,
            _VERSION,
            Param("description", OPT_STR),
            reply=_MV,
            role=WRITER,
        ),
        _mlflow(
            "DELETE",
            "/model-versions/delete",
            "delete_model_version",
            _NAME,
            _VERSION,
            Param("actor", OPT_STR),
            reply=Empty(),
            role=ADMIN,
            identity="actor",
        ),
        _mlflow(
            "GET",
            "/model-versions/search",
            "search_model_versions",
            *_SEARCH,
            reply=Page("model_versions", wire.MODEL_VERSION),
            role=READER,
        ),
        _mlflow(
            "POST",
            "/model-versions/set-tag",
            "set_model_version_tag",
            _NAME,
            _VERSION,
            Param("key", required=True),
            Param("value", plain(Any), required=True),
            reply=Empty(),
            role=WRITER,
        ),
        _mlflow(
            "DELETE",
            "/model-versions/delete-tag",
            "delete_model_version_tag",
            _NAME,
            _VERSION,
            Param("key", required=True),
            reply=Empty(),
            role=WRITER,
        ),
        _mlflow(
            "POST",
            "/model-versions/transition-stage",
            "transition_model_version_stage",
            _NAME,
            _VERSION,
            Param("stage", required=True),
            Param("archive_existing_versions", plain(bool | None)),
            *_ACTOR_REASON,
            reply=_MV,
            role=_stage_role,
            identity="actor",
        ),
        _mlflow(
            "GET",
            "/model-versions/get-download-uri",
            "get_model_version_download_uri",
            _NAME,
            _VERSION,
            reply=One("artifact_uri", STR),
            role=READER,
            call=_download_uri,
        ),
        # -- MLflow's tracking: what a training script calls before it registers ----------
        _mlflow(
            "POST",
            "/experiments/create",
            "create_experiment",
            _NAME,
            Param("artifact_location", OPT_STR),
            Param("tags", wire.KEY_VALUES),
            reply=One("experiment_id", STR),
            role=WRITER,
        ),
        _mlflow(
            "GET",
            "/experiments/get",
            "get_experiment",
            Param("experiment_id", required=True),
            reply=One("experiment", wire.EXPERIMENT),
            role=READER,
        ),
        _mlflow(
            "GET",
            "/experiments/get-by-name",
            "get_experiment_by_name",
            Param("name", wire="experiment_name", required=True),
            reply=One("experiment", wire.EXPERIMENT),
            role=READER,
        ),
        _mlflow(
            "POST",
            "/experiments/search",
            "search_experiments",
            Param("filter_string", OPT_STR, wire="filter"),
            Param("max_results", OPT_INT),
            Param("order_by", OPT_STRINGS),
            Param("page_token", OPT_STR),
            reply=Page("experiments", wire.EXPERIMENT),
            role=READER,
            ignored=("view_type",),
        ),
        _mlflow(
            "POST",
            "/runs/create",
            "create_run",
            Param("run_name", OPT_STR),
            Param("tags", wire.KEY_VALUES),
            Param("code_version", OPT_STR),
            Param("source_info", OBJECT),
            Param("start_time", OPT_INT),
            Param("experiment_id", OPT_STR),
            Param("user_id", OPT_STR),
            reply=One("run", wire.RUN),
            role=WRITER,
            identity="user_id",
        ),
        _mlflow(
            "GET",
            "/runs/get",
            "get_run",
            _RUN_ID,
            reply=One("run", wire.RUN),
            role=READER,
            ignored=("run_uuid",),
        ),
        _mlflow(
            "POST",
            "/runs/update",
            "update_run",
            _RUN_ID,
            Param("status", OPT_STR),
            Param("end_time", OPT_INT),
            Param("run_name", OPT_STR),
            reply=One("run_info", wire.RUN_INFO),
            role=WRITER,
            ignored=("run_uuid",),
        ),
        _mlflow(
            "POST",
            "/runs/search",
            "search_runs",
            *_SEARCH,
            reply=Page("runs", wire.RUN),
            role=READER,
            ignored=("experiment_ids", "run_view_type"),
        ),
        _mlflow(
            "POST",
            "/runs/log-batch",
            "log_batch",
            _RUN_ID,
            Param("metrics", wire.METRICS),
            Param("params", wire.KEY_VALUES),
            Param("tags", wire.KEY_VALUES),
            reply=Empty(),
            role=WRITER,
        ),
        _mlflow(
            "POST",
            "/runs/log-parameter",
            "log_param",
            _RUN_ID,
            Param("key", required=True),
            Param("value", plain(Any), required=True),
            reply=Empty(),
            role=WRITER,
            ignored=("run_uuid",),
            call=_log_param,
        ),
        _mlflow(
            "POST",
            "/runs/log-metric",
            "log_metric",
            _RUN_ID,
            Param("key", required=True),
            Param("value", plain(float | str), required=True),
            Param("timestamp", OPT_INT),
            Param("step", OPT_INT),
            reply=Empty(),
            role=WRITER,
            ignored=("run_uuid", "model_id", "dataset_name", "dataset_digest"),
            call=_log_metric,
        ),
        _mlflow(
            "POST",
            "/runs/set-tag",
            "set_tag",
            _RUN_ID,
            Param("key", required=True),
            Param("value", plain(Any), required=True),
            reply=Empty(),
            role=WRITER,
            ignored=("run_uuid",),
            call=_set_run_tag,
        ),
        _mlflow(
            "POST",
            "/runs/delete-tag",
            "delete_run_tag",
            _RUN_ID,
            Param("key", required=True),
            reply=Empty(),
            role=WRITER,
        ),
        _mlflow("POST", "/runs/delete", "delete_run", _RUN_ID, reply=Empty(), role=ADMIN),
        _mlflow(
            "POST",
            "/runs/outputs",
            "log_model_outputs",
            _RUN_ID,
            Param("outputs", wire.MODEL_OUTPUTS, wire="models", required=True),
            reply=Empty(),
            role=WRITER,
            call=_mlflow_only("log_model_outputs"),
        ),
        # -- MLflow 3's logged models: what `mlflow.<flavor>.log_model` creates -----------
        _mlflow(
            "POST",
            _LOGGED_MODELS,
            "create_logged_model",
            Param("experiment_id", required=True),
            Param("name", OPT_STR),
            Param("source_run_id", OPT_STR),
            Param("model_type", OPT_STR),
            Param("tags", wire.KEY_VALUES),
            Param("params", wire.KEY_VALUES),
            reply=_LOGGED_MODEL,
            role=WRITER,
            call=_mlflow_only("create_logged_model"),
        ),
        _mlflow(
            "GET",
            _LOGGED_MODELS + "/{model_id}",
            "get_logged_model",
            _MODEL_ID,
            reply=_LOGGED_MODEL,
            role=READER,
            ignored=("allow_deleted",),
            call=_mlflow_only("get_logged_model"),
        ),
        _mlflow(
            "PATCH",
            _LOGGED_MODELS + "/{model_id}",
            "finalize_logged_model",
            _MODEL_ID,
            Param("status", required=True),
            reply=_LOGGED_MODEL,
            role=WRITER,
            call=_mlflow_only("finalize_logged_model"),
        ),
        _mlflow(
            "POST",
            _LOGGED_MODELS + "/search",
            "search_logged_models",
            Param("experiment_ids", OPT_STRINGS),
            Param("filter_string", OPT_STR, wire="filter"),
            Param("max_results", OPT_INT),
            Param("order_by", wire.ORDER_BY_FIELDS),
            Param("page_token", OPT_STR),
            reply=Page("models", wire.LOGGED_MODEL),
            role=READER,
            ignored=("datasets",),
            call=_mlflow_only("search_logged_models"),
        ),
        _mlflow(
            "PATCH",
            _LOGGED_MODELS + "/{model_id}/tags",
            "set_logged_model_tags",
            _MODEL_ID,
            Param("tags", wire.KEY_VALUES, required=True),
            reply=Empty(),
            role=WRITER,
            call=_mlflow_only("set_logged_model_tags"),
        ),
        _mlflow(
            "DELETE",
            _LOGGED_MODELS + "/{model_id}/tags/{tag_key}",
            "delete_logged_model_tag",
            _MODEL_ID,
            Param("key", wire="tag_key", required=True),
            reply=Empty(),
            role=WRITER,
            call=_mlflow_only("delete_logged_model_tag"),
        ),
        _mlflow(
            "POST",
            _LOGGED_MODELS + "/{model_id}/params",
            "log_logged_model_params",
            _MODEL_ID,
            Param("params", wire.KEY_VALUES, required=True),
            reply=Empty(),
            role=WRITER,
            call=_mlflow_only("log_logged_model_params"),
        ),
        Endpoint(
            "GET",
            MLFLOW_ARTIFACTS,
            "list_mlflow_artifacts",
            (Param("folder", OPT_STR, wire="path"),),
            reply=One("files", wire.list_of(wire.FILE_INFO)),
            role=READER,
            mlflow=True,
            call=_mlflow_only("list_mlflow_artifacts"),
        ),
        _mlflow(
            "GET",
            "/metrics/get-history",
            "get_metric_history",
            _RUN_ID,
            Param("key", wire="metric_key", required=True),
            reply=One("metrics", wire.METRICS),
            role=READER,
            ignored=("run_uuid", "page_token", "max_results"),
        ),
        # -- this registry's own API: what MLflow lacks --------------------------------
        _ours(
            "POST",
            "/model-versions/record-validation",
            "record_validation",
            _NAME,
            _VERSION,
            Param("failures", STRINGS, required=True),
            Param("metrics", NUMBERS),
            Param("actor", OPT_STR),
            reply=Empty(),
            role=WRITER,
            identity="actor",
            summary="Tag a version with its validation outcome and emit it to webhooks.",
        ),
        _ours(
            "POST",
            "/model-versions/history",
            "get_model_version_history",
            _NAME,
            Param("version", OPT_VERSION),
            reply=One("history", wire.list_of(wire.STAGE_TRANSITION)),
            role=READER,
            summary="Every stage, alias and deletion event of a model (or one version).",
        ),
        _ours(
            "POST",
            "/model-versions/at",
            "get_version_at",
            _NAME,
            Param("stage_or_alias", required=True),
            Param("timestamp", INT, required=True),
            reply=_MV,
            role=READER,
            summary="The version that held a stage or @alias at a time (epoch ms).",
        ),
        _ours(
            "POST",
            "/registered-models/rollback",
            "rollback",
            _NAME,
            Param("stage", required=True),
            *_ACTOR_REASON,
            reply=_MV,
            role=PROMOTER,
            identity="actor",
            summary="Give a stage or @alias back to its previous holder.",
        ),
        _ours(
            "POST",
            "/transition-requests/create",
            "create_transition_request",
            _NAME,
            _VERSION,
            _STAGE,
            *_COMMENT_ACTOR,
            reply=_REQUEST,
            role=WRITER,
            identity="actor",
            summary="Ask for a version to be moved into a stage (as Databricks' registry).",
        ),
        _ours(
            "POST",
            "/transition-requests/approve",
            "approve_transition_request",
            _NAME,
            _VERSION,
            _STAGE,
            Param("archive_existing_versions", plain(bool | None)),
            *_COMMENT_ACTOR,
            reply=_REQUEST,
            role=_stage_role,
            identity="actor",
            summary="Approve an open request: its transition is made in the same transaction.",
        ),
        _ours(
            "POST",
            "/transition-requests/reject",
            "reject_transition_request",
            _NAME,
            _VERSION,
            _STAGE,
            *_COMMENT_ACTOR,
            reply=_REQUEST,
            role=_stage_role,
            identity="actor",
            summary="Reject an open request.",
        ),
        _ours(
            "POST",
            "/transition-requests/cancel",
            "cancel_transition_request",
            _NAME,
            _VERSION,
            _STAGE,
            *_COMMENT_ACTOR,
            reply=_REQUEST,
            role=WRITER,
            identity="actor",
            summary="Withdraw your own open request.",
        ),
        _ours(
            "POST",
            "/transition-requests/list",
            "list_transition_requests",
            Param("name", OPT_STR),
            Param("version", OPT_VERSION),
            Param("status", OPT_STR),
            reply=One("requests", wire.list_of(wire.TRANSITION_REQUEST)),
            role=READER,
            summary="Transition requests, newest first (status open by default, or all).",
        ),
        _ours(
            "POST",
            "/comments/create",
            "create_comment",
            _NAME,
            _VERSION,
            Param("comment", required=True),
            Param("actor", OPT_STR),
            reply=_COMMENT,
            role=WRITER,
            identity="actor",
            summary="Comment on a model version.",
        ),
        _ours(
            "POST",
            "/comments/update",
            "update_comment",
            _COMMENT_ID,
            Param("comment", required=True),
            Param("actor", OPT_STR),
            reply=_COMMENT,
            role=WRITER,
            identity="actor",
            summary="Edit your own comment.",
        ),
        _ours(
            "POST",
            "/comments/delete",
            "delete_comment",
            _COMMENT_ID,
            Param("actor", OPT_STR),
            reply=Empty(),
            role=WRITER,
            identity="actor",
            summary="Delete your own comment.",
        ),
        _ours(
            "POST",
            "/comments/list",
            "list_comments",
            _NAME,
            _VERSION,
            reply=One("comments", wire.list_of(wire.VERSION_COMMENT)),
            role=READER,
            summary="A version's comments, oldest first.",
        ),
        _ours(
            "POST",
            "/registered-models/set-protection",
            "set_stage_protection",
            _NAME,
            Param("stages", STRINGS, required=True),
            Param("direct_roles", OPT_STRINGS),
            reply=_PROTECTION,
            role=ADMIN,
            summary="Which stages of a model need an approved request, and who may skip one.",
        ),
        _ours(
            "POST",
            "/registered-models/get-protection",
            "get_stage_protection",
            _NAME,
            reply=_PROTECTION,
            role=READER,
            summary="A model's protected stages.",
        ),
        _ours(
            "POST",
            "/models/resolve",
            "resolve_model_uri",
            Param("uri", required=True),
            reply=One("resolved_model", wire.RESOLVED_MODEL),
            role=READER,
            summary="The artifact (and version) a models:/ or runs:/ URI points at.",
        ),
        _ours(
            "POST",
            "/runs/update-lineage",
            "update_lineage",
            _RUN_ID,
            Param("data_fingerprint", OBJECT),
            Param("source_info", OBJECT),
            reply=Empty(),
            role=WRITER,
            summary="Merge data fingerprints and source info into a run.",
        ),
        _ours(
            "POST",
            "/runs/log-artifact",
            "log_run_artifact",
            _RUN_ID,
            Param("path", required=True),
            Param("sha256", required=True),
            Param("format", required=True),
            Param("signature", OBJECT),
            reply=One("artifact", wire.RUN_ARTIFACT),
            role=WRITER,
            summary="Record an uploaded artifact under a path of a run.",
        ),
        _ours(
            "POST",
            "/runs/get-artifact",
            "get_run_artifact",
            _RUN_ID,
            Param("path", required=True),
            reply=One("artifact", wire.RUN_ARTIFACT),
            role=READER,
            summary="One artifact of a run, if it has one at that path.",
        ),
        _ours(
            "POST",
            "/webhooks/create",
            "create_webhook",
            _NAME,
            Param("url", required=True),
            Param("events", STRINGS, required=True),
            Param("secret", OPT_STR),
            Param("description", OPT_STR),
            Param("status", OPT_STR),
            Param("format", OPT_STR),
            Param("allow_http", plain(bool | None)),
            reply=One("webhook", wire.WEBHOOK),
            role=ADMIN,
        ),
        _ours(
            "POST",
            "/webhooks/get",
            "get_webhook",
            _NAME,
            reply=One("webhook", wire.WEBHOOK),
            role=ADMIN,
        ),
        _ours(
            "POST",
            "/webhooks/list",
            "list_webhooks",
            reply=One("webhooks", wire.list_of(wire.WEBHOOK)),
            role=ADMIN,
        ),
        _ours(
            "POST",
            "/webhooks/update",
            "update_webhook",
            _NAME,
            Param("url", OPT_STR),
            Param("events", OPT_STRINGS),
            Param("secret", OPT_STR),
            Param("description", OPT_STR),
            Param("status", OPT_STR),
            Param("format", OPT_STR),
            Param("allow_http", plain(bool | None)),
            reply=One("webhook", wire.WEBHOOK),
            role=ADMIN,
        ),
        _ours("POST", "/webhooks/delete", "delete_webhook", _NAME, reply=Empty(), role=ADMIN),
        _ours(
            "POST",
            "/webhooks/deliveries",
            "list_deliveries",
            Param("name", OPT_STR),
            Param("status", OPT_STR),
            Param("limit", OPT_INT),
            reply=One("deliveries", wire.list_of(wire.DELIVERY)),
            role=ADMIN,
        ),
        _ours(
            "POST",
            "/webhooks/delivery",
            "get_delivery",
            Param("delivery_id", required=True),
            reply=One("delivery", wire.DELIVERY),
            role=ADMIN,
        ),
        _ours(
            "POST",
            "/webhooks/test",
            "test_webhook",
            _NAME,
            reply=One("attempt", wire.DELIVERY_ATTEMPT),
            role=ADMIN,
        ),
        _ours(
            "POST",
            "/webhooks/redeliver",
            "redeliver",
            Param("delivery_id", required=True),
            reply=One("attempt", wire.DELIVERY_ATTEMPT),
            role=ADMIN,
        ),
        _ours(
            "POST",
            "/webhooks/deliver",
            "deliver_webhooks",
            Param("max_seconds", OPT_FLOAT),
            reply=One("summary", wire.DELIVERY_SUMMARY),
            role=WRITER,
            summary="Send every webhook delivery due now.",
        ),
        _ours(
            "POST",
            "/tokens/create",
            "create_token",
            _NAME,
            Param("role", required=True),
            Param("actor", OPT_STR),
            reply=Pair(("token", wire.API_TOKEN), ("secret", STR)),
            role=ADMIN,
            identity="actor",
            secret_reply=True,
        ),
        _ours(
            "POST",
            "/tokens/list",
            "list_tokens",
            reply=One("tokens", wire.list_of(wire.API_TOKEN)),
            role=ADMIN,
        ),
        _ours(
            "POST",
            "/tokens/revoke",
            "revoke_token",
            _NAME,
            Param("actor", OPT_STR),
            reply=One("token", wire.API_TOKEN),
            role=ADMIN,
            identity="actor",
        ),
        _ours(
            "POST",
            "/admin/gc",
            "gc",
            Param("dry_run", BOOL),
            Param("grace_seconds", plain(float)),
            reply=One("removed", wire.list_of(wire.ARTIFACT_REF)),
            role=ADMIN,
        ),
        _ours(
            "GET",
            "/admin/consistency",
            "check_consistency",
            reply=One("problems", STRINGS),
            role=READER,
        ),
        _ours(
            "GET",
            "/admin/artifact-folder",
            "artifact_folder_problem",
            reply=One("problem", OPT_STR),
            role=READER,
            summary="Why the artifact folder is not this registry's, if it is not.",
        ),
        _ours(
            "GET",
            "/admin/proxied-files",
            "proxied_files",
            reply=One("files", plain(dict[str, str])),
            role=READER,
            summary="Each path of MLflow's artifact proxy with its file's sha256.",
        ),
        _ours(
            "POST",
            "/admin/import-mlflow-model",
            "import_model",
            Param("model", wire.validated_dataclass(ImportedModel), required=True),
            Param("actor", OPT_STR),
            reply=One("result", wire.dataclass_codec(ModelImportResult)),
            role=ADMIN,
            identity="actor",
            summary="Write one model imported from MLflow (its artifacts uploaded first).",
        ),
        _ours(
            "GET",
            "/admin/schema-version",
            "schema_version",
            reply=One("schema_version", INT),
            role=READER,
        ),
    )
)
