"""Runs, the lineage record: every query of runs, params, metrics, tags and run artifacts."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from typing import Any

import duckdb

from registry_core import validation as check
from registry_core.entities import (
    DEFAULT_EXPERIMENT_ID,
    Experiment,
    Metric,
    ModelOutput,
    PagedList,
    Run,
    RunArtifact,
    now_ms,
)
from registry_core.errors import (
    InvalidParameterValue,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from registry_core.store.connection import ConnectionManager
from registry_core.store.filter_sql import plan_search

RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")
_RUN_ID = re.compile(r"[A-Za-z0-9][\w-]{0,255}")
_RUN_COLUMNS = (
    "r.run_id, r.run_name, r.status, r.start_time, r.end_time, r.code_version, "
    "r.data_fingerprint, r.source_info, r.experiment_id::VARCHAR, r.user_id"
)
_EXPERIMENT_COLUMNS = (
    "e.id::VARCHAR, e.name, e.artifact_location, e.lifecycle_stage, e.creation_time, "
    "e.last_update_time"
)


def valid_run_id(value: Any) -> str:
    """A run id: letters, digits, `_` and `-` (uuid4 hex when the registry makes one)."""
    if not isinstance(value, str) or not _RUN_ID.fullmatch(value):
        raise InvalidParameterValue(f"Invalid run id {value!r}.")
    return value


def experiment_id(value: Any) -> int:
    """An experiment id: MLflow's are digit strings (`"0"` is `Default`)."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not text.isdigit() or len(text) > 18:
        raise InvalidParameterValue(f"Invalid experiment id {value!r}.")
    return int(text)


def run_status(value: Any) -> str:
    """A run status, one of MLflow's."""
    if not isinstance(value, str) or value.upper() not in RUN_STATUSES:
        raise InvalidParameterValue(
            f"Invalid run status {value!r}: must be one of {', '.join(RUN_STATUSES)}."
        )
    return value.upper()


class DuckDBRunStore:
    """Runs in the registry's DuckDB file; each change one transaction."""

    def __init__(self, manager: ConnectionManager) -> None:
        self.manager = manager

    @staticmethod
    def _require_run(conn: duckdb.DuckDBPyConnection, rid: str) -> None:
        if not conn.execute("SELECT 1 FROM runs WHERE run_id = ?", [valid_run_id(rid)]).fetchone():
            raise ResourceDoesNotExist(f"Run with id={rid} not found")

    def create_run(
        self,
        run_name: str | None = None,
        tags: dict[str, Any] | None = None,
        code_version: str | None = None,
        source_info: dict[str, Any] | None = None,
        start_time: int | None = None,
        experiment_id: str | None = None,
        user_id: str | None = None,
    ) -> Run:
        rid = uuid.uuid4().hex
        name = check.run_name(run_name)
        clean_tags = check.tags(tags)
        started = (
            check.timestamp(start_time, "Run start time") if start_time is not None else now_ms()
        )
        experiment = self._experiment_key(experiment_id)
        with self.manager.transaction() as conn:
            self._require_experiment(conn, experiment)
            conn.execute(
                "INSERT INTO runs (run_id, run_name, status, start_time, end_time, code_version, "
                "data_fingerprint, source_info, experiment_id, user_id) "
                "VALUES (?, ?, 'RUNNING', ?, NULL, ?, NULL, ?, ?, ?)",
                [
                    rid,
                    name,
                    started,
                    code_version,
                    json.dumps(source_info or {}),
                    experiment,
                    user_id,
                ],
            )
            self._insert_tags(conn, rid, clean_tags)
            return self._runs(conn, "r.run_id = ?", [rid])[0]

    @staticmethod
    def _experiment_key(value: str | None) -> int:
        return experiment_id(DEFAULT_EXPERIMENT_ID if value in (None, "") else value)

    @staticmethod
    def _require_experiment(conn: duckdb.DuckDBPyConnection, key: int) -> None:
        if not conn.execute("SELECT 1 FROM experiments WHERE id = ?", [key]).fetchone():
            raise ResourceDoesNotExist(f"No Experiment with id={key} exists")

    @staticmethod
    def _insert_tags(conn: duckdb.DuckDBPyConnection, rid: str, tags: dict[str, str]) -> None:
        if tags:
            conn.executemany(
                "INSERT INTO run_tags VALUES (?, ?, ?) "
                "ON CONFLICT DO UPDATE SET value = excluded.value",
                [[rid, k, v] for k, v in tags.items()],
            )

    def update_run(
        self,
        run_id: str,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> Run:
        """Set a run's status (ending it stamps `end_time`, default now) and its name."""
        changes: dict[str, Any] = {}
        if status is not None:
            changes["status"] = run_status(status)
            if changes["status"] != "RUNNING":
                changes["end_time"] = (
                    now_ms() if end_time is None else check.timestamp(end_time, "Run end time")
                )
        elif end_time is not None:
            changes["end_time"] = check.timestamp(end_time, "Run end time")
        if run_name is not None:
            changes["run_name"] = check.run_name(run_name)
        with self.manager.transaction() as conn:
            self._require_run(conn, run_id)
            if changes:
                assignments = ", ".join(f"{column} = ?" for column in changes)
                conn.execute(
                    f"UPDATE runs SET {assignments} WHERE run_id = ?", [*changes.values(), run_id]
                )
            return self._runs(conn, "r.run_id = ?", [run_id])[0]

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: dict[str, Any] | None = None,
        tags: dict[str, Any] | None = None,
    ) -> None:
        """Params, metrics and tags of a run in one transaction; a param never changes value."""
        clean_params = {
            check.tag_key(k, "param"): check.tag_value(k, v, "param")
            for k, v in (params or {}).items()
        }
        clean_tags = check.tags(tags)
        rows = [
            [
                run_id,
                check.tag_key(m.key, "metric"),
                check.metric_value(m.key, m.value),
                check.metric_step(m.step),
                check.timestamp(m.timestamp, "Metric timestamp"),
            ]
            for m in metrics
        ]
        with self.manager.transaction() as conn:
            self._require_run(conn, run_id)
            if clean_params:
                existing = dict(
                    conn.execute(
                        "SELECT key, value FROM run_params WHERE run_id = ?", [run_id]
                    ).fetchall()
                )
                for key, value in clean_params.items():
                    if key in existing and existing[key] != value:
                        raise InvalidParameterValue(
                            f"Changing param values is not allowed: param {key!r} of run {run_id} "
                            f"is {existing[key]!r}, not {value!r}."
                        )
                conn.executemany(
                    "INSERT INTO run_params VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    [[run_id, k, v] for k, v in clean_params.items()],
                )
            if rows:
                # A value logged again at the same step and time is kept once, as MLflow's
                # stores do: its client re-logs a run's metrics for each model it logs.
                conn.executemany(
                    "INSERT INTO run_metrics SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS "
                    "(SELECT 1 FROM run_metrics WHERE run_id = $1 AND key = $2 AND value = $3 "
                    "AND step = $4 AND timestamp = $5)",
                    rows,
                )
            self._insert_tags(conn, run_id, clean_tags)

    def delete_run_tag(self, run_id: str, key: str) -> None:
        with self.manager.transaction() as conn:
            self._require_run(conn, run_id)
            conn.execute("DELETE FROM run_tags WHERE run_id = ? AND key = ?", [run_id, key])

    def update_lineage(
        self,
        run_id: str,
        data_fingerprint: dict[str, Any] | None = None,
        source_info: dict[str, Any] | None = None,
    ) -> None:
        """Merge data fingerprints (by context) and source info into the run's record."""
        with self.manager.transaction() as conn:
            row = conn.execute(
                "SELECT data_fingerprint, source_info FROM runs WHERE run_id = ?",
                [valid_run_id(run_id)],
            ).fetchone()
            if row is None:
                raise ResourceDoesNotExist(f"Run with id={run_id} not found")
            fingerprints, info = row
            merged_fp = {**json.loads(fingerprints or "{}"), **(data_fingerprint or {})}
            merged_info = {**json.loads(info or "{}"), **(source_info or {})}
            conn.execute(
                "UPDATE runs SET data_fingerprint = ?, source_info = ? WHERE run_id = ?",
                [json.dumps(merged_fp) if merged_fp else None, json.dumps(merged_info), run_id],
            )

    def _log_artifact(self, rid: str, artifact: RunArtifact) -> None:
        """Record a stored artifact under a path of the run; a path is written once."""
        with self.manager.transaction() as conn:
            self._require_run(conn, rid)
            if conn.execute(
                "SELECT 1 FROM run_artifacts WHERE run_id = ? AND path = ?", [rid, artifact.path]
            ).fetchone():
                raise InvalidParameterValue(
                    f"Run {rid} already has an artifact at {artifact.path!r}."
                )
            conn.execute(
                "INSERT INTO run_artifacts VALUES (?, ?, ?, ?, ?, ?)",
                [
                    rid,
                    artifact.path,
                    artifact.sha256,
                    artifact.size,
                    artifact.format,
                    json.dumps(artifact.signature) if artifact.signature else None,
                ],
            )

    def get_run_artifact(self, run_id: str, path: str) -> RunArtifact | None:
        with self.manager.connection() as conn:
            row = conn.execute(
                "SELECT path, sha256, size, format, signature FROM run_artifacts "
                "WHERE run_id = ? AND path = ?",
                [valid_run_id(run_id), path],
            ).fetchone()
        return _artifact_from_row(row) if row else None

    def find_run_artifacts(
        self, wanted: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[bool, RunArtifact | None]]:
        """For each (run, path): whether this registry holds the run, and the run's artifact at
        that path. One query for all, for versions whose sources name runs that may be another
        tracking server's."""
        run_ids = sorted({valid_run_id(run_id) for run_id, _ in wanted})
        marks = ", ".join(["?"] * len(run_ids))
        with self.manager.connection() as conn:
            rows = conn.execute(
                "SELECT run_id, path, sha256, size, format, signature FROM run_artifacts "
                f"WHERE run_id IN ({marks}) UNION ALL "
                f"SELECT run_id, NULL, NULL, NULL, NULL, NULL FROM runs WHERE run_id IN ({marks})",
                run_ids + run_ids,
            ).fetchall()
        held = {row[0] for row in rows}
        logged = {(row[0], row[1]): _artifact_from_row(row[1:]) for row in rows if row[1]}
        return {key: (key[0] in held, logged.get(key)) for key in wanted}

    def get_run(self, run_id: str) -> Run:
        with self.manager.connection() as conn:
            runs = self._runs(conn, "r.run_id = ?", [valid_run_id(run_id)])
        if not runs:
            raise ResourceDoesNotExist(f"Run with id={run_id} not found")
        return runs[0]

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        with self.manager.connection() as conn:
            self._require_run(conn, run_id)
            rows = conn.execute(
                "SELECT key, value, step, timestamp FROM run_metrics WHERE run_id = ? AND key = ? "
                "ORDER BY step, timestamp",
                [run_id, key],
            ).fetchall()
        return [Metric(*row) for row in rows]

    def search_runs(
        self,
        filter_string: str | None = None,
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        plan = plan_search("run", filter_string, max_results, order_by, page_token)
        with self.manager.connection() as conn:
            runs = self._runs(
                conn, plan.where, plan.page_params, f"ORDER BY {plan.order} LIMIT ? OFFSET ?"
            )
        return PagedList(runs[: plan.limit], plan.next_token(len(runs)))

    def delete_run(self, run_id: str) -> None:
        """Delete a run and its records; versions that link to it keep their own artifact."""
        with self.manager.transaction() as conn:
            self._require_run(conn, run_id)
            for table in (
                "run_params",
                "run_metrics",
                "run_tags",
                "run_artifacts",
                "logged_model_outputs",
                "runs",
            ):
                conn.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])

    # -- experiments -----------------------------------------------------------------------

    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, Any] | None = None
    ) -> str:
        """A new experiment; its id is returned as a string, as MLflow's."""
        if not isinstance(name, str) or not name.strip():
            raise InvalidParameterValue(
                f"Experiment name must be a non-empty string, got {name!r}."
            )
        check.plain("Experiment name", name)
        clean_tags = check.tags(tags)
        with self.manager.transaction() as conn:
            if conn.execute("SELECT 1 FROM experiments WHERE name = ?", [name]).fetchone():
                raise ResourceAlreadyExists(f"Experiment(name={name}) already exists.")
            when = now_ms()
            (key,) = conn.execute(
                "INSERT INTO experiments VALUES "
                "(nextval('experiment_id_seq'), ?, ?, 'active', ?, ?) RETURNING id",
                [name, artifact_location or "artifacts:/", when, when],
            ).fetchone()
            if clean_tags:
                conn.executemany(
                    "INSERT INTO experiment_tags VALUES (?, ?, ?)",
                    [[key, k, v] for k, v in clean_tags.items()],
                )
        return str(key)

    def _experiments(
        self, conn: duckdb.DuckDBPyConnection, where: str, params: Sequence[Any], tail: str = ""
    ) -> list[Experiment]:
        rows = conn.execute(
            f"SELECT {_EXPERIMENT_COLUMNS} FROM experiments e WHERE {where} {tail}", list(params)
        ).fetchall()
        if not rows:
            return []
        tags: dict[str, dict[str, str]] = {row[0]: {} for row in rows}
        marks = ", ".join("?" for _ in rows)
        for key, tag, value in conn.execute(
            f"SELECT experiment_id::VARCHAR, key, value FROM experiment_tags "
            f"WHERE experiment_id IN ({marks}) ORDER BY key",
            [int(row[0]) for row in rows],
        ).fetchall():
            tags[key][tag] = value
        return [
            Experiment(
                experiment_id=row[0],
                name=row[1],
                artifact_location=row[2],
                lifecycle_stage=row[3],
                tags=tags[row[0]],
                creation_time=row[4],
                last_update_time=row[5],
            )
            for row in rows
        ]

    def get_experiment(self, experiment_id: str) -> Experiment:
        key = self._experiment_key(experiment_id)
        with self.manager.connection() as conn:
            found = self._experiments(conn, "e.id = ?", [key])
        if not found:
            raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists")
        return found[0]

    def get_experiment_by_name(self, name: str) -> Experiment:
        with self.manager.connection() as conn:
            found = self._experiments(conn, "e.name = ?", [name])
        if not found:
            raise ResourceDoesNotExist(f"Could not find experiment with name '{name}'")
        return found[0]

    def search_experiments(
        self,
        filter_string: str | None = None,
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        """Experiments matching a filter over name, times and tags (oldest first), paged."""
        plan = plan_search("experiment", filter_string, max_results, order_by, page_token)
        with self.manager.connection() as conn:
            found = self._experiments(
                conn,
                plan.where,
                plan.page_params,
                f"ORDER BY {plan.order} LIMIT ? OFFSET ?",
            )
        return PagedList(found[: plan.limit], plan.next_token(len(found)))

    def referenced_digests(self) -> set[str]:
        """Every artifact digest a model version, a run or an artifact-proxy path points at."""
        with self.manager.connection() as conn:
            rows = conn.execute(
                "SELECT artifact_sha256 FROM model_versions WHERE artifact_sha256 IS NOT NULL "
                "UNION SELECT sha256 FROM run_artifacts UNION SELECT sha256 FROM mlflow_artifacts"
            ).fetchall()
        return {row[0] for row in rows}

    @staticmethod
    def _runs(
        conn: duckdb.DuckDBPyConnection, where: str, params: Sequence[Any], tail: str = ""
    ) -> list[Run]:
        rows = conn.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs r WHERE {where} {tail}", list(params)
        ).fetchall()
        if not rows:
            return []
        ids = [row[0] for row in rows]
        marks = ", ".join("?" for _ in ids)
        params_by: dict[str, dict[str, str]] = {i: {} for i in ids}
        tags_by: dict[str, dict[str, str]] = {i: {} for i in ids}
        outputs_by: dict[str, list[ModelOutput]] = {i: [] for i in ids}
        for rid, kind, key, value in conn.execute(
            f"SELECT run_id, 'p', key, value FROM run_params WHERE run_id IN ({marks}) "
            f"UNION ALL SELECT run_id, 't', key, value FROM run_tags WHERE run_id IN ({marks}) "
            f"UNION ALL SELECT run_id, 'o', model_id, step::VARCHAR FROM logged_model_outputs "
            f"WHERE run_id IN ({marks})",
            [*ids, *ids, *ids],
        ).fetchall():
            if kind == "o":
                outputs_by[rid].append(ModelOutput(key, int(value)))
            else:
                (params_by if kind == "p" else tags_by)[rid][key] = value
        metrics_by: dict[str, dict[str, float]] = {i: {} for i in ids}
        for rid, key, value in conn.execute(
            f"SELECT run_id, key, arg_max(value, (step, timestamp)) FROM run_metrics "
            f"WHERE run_id IN ({marks}) GROUP BY run_id, key",
            ids,
        ).fetchall():
            metrics_by[rid][key] = value
        artifacts_by: dict[str, list[RunArtifact]] = {i: [] for i in ids}
        for row in conn.execute(
            f"SELECT run_id, path, sha256, size, format, signature FROM run_artifacts "
            f"WHERE run_id IN ({marks}) ORDER BY path",
            ids,
        ).fetchall():
            artifacts_by[row[0]].append(_artifact_from_row(row[1:]))
        return [
            Run(
                run_id=rid,
                run_name=name,
                status=status,
                start_time=start,
                end_time=end,
                params=params_by[rid],
                metrics=metrics_by[rid],
                tags=tags_by[rid],
                code_version=code_version,
                data_fingerprint=json.loads(fingerprint) if fingerprint else None,
                source_info=json.loads(info) if info else {},
                artifacts=tuple(artifacts_by[rid]),
                experiment_id=experiment,
                user_id=user,
                model_outputs=tuple(sorted(outputs_by[rid], key=lambda o: (o.step, o.model_id))),
            )
            for (
                rid,
                name,
                status,
                start,
                end,
                code_version,
                fingerprint,
                info,
                experiment,
                user,
            ) in rows
        ]


def _artifact_from_row(row: Sequence[Any]) -> RunArtifact:
    return RunArtifact(
        path=row[0],
        sha256=row[1],
        size=row[2],
        format=row[3],
        signature=json.loads(row[4]) if row[4] else None,
    )
