"""Input checks shared by every store: names, versions, stages, tags, aliases and times.

One rule for characters: names, keys and aliases hold no control character (C0, DEL, C1), no
line or paragraph separator and no bidirectional formatting character, so what a terminal or a
page shows is what is stored; free text (tag and param values, descriptions, reasons) may also
hold tab, newline, carriage return and bidirectional controls, but no other control character.
"""

from __future__ import annotations

import math
import re
from typing import Any

from registry_core.entities import STAGE_ARCHIVED, STAGE_NONE, STAGES
from registry_core.errors import InvalidParameterValue

MAX_NAME_LENGTH = 256
MAX_TAG_KEY_LENGTH = 250
MAX_TAG_VALUE_LENGTH = 5000
MAX_ALIAS_LENGTH = 255
MAX_DESCRIPTION_LENGTH = 100_000
# Epoch milliseconds of 0001-01-01 and of the last millisecond of 9999: every time a datetime
# (and so every display of it) can hold.
MIN_TIMESTAMP_MS = -62_135_596_800_000
MAX_TIMESTAMP_MS = 253_402_300_799_999
_INT64 = 2**63
# Bidirectional marks, embeddings, overrides and isolates reorder how text is shown
# ("\u202eevil" shows as "live"); line and paragraph separators break a line like "\n".
UNSAFE_IN_NAMES = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
UNSAFE_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
MAX_ACTOR_LENGTH = 256
_ALIAS_PATTERN = re.compile(r"[\w\-]*")
_RESERVED_ALIAS = re.compile(r"(latest|v\d+)", re.IGNORECASE)
_STAGE_BY_LOWER = {stage.lower(): stage for stage in STAGES}


def model_name(name: Any, existing: bool = False) -> str:
    """A registered model name: a non-empty string without `/` or `@` (they would break URIs).
    An `existing` name, one being looked up, is spared the character rule: a registry made
    before it may hold such names, and they stay reachable to be renamed or deleted."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameterValue(
            f"Registered model name must be a non-empty string, got {name!r}."
        )
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidParameterValue(
            f"Registered model name {name[:40]!r}... exceeds {MAX_NAME_LENGTH} characters."
        )
    if "/" in name or "@" in name or ":" in name:
        raise InvalidParameterValue(
            f"Registered model name {name!r} must not contain '/', '@' or ':'."
        )
    return name if existing else plain("Registered model name", name)


def plain(kind: str, value: str) -> str:
    """`value` when it holds no character that names, keys and aliases may not hold."""
    return _refuse(UNSAFE_IN_NAMES, kind, value, "a control or bidirectional-formatting")


def text(kind: str, value: str) -> str:
    """`value` when it holds no character that free text may not hold."""
    return _refuse(UNSAFE_IN_TEXT, kind, value, "a control")


def _refuse(pattern: re.Pattern[str], kind: str, value: str, what: str) -> str:
    found = pattern.search(value)
    if found is not None:
        shown = value if len(value) <= 60 else value[:60] + "..."
        raise InvalidParameterValue(
            f"{kind} {shown!r} contains {what} character ({found.group()!r} at position "
            f"{found.start()}); those are not allowed."
        )
    return value


def version_number(version: Any) -> int:
    """A model version number: a positive integer given as int or digit string."""
    if isinstance(version, bool):
        raise InvalidParameterValue(f"Model version must be an integer, got {version!r}.")
    if isinstance(version, int):
        number = version
    elif isinstance(version, str) and version.strip().isdigit():
        number = int(version.strip())
    else:
        raise InvalidParameterValue(f"Model version must be an integer, got {version!r}.")
    if number < 1:
        raise InvalidParameterValue(f"Model version must be a positive integer, got {version!r}.")
    return number


def timestamp(value: Any, what: str = "Timestamp") -> int:
    """Epoch milliseconds: a finite int or float within the years 1 to 9999, truncated to int."""
    return _whole_number(value, what, MIN_TIMESTAMP_MS, MAX_TIMESTAMP_MS)


def metric_step(value: Any) -> int:
    """A metric step: a finite int or float that fits a 64-bit integer, truncated to int."""
    return _whole_number(value, "Metric step", -_INT64, _INT64 - 1)


def _whole_number(value: Any, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParameterValue(f"{what} must be a number, got {value!r}.")
    if not math.isfinite(value) or not low <= value <= high:
        raise InvalidParameterValue(
            f"{what} {value!r} is not a finite number from {low} to {high}."
        )
    return int(value)


def stage(value: Any) -> str:
    """A stage, matched case-insensitively and returned in its canonical spelling."""
    canonical = _STAGE_BY_LOWER.get(value.lower()) if isinstance(value, str) else None
    if canonical is None:
        raise InvalidParameterValue(
            f"Invalid stage {value!r}: must be one of {', '.join(STAGES)} (case-insensitive)."
        )
    return canonical


def archiving_stage(value: str) -> None:
    """`archive_existing_versions` makes sense only for Staging and Production."""
    if value in (STAGE_NONE, STAGE_ARCHIVED):
        raise InvalidParameterValue(
            f"archive_existing_versions=True is not allowed for stage {value!r}: "
            "use it with Staging or Production."
        )


def tag_key(key: Any, kind: str = "tag") -> str:
    """A tag (or param or metric, as `kind` says) key: a non-empty string of at most 250
    characters."""
    if not isinstance(key, str) or not key:
        raise InvalidParameterValue(
            f"{kind.capitalize()} key must be a non-empty string, got {key!r}."
        )
    if len(key) > MAX_TAG_KEY_LENGTH:
        raise InvalidParameterValue(
            f"{kind.capitalize()} key {key[:40]!r}... exceeds {MAX_TAG_KEY_LENGTH} characters."
        )
    return plain(f"{kind.capitalize()} key", key)


def tag_value(key: str, value: Any, kind: str = "tag") -> str:
    """A tag (or param) value, stored as a string as MLflow does (12345 becomes "12345")."""
    stored = "" if value is None else str(value)
    if len(stored) > MAX_TAG_VALUE_LENGTH:
        raise InvalidParameterValue(
            f"Value of {kind} {key!r} has {len(stored)} characters; the limit is "
            f"{MAX_TAG_VALUE_LENGTH}."
        )
    return text(f"Value of {kind} {key!r}", stored)


def metric_value(key: str, value: Any) -> float:
    """A metric value as a float; anything `float()` refuses is INVALID_PARAMETER_VALUE."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidParameterValue(f"Metric {key!r} must be a number, got {value!r}.") from None


def tags(values: Any) -> dict[str, str]:
    """A tag mapping (or MLflow-style list of objects with key/value) as {key: str value}."""
    if values is None:
        return {}
    if isinstance(values, dict):
        items = values.items()
    elif isinstance(values, list | tuple):
        try:
            items = [(tag.key, tag.value) for tag in values]
        except AttributeError:
            raise InvalidParameterValue(
                "Tags must be a dict or a list of key/value tags."
            ) from None
    else:
        raise InvalidParameterValue(f"Tags must be a dict, got {type(values).__name__}.")
    return {tag_key(k): tag_value(k, v) for k, v in items}


def alias(value: Any) -> str:
    """An alias name: word characters and dashes, at most 255, not `latest` or `v<digits>`."""
    if not isinstance(value, str) or not value:
        raise InvalidParameterValue(f"Alias must be a non-empty string, got {value!r}.")
    if len(value) > MAX_ALIAS_LENGTH or not _ALIAS_PATTERN.fullmatch(value):
        raise InvalidParameterValue(
            f"Invalid alias {value!r}: use letters, digits, '_' and '-', at most "
            f"{MAX_ALIAS_LENGTH} characters."
        )
    if _RESERVED_ALIAS.fullmatch(value):
        raise InvalidParameterValue(
            f"Alias {value!r} is reserved: 'latest' and 'v<number>' cannot be used as aliases."
        )
    return value


def description(value: Any) -> str | None:
    """A description: None or a string of bounded length."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidParameterValue(f"Description must be a string, got {type(value).__name__}.")
    if len(value) > MAX_DESCRIPTION_LENGTH:
        raise InvalidParameterValue(f"Description exceeds {MAX_DESCRIPTION_LENGTH} characters.")
    return text("Description", value)


def reason(value: Any) -> str | None:
    """The reason recorded with a change: None or free text, bounded as a description is."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION_LENGTH:
        raise InvalidParameterValue(
            f"Reason must be a string of at most {MAX_DESCRIPTION_LENGTH} characters."
        )
    return text("Reason", value)


def actor(value: Any) -> str:
    """Who made a change: a non-empty name of at most 256 characters."""
    if not isinstance(value, str) or not value or len(value) > MAX_ACTOR_LENGTH:
        raise InvalidParameterValue(
            f"Actor must be a non-empty string of at most {MAX_ACTOR_LENGTH} characters, "
            f"got {value!r}."
        )
    return plain("Actor", value)


def run_name(value: Any) -> str | None:
    """A run's name: None or a string without the characters names may not hold."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidParameterValue(f"Run name must be a string, got {type(value).__name__}.")
    return plain("Run name", value)
