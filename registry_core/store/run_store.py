"""Runs, the lineage record: every query of runs, params, metrics, tags and run artifacts."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from typing import Any

import duckdb

from registry_core import validation as check
from registry_core.entities import Metric, PagedList, Run, RunArtifact, now_ms
from registry_core.errors import InvalidParameterValue, ResourceDoesNotExist
from registry_core.store.connection import ConnectionManager
from registry_core.store.filter_sql import plan_search

RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")
_RUN_ID = re.compile(r"[A-Za-z0-9][\w-]{0,255}")
_RUN_COLUMNS = (
    "r.run_id, r.run_name, r.status, r.start_time, r.end_time, r.code_version, "
    "r.data_fingerprint, r.source_info"
)


def run_id(value: Any) -> str:
    """A run id: letters, digits, `_` and `-` (uuid4 hex when the registry makes one)."""
    if not isinstance(value, str) or not _RUN_ID.fullmatch(value):
        raise InvalidParameterValue(f"Invalid run id {value!r}.")
    return value


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
        if not conn.execute("SELECT 1 FROM runs WHERE run_id = ?", [run_id(rid)]).fetchone():
            raise ResourceDoesNotExist(f"Run with id={rid} not found")

    def create_run(
        self,
        run_name: str | None,
        tags: dict[str, Any] | None,
        code_version: str | None,
        source_info: dict[str, Any] | None,
        start_time: int | None = None,
    ) -> Run:
        rid = uuid.uuid4().hex
        name = check.run_name(run_name)
        clean_tags = check.tags(tags)
        started = (
            check.timestamp(start_time, "Run start time") if start_time is not None else now_ms()
        )
        with self.manager.transaction() as conn:
            conn.execute(
                "INSERT INTO runs VALUES (?, ?, 'RUNNING', ?, NULL, ?, NULL, ?)",
                [rid, name, started, code_version, json.dumps(source_info or {})],
            )
            self._insert_tags(conn, rid, clean_tags)
            return self._runs(conn, "r.run_id = ?", [rid])[0]

    @staticmethod
    def _insert_tags(conn: duckdb.DuckDBPyConnection, rid: str, tags: dict[str, str]) -> None:
        if tags:
            conn.executemany(
                "INSERT INTO run_tags VALUES (?, ?, ?) "
                "ON CONFLICT DO UPDATE SET value = excluded.value",
                [[rid, k, v] for k, v in tags.items()],
            )

    def set_terminated(
        self, rid: str, status: str = "FINISHED", end_time: int | None = None
    ) -> None:
        status = run_status(status)
        ended = now_ms() if end_time is None else check.timestamp(end_time, "Run end time")
        with self.manager.transaction() as conn:
            self._require_run(conn, rid)
            conn.execute(
                "UPDATE runs SET status = ?, end_time = ? WHERE run_id = ?", [status, ended, rid]
            )

    def log_batch(
        self,
        rid: str,
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
                rid,
                check.tag_key(m.key, "metric"),
                check.metric_value(m.key, m.value),
                check.metric_step(m.step),
                check.timestamp(m.timestamp, "Metric timestamp"),
            ]
            for m in metrics
        ]
        with self.manager.transaction() as conn:
            self._require_run(conn, rid)
            if clean_params:
                existing = dict(
                    conn.execute(
                        "SELECT key, value FROM run_params WHERE run_id = ?", [rid]
                    ).fetchall()
                )
                for key, value in clean_params.items():
                    if key in existing and existing[key] != value:
                        raise InvalidParameterValue(
                            f"Changing param values is not allowed: param {key!r} of run {rid} "
                            f"is {existing[key]!r}, not {value!r}."
                        )
                conn.executemany(
                    "INSERT INTO run_params VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    [[rid, k, v] for k, v in clean_params.items()],
                )
            if rows:
                conn.executemany("INSERT INTO run_metrics VALUES (?, ?, ?, ?, ?)", rows)
            self._insert_tags(conn, rid, clean_tags)

    def delete_run_tag(self, rid: str, key: str) -> None:
        with self.manager.transaction() as conn:
            self._require_run(conn, rid)
            conn.execute("DELETE FROM run_tags WHERE run_id = ? AND key = ?", [rid, key])

    def update_lineage(
        self,
        rid: str,
        data_fingerprint: dict[str, Any] | None = None,
        source_info: dict[str, Any] | None = None,
    ) -> None:
        """Merge data fingerprints (by context) and source info into the run's record."""
        with self.manager.transaction() as conn:
            row = conn.execute(
                "SELECT data_fingerprint, source_info FROM runs WHERE run_id = ?", [run_id(rid)]
            ).fetchone()
            if row is None:
                raise ResourceDoesNotExist(f"Run with id={rid} not found")
            fingerprints, info = row
            merged_fp = {**json.loads(fingerprints or "{}"), **(data_fingerprint or {})}
            merged_info = {**json.loads(info or "{}"), **(source_info or {})}
            conn.execute(
                "UPDATE runs SET data_fingerprint = ?, source_info = ? WHERE run_id = ?",
                [json.dumps(merged_fp) if merged_fp else None, json.dumps(merged_info), rid],
            )

    def log_artifact(self, rid: str, artifact: RunArtifact) -> None:
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

    def get_run_artifact(self, rid: str, path: str) -> RunArtifact | None:
        with self.manager.connection() as conn:
            row = conn.execute(
                "SELECT path, sha256, size, format, signature FROM run_artifacts "
                "WHERE run_id = ? AND path = ?",
                [run_id(rid), path],
            ).fetchone()
        return _artifact_from_row(row) if row else None

    def get_run(self, rid: str) -> Run:
        with self.manager.connection() as conn:
            runs = self._runs(conn, "r.run_id = ?", [run_id(rid)])
        if not runs:
            raise ResourceDoesNotExist(f"Run with id={rid} not found")
        return runs[0]

    def get_metric_history(self, rid: str, key: str) -> list[Metric]:
        with self.manager.connection() as conn:
            self._require_run(conn, rid)
            rows = conn.execute(
                "SELECT key, value, step, timestamp FROM run_metrics WHERE run_id = ? AND key = ? "
                "ORDER BY step, timestamp",
                [rid, key],
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

    def delete_run(self, rid: str) -> None:
        """Delete a run and its records; versions that link to it keep their own artifact."""
        with self.manager.transaction() as conn:
            self._require_run(conn, rid)
            for table in ("run_params", "run_metrics", "run_tags", "run_artifacts", "runs"):
                conn.execute(f"DELETE FROM {table} WHERE run_id = ?", [rid])

    def referenced_digests(self) -> set[str]:
        """Every artifact digest a model version or a run still points at."""
        with self.manager.connection() as conn:
            rows = conn.execute(
                "SELECT artifact_sha256 FROM model_versions WHERE artifact_sha256 IS NOT NULL "
                "UNION SELECT sha256 FROM run_artifacts"
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
        for rid, kind, key, value in conn.execute(
            f"SELECT run_id, 'p', key, value FROM run_params WHERE run_id IN ({marks}) "
            f"UNION ALL SELECT run_id, 't', key, value FROM run_tags WHERE run_id IN ({marks})",
            [*ids, *ids],
        ).fetchall():
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
            )
            for rid, name, status, start, end, code_version, fingerprint, info in rows
        ]


def _artifact_from_row(row: Sequence[Any]) -> RunArtifact:
    return RunArtifact(
        path=row[0],
        sha256=row[1],
        size=row[2],
        format=row[3],
        signature=json.loads(row[4]) if row[4] else None,
    )
