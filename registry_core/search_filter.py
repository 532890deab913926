"""MLflow-style search filters, order_by clauses and page tokens, parsed into plain data."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, TypeGuard, cast, get_args

from registry_core.entities import STAGES
from registry_core.errors import InvalidParameterValue

Kind = Literal["registered_model", "model_version", "run", "experiment", "logged_model"]
Entity = Literal["attribute", "tag", "param", "metric"]
ValueType = Literal["string", "integer", "number", "stage"]

STRING_OPS = frozenset({"=", "!=", "LIKE", "ILIKE"})
NUMERIC_OPS = frozenset({"=", "!=", "<", "<=", ">", ">="})
IN_OPS = frozenset({"IN", "NOT IN"})


def quote_literal(value: str) -> str:
    """`value` as a string literal of the filter grammar, whatever quotes or backslashes it has."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True)
class Comparison:
    """One `key op value` condition of a filter; a filter is the AND of its comparisons."""

    entity: Entity
    key: str
    op: str
    value: str | float | tuple[str, ...]


@dataclass(frozen=True)
class OrderKey:
    """One sort key: an attribute name, or `metrics.KEY` / `params.KEY` for runs."""

    key: str
    ascending: bool


@dataclass(frozen=True)
class ResultLimits:
    """The default and the largest `max_results` a search of one kind accepts."""

    default: int
    maximum: int


# Same values as MLflow's SEARCH_*_MAX_RESULTS_DEFAULT / _THRESHOLD constants.
MAX_RESULTS: Mapping[Kind, ResultLimits] = {
    "registered_model": ResultLimits(default=100, maximum=1000),
    "model_version": ResultLimits(default=10_000, maximum=200_000),
    "run": ResultLimits(default=1000, maximum=50_000),
    "experiment": ResultLimits(default=1000, maximum=50_000),
    "logged_model": ResultLimits(default=100, maximum=1000),
}


@dataclass(frozen=True)
class _Field:
    ops: frozenset[str]
    value: ValueType


_STRING = _Field(STRING_OPS, "string")

_ATTRIBUTES: Mapping[Kind, Mapping[str, _Field]] = {
    "registered_model": {"name": _STRING},
    "model_version": {
        "name": _STRING,
        "source_path": _STRING,
        "run_id": _Field(STRING_OPS | IN_OPS, "string"),
        "version_number": _Field(NUMERIC_OPS, "integer"),
        "current_stage": _Field(frozenset({"=", "!="}) | IN_OPS, "stage"),
    },
    "run": {
        "run_id": _Field(frozenset({"=", "!="}) | IN_OPS, "string"),
        "run_name": _STRING,
        "status": _STRING,
        "start_time": _Field(NUMERIC_OPS, "integer"),
        "end_time": _Field(NUMERIC_OPS, "integer"),
    },
    "experiment": {
        "name": _STRING,
        "creation_time": _Field(NUMERIC_OPS, "integer"),
        "last_update_time": _Field(NUMERIC_OPS, "integer"),
    },
    "logged_model": {
        "name": _STRING,
        "model_id": _Field(STRING_OPS | IN_OPS, "string"),
        "model_type": _STRING,
        "status": _STRING,
        "source_run_id": _Field(STRING_OPS | IN_OPS, "string"),
        "creation_timestamp": _Field(NUMERIC_OPS, "integer"),
        "last_updated_timestamp": _Field(NUMERIC_OPS, "integer"),
    },
}

_PREFIXED: Mapping[Kind, Mapping[Entity, _Field]] = {
    "registered_model": {"tag": _STRING},
    "model_version": {"tag": _STRING},
    "run": {"tag": _STRING, "param": _STRING, "metric": _Field(NUMERIC_OPS, "number")},
    "experiment": {"tag": _STRING},
    "logged_model": {"tag": _STRING, "param": _STRING},
}

_PREFIXES: Mapping[str, Entity] = {
    "tags": "tag",
    "tag": "tag",
    "params": "param",
    "param": "param",
    "parameters": "param",
    "parameter": "param",
    "metrics": "metric",
    "metric": "metric",
    "attributes": "attribute",
    "attribute": "attribute",
    "attr": "attribute",
}

_ALLOWED_KEYS: Mapping[Kind, str] = {
    "registered_model": "name, tags.KEY",
    "model_version": "name, source_path, run_id, version_number, current_stage, tags.KEY",
    "run": (
        "run_id, run_name, status, start_time, end_time (also as attributes.X), "
        "params.KEY, metrics.KEY, tags.KEY"
    ),
    "experiment": "name, creation_time, last_update_time, tags.KEY",
    "logged_model": (
        "name, model_id, model_type, status, source_run_id, creation_timestamp, "
        "last_updated_timestamp, tags.KEY, params.KEY"
    ),
}

_ORDER_ATTRIBUTES: Mapping[Kind, Mapping[str, str]] = {
    "registered_model": {
        "name": "name",
        "creation_timestamp": "creation_timestamp",
        "last_updated_timestamp": "last_updated_timestamp",
        "timestamp": "last_updated_timestamp",
    },
    "model_version": {
        "name": "name",
        "version_number": "version_number",
        "creation_timestamp": "creation_timestamp",
        "last_updated_timestamp": "last_updated_timestamp",
    },
    "run": {"start_time": "start_time", "end_time": "end_time", "run_name": "run_name"},
    "experiment": {
        "name": "name",
        "experiment_id": "experiment_id",
        "creation_time": "creation_time",
        "last_update_time": "last_update_time",
    },
    "logged_model": {
        "name": "name",
        "creation_timestamp": "creation_timestamp",
        "last_updated_timestamp": "last_updated_timestamp",
    },
}

_ORDER_ALLOWED: Mapping[Kind, str] = {
    "registered_model": "name, creation_timestamp, last_updated_timestamp (or timestamp)",
    "model_version": "name, version_number, creation_timestamp, last_updated_timestamp",
    "run": "start_time, end_time, run_name, metrics.KEY, params.KEY",
    "experiment": "name, experiment_id, creation_time, last_update_time",
    "logged_model": "name, creation_timestamp, last_updated_timestamp",
}

_ORDER_PREFIXES: Mapping[Entity, str] = {"metric": "metrics", "param": "params"}

_ORDER_DEFAULTS: Mapping[Kind, tuple[OrderKey, ...]] = {
    "registered_model": (OrderKey("name", True),),
    "model_version": (
        OrderKey("last_updated_timestamp", False),
        OrderKey("name", True),
        OrderKey("version_number", False),
    ),
    "run": (OrderKey("start_time", False), OrderKey("run_id", True)),
    "experiment": (OrderKey("experiment_id", True),),
    "logged_model": (OrderKey("creation_timestamp", False), OrderKey("model_id", True)),
}

_ORDER_TIE_BREAKERS: Mapping[Kind, tuple[OrderKey, ...]] = {
    "registered_model": (OrderKey("name", True),),
    "model_version": (OrderKey("name", True), OrderKey("version_number", False)),
    "run": (OrderKey("start_time", False), OrderKey("run_id", True)),
    "experiment": (OrderKey("experiment_id", True),),
    "logged_model": (OrderKey("creation_timestamp", False), OrderKey("model_id", True)),
}

_KEYWORDS = frozenset({"AND", "OR", "LIKE", "ILIKE", "IN", "NOT"})
_COMPARATORS: Mapping[str, str] = {
    "=": "=",
    "!=": "!=",
    "<>": "!=",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
}
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEY_TAIL = re.compile(r"[A-Za-z0-9_.\-]+")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
_COMPARATOR_RUN = re.compile(r"[=!<>]+")
_INT64_MAX = 2**63 - 1
_MAX_TOKEN_CHARS = 200
# The largest row offset a page token may carry: far beyond any registry's row count, and far
# inside the BIGINT that DuckDB's OFFSET takes (a larger one made it fail with a cast error).
_MAX_PAGE_OFFSET = 2**53 - 1

TokenKind = Literal["key", "string", "number", "comparator", "keyword", "(", ")", ",", "end"]
_PUNCTUATION: Mapping[str, TokenKind] = {"(": "(", ")": ")", ",": ","}


@dataclass(frozen=True)
class _Token:
    kind: TokenKind
    text: str
    pos: int
    value: str = ""
    prefix: str | None = None


def _fragment(text: str, start: int, limit: int = 30) -> str:
    """The text from `start`, cut short so error messages stay readable."""
    piece = text[start : start + limit]
    return piece + "..." if len(text) - start > limit else piece


def _read_quoted(text: str, start: int, what: str) -> tuple[str, int]:
    """Decode the quoted text at `start` (quote escaped by doubling or backslash) and its end."""
    quote = text[start]
    chars: list[str] = []
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] in (quote, "\\"):
            chars.append(text[i + 1])
            i += 2
        elif char == quote and i + 1 < len(text) and text[i + 1] == quote:
            chars.append(quote)
            i += 2
        elif char == quote:
            return "".join(chars), i + 1
        else:
            chars.append(char)
            i += 1
    raise InvalidParameterValue(
        f"Invalid filter: unterminated {what} {_fragment(text, start)} at position {start}; "
        f"close it with {quote}."
    )


def _read_key(text: str, word: re.Match[str]) -> _Token:
    """Read a key starting with `word`: a bare name, or `prefix.` and a bare or quoted name."""
    start, end = word.start(), word.end()
    if end >= len(text) or text[end] != ".":
        if word.group().upper() in _KEYWORDS:
            return _Token("keyword", word.group(), start, word.group().upper())
        return _Token("key", word.group(), start, word.group())
    tail_start = end + 1
    if tail_start < len(text) and text[tail_start] in '`"':
        name, end = _read_quoted(text, tail_start, "quoted key")
    elif tail := _KEY_TAIL.match(text, tail_start):
        name, end = tail.group(), tail.end()
    else:
        raise InvalidParameterValue(
            f"Invalid filter: expected a key name after '{word.group()}.' at position {tail_start}."
        )
    return _Token("key", text[start:end], start, name, prefix=word.group())


def _tokenize(text: str) -> list[_Token]:
    """Split a filter or order_by clause into tokens, ending with an `end` token."""
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
            continue
        if char in "'\"":
            value, end = _read_quoted(text, i, "string")
            tokens.append(_Token("string", text[i:end], i, value))
        elif char in _PUNCTUATION:
            tokens.append(_Token(_PUNCTUATION[char], char, i))
            end = i + 1
        elif run := _COMPARATOR_RUN.match(text, i):
            end = run.end()
            if run.group() not in _COMPARATORS:
                raise InvalidParameterValue(
                    f"Invalid filter: unknown comparator '{run.group()}' at position {i}; "
                    f"allowed: =, !=, <>, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN."
                )
            tokens.append(_Token("comparator", run.group(), i, _COMPARATORS[run.group()]))
        elif number := _NUMBER.match(text, i):
            end = number.end()
            tokens.append(_Token("number", number.group(), i, number.group()))
        elif char == "`":
            name, end = _read_quoted(text, i, "backquoted key")
            tokens.append(_Token("key", text[i:end], i, name))
        elif word := _WORD.match(text, i):
            token = _read_key(text, word)
            end = token.pos + len(token.text)
            tokens.append(token)
        else:
            raise InvalidParameterValue(
                f"Invalid filter: unexpected character '{char}' at position {i}."
            )
        i = end
    tokens.append(_Token("end", "", len(text)))
    return tokens


def _check_kind(kind: str) -> Kind:
    """Refuse a search kind this module does not know."""
    if kind not in get_args(Kind):
        raise InvalidParameterValue(
            f"Unknown search kind '{kind}'; expected one of {', '.join(get_args(Kind))}."
        )
    return cast(Kind, kind)


class _Parser:
    """Recursive-descent parser for `condition (AND condition)*`."""

    def __init__(self, text: str, kind: Kind) -> None:
        self.tokens = _tokenize(text)
        self.index = 0
        self.kind = kind

    def _next(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def _peek(self) -> _Token:
        return self.tokens[self.index]

    def _previous_text(self) -> str:
        return self.tokens[self.index - 1].text if self.index else ""

    def _fail(self, expected: str, token: _Token) -> InvalidParameterValue:
        if token.kind == "keyword" and token.value == "OR":
            return InvalidParameterValue(
                f"Invalid filter: 'OR' at position {token.pos} is not supported; "
                "conditions can only be joined with AND."
            )
        if token.kind == "end":
            return InvalidParameterValue(
                f"Invalid filter: expected {expected} after '{self._previous_text()}' "
                f"at position {token.pos}, but the filter ended."
            )
        return InvalidParameterValue(
            f"Invalid filter: expected {expected} at position {token.pos}, found '{token.text}'."
        )

    def parse(self) -> tuple[Comparison, ...]:
        conditions = [self._condition()]
        while self._peek().kind == "keyword" and self._peek().value == "AND":
            self._next()
            conditions.append(self._condition())
        token = self._peek()
        if token.kind != "end":
            raise self._fail("AND or the end of the filter", token)
        return tuple(conditions)

    def _condition(self) -> Comparison:
        key_token = self._next()
        if key_token.kind != "key":
            raise self._fail(f"a key ({_ALLOWED_KEYS[self.kind]})", key_token)
        entity, key, field = self._resolve_key(key_token)
        op_token, op = self._comparator()
        if op not in field.ops:
            raise InvalidParameterValue(
                f"Invalid filter: comparator '{op}' at position {op_token.pos} is not allowed "
                f"for '{key_token.text}'; allowed: {', '.join(sorted(field.ops))}."
            )
        if op in IN_OPS:
            value: str | float | tuple[str, ...] = self._in_list(field, key_token)
        else:
            value = self._value(field, key_token)
        return Comparison(entity, key, op, value)

    def _resolve_key(self, token: _Token) -> tuple[Entity, str, _Field]:
        allowed = _ALLOWED_KEYS[self.kind]
        entity: Entity = "attribute"
        if token.prefix is not None:
            found = _PREFIXES.get(token.prefix.lower())
            if found is None or (found == "attribute" and self.kind != "run"):
                raise InvalidParameterValue(
                    f"Invalid filter: unknown key '{token.text}' at position {token.pos}; "
                    f"allowed: {allowed}."
                )
            entity = found
        if not token.value:
            raise InvalidParameterValue(
                f"Invalid filter: empty key name in '{token.text}' at position {token.pos}."
            )
        if entity != "attribute":
            field = _PREFIXED[self.kind].get(entity)
            if field is None:
                raise InvalidParameterValue(
                    f"Invalid filter: '{token.text}' at position {token.pos} cannot be used in a "
                    f"{self.kind.replace('_', '-')} search; allowed: {allowed}."
                )
            return entity, token.value, field
        field = _ATTRIBUTES[self.kind].get(token.value)
        if field is not None:
            return entity, token.value, field
        if self.kind == "registered_model" and token.value in _ATTRIBUTES["model_version"]:
            raise InvalidParameterValue(
                f"Invalid filter: '{token.text}' at position {token.pos} is a model-version "
                f"attribute and cannot be used in a registered-model search; allowed: {allowed}."
            )
        raise InvalidParameterValue(
            f"Invalid filter: unknown attribute '{token.text}' at position {token.pos}; "
            f"allowed: {allowed}."
        )

    def _comparator(self) -> tuple[_Token, str]:
        token = self._next()
        if token.kind == "comparator":
            return token, token.value
        if token.kind == "keyword" and token.value in ("LIKE", "ILIKE", "IN"):
            return token, token.value
        if token.kind == "keyword" and token.value == "NOT":
            following = self._next()
            if following.kind == "keyword" and following.value == "IN":
                return token, "NOT IN"
            raise self._fail("IN after NOT", following)
        raise self._fail("a comparator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN)", token)

    def _value(self, field: _Field, key_token: _Token) -> str | float:
        token = self._next()
        if field.value in ("integer", "number"):
            if token.kind != "number":
                raise self._fail(f"a number for '{key_token.text}'", token)
            return _number(token, field.value)
        if token.kind != "string":
            if token.kind in ("key", "number"):
                raise InvalidParameterValue(
                    f"Invalid filter: unquoted value '{token.text}' at position {token.pos}; "
                    "put string values in single or double quotes."
                )
            raise self._fail(f"a quoted string for '{key_token.text}'", token)
        return _stage(token) if field.value == "stage" else token.value

    def _in_list(self, field: _Field, key_token: _Token) -> tuple[str, ...]:
        opening = self._next()
        if opening.kind != "(":
            raise self._fail("'(' to start the IN list", opening)
        values: list[str] = []
        while True:
            token = self._next()
            if token.kind != "string":
                raise self._fail(
                    f"a quoted string in the IN list of '{key_token.text}' (it cannot be empty)",
                    token,
                )
            values.append(_stage(token) if field.value == "stage" else token.value)
            separator = self._next()
            if separator.kind == ")":
                return tuple(values)
            if separator.kind != ",":
                raise self._fail("',' or ')' in the IN list", separator)


def _number(token: _Token, value_type: ValueType) -> int | float:
    """The value of a number token; an integer (within 64 bits) when the key needs one."""
    if value_type == "number":
        return float(token.value)
    if not _INTEGER.fullmatch(token.value) or abs(int(token.value)) > _INT64_MAX:
        raise InvalidParameterValue(
            f"Invalid filter: expected an integer at position {token.pos}, found '{token.text}'."
        )
    return int(token.value)


def _stage(token: _Token) -> str:
    """The canonical spelling of a stage name given in any case."""
    for stage in STAGES:
        if stage.lower() == token.value.lower():
            return stage
    raise InvalidParameterValue(
        f"Invalid filter: unknown stage {token.text} at position {token.pos}; "
        f"allowed: {', '.join(STAGES)}."
    )


def parse_filter(text: str | None, kind: Kind) -> tuple[Comparison, ...]:
    """Parse an MLflow filter string for a search of `kind` into ANDed comparisons, validated."""
    checked = _check_kind(kind)
    if text is not None and not isinstance(text, str):
        raise InvalidParameterValue(f"filter_string must be a string, got {type(text).__name__}.")
    if text is None or not text.strip():
        return ()
    return _Parser(text, checked).parse()


def _order_key(clause: str, kind: Kind) -> OrderKey:
    """Parse one `key [ASC|DESC]` order_by clause into a canonical sort key."""
    key_token, *rest, _end = _tokenize(clause)
    if key_token.kind != "key":
        raise InvalidParameterValue(
            f"Invalid order_by clause '{clause}': expected a key ({_ORDER_ALLOWED[kind]}), "
            f"found '{key_token.text}'."
        )
    if len(rest) > 1:
        raise InvalidParameterValue(
            f"Invalid order_by clause '{clause}': unexpected '{rest[1].text}' at position "
            f"{rest[1].pos}; expected 'KEY [ASC|DESC]'."
        )
    direction = rest[0].text.upper() if rest else "ASC"
    if rest and (rest[0].kind != "key" or direction not in ("ASC", "DESC")):
        raise InvalidParameterValue(
            f"Invalid order_by clause '{clause}': bad direction '{rest[0].text}' at "
            f"position {rest[0].pos}; use ASC or DESC."
        )
    ascending = direction == "ASC"
    prefix = key_token.prefix.lower() if key_token.prefix is not None else None
    entity = _PREFIXES.get(prefix) if prefix is not None else "attribute"
    if kind == "run" and entity in _ORDER_PREFIXES and key_token.value:
        return OrderKey(f"{_ORDER_PREFIXES[entity]}.{key_token.value}", ascending)
    if entity == "attribute" and (prefix is None or kind == "run"):
        name = _ORDER_ATTRIBUTES[kind].get(key_token.value)
        if name is not None:
            return OrderKey(name, ascending)
    raise InvalidParameterValue(
        f"Invalid order_by key '{key_token.text}' in '{clause}'; allowed: {_ORDER_ALLOWED[kind]}."
    )


def parse_order_by(order_by: list[str] | None, kind: Kind) -> tuple[OrderKey, ...]:
    """Parse order_by clauses for `kind`, refusing repeats, then append MLflow's tie-breakers."""
    checked = _check_kind(kind)
    if not order_by:
        return _ORDER_DEFAULTS[checked]
    if isinstance(order_by, str) or not isinstance(order_by, list | tuple):
        raise InvalidParameterValue("order_by must be a list of strings such as ['name DESC'].")
    keys: list[OrderKey] = []
    for clause in order_by:
        if not isinstance(clause, str) or not clause.strip():
            raise InvalidParameterValue(
                f"Invalid order_by clause {clause!r}: expected 'KEY [ASC|DESC]'."
            )
        key = _order_key(clause, checked)
        if any(seen.key == key.key for seen in keys):
            raise InvalidParameterValue(
                f"Invalid order_by: '{key.key}' is given more than once (in '{clause}')."
            )
        keys.append(key)
    present = {key.key for key in keys}
    keys.extend(tie for tie in _ORDER_TIE_BREAKERS[checked] if tie.key not in present)
    return tuple(keys)


def validate_max_results(value: object, kind: Kind) -> int:
    """Check `max_results` is an int from 1 to the kind's maximum; None means the default."""
    limits = MAX_RESULTS[_check_kind(kind)]
    if value is None:
        return limits.default
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameterValue(
            f"max_results must be an integer, got {type(value).__name__} {value!r}."
        )
    if not 1 <= value <= limits.maximum:
        raise InvalidParameterValue(
            f"Invalid max_results {value}: it must be between 1 and {limits.maximum}."
        )
    return value


def encode_page_token(offset: int) -> str:
    """An opaque page token standing for the row offset where the next page starts."""
    if not _is_page_offset(offset):
        raise InvalidParameterValue(
            f"A page offset must be an integer from 0 to {_MAX_PAGE_OFFSET}, got {offset!r}."
        )
    payload = json.dumps({"offset": offset}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(payload).decode("ascii").rstrip("=")


def _is_page_offset(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_PAGE_OFFSET


def decode_page_token(token: str | None) -> int:
    """The row offset a page token stands for; None or empty means the first page. Only a token
    spelled exactly as `encode_page_token` spells it is accepted."""
    if token is None or token == "":
        return 0
    invalid = InvalidParameterValue(f"Invalid page_token {_fragment(str(token), 0)!r}.")
    if not isinstance(token, str) or len(token) > _MAX_TOKEN_CHARS:
        raise invalid
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
        payload = json.loads(raw)
    except (binascii.Error, ValueError) as error:
        raise invalid from error
    offset = payload.get("offset") if isinstance(payload, dict) else None
    if not _is_page_offset(offset) or encode_page_token(offset) != token:
        raise invalid
    return offset
