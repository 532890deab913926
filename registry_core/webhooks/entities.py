"""Webhook entities: subscriptions, deliveries and delivery attempts, as frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass

WEBHOOK_ACTIVE = "ACTIVE"
WEBHOOK_DISABLED = "DISABLED"
WEBHOOK_STATUSES: tuple[str, ...] = (WEBHOOK_ACTIVE, WEBHOOK_DISABLED)

FORMAT_JSON = "json"
FORMAT_SLACK = "slack"
FORMATS: tuple[str, ...] = (FORMAT_JSON, FORMAT_SLACK)

DELIVERY_PENDING = "PENDING"
DELIVERY_DELIVERED = "DELIVERED"
DELIVERY_FAILED = "FAILED"
DELIVERY_DEAD_LETTER = "DEAD_LETTER"
DELIVERY_STATUSES: tuple[str, ...] = (
    DELIVERY_PENDING,
    DELIVERY_DELIVERED,
    DELIVERY_FAILED,
    DELIVERY_DEAD_LETTER,
)

# What one attempt led to: delivered, retried later, failed for good (a 4xx other than 408 or
# 429, or a redirect), dead-lettered after the last allowed attempt, or abandoned by a deliverer
# that claimed it and never reported back (its lease expired).
OUTCOME_DELIVERED = "DELIVERED"
OUTCOME_RETRY = "RETRY"
OUTCOME_FAILED = "FAILED"
OUTCOME_DEAD_LETTER = "DEAD_LETTER"
OUTCOME_ABANDONED = "ABANDONED"


@dataclass(frozen=True)
class Webhook:
    """A subscription of a URL to registry events; the secret itself is never returned."""

    name: str
    url: str
    events: tuple[str, ...]
    description: str | None
    status: str
    format: str
    has_secret: bool
    creation_timestamp: int
    last_updated_timestamp: int


@dataclass(frozen=True)
class DeliveryAttempt:
    """One POST of a delivery (or one abandoned claim): when, answer, latency and outcome."""

    delivery_id: str
    number: int
    timestamp: int
    status_code: int | None
    latency_ms: int | None
    error: str | None
    outcome: str
    deliverer: str

    @property
    def succeeded(self) -> bool:
        return self.outcome == OUTCOME_DELIVERED


@dataclass(frozen=True)
class Delivery:
    """One event for one subscription: its stable id (`webhook-id`), state and attempt history."""

    id: str
    webhook: str
    event_id: int
    event: str
    event_timestamp: int
    status: str
    attempts: int
    next_attempt_at: int | None
    last_status_code: int | None
    last_error: str | None
    creation_timestamp: int
    last_updated_timestamp: int
    history: tuple[DeliveryAttempt, ...] = ()


@dataclass(frozen=True)
class DeliverySummary:
    """What one drain of the outbox did, counted by the outcome of each attempt."""

    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    dead_lettered: int = 0

    @property
    def attempts(self) -> int:
        return self.delivered + self.retrying + self.failed + self.dead_lettered

    def __str__(self) -> str:
        if not self.attempts:
            return "no webhook delivery was due"
        noun = "attempt" if self.attempts == 1 else "attempts"
        return (
            f"{self.attempts} webhook {noun}: {self.delivered} delivered, {self.retrying} to "
            f"retry, {self.failed} failed, {self.dead_lettered} dead-lettered"
        )
