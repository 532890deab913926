"""The embedded registry store: every query of registered models, versions and history is here."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import duckdb

from registry_core import validation as check
from registry_core.entities import (
    STAGE_ARCHIVED,
    STAGE_NONE,
    STAGES,
    STATUS_READY,
    ModelVersion,
    PagedList,
    RegisteredModel,
    StageTransition,
    now_ms,
)
from registry_core.errors import (
    InvalidParameterValue,
    InvalidState,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from registry_core.store.base import ModelRegistryStore
from registry_core.store.connection import AppendOnly, ConnectionManager
from registry_core.store.filter_sql import plan_search
from registry_core.store.migrations import (
    SCHEMA_VERSION,
    VERSION_KEY_FACTOR,
    current_version,
    version_key,
)
from registry_core.store.outbox import record_event

_VERSION_COLUMNS = """
    mv.vkey, mv.version, mv.source, mv.run_id, mv.run_link, mv.current_stage, mv.status,
    mv.description, mv.creation_timestamp, mv.last_updated_timestamp,
    mv.artifact_sha256, mv.artifact_size, mv.artifact_format, mv.signature
"""
_VERSIONS_JOINED = "FROM model_versions mv JOIN registered_models rm ON rm.id = mv.model_id"
# Tags and aliases of a few versions are fetched by key; of a larger page, by re-running the
# page's query as a join, which DuckDB does far faster than a long IN list.
_FEW_VERSIONS = 8
HISTORY = AppendOnly(
    "INSERT INTO history (id, model_id, model_name, version, event, from_version, from_stage, "
    "to_stage, alias, actor, reason, timestamp, request_id) VALUES ",
    "(nextval('history_id_seq'), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
)
_HISTORY_COLUMNS = (
    "id, model_name, version, event, from_version, from_stage, to_stage, alias, actor, reason, "
    "timestamp, request_id"
)


_CONSISTENCY_QUERIES: tuple[tuple[str, str], ...] = (
    (
        "versions without a registered model",
        """SELECT count(*) FROM model_versions mv
           WHERE NOT EXISTS (SELECT 1 FROM registered_models rm WHERE rm.id = mv.model_id)""",
    ),
    (
        "models whose next version number is not above their highest version",
        """SELECT count(*) FROM registered_models rm WHERE next_version <=
           (SELECT coalesce(max(version), 0) FROM model_versions WHERE model_id = rm.id)""",
    ),
    (
        "aliases pointing at missing versions",
        """SELECT count(*) FROM registered_model_aliases a WHERE NOT EXISTS
           (SELECT 1 FROM model_versions mv
            WHERE mv.model_id = a.model_id AND mv.version = a.version)""",
    ),
    (
        "version tags of missing versions",
        """SELECT count(*) FROM model_version_tags t
           WHERE NOT EXISTS (SELECT 1 FROM model_versions mv WHERE mv.vkey = t.vkey)""",
    ),
    (
        "model tags of missing models",
        """SELECT count(*) FROM registered_model_tags t
           WHERE NOT EXISTS (SELECT 1 FROM registered_models rm WHERE rm.id = t.model_id)""",
    ),
    (
        "versions whose key does not match their model and number",
        f"""SELECT count(*) FROM model_versions
            WHERE vkey <> model_id * {VERSION_KEY_FACTOR} + version""",
    ),
    (
        "versions with an unknown stage",
        """SELECT count(*) FROM model_versions
           WHERE current_stage NOT IN ('None', 'Staging', 'Production', 'Archived')""",
    ),
    (
        "versions whose stage disagrees with the history",
        """SELECT count(*) FROM model_versions mv WHERE current_stage <> coalesce(
           (SELECT to_stage FROM history h WHERE h.model_id = mv.model_id
            AND h.version = mv.version AND h.event IN ('stage', 'imported')
            ORDER BY h.id DESC LIMIT 1),
           'None')""",
    ),
)


def _version_from_row(
    name: str, row: Sequence[Any], tags: dict[str, str], aliases: tuple[str, ...]
) -> ModelVersion:
    return ModelVersion(
        name=name,
        version=str(row[1]),
        source=row[2],
        run_id=row[3],
        run_link=row[4],
        current_stage=row[5],
        status=row[6],
        description=row[7],
        creation_timestamp=row[8],
        last_updated_timestamp=row[9],
        artifact_sha256=row[10],
        artifact_size=row[11],
        artifact_format=row[12],
        signature=json.loads(row[13]) if row[13] else None,
        tags=tags,
        aliases=aliases,
    )


def _transition_from_row(row: Sequence[Any]) -> StageTransition:
    return StageTransition(
        id=row[0],
        model=row[1],
        version=str(row[2]),
        event=row[3],
        from_version=None if row[4] is None else str(row[4]),
        from_stage=row[5],
        to_stage=row[6],
        alias=row[7],
        actor=row[8],
        reason=row[9],
        timestamp=row[10],
        request_id=row[11],
    )


class DuckDBStore(ModelRegistryStore):
    """Registered models and versions in one DuckDB file, each change one transaction."""

    def __init__(self, manager: ConnectionManager) -> None:
        self.manager = manager

    @contextmanager
    def session(self) -> Iterator[None]:
        with self.manager.session():
            yield

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def _model_row(conn: duckdb.DuckDBPyConnection, name: str) -> tuple[Any, ...]:
        row = conn.execute(
            "SELECT id, name, next_version FROM registered_models WHERE name = ?", [name]
        ).fetchone()
        if row is None:
            raise ResourceDoesNotExist(f"Registered Model with name={name} not found")
        return row

    def _model_id(self, conn: duckdb.DuckDBPyConnection, name: str) -> int:
        return self._model_row(conn, check.model_name(name, existing=True))[0]

    @staticmethod
    def _touch_model(conn: duckdb.DuckDBPyConnection, model_id: int, when: int) -> None:
        conn.execute(
            "UPDATE registered_models SET last_updated_timestamp = ? WHERE id = ?", [when, model_id]
        )

    def _versions(
        self,
        conn: duckdb.DuckDBPyConnection,
        where: str,
        params: Sequence[Any],
        tail: str = "",
        name: str | None = None,
    ) -> list[ModelVersion]:
        """Versions matching `where`, with tags and aliases; `name` skips the join when known."""
        if name is None:
            sql = f"SELECT {_VERSION_COLUMNS}, rm.name {_VERSIONS_JOINED} WHERE {where} {tail}"
        else:
            sql = f"SELECT {_VERSION_COLUMNS} FROM model_versions mv WHERE {where} {tail}"
        rows = conn.execute(sql, list(params)).fetchall()
        if not rows:
            return []
        keys = [row[0] for row in rows]
        alias_key = f"a.model_id * {VERSION_KEY_FACTOR} + a.version"
        if len(keys) <= _FEW_VERSIONS:
            # A literal key list lets the ART index serve the tag lookup; a join would scan.
            marks = ", ".join("?" for _ in keys)
            extras = (
                "SELECT t.vkey, t.key, t.value FROM model_version_tags t "
                f"WHERE t.vkey IN ({marks}) UNION ALL "
                f"SELECT {alias_key}, NULL, a.alias FROM registered_model_aliases a "
                f"WHERE {alias_key} IN ({marks})"
            )
            extras_params = [*keys, *keys]
        else:
            extras = (
                f"WITH page AS (SELECT mv.vkey {_VERSIONS_JOINED} WHERE {where} {tail}) "
                "SELECT t.vkey, t.key, t.value FROM model_version_tags t JOIN page USING (vkey) "
                f"UNION ALL SELECT {alias_key}, NULL, a.alias FROM registered_model_aliases a "
                f"JOIN page ON page.vkey = {alias_key}"
            )
            extras_params = list(params)
        tags: dict[int, dict[str, str]] = {key: {} for key in keys}
        aliases: dict[int, list[str]] = {key: [] for key in keys}
        for vkey, key, value in conn.execute(extras, extras_params).fetchall():
            if key is None:
                aliases[vkey].append(value)
            else:
                tags[vkey][key] = value
        return [
            _version_from_row(
                name if name is not None else row[-1],
                row,
                tags[row[0]],
                tuple(sorted(aliases[row[0]])),
            )
            for row in rows
        ]

    def _version(
        self, conn: duckdb.DuckDBPyConnection, name: str, version: int | str
    ) -> tuple[int, ModelVersion]:
        """The model id and the version, or RESOURCE_DOES_NOT_EXIST naming both."""
        number = check.version_number(version)
        model_id = self._model_id(conn, name)
        found = self._versions(conn, "mv.vkey = ?", [version_key(model_id, number)], name=name)
        if not found:
            raise ResourceDoesNotExist(f"Model Version (name={name}, version={number}) not found")
        return model_id, found[0]

    def _require_version(
        self, conn: duckdb.DuckDBPyConnection, name: str, version: int | str
    ) -> tuple[int, int, str]:
        """The model id, version number and current stage, or RESOURCE_DOES_NOT_EXIST."""
        number = check.version_number(version)
        model_id = self._model_id(conn, name)
        row = conn.execute(
            "SELECT current_stage FROM model_versions WHERE vkey = ?",
            [version_key(model_id, number)],
        ).fetchone()
        if row is None:
            raise ResourceDoesNotExist(f"Model Version (name={name}, version={number}) not found")
        return model_id, number, row[0]

    def _latest_versions(
        self,
        conn: duckdb.DuckDBPyConnection,
        models: str,
        params: Sequence[Any],
        stages: Sequence[str],
        name: str | None = None,
    ) -> list[ModelVersion]:
        """The highest version per stage of the models whose ids the `models` query yields."""
        stage_marks = ", ".join("?" for _ in stages)
        return self._versions(
            conn,
            "mv.vkey IN (SELECT max(vkey) FROM model_versions "
            f"WHERE model_id IN ({models}) AND current_stage IN ({stage_marks}) "
            "GROUP BY model_id, current_stage)",
            [*params, *stages],
            name=name,
        )

    def _registered_models(
        self,
        conn: duckdb.DuckDBPyConnection,
        rows: Sequence[Sequence[Any]],
        models: str,
        params: Sequence[Any],
    ) -> list[RegisteredModel]:
        """Entities for rows of (id, name, description, created, updated) whose ids the `models`
        query yields, with tags, aliases and latest versions in three batch queries."""
        if not rows:
            return []
        tags: dict[int, dict[str, str]] = {row[0]: {} for row in rows}
        aliases: dict[int, dict[str, str]] = {row[0]: {} for row in rows}
        for model_id, kind, key, value in conn.execute(
            f"WITH page AS ({models}) "
            "SELECT t.model_id, 't', t.key, t.value FROM registered_model_tags t "
            "WHERE t.model_id IN (SELECT * FROM page) UNION ALL "
            "SELECT a.model_id, 'a', a.alias, a.version::VARCHAR FROM registered_model_aliases a "
            "WHERE a.model_id IN (SELECT * FROM page) ORDER BY 3",
            list(params),
        ).fetchall():
            (tags if kind == "t" else aliases)[model_id][key] = value
        latest: dict[str, list[ModelVersion]] = {}
        for mv in self._latest_versions(conn, models, params, STAGES):
            latest.setdefault(mv.name, []).append(mv)
        order = {stage: i for i, stage in enumerate(STAGES)}
        return [
            RegisteredModel(
                name=name,
                description=description,
                tags=tags[model_id],
                aliases=aliases[model_id],
                latest_versions=tuple(
                    sorted(latest.get(name, []), key=lambda mv: order[mv.current_stage])
                ),
                creation_timestamp=created,
                last_updated_timestamp=updated,
            )
            for model_id, name, description, created, updated in rows
        ]

    def _registered_model(self, conn: duckdb.DuckDBPyConnection, name: str) -> RegisteredModel:
        check.model_name(name, existing=True)
        row = conn.execute(
            "SELECT id, name, description, creation_timestamp, last_updated_timestamp "
            "FROM registered_models WHERE name = ?",
            [name],
        ).fetchone()
        if row is None:
            raise ResourceDoesNotExist(f"Registered Model with name={name} not found")
        return self._registered_models(conn, [row], "SELECT ?::BIGINT", [row[0]])[0]

    def _append_history(
        self,
        model_id: int,
        model_name: str,
        version: int,
        event: str,
        actor: str,
        reason: str | None,
        when: int,
        *,
        from_stage: str | None = None,
        to_stage: str | None = None,
        alias: str | None = None,
        from_version: int | None = None,
        request_id: int | None = None,
    ) -> tuple[str, str | None]:
        """Append one entry to the history, inside the caller's transaction; the checked actor
        and reason."""
        actor, reason = check.actor(actor), check.reason(reason)
        self.manager.append(
            HISTORY,
            (
                model_id,
                model_name,
                version,
                event,
                from_version,
                from_stage,
                to_stage,
                alias,
                actor,
                reason,
                when,
                request_id,
            ),
        )
        return actor, reason

    def _record(
        self,
        model_id: int,
        model_name: str,
        version: int,
        event: str,
        actor: str,
        reason: str | None,
        when: int,
        *,
        from_stage: str | None = None,
        to_stage: str | None = None,
        alias: str | None = None,
        from_version: int | None = None,
        run_id: str | None = None,
        request_id: int | None = None,
    ) -> None:
        """Append to the history and, in the same transaction, to the webhook outbox."""
        actor, reason = self._append_history(
            model_id,
            model_name,
            version,
            event,
            actor,
            reason,
            when,
            from_stage=from_stage,
            to_stage=to_stage,
            alias=alias,
            from_version=from_version,
            request_id=request_id,
        )
        base = {"name": model_name, "version": str(version), "actor": actor}
        if event == "stage":
            entity, action = "model_version", "stage_transitioned"
            data = {
                **base,
                "from_stage": from_stage,
                "to_stage": to_stage,
                "reason": reason,
                "run_id": run_id,
            }
        elif event == "version_deleted":
            entity, action, data = "model_version", "deleted", {**base, "stage": from_stage}
        elif event == "alias_set":
            entity, action = "model_version_alias", "set"
            data = {
                **base,
                "alias": alias,
                "reason": reason,
                "previous_version": None if from_version is None else str(from_version),
            }
        else:
            entity, action = "model_version_alias", "deleted"
            data = {**base, "alias": alias, "reason": reason}
        record_event(self.manager, entity, action, data, when)

    def _set_stage(
        self,
        conn: duckdb.DuckDBPyConnection,
        model_id: int,
        name: str,
        version: int,
        from_stage: str,
        to_stage: str,
        actor: str,
        reason: str | None,
        when: int,
        request_id: int | None = None,
    ) -> None:
        (run_id,) = conn.execute(
            "UPDATE model_versions SET current_stage = ?, last_updated_timestamp = ? "
            "WHERE vkey = ? RETURNING run_id",
            [to_stage, when, version_key(model_id, version)],
        ).fetchone()
        self._record(
            model_id,
            name,
            version,
            "stage",
            actor,
            reason,
            when,
            from_stage=from_stage,
            to_stage=to_stage,
            run_id=run_id,
            request_id=request_id,
        )

    # -- registered models ---------------------------------------------------------------

    def create_registered_model(
        self, name: str, tags: dict[str, str] | None = None, description: str | None = None
    ) -> RegisteredModel:
        check.model_name(name)
        clean_tags = check.tags(tags)
        description = check.description(description)
        with self.manager.transaction() as conn:
            when = now_ms()
            created = conn.execute(
                "INSERT INTO registered_models VALUES "
                "(nextval('registered_model_id_seq'), ?, ?, ?, ?, 1) "
                "ON CONFLICT (name) DO NOTHING RETURNING id",
                [name, description, when, when],
            ).fetchone()
            if created is None:
                raise ResourceAlreadyExists(f"Registered Model (name={name}) already exists.")
            (model_id,) = created
            if clean_tags:
                marks = ", ".join("(?, ?, ?)" for _ in clean_tags)
                conn.execute(
                    f"INSERT INTO registered_model_tags VALUES {marks}",
                    [item for k, v in clean_tags.items() for item in (model_id, k, v)],
                )
            record_event(
                self.manager,
                "registered_model",
                "created",
                {"name": name, "description": description, "tags": clean_tags},
                when,
            )
        return RegisteredModel(
            name=name,
            description=description,
            tags=dict(sorted(clean_tags.items())),
            aliases={},
            latest_versions=(),
            creation_timestamp=when,
            last_updated_timestamp=when,
        )

    def get_registered_model(self, name: str) -> RegisteredModel:
        with self.manager.connection() as conn:
            return self._registered_model(conn, name)

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        check.model_name(new_name)
        with self.manager.transaction() as conn:
            model_id = self._model_id(conn, name)
            if (
                new_name != name
                and conn.execute(
                    "SELECT 1 FROM registered_models WHERE name = ?", [new_name]
                ).fetchone()
            ):
                raise ResourceAlreadyExists(f"Registered Model (name={new_name}) already exists.")
            when = now_ms()
            conn.execute(
                "UPDATE registered_models SET name = ?, last_updated_timestamp = ? WHERE id = ?",
                [new_name, when, model_id],
            )
            record_event(
                self.manager,
                "registered_model",
                "renamed",
                {"name": new_name, "old_name": name},
                when,
            )
            return self._registered_model(conn, new_name)

    def update_registered_model(self, name: str, description: str | None = None) -> RegisteredModel:
        description = check.description(description)
        with self.manager.transaction() as conn:
            model_id = self._model_id(conn, name)
            conn.execute(
                "UPDATE registered_models SET description = ?, last_updated_timestamp = ? "
                "WHERE id = ?",
                [description, now_ms(), model_id],
            )
            return self._registered_model(conn, name)

    def delete_registered_model(self, name: str) -> None:
        with self.manager.transaction() as conn:
            model_id = self._model_id(conn, name)
            conn.execute(
                "DELETE FROM model_version_tags WHERE vkey IN "
                "(SELECT vkey FROM model_versions WHERE model_id = ?)",
                [model_id],
            )
            for table in ("model_versions", "registered_model_tags", "registered_model_aliases"):
                conn.execute(f"DELETE FROM {table} WHERE model_id = ?", [model_id])
            conn.execute("DELETE FROM registered_models WHERE id = ?", [model_id])
            record_event(self.manager, "registered_model", "deleted", {"name": name}, now_ms())

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        plan = plan_search("registered_model", filter_string, max_results, order_by, page_token)
        page = (
            f"FROM registered_models rm WHERE {plan.where} ORDER BY {plan.order} LIMIT ? OFFSET ?"
        )
        with self.manager.connection() as conn:
            rows = conn.execute(
                "SELECT rm.id, rm.name, rm.description, rm.creation_timestamp, "
                f"rm.last_updated_timestamp {page}",
                plan.page_params,
            ).fetchall()
            models = self._registered_models(
                conn,
                rows[: plan.limit],
                f"SELECT rm.id {page}",
                [*plan.params, plan.limit, plan.offset],
            )
        return PagedList(models, plan.next_token(len(rows)))

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        check.tag_key(key)
        text = check.tag_value(key, value)
        with self.manager.transaction() as conn:
            model_id = self._model_id(conn, name)
            conn.execute(
                "INSERT INTO registered_model_tags VALUES (?, ?, ?) "
                "ON CONFLICT DO UPDATE SET value = excluded.value",
                [model_id, key, text],
            )
            self._touch_model(conn, model_id, now_ms())

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        check.tag_key(key)
        with self.manager.transaction() as conn:
            model_id = self._model_id(conn, name)
            conn.execute(
                "DELETE FROM registered_model_tags WHERE model_id = ? AND key = ?", [model_id, key]
            )

    # -- model versions ------------------------------------------------------------------

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: dict[str, str] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        actor: str = "unknown",
    ) -> ModelVersion:
        call = {
            "name": name,
            "source": source,
            "run_id": run_id,
            "tags": tags,
            "run_link": run_link,
            "description": description,
            "actor": actor,
        }
        return self.create_model_versions([call])[0]

    def create_model_versions(self, calls: Sequence[Mapping[str, Any]]) -> list[ModelVersion]:
        """Create a version for each call (the keyword arguments of `create_model_version`, and
        the `artifact` record its source points at), numbered in the calls' order, in one
        transaction with one statement per table and model: concurrent registrations share
        their statements this way."""
        new = [_NewVersion.checked(**call) for call in calls]
        with self.manager.transaction() as conn:
            when = now_ms()
            numbers: dict[str, tuple[int, int]] = {}
            for name, count in Counter(v.name for v in new).items():
                row = conn.execute(
                    "UPDATE registered_models SET next_version = next_version + ?, "
                    "last_updated_timestamp = ? WHERE name = ? RETURNING id, next_version",
                    [count, when, name],
                ).fetchone()
                if row is None:
                    raise ResourceDoesNotExist(f"Registered Model with name={name} not found")
                numbers[name] = (row[0], row[1] - count)
            keys = []
            for v in new:
                model_id, number = numbers[v.name]
                numbers[v.name] = (model_id, number + 1)
                keys.append((model_id, number))
            conn.execute(
                "INSERT INTO model_versions (vkey, model_id, version, source, run_id, run_link, "
                "current_stage, status, description, creation_timestamp, "
                "last_updated_timestamp, artifact_sha256, artifact_size, artifact_format, "
                "signature) VALUES " + ", ".join([_VERSION_ROW] * len(new)),
                [
                    value
                    for (model_id, number), v in zip(keys, new, strict=True)
                    for value in v.row(model_id, number, when)
                ],
            )
            tags = [
                (version_key(model_id, number), key, value)
                for (model_id, number), v in zip(keys, new, strict=True)
                for key, value in v.tags.items()
            ]
            if tags:
                conn.execute(
                    "INSERT INTO model_version_tags VALUES " + ", ".join(["(?, ?, ?)"] * len(tags)),
                    [item for tag in tags for item in tag],
                )
            for (model_id, number), v in zip(keys, new, strict=True):
                self._append_history(
                    model_id,
                    v.name,
                    number,
                    "version_created",
                    v.actor,
                    v.reason,
                    when,
                )
                record_event(
                    self.manager,
                    "model_version",
                    "created",
                    {
                        "name": v.name,
                        "version": str(number),
                        "source": v.source,
                        "run_id": v.run_id,
                        "description": v.description,
                        "tags": v.tags,
                    },
                    when,
                )
        return [v.entity(number, when) for (_, number), v in zip(keys, new, strict=True)]

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        with self.manager.connection() as conn:
            return self._version(conn, name, version)[1]

    def update_model_version(
        self, name: str, version: int | str, description: str | None = None
    ) -> ModelVersion:
        description = check.description(description)
        with self.manager.transaction() as conn:
            model_id, current = self._version(conn, name, version)
            when = now_ms()
            conn.execute(
                "UPDATE model_versions SET description = ?, last_updated_timestamp = ? "
                "WHERE vkey = ?",
                [description, when, version_key(model_id, int(current.version))],
            )
        return replace(current, description=description, last_updated_timestamp=when)

    def delete_model_version(self, name: str, version: int | str, actor: str) -> None:
        with self.manager.transaction() as conn:
            model_id, number, stage = self._require_version(conn, name, version)
            when = now_ms()
            for (alias,) in conn.execute(
                "DELETE FROM registered_model_aliases WHERE model_id = ? AND version = ? "
                "RETURNING alias",
                [model_id, number],
            ).fetchall():
                self._record(
                    model_id,
                    name,
                    number,
                    "alias_deleted",
                    actor,
                    "version deleted",
                    when,
                    alias=alias,
                )
            vkey = version_key(model_id, number)
            conn.execute("DELETE FROM model_version_tags WHERE vkey = ?", [vkey])
            conn.execute("DELETE FROM model_versions WHERE vkey = ?", [vkey])
            self._record(
                model_id, name, number, "version_deleted", actor, None, when, from_stage=stage
            )
            self._touch_model(conn, model_id, when)

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = 10_000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        plan = plan_search("model_version", filter_string, max_results, order_by, page_token)
        with self.manager.connection() as conn:
            versions = self._versions(
                conn, plan.where, plan.page_params, f"ORDER BY {plan.order} LIMIT ? OFFSET ?"
            )
        return PagedList(versions[: plan.limit], plan.next_token(len(versions)))

    def set_model_version_tag(self, name: str, version: int | str, key: str, value: Any) -> None:
        check.tag_key(key)
        text = check.tag_value(key, value)
        with self.manager.transaction() as conn:
            model_id, number, _ = self._require_version(conn, name, version)
            conn.execute(
                "INSERT INTO model_version_tags VALUES (?, ?, ?) "
                "ON CONFLICT DO UPDATE SET value = excluded.value",
                [version_key(model_id, number), key, text],
            )
            record_event(
                self.manager,
                "model_version_tag",
                "set",
                {"name": name, "version": str(number), "key": key, "value": text},
                now_ms(),
            )

    def record_validation(
        self,
        name: str,
        version: int | str,
        failures: Sequence[str],
        metrics: dict[str, float] | None = None,
        actor: str = "unknown",
    ) -> None:
        """Tag a version `validation=passed|failed` and emit the outcome, in one transaction."""
        passed = not failures
        reasons = "; ".join(failures)[: check.MAX_TAG_VALUE_LENGTH]
        values = {key: check.metric_value(key, value) for key, value in (metrics or {}).items()}
        with self.manager.transaction() as conn:
            model_id, number, _ = self._require_version(conn, name, version)
            vkey = version_key(model_id, number)
            conn.execute(
                "DELETE FROM model_version_tags WHERE vkey = ? "
                "AND key IN ('validation', 'validation_reasons')",
                [vkey],
            )
            tags = [[vkey, "validation", "passed" if passed else "failed"]]
            if not passed:
                tags.append([vkey, "validation_reasons", reasons])
            conn.executemany("INSERT INTO model_version_tags VALUES (?, ?, ?)", tags)
            (run_id,) = conn.execute(
                "SELECT run_id FROM model_versions WHERE vkey = ?", [vkey]
            ).fetchone()
            when = now_ms()
            self._append_history(
                model_id,
                name,
                number,
                "validation_passed" if passed else "validation_failed",
                actor,
                (reasons if not passed else ", ".join(f"{k}={v:.6g}" for k, v in values.items()))
                or None,
                when,
            )
            record_event(
                self.manager,
                "model_version",
                "validation_passed" if passed else "validation_failed",
                {
                    "name": name,
                    "version": str(number),
                    "run_id": run_id,
                    "metrics": values,
                    "failures": list(failures),
                    "actor": actor,
                },
                when,
            )

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        check.tag_key(key)
        with self.manager.transaction() as conn:
            model_id, number, _ = self._require_version(conn, name, version)
            deleted = conn.execute(
                "DELETE FROM model_version_tags WHERE vkey = ? AND key = ? RETURNING key",
                [version_key(model_id, number), key],
            ).fetchone()
            if deleted:
                record_event(
                    self.manager,
                    "model_version_tag",
                    "deleted",
                    {"name": name, "version": str(number), "key": key},
                    now_ms(),
                )

    # -- stages --------------------------------------------------------------------------

    def transition_model_version_stage(
        self,
        name: str,
        version: int | str,
        stage: str,
        archive_existing_versions: bool = False,
        actor: str = "unknown",
        reason: str | None = None,
    ) -> ModelVersion:
        return self._transition(
            name, version, stage, archive_existing_versions, actor, reason, request_id=None
        )

    def _transition(
        self,
        name: str,
        version: int | str,
        stage: str,
        archive_existing_versions: bool,
        actor: str,
        reason: str | None,
        request_id: int | None,
    ) -> ModelVersion:
        """Move a version into a stage (archiving the stage's holders if asked), recording the
        request that asked for it, if one did."""
        target = check.stage(stage)
        if archive_existing_versions:
            check.archiving_stage(target)
        with self.manager.transaction() as conn:
            model_id, existing = self._version(conn, name, version)
            number, current = int(existing.version), existing.current_stage
            when = now_ms()
            if archive_existing_versions:
                others = conn.execute(
                    "SELECT version FROM model_versions WHERE model_id = ? "
                    "AND current_stage = ? AND version <> ? ORDER BY version",
                    [model_id, target, number],
                ).fetchall()
                for (other,) in others:
                    self._set_stage(
                        conn,
                        model_id,
                        name,
                        other,
                        target,
                        STAGE_ARCHIVED,
                        actor,
                        f"archived: version {number} moved to {target}",
                        when,
                    )
            self._set_stage(
                conn, model_id, name, number, current, target, actor, reason, when, request_id
            )
            self._touch_model(conn, model_id, when)
        return replace(existing, current_stage=target, last_updated_timestamp=when)

    def get_latest_versions(self, name: str, stages: list[str] | None = None) -> list[ModelVersion]:
        wanted = list(STAGES) if not stages else [check.stage(s) for s in stages]
        stage_marks = ", ".join("?" for _ in wanted)
        with self.manager.connection() as conn:
            model_id = self._model_id(conn, name)
            # The model's key range bounds the scan; the keys found are then fetched by index.
            latest = conn.execute(
                "SELECT max(vkey) FROM model_versions WHERE vkey BETWEEN ? AND ? "
                f"AND current_stage IN ({stage_marks}) GROUP BY current_stage",
                [version_key(model_id, 0), version_key(model_id + 1, 0) - 1, *wanted],
            ).fetchall()
            keys = [vkey for (vkey,) in latest]
            found = (
                {
                    mv.current_stage: mv
                    for mv in self._versions(
                        conn, f"mv.vkey IN ({', '.join('?' for _ in keys)})", keys, name=name
                    )
                }
                if keys
                else {}
            )
        return [found[stage] for stage in dict.fromkeys(wanted) if stage in found]

    # -- aliases -------------------------------------------------------------------------

    def set_registered_model_alias(
        self,
        name: str,
        alias: str,
        version: int | str,
        actor: str = "unknown",
        reason: str | None = None,
    ) -> None:
        check.alias(alias)
        with self.manager.transaction() as conn:
            model_id, number, _ = self._require_version(conn, name, version)
            previous = conn.execute(
                "SELECT version FROM registered_model_aliases WHERE model_id = ? AND alias = ?",
                [model_id, alias],
            ).fetchone()
            when = now_ms()
            conn.execute(
                "INSERT INTO registered_model_aliases VALUES (?, ?, ?) "
                "ON CONFLICT DO UPDATE SET version = excluded.version",
                [model_id, alias, number],
            )
            self._record(
                model_id,
                name,
                number,
                "alias_set",
                actor,
                reason,
                when,
                alias=alias,
                from_version=previous[0] if previous else None,
            )
            self._touch_model(conn, model_id, when)

    def delete_registered_model_alias(
        self, name: str, alias: str, actor: str = "unknown", reason: str | None = None
    ) -> None:
        check.alias(alias)
        with self.manager.transaction() as conn:
            model_id = self._model_id(conn, name)
            row = conn.execute(
                "DELETE FROM registered_model_aliases WHERE model_id = ? AND alias = ? "
                "RETURNING version",
                [model_id, alias],
            ).fetchone()
            if row is None:
                raise ResourceDoesNotExist(f"Alias @{alias} of model {name} not found")
            when = now_ms()
            self._record(model_id, name, row[0], "alias_deleted", actor, reason, when, alias=alias)
            self._touch_model(conn, model_id, when)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        check.alias(alias)
        with self.manager.connection() as conn:
            model_id = self._model_id(conn, name)
            found = self._versions(
                conn,
                f"mv.vkey = (SELECT model_id * {VERSION_KEY_FACTOR} + version "
                "FROM registered_model_aliases WHERE model_id = ? AND alias = ?)",
                [model_id, alias],
                name=name,
            )
        if not found:
            raise ResourceDoesNotExist(
                f"Registered model alias {alias} not found for model {name}."
            )
        return found[0]

    # -- history -------------------------------------------------------------------------

    def get_model_version_history(
        self, name: str, version: int | str | None = None
    ) -> list[StageTransition]:
        with self.manager.connection() as conn:
            self.manager.flush_appends()
            model_id = self._model_id(conn, name)
            sql = f"SELECT {_HISTORY_COLUMNS} FROM history WHERE model_id = ?"
            params: list[Any] = [model_id]
            if version is not None:
                sql += " AND version = ?"
                params.append(check.version_number(version))
            rows = conn.execute(sql + " ORDER BY id", params).fetchall()
        return [_transition_from_row(row) for row in rows]

    @staticmethod
    def _holder_at(
        conn: duckdb.DuckDBPyConnection, model_id: int, stage_or_alias: str, timestamp: int
    ) -> int | None:
        if stage_or_alias.startswith("@"):
            row = conn.execute(
                "SELECT event, version FROM history WHERE model_id = ? AND alias = ? "
                "AND event IN ('alias_set', 'alias_deleted') AND timestamp <= ? "
                "ORDER BY id DESC LIMIT 1",
                [model_id, check.alias(stage_or_alias[1:]), timestamp],
            ).fetchone()
            return row[1] if row and row[0] == "alias_set" else None
        row = conn.execute(
            "SELECT max(version) FROM ("
            "  SELECT version, event, to_stage FROM history"
            "  WHERE model_id = ? AND event IN ('stage', 'imported', 'version_deleted')"
            "  AND timestamp <= ?"
            "  QUALIFY row_number() OVER (PARTITION BY version ORDER BY id DESC) = 1"
            ") WHERE event IN ('stage', 'imported') AND to_stage = ?",
            [model_id, timestamp, check.stage(stage_or_alias)],
        ).fetchone()
        return row[0] if row else None

    def get_version_at(self, name: str, stage_or_alias: str, timestamp: int) -> ModelVersion | None:
        when = check.timestamp(timestamp)
        with self.manager.connection() as conn:
            self.manager.flush_appends()
            model_id = self._model_id(conn, name)
            number = self._holder_at(conn, model_id, stage_or_alias, when)
            if number is None:
                return None
            found = self._versions(conn, "mv.vkey = ?", [version_key(model_id, number)], name=name)
        if not found:
            raise ResourceDoesNotExist(
                f"Version {number} of {name} held {stage_or_alias} at {timestamp} but has "
                "since been deleted."
            )
        return found[0]

    def rollback(
        self,
        name: str,
        stage: str = "Production",
        actor: str = "unknown",
        reason: str | None = None,
    ) -> ModelVersion:
        if stage.startswith("@"):
            return self._rollback_alias(name, stage[1:], actor, reason)
        target = check.stage(stage)
        if target in (STAGE_NONE, STAGE_ARCHIVED):
            raise InvalidParameterValue(
                f"Cannot roll back stage {target!r}: roll back Staging, Production or an @alias."
            )
        with self.manager.transaction() as conn:
            self.manager.flush_appends()
            model_id = self._model_id(conn, name)
            current = conn.execute(
                "SELECT max(version) FROM model_versions WHERE model_id = ? AND current_stage = ?",
                [model_id, target],
            ).fetchone()[0]
            if current is None:
                raise InvalidState(f"Nothing to roll back: no version of {name} is in {target}.")
            entered = conn.execute(
                "SELECT max(id) FROM history WHERE model_id = ? AND version = ? "
                "AND event IN ('stage', 'imported') AND to_stage = ?",
                [model_id, current, target],
            ).fetchone()[0]
            previous = conn.execute(
                "SELECT h.version, mv.current_stage FROM history h JOIN model_versions mv "
                "ON mv.model_id = h.model_id AND mv.version = h.version "
                "WHERE h.model_id = ? AND h.event IN ('stage', 'imported') AND h.to_stage = ? "
                "AND h.version <> ? AND h.id < ? ORDER BY h.id DESC LIMIT 1",
                [model_id, target, current, entered or 0],
            ).fetchone()
            if previous is None:
                raise InvalidState(
                    f"Nothing to roll back to: no other existing version of {name} held {target} "
                    f"before version {current}."
                )
            when = now_ms()
            why = reason or f"rollback of {target} from version {current} to {previous[0]}"
            holders = conn.execute(
                "SELECT version FROM model_versions WHERE model_id = ? AND current_stage = ? "
                "AND version <> ? ORDER BY version",
                [model_id, target, previous[0]],
            ).fetchall()
            for (holder,) in holders:
                self._set_stage(
                    conn, model_id, name, holder, target, STAGE_ARCHIVED, actor, why, when
                )
            self._set_stage(
                conn, model_id, name, previous[0], previous[1], target, actor, why, when
            )
            self._touch_model(conn, model_id, when)
            return self._version(conn, name, previous[0])[1]

    def _rollback_alias(
        self, name: str, alias: str, actor: str, reason: str | None
    ) -> ModelVersion:
        check.alias(alias)
        with self.manager.transaction() as conn:
            self.manager.flush_appends()
            model_id = self._model_id(conn, name)
            current = conn.execute(
                "SELECT version FROM registered_model_aliases WHERE model_id = ? AND alias = ?",
                [model_id, alias],
            ).fetchone()
            if current is None:
                raise InvalidState(f"Nothing to roll back: alias @{alias} of {name} is not set.")
            previous = conn.execute(
                "SELECT h.version FROM history h JOIN model_versions mv "
                "ON mv.model_id = h.model_id AND mv.version = h.version "
                "WHERE h.model_id = ? AND h.event = 'alias_set' AND h.alias = ? "
                "AND h.version <> ? AND h.id < (SELECT max(id) FROM history WHERE model_id = ? "
                "AND event = 'alias_set' AND alias = ?) ORDER BY h.id DESC LIMIT 1",
                [model_id, alias, current[0], model_id, alias],
            ).fetchone()
            if previous is None:
                raise InvalidState(
                    f"Nothing to roll back to: @{alias} of {name} pointed at no other existing "
                    f"version before version {current[0]}."
                )
            when = now_ms()
            conn.execute(
                "UPDATE registered_model_aliases SET version = ? WHERE model_id = ? AND alias = ?",
                [previous[0], model_id, alias],
            )
            self._record(
                model_id,
                name,
                previous[0],
                "alias_set",
                actor,
                reason or f"rollback of @{alias} from version {current[0]}",
                when,
                alias=alias,
                from_version=current[0],
            )
            self._touch_model(conn, model_id, when)
            return self._version(conn, name, previous[0])[1]

    # -- integrity -----------------------------------------------------------------------

    def check_consistency(self) -> list[str]:
        problems: list[str] = []
        with self.manager.connection() as conn:
            self.manager.flush_appends()
            version = current_version(conn)
            if version != SCHEMA_VERSION:
                problems.append(f"schema version is {version}, expected {SCHEMA_VERSION}")
            for label, sql in _CONSISTENCY_QUERIES:
                count = conn.execute(sql).fetchone()[0]
                if count:
                    problems.append(f"{count} {label}")
        return problems


_VERSION_ROW = "(" + ", ".join(["?"] * 15) + ")"


@dataclass(frozen=True)
class _NewVersion:
    """A version to create, its arguments checked."""

    name: str
    source: str
    run_id: str | None
    tags: dict[str, str]
    run_link: str | None
    description: str | None
    artifact: dict[str, Any]
    actor: str

    @classmethod
    def checked(
        cls,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: dict[str, str] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        artifact: dict[str, Any] | None = None,
        actor: str = "unknown",
    ) -> _NewVersion:
        check.model_name(name)
        if not isinstance(source, str) or not source:
            raise InvalidParameterValue(
                f"Model version source must be a non-empty string, got {source!r}."
            )
        return cls(
            name,
            source,
            run_id,
            check.tags(tags),
            run_link,
            check.description(description),
            artifact or {},
            actor,
        )

    @property
    def signature(self) -> Any:
        return self.artifact.get("signature")

    @property
    def reason(self) -> str:
        """What the history says of where the version came from."""
        return (
            f"registered from run {self.run_id}"
            if self.run_id
            else f"registered from {self.source}"
        )

    def row(self, model_id: int, number: int, when: int) -> list[Any]:
        """The `model_versions` row of this version as number `number` of model `model_id`."""
        return [
            version_key(model_id, number),
            model_id,
            number,
            self.source,
            self.run_id,
            self.run_link,
            STAGE_NONE,
            STATUS_READY,
            self.description,
            when,
            when,
            self.artifact.get("sha256"),
            self.artifact.get("size"),
            self.artifact.get("format"),
            json.dumps(self.signature) if self.signature else None,
        ]

    def entity(self, number: int, when: int) -> ModelVersion:
        return ModelVersion(
            name=self.name,
            version=str(number),
            source=self.source,
            run_id=self.run_id,
            run_link=self.run_link,
            current_stage=STAGE_NONE,
            status=STATUS_READY,
            description=self.description,
            tags=self.tags,
            aliases=(),
            creation_timestamp=when,
            last_updated_timestamp=when,
            artifact_sha256=self.artifact.get("sha256"),
            artifact_size=self.artifact.get("size"),
            artifact_format=self.artifact.get("format"),
            signature=self.signature,
        )
