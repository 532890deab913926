"""MLflow 3's logged models: every query of logged models, their tags and params, and the runs
that output them. Each change is one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import duckdb

from registry_core import validation as check
from registry_core.entities import (
    LOGGED_MODEL_PENDING,
    LOGGED_MODEL_STATUSES,
    LoggedModel,
    PagedList,
    now_ms,
)
from registry_core.errors import InvalidParameterValue, ResourceDoesNotExist
from registry_core.mlflow_artifacts import artifact_uri, logged_model_folder
from registry_core.store.connection import ConnectionManager
from registry_core.store.filter_sql import plan_search
from registry_core.store.run_store import experiment_id as experiment_key
from registry_core.store.run_store import valid_run_id

_COLUMNS = (
    "lm.model_id, lm.experiment_id::VARCHAR, lm.name, lm.status, lm.creation_timestamp, "
    "lm.last_updated_timestamp, lm.source_run_id, lm.model_type"
)


def logged_model_status(value: Any) -> str:
    """A logged model's status as MLflow's wire spells it (`LOGGED_MODEL_READY`, ...)."""
    if value not in LOGGED_MODEL_STATUSES:
        raise InvalidParameterValue(
            f"Invalid logged model status {value!r}: must be one of "
            f"{', '.join(LOGGED_MODEL_STATUSES)}."
        )
    return str(value)


class DuckDBLoggedModelStore:
    """Logged models in the registry's DuckDB file."""

    manager: ConnectionManager

    @staticmethod
    def _require_logged_model(conn: duckdb.DuckDBPyConnection, model_id: str) -> None:
        found = conn.execute(
            "SELECT 1 FROM logged_models WHERE model_id = ?", [valid_run_id(model_id)]
        ).fetchone()
        if found is None:
            raise ResourceDoesNotExist(f"Logged model with id={model_id} not found")

    def create_logged_model(
        self,
        experiment_id: str,
        name: str | None = None,
        source_run_id: str | None = None,
        model_type: str | None = None,
        tags: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> LoggedModel:
        """A new logged model, pending until its files are up; named after its id if unnamed."""
        model_id = f"m-{uuid.uuid4().hex}"
        experiment = experiment_key(experiment_id)
        label = check.plain("Logged model name", name) if name else model_id
        kind = check.plain("Logged model type", model_type) if model_type else None
        clean_tags = check.tags(tags)
        clean_params = _params(params)
        when = now_ms()
        with self.manager.transaction() as conn:
            if not conn.execute("SELECT 1 FROM experiments WHERE id = ?", [experiment]).fetchone():
                raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists")
            if (
                source_run_id
                and not conn.execute(
                    "SELECT 1 FROM runs WHERE run_id = ?", [valid_run_id(source_run_id)]
                ).fetchone()
            ):
                raise ResourceDoesNotExist(f"Run with id={source_run_id} not found")
            conn.execute(
                "INSERT INTO logged_models VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    model_id,
                    experiment,
                    label,
                    source_run_id or None,
                    kind,
                    LOGGED_MODEL_PENDING,
                    when,
                    when,
                ],
            )
            _insert(conn, "logged_model_tags", model_id, clean_tags)
            _insert(conn, "logged_model_params", model_id, clean_params)
            return self._logged_models(conn, "lm.model_id = ?", [model_id])[0]

    def get_logged_model(self, model_id: str) -> LoggedModel:
        with self.manager.connection() as conn:
            found = self._logged_models(conn, "lm.model_id = ?", [valid_run_id(model_id)])
        if not found:
            raise ResourceDoesNotExist(f"Logged model with id={model_id} not found")
        return found[0]

    def finalize_logged_model(self, model_id: str, status: str) -> LoggedModel:
        """Record that a logged model's upload ended: READY, or UPLOAD_FAILED."""
        final = logged_model_status(status)
        if final == LOGGED_MODEL_PENDING:
            raise InvalidParameterValue("A logged model is finalized as READY or UPLOAD_FAILED.")
        with self.manager.transaction() as conn:
            self._require_logged_model(conn, model_id)
            conn.execute(
                "UPDATE logged_models SET status = ?, last_updated_timestamp = ? "
                "WHERE model_id = ?",
                [final, now_ms(), model_id],
            )
            return self._logged_models(conn, "lm.model_id = ?", [model_id])[0]

    def set_logged_model_tags(self, model_id: str, tags: dict[str, Any] | None) -> None:
        clean = check.tags(tags)
        with self.manager.transaction() as conn:
            self._require_logged_model(conn, model_id)
            _insert(conn, "logged_model_tags", model_id, clean, replace=True)

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        with self.manager.transaction() as conn:
            self._require_logged_model(conn, model_id)
            conn.execute(
                "DELETE FROM logged_model_tags WHERE model_id = ? AND key = ?", [model_id, key]
            )

    def log_logged_model_params(self, model_id: str, params: dict[str, Any] | None) -> None:
        """Params of a logged model; as a run's, a param never changes value."""
        clean = _params(params)
        with self.manager.transaction() as conn:
            self._require_logged_model(conn, model_id)
            existing = dict(
                conn.execute(
                    "SELECT key, value FROM logged_model_params WHERE model_id = ?", [model_id]
                ).fetchall()
            )
            for key, value in clean.items():
                if existing.get(key, value) != value:
                    raise InvalidParameterValue(
                        f"Changing param values is not allowed: param {key!r} of logged model "
                        f"{model_id} is {existing[key]!r}, not {value!r}."
                    )
            _insert(conn, "logged_model_params", model_id, clean, replace=True)

    def run_model_folder(self, run_id: str, path: str) -> str | None:
        """The proxy folder `runs:/<run_id>/<path>` means for MLflow 3's client when the run
        logged a model named as the path's first part (its newest such model); None otherwise."""
        name, _, inside = path.partition("/")
        with self.manager.connection() as conn:
            row = conn.execute(
                "SELECT experiment_id::VARCHAR, model_id FROM logged_models "
                "WHERE source_run_id = ? AND name = ? ORDER BY creation_timestamp DESC LIMIT 1",
                [valid_run_id(run_id), name],
            ).fetchone()
        if row is None:
            return None
        folder = logged_model_folder(*row)
        return f"{folder}/{inside}" if inside else folder

    def search_logged_models(
        self,
        experiment_ids: Sequence[str] | None = None,
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[LoggedModel]:
        """Logged models of the given experiments (all when none is given) matching a filter
        over their attributes, tags and params, newest first unless ordered otherwise."""
        plan = plan_search("logged_model", filter_string, max_results, order_by, page_token)
        where, params = plan.where, plan.page_params
        if experiment_ids:
            keys = [experiment_key(value) for value in experiment_ids]
            where = f"lm.experiment_id IN ({', '.join('?' for _ in keys)}) AND ({where})"
            params = [*keys, *params]
        with self.manager.connection() as conn:
            found = self._logged_models(
                conn, where, params, f"ORDER BY {plan.order} LIMIT ? OFFSET ?"
            )
        return PagedList(found[: plan.limit], plan.next_token(len(found)))

    def log_model_outputs(self, run_id: str, outputs: Sequence[tuple[str, int]]) -> None:
        """Record logged models as outputs of a run, each at a step of it."""
        rows = [[valid_run_id(run_id), valid_run_id(m), check.metric_step(s)] for m, s in outputs]
        with self.manager.transaction() as conn:
            if not conn.execute("SELECT 1 FROM runs WHERE run_id = ?", [run_id]).fetchone():
                raise ResourceDoesNotExist(f"Run with id={run_id} not found")
            for _, model_id, _ in rows:
                self._require_logged_model(conn, model_id)
            if rows:
                conn.executemany(
                    "INSERT INTO logged_model_outputs VALUES (?, ?, ?) "
                    "ON CONFLICT DO UPDATE SET step = excluded.step",
                    rows,
                )

    @staticmethod
    def _logged_models(
        conn: duckdb.DuckDBPyConnection, where: str, params: Sequence[Any], tail: str = ""
    ) -> list[LoggedModel]:
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM logged_models lm WHERE {where} {tail}", list(params)
        ).fetchall()
        if not rows:
            return []
        ids = [row[0] for row in rows]
        marks = ", ".join("?" for _ in ids)
        tags: dict[str, dict[str, str]] = {i: {} for i in ids}
        params_by: dict[str, dict[str, str]] = {i: {} for i in ids}
        for model_id, kind, key, value in conn.execute(
            f"SELECT model_id, 't', key, value FROM logged_model_tags WHERE model_id IN ({marks}) "
            f"UNION ALL SELECT model_id, 'p', key, value FROM logged_model_params "
            f"WHERE model_id IN ({marks}) ORDER BY 3",
            [*ids, *ids],
        ).fetchall():
            (tags if kind == "t" else params_by)[model_id][key] = value
        return [
            LoggedModel(
                model_id=model_id,
                experiment_id=experiment,
                name=name,
                artifact_uri=artifact_uri(logged_model_folder(experiment, model_id)),
                status=status,
                creation_timestamp=created,
                last_updated_timestamp=updated,
                source_run_id=run_id,
                model_type=model_type,
                tags=tags[model_id],
                params=params_by[model_id],
            )
            for model_id, experiment, name, status, created, updated, run_id, model_type in rows
        ]


def _params(params: dict[str, Any] | None) -> dict[str, str]:
    return {
        check.tag_key(k, "param"): check.tag_value(k, v, "param") for k, v in (params or {}).items()
    }


def _insert(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    model_id: str,
    values: dict[str, str],
    replace: bool = False,
) -> None:
    """Key/value rows of a logged model into its tags or params table."""
    if values:
        conflict = " ON CONFLICT DO UPDATE SET value = excluded.value" if replace else ""
        conn.executemany(
            f"INSERT INTO {table} VALUES (?, ?, ?){conflict}",
            [[model_id, key, value] for key, value in values.items()],
        )
