"""Writing one imported MLflow model: its row, versions (numbers kept), tags, aliases, runs and
history, inside the caller's transaction; rows already here are left as they are."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import duckdb

from registry_core import validation as check
from registry_core.entities import now_ms
from registry_core.errors import InvalidParameterValue, ResourceAlreadyExists
from registry_core.formats import FORMATS
from registry_core.mlflow_import.bundle import (
    IMPORT_NAME_TAG,
    IMPORTED_EVENT,
    ImportedModel,
    ImportedRun,
    ImportedVersion,
    ModelImportResult,
)
from registry_core.store.migrations import version_key
from registry_core.store.run_store import run_status, valid_run_id

_BATCH_ROWS = 1000


def import_model(
    conn: duckdb.DuckDBPyConnection,
    model: ImportedModel,
    artifact_sizes: dict[str, int],
    actor: str,
) -> ModelImportResult:
    """Write what of `model` the registry lacks (`artifact_sizes`: each stored digest's size)."""
    name = check.model_name(model.name)
    actor = check.actor(actor)
    reason = check.reason(model.reason)
    row = conn.execute(
        "SELECT id, next_version FROM registered_models WHERE name = ?", [name]
    ).fetchone()
    created = row is None
    if row is None:
        model_id = _insert_model(conn, model)
        held: set[int] = set()
    else:
        model_id = row[0]
        _require_same_model(conn, model_id, model)
        held = {
            number
            for (number,) in conn.execute(
                "SELECT version FROM model_versions WHERE model_id = ?", [model_id]
            ).fetchall()
        }
    new_runs = [run for run in model.runs if not _run_exists(conn, run.run_id)]
    metrics = sum(_insert_run(conn, run) for run in new_runs)
    fresh = [mv for mv in model.versions if check.version_number(mv.version) not in held]
    for mv in fresh:
        _insert_version(conn, model_id, name, mv, artifact_sizes, reason)
    numbers = held | {mv.version for mv in fresh}
    conn.execute(
        "UPDATE registered_models SET next_version = greatest(next_version, ?) WHERE id = ?",
        [max(numbers, default=0) + 1, model_id],
    )
    aliases = _insert_aliases(conn, model_id, name, model.aliases, numbers, actor, reason)
    return ModelImportResult(name, created, len(fresh), len(new_runs), metrics, aliases)


def _insert_model(conn: duckdb.DuckDBPyConnection, model: ImportedModel) -> int:
    tags = check.tags(model.tags)
    (model_id,) = conn.execute(
        "INSERT INTO registered_models VALUES "
        "(nextval('registered_model_id_seq'), ?, ?, ?, ?, 1) RETURNING id",
        [
            model.name,
            check.description(model.description),
            check.timestamp(model.creation_timestamp),
            check.timestamp(model.last_updated_timestamp),
        ],
    ).fetchone()
    _insert_rows(conn, "registered_model_tags", [[model_id, k, v] for k, v in tags.items()])
    return model_id


def _require_same_model(
    conn: duckdb.DuckDBPyConnection, model_id: int, model: ImportedModel
) -> None:
    """Refuse to add versions to a model here that is not this MLflow model's earlier import."""
    found = conn.execute(
        "SELECT value FROM registered_model_tags WHERE model_id = ? AND key = ?",
        [model_id, IMPORT_NAME_TAG],
    ).fetchone()
    if found is None or found[0] != model.tags.get(IMPORT_NAME_TAG):
        raise ResourceAlreadyExists(
            f"Registered Model (name={model.name}) already exists and was not imported from "
            f"MLflow's {model.tags.get(IMPORT_NAME_TAG)!r}."
        )


def _run_exists(conn: duckdb.DuckDBPyConnection, run_id: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM runs WHERE run_id = ?", [valid_run_id(run_id)]).fetchone()
        is not None
    )


def _experiment_id(conn: duckdb.DuckDBPyConnection, name: str) -> int:
    """The experiment of that name, created when the registry lacks it."""
    check.plain("Experiment name", name)
    found = conn.execute("SELECT id FROM experiments WHERE name = ?", [name]).fetchone()
    if found is not None:
        return found[0]
    when = now_ms()
    (key,) = conn.execute(
        "INSERT INTO experiments VALUES "
        "(nextval('experiment_id_seq'), ?, 'artifacts:/', 'active', ?, ?) RETURNING id",
        [name, when, when],
    ).fetchone()
    return key


def _insert_run(conn: duckdb.DuckDBPyConnection, run: ImportedRun) -> int:
    """Write a run with its params, tags and metric history; the number of metric values."""
    end = None if run.end_time is None else check.timestamp(run.end_time, "Run end time")
    conn.execute(
        "INSERT INTO runs (run_id, run_name, status, start_time, end_time, code_version, "
        "data_fingerprint, source_info, experiment_id, user_id) "
        "VALUES (?, ?, ?, ?, ?, NULL, NULL, '{}', ?, ?)",
        [
            run.run_id,
            check.run_name(run.run_name),
            run_status(run.status),
            check.timestamp(run.start_time, "Run start time"),
            end,
            _experiment_id(conn, run.experiment_name),
            None if run.user_id is None else check.actor(run.user_id),
        ],
    )
    _insert_pairs(conn, "run_params", run.run_id, check.tags(run.params))
    _insert_pairs(conn, "run_tags", run.run_id, check.tags(run.tags))
    rows = [
        [
            run.run_id,
            check.tag_key(metric.key, "metric"),
            check.metric_value(metric.key, metric.value),
            check.metric_step(metric.step),
            check.timestamp(metric.timestamp),
        ]
        for metric in run.metrics
    ]
    _insert_rows(conn, "run_metrics", rows)
    return len(rows)


def _insert_pairs(
    conn: duckdb.DuckDBPyConnection, table: str, run_id: str, pairs: dict[str, str]
) -> None:
    _insert_rows(conn, table, [[run_id, key, value] for key, value in pairs.items()])


def _insert_rows(conn: duckdb.DuckDBPyConnection, table: str, rows: list[list[Any]]) -> None:
    """Rows into one of this module's tables, a batch per statement (DuckDB runs one
    multi-row INSERT far faster than the same rows one by one)."""
    for start in range(0, len(rows), _BATCH_ROWS):
        batch = rows[start : start + _BATCH_ROWS]
        marks = ", ".join("(" + ", ".join("?" * len(row)) + ")" for row in batch)
        conn.execute(f"INSERT INTO {table} VALUES {marks}", [v for row in batch for v in row])


def _insert_version(
    conn: duckdb.DuckDBPyConnection,
    model_id: int,
    name: str,
    mv: ImportedVersion,
    artifact_sizes: dict[str, int],
    reason: str | None,
) -> None:
    """Write a version as MLflow held it, with its one `imported` history event."""
    number = check.version_number(mv.version)
    size = artifact_sizes.get(mv.artifact_sha256)
    if size is None:
        raise InvalidParameterValue(
            f"Version {number} of {name}: artifact {mv.artifact_sha256} is not stored."
        )
    if mv.artifact_format not in FORMATS:
        raise InvalidParameterValue(f"Unknown model format {mv.artifact_format!r}.")
    key = version_key(model_id, number)
    stage = check.stage(mv.current_stage)
    conn.execute(
        "INSERT INTO model_versions (vkey, model_id, version, source, run_id, run_link, "
        "current_stage, status, description, creation_timestamp, last_updated_timestamp, "
        "artifact_sha256, artifact_size, artifact_format, signature) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            key,
            model_id,
            number,
            f"artifacts:/{mv.artifact_sha256}",
            None if mv.run_id is None else valid_run_id(mv.run_id),
            None if mv.run_link is None else check.text("Run link", mv.run_link),
            stage,
            check.plain("Version status", mv.status),
            check.description(mv.description),
            check.timestamp(mv.creation_timestamp),
            check.timestamp(mv.last_updated_timestamp),
            mv.artifact_sha256,
            size,
            mv.artifact_format,
            json.dumps(mv.signature) if mv.signature else None,
        ],
    )
    tags = check.tags(mv.tags)
    _insert_rows(conn, "model_version_tags", [[key, tag, value] for tag, value in tags.items()])
    _history(
        conn,
        [model_id, name, number, IMPORTED_EVENT, None, None, stage, None],
        check.actor(mv.user_id or "mlflow"),
        reason,
        check.timestamp(mv.last_updated_timestamp),
    )


def _insert_aliases(
    conn: duckdb.DuckDBPyConnection,
    model_id: int,
    name: str,
    aliases: dict[str, int],
    numbers: set[int],
    actor: str,
    reason: str | None,
) -> int:
    """Set each alias the model lacks here (one a user set here since is kept); how many."""
    added = 0
    when = now_ms()
    for alias, number in sorted(aliases.items()):
        check.alias(alias)
        if number not in numbers:
            raise InvalidParameterValue(
                f"Alias {alias!r} of {name} names missing version {number}."
            )
        if conn.execute(
            "SELECT 1 FROM registered_model_aliases WHERE model_id = ? AND alias = ?",
            [model_id, alias],
        ).fetchone():
            continue
        conn.execute(
            "INSERT INTO registered_model_aliases VALUES (?, ?, ?)", [model_id, alias, number]
        )
        _history(
            conn,
            [model_id, name, number, "alias_set", None, None, None, alias],
            actor,
            reason,
            when,
        )
        added += 1
    return added


def _history(
    conn: duckdb.DuckDBPyConnection,
    values: Sequence[Any],
    actor: str,
    reason: str | None,
    when: int,
) -> None:
    conn.execute(
        "INSERT INTO history (id, model_id, model_name, version, event, from_version, "
        "from_stage, to_stage, alias, actor, reason, timestamp) "
        "VALUES (nextval('history_id_seq'), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [*values, actor, reason, when],
    )
