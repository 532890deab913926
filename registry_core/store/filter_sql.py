"""Compile parsed search filters and sort keys to parameterized DuckDB SQL.

Table aliases: `rm` = registered_models, `mv` = model_versions (joined to `rm` on
`rm.id = mv.model_id` in version searches), `r` = runs, `e` = experiments, `lm` =
logged_models. Column names come only from the whitelists below; every key, value and pattern is
bound as a `?` parameter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from registry_core.errors import InvalidParameterValue
from registry_core.search_filter import (
    IN_OPS,
    NUMERIC_OPS,
    Comparison,
    Kind,
    OrderKey,
    decode_page_token,
    encode_page_token,
    parse_filter,
    parse_order_by,
    validate_max_results,
)

_COLUMNS: Mapping[Kind, Mapping[str, str]] = {
    "registered_model": {"name": "rm.name"},
    "model_version": {
        "name": "rm.name",
        "source_path": "mv.source",
        "run_id": "mv.run_id",
        "version_number": "mv.version",
        "current_stage": "mv.current_stage",
    },
    "run": {
        "run_id": "r.run_id",
        "run_name": "r.run_name",
        "status": "r.status",
        "start_time": "r.start_time",
        "end_time": "r.end_time",
    },
    "experiment": {
        "name": "e.name",
        "creation_time": "e.creation_time",
        "last_update_time": "e.last_update_time",
    },
    "logged_model": {
        "name": "lm.name",
        "model_id": "lm.model_id",
        "model_type": "lm.model_type",
        "status": "lm.status",
        "source_run_id": "lm.source_run_id",
        "creation_timestamp": "lm.creation_timestamp",
        "last_updated_timestamp": "lm.last_updated_timestamp",
    },
}

_TAG_SOURCES: Mapping[Kind, str] = {
    "registered_model": "registered_model_tags t WHERE t.model_id = rm.id",
    "model_version": ("model_version_tags t WHERE t.vkey = mv.vkey"),
    "run": "run_tags t WHERE t.run_id = r.run_id",
    "experiment": "experiment_tags t WHERE t.experiment_id = e.id",
    "logged_model": "logged_model_tags t WHERE t.model_id = lm.model_id",
}

PROMPT_TAG = "mlflow.prompt.is_prompt"
_PARAM_SOURCES: Mapping[Kind, str] = {
    "run": "run_params t WHERE t.run_id = r.run_id",
    "logged_model": "logged_model_params t WHERE t.model_id = lm.model_id",
}

_LATEST_METRIC = (
    "(SELECT m.value FROM run_metrics m WHERE m.run_id = r.run_id AND m.key = ? "
    "ORDER BY m.step DESC, m.timestamp DESC, m.value DESC LIMIT 1)"
)

_PARAM_VALUE = "(SELECT p.value FROM run_params p WHERE p.run_id = r.run_id AND p.key = ?)"

_OPERATORS: Mapping[str, str] = {
    "=": "=",
    "!=": "<>",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
    "LIKE": "LIKE",
    "ILIKE": "ILIKE",
}

_ORDER_COLUMNS: Mapping[Kind, Mapping[str, str]] = {
    "registered_model": {
        "name": "rm.name",
        "creation_timestamp": "rm.creation_timestamp",
        "last_updated_timestamp": "rm.last_updated_timestamp",
    },
    "model_version": {
        "name": "rm.name",
        "version_number": "mv.version",
        "creation_timestamp": "mv.creation_timestamp",
        "last_updated_timestamp": "mv.last_updated_timestamp",
    },
    "run": {
        "run_id": "r.run_id",
        "run_name": "r.run_name",
        "start_time": "r.start_time",
        "end_time": "r.end_time",
    },
    "experiment": {
        "name": "e.name",
        "experiment_id": "e.id",
        "creation_time": "e.creation_time",
        "last_update_time": "e.last_update_time",
    },
    "logged_model": {
        "name": "lm.name",
        "model_id": "lm.model_id",
        "creation_timestamp": "lm.creation_timestamp",
        "last_updated_timestamp": "lm.last_updated_timestamp",
    },
}


def _operator(op: str) -> str:
    """The SQL spelling of a non-IN comparator, refusing anything outside the whitelist."""
    sql = _OPERATORS.get(op)
    if sql is None:
        raise InvalidParameterValue(f"Unsupported comparator '{op}' for this key.")
    return sql


def _in_list(column: str, condition: Comparison) -> tuple[str, list[object]]:
    """`column [NOT] IN (?, ...)` for a non-empty tuple of values."""
    values = condition.value
    if not isinstance(values, tuple) or not values:
        raise InvalidParameterValue(f"'{condition.key} {condition.op}' needs a non-empty list.")
    placeholders = ", ".join("?" for _ in values)
    return f"{column} {condition.op} ({placeholders})", list(values)


def _attribute(condition: Comparison, kind: Kind) -> tuple[str, list[object]]:
    """A comparison on a whitelisted column of the searched row."""
    column = _COLUMNS[kind].get(condition.key)
    if column is None:
        raise InvalidParameterValue(f"Unknown attribute '{condition.key}' for a {kind} search.")
    if condition.op in IN_OPS:
        return _in_list(column, condition)
    return f"{column} {_operator(condition.op)} ?", [condition.value]


def _key_value(source: str, condition: Comparison) -> tuple[str, list[object]]:
    """EXISTS a key/value row of `source` with the condition's key and a value passing its op.

    MLflow 3's client adds `tags.mlflow.prompt.is_prompt != 'true'` to every model search to
    leave out prompts, and its stores read that as "not tagged as a prompt", tag or no tag."""
    if condition.key == PROMPT_TAG and condition.op == "!=":
        sql = f"NOT EXISTS (SELECT 1 FROM {source} AND t.key = ? AND t.value = ?)"
        return sql, [condition.key, condition.value]
    sql = f"EXISTS (SELECT 1 FROM {source} AND t.key = ? AND t.value {_operator(condition.op)} ?)"
    return sql, [condition.key, condition.value]


def _condition(condition: Comparison, kind: Kind) -> tuple[str, list[object]]:
    """One parsed comparison as a parenthesized SQL boolean and its parameters."""
    if condition.entity == "attribute":
        return _attribute(condition, kind)
    if condition.entity == "tag":
        return _key_value(_TAG_SOURCES[kind], condition)
    if condition.entity == "param" and kind in _PARAM_SOURCES:
        return _key_value(_PARAM_SOURCES[kind], condition)
    if condition.entity == "metric" and kind == "run" and condition.op in NUMERIC_OPS:
        return f"{_LATEST_METRIC} {_operator(condition.op)} ?", [condition.key, condition.value]
    raise InvalidParameterValue(f"'{condition.entity}' filters are not allowed in a {kind} search.")


def compile_filter(conditions: Sequence[Comparison], kind: Kind) -> tuple[str, list[object]]:
    """A WHERE expression ANDing the conditions (`TRUE` if none) and its `?` parameters in order."""
    if kind not in _COLUMNS:
        raise InvalidParameterValue(f"Unknown search kind '{kind}'.")
    parts: list[str] = []
    params: list[object] = []
    for condition in conditions:
        sql, values = _condition(condition, kind)
        parts.append(f"({sql})")
        params.extend(values)
    return (" AND ".join(parts) if parts else "TRUE"), params


def _order_expression(key: str, kind: Kind) -> tuple[str, list[object]]:
    """The sort expression for one key: a whitelisted column or a run's metric/param subquery."""
    column = _ORDER_COLUMNS[kind].get(key)
    if column is not None:
        return column, []
    prefix, _, name = key.partition(".")
    if kind == "run" and name and prefix == "metrics":
        return _LATEST_METRIC, [name]
    if kind == "run" and name and prefix == "params":
        return _PARAM_VALUE, [name]
    raise InvalidParameterValue(f"Unknown order_by key '{key}' for a {kind} search.")


def compile_order_by(keys: Sequence[OrderKey], kind: Kind) -> tuple[str, list[object]]:
    """An ORDER BY body (NULLs last) and its `?` parameters, which follow the WHERE parameters."""
    if kind not in _ORDER_COLUMNS:
        raise InvalidParameterValue(f"Unknown search kind '{kind}'.")
    parts: list[str] = []
    params: list[object] = []
    for order_key in keys:
        expression, values = _order_expression(order_key.key, kind)
        direction = "ASC" if order_key.ascending else "DESC"
        parts.append(f"{expression} {direction} NULLS LAST")
        params.extend(values)
    if not parts:
        raise InvalidParameterValue("order_by needs at least one key.")
    return ", ".join(parts), params


@dataclass(frozen=True)
class SearchPlan:
    """A search compiled for SQL: WHERE and ORDER BY bodies, their parameters, and the page."""

    where: str
    order: str
    params: list[object]
    limit: int
    offset: int

    @property
    def page_params(self) -> list[object]:
        """Parameters for `WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?`, one row extra so
        the caller can tell whether another page follows."""
        return [*self.params, self.limit + 1, self.offset]

    def next_token(self, fetched: int) -> str | None:
        """The page token of the next page, or None when `fetched` rows end the results."""
        return encode_page_token(self.offset + self.limit) if fetched > self.limit else None


def plan_search(
    kind: Kind,
    filter_string: str | None,
    max_results: object,
    order_by: list[str] | None,
    page_token: str | None,
) -> SearchPlan:
    """Parse, validate and compile a search's filter, ordering, page size and page token."""
    limit = validate_max_results(max_results, kind)
    where, params = compile_filter(parse_filter(filter_string, kind), kind)
    order, order_params = compile_order_by(parse_order_by(order_by, kind), kind)
    return SearchPlan(where, order, [*params, *order_params], limit, decode_page_token(page_token))
