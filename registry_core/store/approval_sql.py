"""Human approval in the DuckDB store: transition requests, comments and protected stages.

A request moves a version into a stage only when someone approves it, and the approval makes
the transition in the same transaction. Every step of a request is appended to the history and
emitted to webhooks with the change. A protected stage of a model refuses direct transitions
except from the roles its protection names; an actor that is an access token's name (as every
actor behind the server is) has that token's role, any other actor (a local user of the file)
counts as an admin, so on a file anyone can write the protection is policy, not security.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import duckdb

from registry_core import validation as check
from registry_core.entities import (
    REQUEST_APPROVED,
    REQUEST_CANCELLED,
    REQUEST_CLOSED,
    REQUEST_OPEN,
    REQUEST_REJECTED,
    REQUEST_STATUSES,
    ROLES,
    STAGE_NONE,
    STAGE_PRODUCTION,
    STAGE_STAGING,
    ModelVersion,
    StageProtection,
    TransitionRequest,
    VersionComment,
    now_ms,
)
from registry_core.errors import (
    InvalidParameterValue,
    InvalidState,
    PermissionDenied,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from registry_core.store.base import ApprovalStore
from registry_core.store.duckdb_store import DuckDBStore
from registry_core.store.outbox import record_event

_REQUEST_COLUMNS = (
    "r.id, rm.name, r.version, r.to_stage, r.status, r.requested_by, r.comment, "
    "r.creation_timestamp, r.resolved_by, r.resolution, r.resolved_timestamp"
)
_REQUESTS_JOINED = "FROM transition_requests r JOIN registered_models rm ON rm.id = r.model_id"
_COMMENT_COLUMNS = (
    "c.id, rm.name, c.version, c.author, c.comment, c.creation_timestamp, c.last_updated_timestamp"
)
_COMMENTS_JOINED = "FROM version_comments c JOIN registered_models rm ON rm.id = c.model_id"
_LOCAL_ROLE = ROLES[-1]
_MAX_ID = 2**63 - 1


def _request_from_row(row: Sequence[Any]) -> TransitionRequest:
    return TransitionRequest(
        id=row[0],
        name=row[1],
        version=str(row[2]),
        to_stage=row[3],
        status=row[4],
        requested_by=row[5],
        comment=row[6],
        creation_timestamp=row[7],
        resolved_by=row[8],
        resolution=row[9],
        resolved_timestamp=row[10],
    )


def _comment_from_row(row: Sequence[Any]) -> VersionComment:
    return VersionComment(
        id=row[0],
        name=row[1],
        version=str(row[2]),
        author=row[3],
        comment=row[4],
        creation_timestamp=row[5],
        last_updated_timestamp=row[6],
    )


def _comment_text(value: Any) -> str:
    """A comment: non-empty text, bounded as a description is."""
    text = check.description(value)
    if not text or not text.strip():
        raise InvalidParameterValue("A comment must be non-empty text.")
    return text


def request_status(value: Any) -> str | None:
    """A request status to filter by (None for any)."""
    if value is None or value == "all":
        return None
    if value not in REQUEST_STATUSES:
        raise InvalidParameterValue(
            f"Invalid request status {value!r}: must be one of {', '.join(REQUEST_STATUSES)} "
            "or all."
        )
    return str(value)


class DuckDBApprovalStore(DuckDBStore, ApprovalStore):
    """Transition requests, comments and protected stages beside the versions they concern."""

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def _actor_role(conn: duckdb.DuckDBPyConnection, actor: str) -> str:
        """The role of the live token named `actor`; a local actor's is admin."""
        row = conn.execute(
            "SELECT role FROM api_tokens WHERE name = ? AND revoked_timestamp IS NULL", [actor]
        ).fetchone()
        return row[0] if row else _LOCAL_ROLE

    @staticmethod
    def _protection(conn: duckdb.DuckDBPyConnection, model_id: int, name: str) -> StageProtection:
        row = conn.execute(
            "SELECT stages, direct_roles FROM stage_protection WHERE model_id = ?", [model_id]
        ).fetchone()
        if row is None:
            return StageProtection(name)
        return StageProtection(name, tuple(json.loads(row[0])), tuple(json.loads(row[1])))

    def _request(
        self, conn: duckdb.DuckDBPyConnection, where: str, params: Sequence[Any]
    ) -> TransitionRequest | None:
        row = conn.execute(
            f"SELECT {_REQUEST_COLUMNS} {_REQUESTS_JOINED} WHERE {where}", list(params)
        ).fetchone()
        return _request_from_row(row) if row else None

    def _open_request(
        self, conn: duckdb.DuckDBPyConnection, model_id: int, name: str, number: int, stage: str
    ) -> TransitionRequest:
        found = self._request(
            conn,
            "r.model_id = ? AND r.version = ? AND r.to_stage = ? AND r.status = ?",
            [model_id, number, stage, REQUEST_OPEN],
        )
        if found is not None:
            return found
        last = self._request(
            conn,
            "r.id = (SELECT max(id) FROM transition_requests "
            "WHERE model_id = ? AND version = ? AND to_stage = ?)",
            [model_id, number, stage],
        )
        if last is None:
            raise ResourceDoesNotExist(
                f"No open request to move version {number} of {name} to {stage}."
            )
        raise InvalidState(
            f"Request #{last.id} to move version {number} of {name} to {stage} is not open: "
            f"it was {last.status} by {last.resolved_by}."
        )

    def _settle(
        self,
        conn: duckdb.DuckDBPyConnection,
        model_id: int,
        request: TransitionRequest,
        status: str,
        actor: str,
        resolution: str | None,
        when: int,
    ) -> TransitionRequest:
        """Give an open request its outcome, with its history entry and webhook event."""
        changed = conn.execute(
            "UPDATE transition_requests SET status = ?, resolved_by = ?, resolution = ?, "
            "resolved_timestamp = ? WHERE id = ? AND status = ? RETURNING id",
            [status, actor, resolution, when, request.id, REQUEST_OPEN],
        ).fetchone()
        if changed is None:
            raise InvalidState(f"Transition request #{request.id} is no longer open.")
        settled = TransitionRequest(
            **{
                **request.__dict__,
                "status": status,
                "resolved_by": actor,
                "resolution": resolution,
                "resolved_timestamp": when,
            }
        )
        self._log_request(conn, model_id, settled, f"request_{status}", actor, resolution, when)
        return settled

    def _log_request(
        self,
        conn: duckdb.DuckDBPyConnection,
        model_id: int,
        request: TransitionRequest,
        event: str,
        actor: str,
        comment: str | None,
        when: int,
    ) -> None:
        actor, comment = self._append_history(
            model_id,
            request.name,
            int(request.version),
            event,
            actor,
            comment,
            when,
            to_stage=request.to_stage,
            request_id=request.id,
        )
        record_event(
            self.manager,
            "transition_request",
            event.removeprefix("request_"),
            {
                "id": request.id,
                "name": request.name,
                "version": request.version,
                "to_stage": request.to_stage,
                "requested_by": request.requested_by,
                "actor": actor,
                "comment": comment,
            },
            when,
        )

    def _open_requests(
        self, conn: duckdb.DuckDBPyConnection, model_id: int, where: str, params: Sequence[Any]
    ) -> list[TransitionRequest]:
        """The open requests of a model that `where` selects, oldest first."""
        rows = conn.execute(
            f"SELECT {_REQUEST_COLUMNS} {_REQUESTS_JOINED} "
            f"WHERE r.model_id = ? AND r.status = ? AND {where} ORDER BY r.id",
            [model_id, REQUEST_OPEN, *params],
        ).fetchall()
        return [_request_from_row(row) for row in rows]

    def _close_requests(
        self,
        conn: duckdb.DuckDBPyConnection,
        model_id: int,
        where: str,
        params: Sequence[Any],
        actor: str,
        resolution: str,
        when: int,
    ) -> None:
        """Close the open requests of a model that `where` selects, each with `resolution`."""
        for request in self._open_requests(conn, model_id, where, params):
            self._settle(conn, model_id, request, REQUEST_CLOSED, actor, resolution, when)

    def _stage_entered(
        self,
        conn: duckdb.DuckDBPyConnection,
        model_id: int,
        number: int,
        stage: str,
        actor: str,
        when: int,
    ) -> None:
        """A version entered a stage: its own open request for it, and older versions', close
        (one query finds both)."""
        found = self._open_requests(
            conn, model_id, "r.to_stage = ? AND r.version <= ?", [stage, number]
        )
        for request in sorted(found, key=lambda request: int(request.version) != number):
            resolution = (
                f"version {number} entered {stage} without this request"
                if int(request.version) == number
                else f"superseded: version {number} entered {stage}"
            )
            self._settle(conn, model_id, request, REQUEST_CLOSED, actor, resolution, when)

    # -- what protection and requests change of the version calls ------------------------

    def transition_model_version_stage(
        self,
        name: str,
        version: int | str,
        stage: str,
        archive_existing_versions: bool = False,
        actor: str = "unknown",
        reason: str | None = None,
    ) -> ModelVersion:
        target = check.stage(stage)
        with self.manager.transaction() as conn:
            model_id = self._model_id(conn, name)
            protection = self._protection(conn, model_id, name)
            if (
                target in protection.stages
                and self._actor_role(conn, actor) not in protection.direct_roles
            ):
                raise PermissionDenied(
                    f"Stage {target} of model {name} is protected: open a transition request "
                    f"(registry requests create {name} {version} {target}) and have it approved."
                )
            moved = super().transition_model_version_stage(
                name, version, target, archive_existing_versions, actor, reason
            )
            self._stage_entered(
                conn, model_id, int(moved.version), target, actor, moved.last_updated_timestamp
            )
        return moved

    def delete_model_version(self, name: str, version: int | str, actor: str) -> None:
        with self.manager.transaction() as conn:
            model_id, number, _ = self._require_version(conn, name, version)
            self._close_requests(
                conn, model_id, "r.version = ?", [number], actor, "version deleted", now_ms()
            )
            conn.execute(
                "DELETE FROM version_comments WHERE model_id = ? AND version = ?",
                [model_id, number],
            )
            super().delete_model_version(name, number, actor)

    def delete_registered_model(self, name: str) -> None:
        with self.manager.transaction() as conn:
            model_id = self._model_id(conn, name)
            for table in ("transition_requests", "version_comments", "stage_protection"):
                conn.execute(f"DELETE FROM {table} WHERE model_id = ?", [model_id])
            super().delete_registered_model(name)

    # -- transition requests -------------------------------------------------------------

    def create_transition_request(
        self,
        name: str,
        version: int | str,
        stage: str,
        comment: str | None = None,
        actor: str = "unknown",
    ) -> TransitionRequest:
        target = check.stage(stage)
        if target == STAGE_NONE:
            raise InvalidParameterValue(
                "A transition request asks for Staging, Production or Archived, not None."
            )
        comment = check.reason(comment)
        actor = check.actor(actor)
        with self.manager.transaction() as conn:
            model_id, number, current = self._require_version(conn, name, version)
            if current == target:
                raise InvalidState(f"Version {number} of {name} is already in {target}.")
            if self._request(
                conn,
                "r.model_id = ? AND r.version = ? AND r.to_stage = ? AND r.status = ?",
                [model_id, number, target, REQUEST_OPEN],
            ):
                raise ResourceAlreadyExists(
                    f"Version {number} of {name} already has an open request to {target}."
                )
            when = now_ms()
            (request_id,) = conn.execute(
                "INSERT INTO transition_requests (id, model_id, version, to_stage, status, "
                "requested_by, comment, creation_timestamp) VALUES "
                "(nextval('transition_request_id_seq'), ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                [model_id, number, target, REQUEST_OPEN, actor, comment, when],
            ).fetchone()
            request = TransitionRequest(
                request_id, name, str(number), target, REQUEST_OPEN, actor, comment, when
            )
            self._close_requests(
                conn,
                model_id,
                "r.to_stage = ? AND r.version < ?",
                [target, number],
                actor,
                f"superseded by request #{request_id} for version {number}",
                when,
            )
            self._log_request(conn, model_id, request, "request_created", actor, comment, when)
        return request

    def approve_transition_request(
        self,
        name: str,
        version: int | str,
        stage: str,
        archive_existing_versions: bool = True,
        comment: str | None = None,
        actor: str = "unknown",
    ) -> TransitionRequest:
        target = check.stage(stage)
        comment = check.reason(comment)
        actor = check.actor(actor)
        archive = archive_existing_versions and target in (STAGE_STAGING, STAGE_PRODUCTION)
        with self.manager.transaction() as conn:
            model_id, number, _ = self._require_version(conn, name, version)
            request = self._open_request(conn, model_id, name, number, target)
            protection = self._protection(conn, model_id, name)
            if target in protection.stages and actor == request.requested_by:
                raise PermissionDenied(
                    f"Stage {target} of model {name} is protected: request #{request.id} needs "
                    f"someone other than its author, {actor}, to approve it."
                )
            when = now_ms()
            approved = self._settle(conn, model_id, request, REQUEST_APPROVED, actor, comment, when)
            why = f"approved request #{request.id} of {request.requested_by}"
            self._transition(
                name,
                number,
                target,
                archive,
                actor,
                f"{why}: {comment}" if comment else why,
                request_id=request.id,
            )
            self._stage_entered(conn, model_id, number, target, actor, when)
        return approved

    def _resolve(
        self,
        name: str,
        version: int | str,
        stage: str,
        comment: str | None,
        actor: str,
        status: str,
    ) -> TransitionRequest:
        target = check.stage(stage)
        comment = check.reason(comment)
        actor = check.actor(actor)
        with self.manager.transaction() as conn:
            model_id, number, _ = self._require_version(conn, name, version)
            request = self._open_request(conn, model_id, name, number, target)
            if status == REQUEST_CANCELLED and actor != request.requested_by:
                raise PermissionDenied(
                    f"Only {request.requested_by}, who opened request #{request.id}, may cancel it."
                )
            return self._settle(conn, model_id, request, status, actor, comment, now_ms())

    def reject_transition_request(
        self,
        name: str,
        version: int | str,
        stage: str,
        comment: str | None = None,
        actor: str = "unknown",
    ) -> TransitionRequest:
        return self._resolve(name, version, stage, comment, actor, REQUEST_REJECTED)

    def cancel_transition_request(
        self,
        name: str,
        version: int | str,
        stage: str,
        comment: str | None = None,
        actor: str = "unknown",
    ) -> TransitionRequest:
        return self._resolve(name, version, stage, comment, actor, REQUEST_CANCELLED)

    def list_transition_requests(
        self,
        name: str | None = None,
        version: int | str | None = None,
        status: str | None = REQUEST_OPEN,
    ) -> list[TransitionRequest]:
        wanted = request_status(status)
        where, params = ["TRUE"], []
        with self.manager.connection() as conn:
            if name is not None:
                where.append("r.model_id = ?")
                params.append(self._model_id(conn, name))
            if version is not None:
                where.append("r.version = ?")
                params.append(check.version_number(version))
            if wanted is not None:
                where.append("r.status = ?")
                params.append(wanted)
            rows = conn.execute(
                f"SELECT {_REQUEST_COLUMNS} {_REQUESTS_JOINED} WHERE {' AND '.join(where)} "
                "ORDER BY r.id DESC",
                params,
            ).fetchall()
        return [_request_from_row(row) for row in rows]

    # -- comments ------------------------------------------------------------------------

    def create_comment(
        self, name: str, version: int | str, comment: str, actor: str = "unknown"
    ) -> VersionComment:
        text, actor = _comment_text(comment), check.actor(actor)
        with self.manager.transaction() as conn:
            model_id, number, _ = self._require_version(conn, name, version)
            when = now_ms()
            (comment_id,) = conn.execute(
                "INSERT INTO version_comments VALUES "
                "(nextval('version_comment_id_seq'), ?, ?, ?, ?, ?, ?) RETURNING id",
                [model_id, number, actor, text, when, when],
            ).fetchone()
            record_event(
                self.manager,
                "model_version_comment",
                "created",
                {
                    "id": comment_id,
                    "name": name,
                    "version": str(number),
                    "author": actor,
                    "comment": text,
                },
                when,
            )
        return VersionComment(comment_id, name, str(number), actor, text, when, when)

    def _own_comment(
        self, conn: duckdb.DuckDBPyConnection, comment_id: Any, actor: str
    ) -> VersionComment:
        if isinstance(comment_id, bool) or not isinstance(comment_id, int) or comment_id < 1:
            raise InvalidParameterValue(f"A comment id is a positive number, got {comment_id!r}.")
        if comment_id > _MAX_ID:
            raise ResourceDoesNotExist(f"Comment {comment_id} not found.")
        row = conn.execute(
            f"SELECT {_COMMENT_COLUMNS} {_COMMENTS_JOINED} WHERE c.id = ?", [comment_id]
        ).fetchone()
        if row is None:
            raise ResourceDoesNotExist(f"Comment {comment_id} not found.")
        found = _comment_from_row(row)
        if found.author != actor:
            raise PermissionDenied(
                f"Comment {comment_id} is {found.author}'s: only its author may change it."
            )
        return found

    def update_comment(
        self, comment_id: int, comment: str, actor: str = "unknown"
    ) -> VersionComment:
        text, actor = _comment_text(comment), check.actor(actor)
        with self.manager.transaction() as conn:
            found = self._own_comment(conn, comment_id, actor)
            when = now_ms()
            conn.execute(
                "UPDATE version_comments SET comment = ?, last_updated_timestamp = ? WHERE id = ?",
                [text, when, comment_id],
            )
        return VersionComment(
            found.id, found.name, found.version, actor, text, found.creation_timestamp, when
        )

    def delete_comment(self, comment_id: int, actor: str = "unknown") -> None:
        actor = check.actor(actor)
        with self.manager.transaction() as conn:
            self._own_comment(conn, comment_id, actor)
            conn.execute("DELETE FROM version_comments WHERE id = ?", [comment_id])

    def list_comments(self, name: str, version: int | str) -> list[VersionComment]:
        with self.manager.connection() as conn:
            model_id, number, _ = self._require_version(conn, name, version)
            rows = conn.execute(
                f"SELECT {_COMMENT_COLUMNS} {_COMMENTS_JOINED} "
                "WHERE c.model_id = ? AND c.version = ? ORDER BY c.id",
                [model_id, number],
            ).fetchall()
        return [_comment_from_row(row) for row in rows]

    # -- protected stages ----------------------------------------------------------------

    def set_stage_protection(
        self, name: str, stages: list[str], direct_roles: list[str] | None = None
    ) -> StageProtection:
        wanted = tuple(dict.fromkeys(check.stage(stage) for stage in stages or ()))
        if STAGE_NONE in wanted:
            raise InvalidParameterValue("Stage None cannot be protected.")
        roles = tuple(dict.fromkeys(direct_roles or ()))
        unknown = [role for role in roles if role not in ROLES]
        if unknown:
            raise InvalidParameterValue(
                f"Unknown roles {unknown}: a direct role is one of {', '.join(ROLES)}."
            )
        with self.manager.transaction() as conn:
            model_id = self._model_id(conn, name)
            conn.execute("DELETE FROM stage_protection WHERE model_id = ?", [model_id])
            if wanted:
                conn.execute(
                    "INSERT INTO stage_protection VALUES (?, ?, ?)",
                    [model_id, json.dumps(wanted), json.dumps(roles)],
                )
            self._touch_model(conn, model_id, now_ms())
        return StageProtection(name, wanted, roles if wanted else ())

    def get_stage_protection(self, name: str) -> StageProtection:
        with self.manager.connection() as conn:
            return self._protection(conn, self._model_id(conn, name), name)
