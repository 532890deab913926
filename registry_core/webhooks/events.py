"""Registry event names, the data each carries, subscription patterns and the JSON envelope."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from registry_core.errors import InvalidParameterValue

REGISTERED_MODEL_CREATED = "registered_model.created"
REGISTERED_MODEL_RENAMED = "registered_model.renamed"
REGISTERED_MODEL_DELETED = "registered_model.deleted"
MODEL_VERSION_CREATED = "model_version.created"
MODEL_VERSION_DELETED = "model_version.deleted"
MODEL_VERSION_STAGE_TRANSITIONED = "model_version.stage_transitioned"
MODEL_VERSION_VALIDATION_PASSED = "model_version.validation_passed"
MODEL_VERSION_VALIDATION_FAILED = "model_version.validation_failed"
MODEL_VERSION_ALIAS_SET = "model_version_alias.set"
MODEL_VERSION_ALIAS_DELETED = "model_version_alias.deleted"
MODEL_VERSION_TAG_SET = "model_version_tag.set"
MODEL_VERSION_TAG_DELETED = "model_version_tag.deleted"
TRANSITION_REQUEST_CREATED = "transition_request.created"
TRANSITION_REQUEST_APPROVED = "transition_request.approved"
TRANSITION_REQUEST_REJECTED = "transition_request.rejected"
TRANSITION_REQUEST_CANCELLED = "transition_request.cancelled"
TRANSITION_REQUEST_CLOSED = "transition_request.closed"
MODEL_VERSION_COMMENT_CREATED = "model_version_comment.created"
WEBHOOK_TEST = "webhook.test"

_VALIDATION_FIELDS = ("name", "version", "run_id", "metrics", "failures", "actor")
_REQUEST_FIELDS = ("id", "name", "version", "to_stage", "requested_by", "actor", "comment")

# The exact keys of `data` for each event. Versions are strings, as in MLflow's payloads;
# `failures` lists the checks a version failed (empty when it passed).
EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    REGISTERED_MODEL_CREATED: ("name", "description", "tags"),
    REGISTERED_MODEL_RENAMED: ("name", "old_name"),
    REGISTERED_MODEL_DELETED: ("name",),
    MODEL_VERSION_CREATED: ("name", "version", "source", "run_id", "description", "tags"),
    MODEL_VERSION_DELETED: ("name", "version", "stage", "actor"),
    MODEL_VERSION_STAGE_TRANSITIONED: (
        "name",
        "version",
        "from_stage",
        "to_stage",
        "actor",
        "reason",
        "run_id",
    ),
    MODEL_VERSION_VALIDATION_PASSED: _VALIDATION_FIELDS,
    MODEL_VERSION_VALIDATION_FAILED: _VALIDATION_FIELDS,
    MODEL_VERSION_ALIAS_SET: ("name", "alias", "version", "previous_version", "actor", "reason"),
    MODEL_VERSION_ALIAS_DELETED: ("name", "alias", "version", "actor", "reason"),
    MODEL_VERSION_TAG_SET: ("name", "version", "key", "value"),
    MODEL_VERSION_TAG_DELETED: ("name", "version", "key"),
    TRANSITION_REQUEST_CREATED: _REQUEST_FIELDS,
    TRANSITION_REQUEST_APPROVED: _REQUEST_FIELDS,
    TRANSITION_REQUEST_REJECTED: _REQUEST_FIELDS,
    TRANSITION_REQUEST_CANCELLED: _REQUEST_FIELDS,
    TRANSITION_REQUEST_CLOSED: _REQUEST_FIELDS,
    MODEL_VERSION_COMMENT_CREATED: ("id", "name", "version", "author", "comment"),
    WEBHOOK_TEST: ("webhook", "message"),
}
# Events a subscription can ask for; `webhook.test` goes only to the webhook being tested.
SUBSCRIBABLE_EVENTS: tuple[str, ...] = tuple(e for e in EVENT_FIELDS if e != WEBHOOK_TEST)
_ENTITIES = frozenset(event.split(".")[0] for event in SUBSCRIBABLE_EVENTS)
_FIELD_SETS = {event: frozenset(fields) for event, fields in EVENT_FIELDS.items()}
ALL_EVENTS = "*"


def event_name(entity: str, action: str) -> str:
    """The dotted name (`model_version.created`) subscriptions and receivers see."""
    return f"{entity}.{action}"


def check_event(entity: str, action: str, data: Mapping[str, Any]) -> str:
    """The event's name, after checking it is known and `data` has exactly its fields."""
    name = event_name(entity, action)
    fields = _FIELD_SETS.get(name)
    if fields is None:
        raise InvalidParameterValue(f"Unknown registry event {name!r}.")
    if data.keys() != fields:
        raise InvalidParameterValue(
            f"Event {name} carries {sorted(data)}, expected {sorted(fields)}."
        )
    return name


def check_patterns(patterns: Any) -> tuple[str, ...]:
    """Validated subscription patterns: `*`, `<entity>.*` or an exact subscribable event name."""
    if isinstance(patterns, str) or not isinstance(patterns, Iterable):
        raise InvalidParameterValue(
            f"events must be a list of event names such as ['model_version.*'], got {patterns!r}."
        )
    checked = tuple(dict.fromkeys(patterns))
    if not checked:
        raise InvalidParameterValue("A webhook needs at least one event.")
    for pattern in checked:
        if not isinstance(pattern, str) or not (
            pattern == ALL_EVENTS
            or pattern in SUBSCRIBABLE_EVENTS
            or (pattern.endswith(".*") and pattern[:-2] in _ENTITIES)
        ):
            raise InvalidParameterValue(
                f"Unknown event {pattern!r}: use '*', '<entity>.*' or one of "
                f"{', '.join(SUBSCRIBABLE_EVENTS)}."
            )
    return checked


def matches(patterns: Iterable[str], event: str) -> bool:
    """True when one of the subscription's patterns selects the event."""
    entity = event.split(".")[0]
    return any(p in (ALL_EVENTS, event, f"{entity}.*") for p in patterns)


def iso_timestamp(timestamp_ms: int) -> str:
    """An epoch-millisecond time as ISO-8601 UTC with milliseconds, as the envelope carries it."""
    moment = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def envelope(
    entity: str, action: str, timestamp_ms: int, data: Mapping[str, Any]
) -> dict[str, Any]:
    """The JSON body of the `json` format: `{"entity", "action", "timestamp", "data"}`."""
    return {
        "entity": entity,
        "action": action,
        "timestamp": iso_timestamp(timestamp_ms),
        "data": dict(data),
    }
