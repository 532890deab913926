"""All webhook SQL: subscriptions, the transactional outbox, deliveries, attempts and leases.

A registry change appends its event with `record_event` inside its own transaction. Deliverers
then fan new events out to the subscriptions that match, claim due deliveries under a lease,
and record each attempt: every step is one short transaction, so no registry lock is held
while a receiver is contacted.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import duckdb

from registry_core import validation as check
from registry_core.entities import now_ms
from registry_core.errors import InvalidState, ResourceAlreadyExists, ResourceDoesNotExist
from registry_core.store.connection import AppendOnly, ConnectionManager
from registry_core.webhooks import events as ev
from registry_core.webhooks import validation as wcheck
from registry_core.webhooks.entities import (
    DELIVERY_DELIVERED,
    DELIVERY_PENDING,
    FORMAT_JSON,
    OUTCOME_ABANDONED,
    WEBHOOK_ACTIVE,
    WEBHOOK_DISABLED,
    Delivery,
    DeliveryAttempt,
    Webhook,
)

_WEBHOOK_COLUMNS = (
    "name, url, events, description, status, format, secret IS NOT NULL, "
    "creation_timestamp, last_updated_timestamp"
)
_DELIVERY_COLUMNS = (
    "d.id, w.name, d.event_id, e.entity || '.' || e.action, e.timestamp, d.status, d.attempts, "
    "d.next_attempt_at, d.last_status_code, d.last_error, d.creation_timestamp, "
    "d.last_updated_timestamp"
)
_DELIVERIES_JOINED = (
    "FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id "
    "JOIN webhook_events e ON e.id = d.event_id"
)
_ATTEMPT_COLUMNS = (
    "delivery_id, number, timestamp, status_code, latency_ms, error, outcome, deliverer"
)
_RECORDED_SQL = (
    "SELECT unnest(?::VARCHAR[]) AS delivery_id, unnest(?::INTEGER[]) AS number, "
    "unnest(?::BIGINT[]) AS timestamp, unnest(?::INTEGER[]) AS status_code, "
    "unnest(?::BIGINT[]) AS latency_ms, unnest(?::VARCHAR[]) AS error, "
    "unnest(?::VARCHAR[]) AS outcome, unnest(?::VARCHAR[]) AS deliverer, "
    "unnest(?::VARCHAR[]) AS status, unnest(?::BIGINT[]) AS next_attempt_at"
)
# A fresh delivery id, the `webhook-id` a receiver de-duplicates on.
_NEW_DELIVERY_ID_SQL = "'msg_' || replace(gen_random_uuid()::VARCHAR, '-', '')"


EVENTS = AppendOnly(
    "INSERT INTO webhook_events (id, entity, action, data, timestamp) VALUES ",
    "(nextval('webhook_event_id_seq'), ?, ?, ?, ?)",
)


def record_event(
    manager: ConnectionManager,
    entity: str,
    action: str,
    data: dict[str, Any],
    timestamp_ms: int,
) -> None:
    """Append one event to the outbox inside the caller's transaction: one row, no fan-out."""
    ev.check_event(entity, action, data)
    manager.append(EVENTS, (entity, action, json.dumps(data, separators=(",", ":")), timestamp_ms))


def delete_webhook_rows(conn: duckdb.DuckDBPyConnection, webhook_id: int) -> None:
    """Delete a subscription with its deliveries, their attempts and its test events, inside the
    caller's transaction."""
    conn.execute(
        "DELETE FROM webhook_delivery_attempts WHERE delivery_id IN "
        "(SELECT id FROM webhook_deliveries WHERE webhook_id = ?)",
        [webhook_id],
    )
    conn.execute("DELETE FROM webhook_deliveries WHERE webhook_id = ?", [webhook_id])
    conn.execute("DELETE FROM webhook_events WHERE webhook_id = ?", [webhook_id])
    conn.execute("DELETE FROM webhooks WHERE id = ?", [webhook_id])


@dataclass(frozen=True)
class Claim:
    """A delivery leased to one deliverer, with everything needed to send one attempt.

    `number` counts every attempt of the delivery; `round_number` counts those since it was
    last (re)queued, which is what the dead-letter limit applies to.
    """

    delivery_id: str
    number: int
    round_number: int
    owner: str
    webhook: str
    url: str
    secret: str | None = field(repr=False)
    format: str
    entity: str
    action: str
    timestamp: int
    data: dict[str, Any]


class AttemptResult(NamedTuple):
    """An attempt with the delivery status it leads to and when to try next (if ever)."""

    attempt: DeliveryAttempt
    status: str
    next_attempt_at: int | None


def _webhook_from_row(row: Sequence[Any]) -> Webhook:
    return Webhook(
        name=row[0],
        url=wcheck.redacted(row[1]),  # a subscription made before credentials were refused
        events=tuple(json.loads(row[2])),
        description=row[3],
        status=row[4],
        format=row[5],
        has_secret=bool(row[6]),
        creation_timestamp=row[7],
        last_updated_timestamp=row[8],
    )


def _attempt_from_row(row: Sequence[Any]) -> DeliveryAttempt:
    return DeliveryAttempt(*row)


class OutboxStore:
    """Webhook subscriptions and the delivery queue in the registry file."""

    def __init__(self, manager: ConnectionManager) -> None:
        self.manager = manager

    # -- subscriptions -------------------------------------------------------------------

    @staticmethod
    def _webhook_id(conn: duckdb.DuckDBPyConnection, name: str) -> int:
        row = conn.execute(
            "SELECT id FROM webhooks WHERE name = ?", [wcheck.webhook_name(name)]
        ).fetchone()
        if row is None:
            raise ResourceDoesNotExist(f"Webhook with name={name} not found")
        return row[0]

    @staticmethod
    def _webhook(conn: duckdb.DuckDBPyConnection, name: str) -> Webhook:
        row = conn.execute(
            f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks WHERE name = ?", [wcheck.webhook_name(name)]
        ).fetchone()
        if row is None:
            raise ResourceDoesNotExist(f"Webhook with name={name} not found")
        return _webhook_from_row(row)

    def create_webhook(
        self,
        name: str,
        url: str,
        events: Sequence[str],
        secret: str | None = None,
        description: str | None = None,
        status: str = WEBHOOK_ACTIVE,
        format: str = FORMAT_JSON,
        allow_http: bool = False,
    ) -> Webhook:
        """Subscribe a URL to the matching events recorded from now on."""
        values = [
            wcheck.webhook_name(name),
            wcheck.webhook_url(url, allow_http),
            json.dumps(ev.check_patterns(events)),
            wcheck.webhook_secret(secret),
            check.description(description),
            wcheck.webhook_status(status),
            wcheck.webhook_format(format),
        ]
        with self.manager.transaction() as conn:
            if conn.execute("SELECT 1 FROM webhooks WHERE name = ?", [name]).fetchone():
                raise ResourceAlreadyExists(f"Webhook (name={name}) already exists.")
            self.manager.flush_appends()
            when = now_ms()
            # Transactions on the file are serial, so event ids grow in commit order and the
            # current maximum separates the events before this subscription from those after.
            conn.execute(
                "INSERT INTO webhooks VALUES "
                "(nextval('webhook_id_seq'), ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "(SELECT coalesce(max(id), 0) FROM webhook_events))",
                [*values, when, when],
            )
            return self._webhook(conn, name)

    def get_webhook(self, name: str) -> Webhook:
        """One subscription, without its secret."""
        with self.manager.connection() as conn:
            return self._webhook(conn, name)

    def list_webhooks(self) -> list[Webhook]:
        """Every subscription by name, without secrets."""
        with self.manager.connection() as conn:
            rows = conn.execute(f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks ORDER BY name").fetchall()
        return [_webhook_from_row(row) for row in rows]

    def update_webhook(
        self,
        name: str,
        url: str | None = None,
        events: Sequence[str] | None = None,
        secret: str | None = None,
        description: str | None = None,
        status: str | None = None,
        format: str | None = None,
        allow_http: bool = False,
    ) -> Webhook:
        """Change the given fields (None keeps a field; `secret=""` removes the secret)."""
        changes: dict[str, Any] = {}
        if url is not None:
            changes["url"] = wcheck.webhook_url(url, allow_http)
        if events is not None:
            changes["events"] = json.dumps(ev.check_patterns(events))
        if secret is not None:
            changes["secret"] = wcheck.webhook_secret(secret) if secret else None
        if description is not None:
            changes["description"] = check.description(description)
        if status is not None:
            changes["status"] = wcheck.webhook_status(status)
        if format is not None:
            changes["format"] = wcheck.webhook_format(format)
        with self.manager.transaction() as conn:
            webhook_id = self._webhook_id(conn, name)
            changes["last_updated_timestamp"] = now_ms()
            assignments = ", ".join(f"{column} = ?" for column in changes)
            conn.execute(
                f"UPDATE webhooks SET {assignments} WHERE id = ?", [*changes.values(), webhook_id]
            )
            return self._webhook(conn, name)

    def delete_webhook(self, name: str) -> None:
        """Remove a subscription with its deliveries and their history."""
        with self.manager.transaction() as conn:
            self.manager.flush_appends()
            delete_webhook_rows(conn, self._webhook_id(conn, name))

    # -- fan-out and leases --------------------------------------------------------------

    @staticmethod
    def _fan_out(conn: duckdb.DuckDBPyConnection, now_ms: int) -> None:
        """Create a delivery for each new event and each subscription it matches."""
        hooks = conn.execute("SELECT id, events, status, event_cursor FROM webhooks").fetchall()
        if not hooks:
            return
        new_events = conn.execute(
            "SELECT id, entity, action FROM webhook_events "
            "WHERE id > ? AND webhook_id IS NULL ORDER BY id",
            [min(hook[3] for hook in hooks)],
        ).fetchall()
        if not new_events:
            return
        last = new_events[-1][0]
        active = [
            (webhook_id, json.loads(patterns), cursor)
            for webhook_id, patterns, status, cursor in hooks
            if status != WEBHOOK_DISABLED
        ]
        pairs = [
            (webhook_id, event_id)
            for webhook_id, patterns, cursor in active
            for event_id, entity, action in new_events
            if event_id > cursor and ev.matches(patterns, ev.event_name(entity, action))
        ]
        if pairs:
            conn.execute(
                "INSERT INTO webhook_deliveries (id, webhook_id, event_id, status, attempts, "
                "attempts_before_requeue, next_attempt_at, creation_timestamp, "
                f"last_updated_timestamp) SELECT {_NEW_DELIVERY_ID_SQL}, w, e, ?, 0, 0, ?, ?, ? "
                "FROM (SELECT unnest(?::BIGINT[]) AS w, unnest(?::BIGINT[]) AS e)",
                [
                    DELIVERY_PENDING,
                    now_ms,
                    now_ms,
                    now_ms,
                    [webhook_id for webhook_id, _ in pairs],
                    [event_id for _, event_id in pairs],
                ],
            )
        conn.execute("UPDATE webhooks SET event_cursor = ? WHERE event_cursor < ?", [last, last])

    @staticmethod
    def _claim(
        conn: duckdb.DuckDBPyConnection,
        ids: list[str],
        owner: str,
        now_ms: int,
        lease_ms: int,
    ) -> list[Claim]:
        """Lease the deliveries to `owner`, first recording any expired lease as abandoned."""
        conn.execute(
            "INSERT INTO webhook_delivery_attempts SELECT nextval('webhook_attempt_id_seq'), id, "
            "attempts, ?, NULL, NULL, 'deliverer ' || lease_owner || ' claimed it and did not "
            "report back before its lease expired', ?, lease_owner FROM webhook_deliveries "
            "WHERE id IN (SELECT unnest(?::VARCHAR[])) AND lease_owner IS NOT NULL",
            [now_ms, OUTCOME_ABANDONED, ids],
        )
        conn.execute(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, lease_owner = ?, "
            "lease_expires_at = ?, last_updated_timestamp = ? "
            "WHERE id IN (SELECT unnest(?::VARCHAR[]))",
            [owner, now_ms + lease_ms, now_ms, ids],
        )
        rows = conn.execute(
            "SELECT d.id, d.attempts, d.attempts - d.attempts_before_requeue, w.name, w.url, "
            "w.secret, w.format, e.entity, e.action, e.timestamp, e.data "
            f"{_DELIVERIES_JOINED} WHERE d.id IN (SELECT unnest(?::VARCHAR[])) "
            "ORDER BY d.next_attempt_at, d.event_id",
            [ids],
        ).fetchall()
        return [Claim(*row[:3], owner, *row[3:10], json.loads(row[10])) for row in rows]

    def claim_due(self, owner: str, now_ms: int, lease_ms: int, limit: int) -> list[Claim]:
        """Fan out new events, then lease up to `limit` due deliveries of active webhooks."""
        with self.manager.transaction() as conn:
            self.manager.flush_appends()
            self._fan_out(conn, now_ms)
            ids = [
                row[0]
                for row in conn.execute(
                    "SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id "
                    "WHERE d.status = ? AND d.next_attempt_at <= ? AND w.status = ? "
                    "AND coalesce(d.lease_expires_at, 0) <= ? "
                    "ORDER BY d.next_attempt_at, d.event_id LIMIT ?",
                    [DELIVERY_PENDING, now_ms, WEBHOOK_ACTIVE, now_ms, limit],
                ).fetchall()
            ]
            return self._claim(conn, ids, owner, now_ms, lease_ms) if ids else []

    def claim_test(self, name: str, owner: str, now_ms: int, lease_ms: int) -> Claim:
        """Record a `webhook.test` event for one webhook only and lease its delivery."""
        with self.manager.transaction() as conn:
            self.manager.flush_appends()
            webhook_id = self._webhook_id(conn, name)
            data = {"webhook": name, "message": "Test event from the model registry."}
            (event_id,) = conn.execute(
                "INSERT INTO webhook_events VALUES "
                "(nextval('webhook_event_id_seq'), 'webhook', 'test', ?, ?, ?) RETURNING id",
                [json.dumps(data, separators=(",", ":")), now_ms, webhook_id],
            ).fetchone()
            (delivery_id,) = conn.execute(
                "INSERT INTO webhook_deliveries (id, webhook_id, event_id, status, attempts, "
                "attempts_before_requeue, next_attempt_at, creation_timestamp, "
                f"last_updated_timestamp) VALUES ({_NEW_DELIVERY_ID_SQL}, ?, ?, ?, 0, 0, ?, ?, ?) "
                "RETURNING id",
                [webhook_id, event_id, DELIVERY_PENDING, now_ms, now_ms, now_ms],
            ).fetchone()
            return self._claim(conn, [delivery_id], owner, now_ms, lease_ms)[0]

    def claim_redelivery(self, delivery_id: str, owner: str, now_ms: int, lease_ms: int) -> Claim:
        """Queue a delivery again, whatever its state, with a fresh attempt budget, and lease it."""
        with self.manager.transaction() as conn:
            row = conn.execute(
                "SELECT lease_owner, lease_expires_at FROM webhook_deliveries WHERE id = ?",
                [delivery_id],
            ).fetchone()
            if row is None:
                raise ResourceDoesNotExist(f"Webhook delivery {delivery_id} not found")
            if row[0] is not None and row[1] > now_ms:
                raise InvalidState(
                    f"Webhook delivery {delivery_id} is being sent by {row[0]} right now."
                )
            conn.execute(
                "UPDATE webhook_deliveries SET status = ?, attempts_before_requeue = attempts, "
                "next_attempt_at = ? WHERE id = ?",
                [DELIVERY_PENDING, now_ms, delivery_id],
            )
            return self._claim(conn, [delivery_id], owner, now_ms, lease_ms)[0]

    def record_attempts(self, results: Sequence[AttemptResult], now_ms: int) -> None:
        """Store attempts and, where their deliverer still holds the lease, the new states.

        A success is recorded even after the lease was lost, since the receiver has the event.
        """
        attempts = [result.attempt for result in results]
        columns = [
            [a.delivery_id for a in attempts],
            [a.number for a in attempts],
            [a.timestamp for a in attempts],
            [a.status_code for a in attempts],
            [a.latency_ms for a in attempts],
            [a.error for a in attempts],
            [a.outcome for a in attempts],
            [a.deliverer for a in attempts],
            [result.status for result in results],
            [result.next_attempt_at for result in results],
        ]
        with self.manager.transaction() as conn:
            conn.execute(
                "INSERT INTO webhook_delivery_attempts SELECT nextval('webhook_attempt_id_seq'), "
                f"{_ATTEMPT_COLUMNS} FROM ({_RECORDED_SQL}) "
                "WHERE delivery_id IN (SELECT id FROM webhook_deliveries)",
                columns,
            )
            conn.execute(
                "UPDATE webhook_deliveries d SET status = r.status, "
                "next_attempt_at = r.next_attempt_at, lease_owner = NULL, "
                "lease_expires_at = NULL, last_status_code = r.status_code, last_error = r.error, "
                f"last_updated_timestamp = ? FROM ({_RECORDED_SQL}) r WHERE d.id = r.delivery_id "
                "AND d.status <> ? AND (r.status = ? OR "
                "(d.lease_owner = r.deliverer AND d.attempts = r.number))",
                [now_ms, *columns, DELIVERY_DELIVERED, DELIVERY_DELIVERED],
            )

    # -- history -------------------------------------------------------------------------

    @staticmethod
    def _deliveries(
        conn: duckdb.DuckDBPyConnection, where: str, params: list[Any], limit: int
    ) -> list[Delivery]:
        rows = conn.execute(
            f"SELECT {_DELIVERY_COLUMNS} {_DELIVERIES_JOINED} WHERE {where} "
            "ORDER BY d.event_id DESC, w.name LIMIT ?",
            [*params, limit],
        ).fetchall()
        if not rows:
            return []
        history: dict[str, list[DeliveryAttempt]] = {row[0]: [] for row in rows}
        for attempt_row in conn.execute(
            f"SELECT {_ATTEMPT_COLUMNS} FROM webhook_delivery_attempts "
            "WHERE delivery_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY id",
            [list(history)],
        ).fetchall():
            history[attempt_row[0]].append(_attempt_from_row(attempt_row))
        return [Delivery(*row, history=tuple(history[row[0]])) for row in rows]

    def list_deliveries(
        self, name: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[Delivery]:
        """Deliveries newest event first, each with its attempts, for one webhook or all."""
        clauses, params = ["TRUE"], []
        if status is not None:
            clauses.append("d.status = ?")
            params.append(wcheck.delivery_status(status))
        wcheck.limit(limit)
        with self.manager.connection() as conn:
            if name is not None:
                clauses.append("d.webhook_id = ?")
                params.append(self._webhook_id(conn, name))
            return self._deliveries(conn, " AND ".join(clauses), params, limit)

    def get_delivery(self, delivery_id: str) -> Delivery:
        """One delivery with its attempts."""
        with self.manager.connection() as conn:
            found = self._deliveries(conn, "d.id = ?", [delivery_id], 1)
        if not found:
            raise ResourceDoesNotExist(f"Webhook delivery {delivery_id} not found")
        return found[0]
