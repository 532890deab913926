"""The search filter grammar, order_by rules, page tokens and max_results bounds (no database)."""

from __future__ import annotations

import base64
import json
import re

import pytest

from registry_core.errors import INVALID_PARAMETER_VALUE, InvalidParameterValue
from registry_core.search_filter import (
    MAX_RESULTS,
    Comparison,
    Kind,
    OrderKey,
    decode_page_token,
    encode_page_token,
    parse_filter,
    parse_order_by,
    quote_literal,
    validate_max_results,
)


def refused(call, *args) -> InvalidParameterValue:
    """Run `call` expecting InvalidParameterValue with the right code; return the error."""
    with pytest.raises(InvalidParameterValue) as caught:
        call(*args)
    assert caught.value.error_code == INVALID_PARAMETER_VALUE
    return caught.value


@pytest.mark.parametrize("text", [None, "", "   ", "\n\t"])
@pytest.mark.parametrize("kind", ["registered_model", "model_version", "run"])
def test_empty_filter_is_no_condition(text: str | None, kind: Kind) -> None:
    assert parse_filter(text, kind) == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name = 'm'", Comparison("attribute", "name", "=", "m")),
        ('name = "m"', Comparison("attribute", "name", "=", "m")),
        ("name != 'm'", Comparison("attribute", "name", "!=", "m")),
        ("name <> 'm'", Comparison("attribute", "name", "!=", "m")),
        ("name LIKE 'fr%'", Comparison("attribute", "name", "LIKE", "fr%")),
        ("name like 'fr%'", Comparison("attribute", "name", "LIKE", "fr%")),
        ("name ILIKE '%Fr_'", Comparison("attribute", "name", "ILIKE", "%Fr_")),
        ("name='m'", Comparison("attribute", "name", "=", "m")),
        ("tags.team = 'risk'", Comparison("tag", "team", "=", "risk")),
        ("tag.team != 'risk'", Comparison("tag", "team", "!=", "risk")),
        ("TAGS.team ILIKE 'r%'", Comparison("tag", "team", "ILIKE", "r%")),
        ("tags.`team.name` = 'x'", Comparison("tag", "team.name", "=", "x")),
        ("tags.team.name = 'x'", Comparison("tag", "team.name", "=", "x")),
        ("tags.\"my key\" = 'x'", Comparison("tag", "my key", "=", "x")),
        ("tags.`a``b` = 'x'", Comparison("tag", "a`b", "=", "x")),
        ("tags.my-key = 'x'", Comparison("tag", "my-key", "=", "x")),
        ("name = 'it''s'", Comparison("attribute", "name", "=", "it's")),
        ("name = 'it\\'s'", Comparison("attribute", "name", "=", "it's")),
        ('name = "say ""hi"""', Comparison("attribute", "name", "=", 'say "hi"')),
        ('name = "say \\"hi\\""', Comparison("attribute", "name", "=", 'say "hi"')),
        ("name = 'back\\\\slash'", Comparison("attribute", "name", "=", "back\\slash")),
        ("name = 'C:\\models'", Comparison("attribute", "name", "=", "C:\\models")),
        ("name = ''", Comparison("attribute", "name", "=", "")),
        ("name = 'a AND b'", Comparison("attribute", "name", "=", "a AND b")),
    ],
)
def test_registered_model_conditions(text: str, expected: Comparison) -> None:
    assert parse_filter(text, "registered_model") == (expected,)


def test_conditions_are_anded_in_order() -> None:
    assert parse_filter(
        "name LIKE 'a%' and tags.t = 'x' AND tags.u != 'y'", "registered_model"
    ) == (
        Comparison("attribute", "name", "LIKE", "a%"),
        Comparison("tag", "t", "=", "x"),
        Comparison("tag", "u", "!=", "y"),
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name = 'm'", Comparison("attribute", "name", "=", "m")),
        ("source_path LIKE 's3://%'", Comparison("attribute", "source_path", "LIKE", "s3://%")),
        ("run_id = 'abc'", Comparison("attribute", "run_id", "=", "abc")),
        ("run_id ILIKE 'AB%'", Comparison("attribute", "run_id", "ILIKE", "AB%")),
        ("run_id IN ('a', \"b\")", Comparison("attribute", "run_id", "IN", ("a", "b"))),
        ("run_id in ('a')", Comparison("attribute", "run_id", "IN", ("a",))),
        ("run_id NOT IN ('a','b')", Comparison("attribute", "run_id", "NOT IN", ("a", "b"))),
        ("run_id not  in ('a')", Comparison("attribute", "run_id", "NOT IN", ("a",))),
        ("version_number = 3", Comparison("attribute", "version_number", "=", 3)),
        ("version_number != 3", Comparison("attribute", "version_number", "!=", 3)),
        ("version_number < 3", Comparison("attribute", "version_number", "<", 3)),
        ("version_number <= 3", Comparison("attribute", "version_number", "<=", 3)),
        ("version_number > 3", Comparison("attribute", "version_number", ">", 3)),
        ("version_number>=3", Comparison("attribute", "version_number", ">=", 3)),
        (
            "current_stage = 'production'",
            Comparison("attribute", "current_stage", "=", "Production"),
        ),
        ("current_stage != 'NONE'", Comparison("attribute", "current_stage", "!=", "None")),
        (
            "current_stage IN ('staging', 'ARCHIVED')",
            Comparison("attribute", "current_stage", "IN", ("Staging", "Archived")),
        ),
        ("tags.validated = 'true'", Comparison("tag", "validated", "=", "true")),
    ],
)
def test_model_version_conditions(text: str, expected: Comparison) -> None:
    assert parse_filter(text, "model_version") == (expected,)


def test_version_number_is_an_int() -> None:
    (condition,) = parse_filter("version_number = 7", "model_version")
    assert isinstance(condition.value, int)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("run_id = 'r1'", Comparison("attribute", "run_id", "=", "r1")),
        ("run_id IN ('r1', 'r2')", Comparison("attribute", "run_id", "IN", ("r1", "r2"))),
        ("attributes.run_id != 'r1'", Comparison("attribute", "run_id", "!=", "r1")),
        ("attribute.run_name LIKE 'x%'", Comparison("attribute", "run_name", "LIKE", "x%")),
        ("attr.status ILIKE 'fin%'", Comparison("attribute", "status", "ILIKE", "fin%")),
        ("run_name = 'tuned'", Comparison("attribute", "run_name", "=", "tuned")),
        ("status = 'FINISHED'", Comparison("attribute", "status", "=", "FINISHED")),
        ("start_time >= 1700000000000", Comparison("attribute", "start_time", ">=", 1700000000000)),
        ("end_time < -5", Comparison("attribute", "end_time", "<", -5)),
        ("params.lr = '0.1'", Comparison("param", "lr", "=", "0.1")),
        ("param.lr LIKE '0.%'", Comparison("param", "lr", "LIKE", "0.%")),
        ("parameters.`batch size` != '32'", Comparison("param", "batch size", "!=", "32")),
        ("metrics.acc > 0.9", Comparison("metric", "acc", ">", 0.9)),
        ("metric.acc <= 1", Comparison("metric", "acc", "<=", 1.0)),
        ("metrics.`f1 score` = .5", Comparison("metric", "f1 score", "=", 0.5)),
        ("metrics.loss != -1e-3", Comparison("metric", "loss", "!=", -0.001)),
        ("tags.env = 'prod'", Comparison("tag", "env", "=", "prod")),
    ],
)
def test_run_conditions(text: str, expected: Comparison) -> None:
    assert parse_filter(text, "run") == (expected,)


def test_metric_value_is_a_float() -> None:
    (condition,) = parse_filter("metrics.acc = 1", "run")
    assert isinstance(condition.value, float)


def test_comparisons_are_frozen() -> None:
    (condition,) = parse_filter("name = 'm'", "registered_model")
    with pytest.raises(AttributeError):
        condition.value = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "kind", "offending"),
    [
        ("name LIKE", "registered_model", "LIKE"),
        ("name =", "model_version", "'='"),
        ("name = foo", "registered_model", "foo"),
        ("tags.t = bar", "model_version", "bar"),
        ("name = 123", "registered_model", "123"),
        ("params.lr = 0.1", "run", "0.1"),
        ("run_id IN ()", "model_version", "')'"),
        ("run_id IN ('a',)", "model_version", "')'"),
        ("run_id IN ('a' 'b')", "model_version", "'b'"),
        ("run_id IN 'a'", "model_version", "'a'"),
        ("run_id IN ('a'", "model_version", "'a'"),
        ("run_id IN (a)", "run", "'a'"),
        ("name = 'a' junk", "registered_model", "junk"),
        ("name = 'a' 'b'", "registered_model", "'b'"),
        ("name = 'a' AND", "registered_model", "AND"),
        ("name = 'a' AND AND name = 'b'", "registered_model", "AND"),
        ("AND name = 'a'", "registered_model", "AND"),
        ("name = 'abc", "registered_model", "'abc"),
        ('name = "abc', "registered_model", '"abc'),
        ("tags.`abc = 'x'", "registered_model", "`abc"),
        ("name = 'it\\'", "registered_model", "'it\\'"),
        ("name == 'a'", "registered_model", "=="),
        ("name => 'a'", "registered_model", "=>"),
        ("name ! 'a'", "registered_model", "!"),
        ("name ~ 'a'", "registered_model", "~"),
        ("name CONTAINS 'a'", "registered_model", "CONTAINS"),
        ("name NOT LIKE 'a'", "registered_model", "LIKE"),
        ("name = 'a' OR name = 'b'", "registered_model", "OR"),
        ("name = 'a' or name = 'b'", "registered_model", "or"),
        ("OR name = 'a'", "model_version", "OR"),
        ("(name = 'a')", "registered_model", "("),
        ("name = 'a';", "registered_model", ";"),
        ("tags. = 'a'", "registered_model", "tags."),
        ("tags.`` = 'a'", "registered_model", "tags.``"),
        ("= 'a'", "registered_model", "="),
        ("'a' = name", "registered_model", "'a'"),
    ],
)
def test_malformed_filters_name_the_token_and_position(
    text: str, kind: Kind, offending: str
) -> None:
    error = refused(parse_filter, text, kind)
    assert offending in error.message
    assert re.search(r"position \d+", error.message)


def test_or_is_reported_as_unsupported() -> None:
    error = refused(parse_filter, "name = 'a' OR name = 'b'", "registered_model")
    assert "OR" in error.message and "AND" in error.message and "position 11" in error.message


def test_missing_value_reports_end_position() -> None:
    error = refused(parse_filter, "name LIKE", "registered_model")
    assert "position 9" in error.message and "ended" in error.message


@pytest.mark.parametrize(
    ("text", "offending"),
    [
        ("run_id = 'r'", "run_id"),
        ("source_path = 's'", "source_path"),
        ("version_number = 1", "version_number"),
        ("current_stage = 'Production'", "current_stage"),
        ("params.lr = '1'", "params.lr"),
        ("metrics.acc > 1", "metrics.acc"),
        ("attributes.name = 'x'", "attributes.name"),
        ("description = 'x'", "description"),
        ("foo.bar = 'x'", "foo.bar"),
        ("Name = 'x'", "Name"),
    ],
)
def test_registered_model_search_refuses_other_keys(text: str, offending: str) -> None:
    error = refused(parse_filter, text, "registered_model")
    assert offending in error.message and "name, tags.KEY" in error.message


def test_model_version_attribute_in_model_search_says_so() -> None:
    error = refused(parse_filter, "version_number = 1", "registered_model")
    assert "model-version attribute" in error.message


@pytest.mark.parametrize(
    ("text", "kind", "offending"),
    [
        ("name IN ('a')", "registered_model", "IN"),
        ("tags.t IN ('a')", "model_version", "IN"),
        ("tags.t > 'a'", "registered_model", ">"),
        ("name < 'a'", "model_version", "<"),
        ("version_number LIKE '1%'", "model_version", "LIKE"),
        ("version_number = '1'", "model_version", "'1'"),
        ("version_number = 1.5", "model_version", "1.5"),
        ("version_number = 1e3", "model_version", "1e3"),
        ("version_number = 99999999999999999999", "model_version", "99999999999999999999"),
        ("current_stage LIKE 'Prod%'", "model_version", "LIKE"),
        ("current_stage = 'prod'", "model_version", "'prod'"),
        ("current_stage IN ('Staging', 'Live')", "model_version", "'Live'"),
        ("current_stage = Production", "model_version", "Production"),
        ("run_id LIKE 'a%'", "run", "LIKE"),
        ("status > 'A'", "run", ">"),
        ("start_time = 'yesterday'", "run", "'yesterday'"),
        ("start_time > 1.5", "run", "1.5"),
        ("metrics.acc = 'high'", "run", "'high'"),
        ("metrics.acc LIKE '0.%'", "run", "LIKE"),
        ("params.lr > '0.1'", "run", ">"),
        ("params.lr IN ('0.1')", "run", "IN"),
        ("attributes.lifecycle = 'x'", "run", "attributes.lifecycle"),
        ("name = 'x'", "run", "name"),
        ("experiment_id = '1'", "run", "experiment_id"),
        ("params.lr = '1'", "model_version", "params.lr"),
        ("attributes.run_id = 'r'", "model_version", "attributes.run_id"),
    ],
)
def test_disallowed_comparators_keys_and_values(text: str, kind: Kind, offending: str) -> None:
    error = refused(parse_filter, text, kind)
    assert offending in error.message


def test_bad_comparator_lists_what_is_allowed() -> None:
    error = refused(parse_filter, "version_number LIKE '1'", "model_version")
    assert "<=" in error.message and "version_number" in error.message


def test_unknown_stage_lists_the_stages() -> None:
    error = refused(parse_filter, "current_stage = 'prod'", "model_version")
    assert "None, Staging, Production, Archived" in error.message


@pytest.mark.parametrize("value", [42, b"name = 'a'", ["name = 'a'"]])
def test_filter_must_be_a_string(value: object) -> None:
    refused(parse_filter, value, "registered_model")


def test_unknown_kind_is_refused() -> None:
    refused(parse_filter, "name = 'a'", "dataset")
    refused(parse_order_by, None, "dataset")
    refused(validate_max_results, 1, "dataset")


@pytest.mark.parametrize(
    ("order_by", "kind", "expected"),
    [
        (None, "registered_model", [("name", True)]),
        ([], "registered_model", [("name", True)]),
        (["name DESC"], "registered_model", [("name", False)]),
        (["name"], "registered_model", [("name", True)]),
        (
            ["creation_timestamp desc"],
            "registered_model",
            [("creation_timestamp", False), ("name", True)],
        ),
        (
            ["timestamp"],
            "registered_model",
            [("last_updated_timestamp", True), ("name", True)],
        ),
        (
            ["last_updated_timestamp DESC", "name DESC"],
            "registered_model",
            [("last_updated_timestamp", False), ("name", False)],
        ),
        (
            None,
            "model_version",
            [("last_updated_timestamp", False), ("name", True), ("version_number", False)],
        ),
        (
            ["creation_timestamp ASC"],
            "model_version",
            [("creation_timestamp", True), ("name", True), ("version_number", False)],
        ),
        (
            ["version_number ASC"],
            "model_version",
            [("version_number", True), ("name", True)],
        ),
        (["name DESC"], "model_version", [("name", False), ("version_number", False)]),
        (None, "run", [("start_time", False), ("run_id", True)]),
        (["start_time ASC"], "run", [("start_time", True), ("run_id", True)]),
        (
            ["metrics.acc DESC", "params.`batch size`"],
            "run",
            [
                ("metrics.acc", False),
                ("params.batch size", True),
                ("start_time", False),
                ("run_id", True),
            ],
        ),
        (
            ["metric.acc", "attributes.end_time DESC", "run_name"],
            "run",
            [
                ("metrics.acc", True),
                ("end_time", False),
                ("run_name", True),
                ("start_time", False),
                ("run_id", True),
            ],
        ),
    ],
)
def test_order_by(order_by: list[str] | None, kind: Kind, expected: list[tuple[str, bool]]) -> None:
    assert parse_order_by(order_by, kind) == tuple(OrderKey(k, asc) for k, asc in expected)


@pytest.mark.parametrize(
    ("order_by", "kind", "offending"),
    [
        (["name", "name DESC"], "registered_model", "name"),
        (["timestamp", "last_updated_timestamp"], "registered_model", "last_updated_timestamp"),
        (["metrics.acc", "metrics.acc DESC"], "run", "metrics.acc"),
        (["version_number"], "registered_model", "version_number"),
        (["tags.team"], "registered_model", "tags.team"),
        (["description"], "model_version", "description"),
        (["timestamp"], "model_version", "timestamp"),
        (["status"], "run", "status"),
        (["run_id"], "run", "run_id"),
        (["name UP"], "registered_model", "UP"),
        (["name ASC DESC"], "registered_model", "DESC"),
        (["name DESC junk"], "model_version", "junk"),
        (["name 'x'"], "registered_model", "'x'"),
        (["name; DROP TABLE registered_models"], "registered_model", ";"),
        (["'name'"], "registered_model", "'name'"),
        ([""], "registered_model", "''"),
        (["   "], "registered_model", "'   '"),
        ([None], "registered_model", "None"),
    ],
)
def test_bad_order_by(order_by: list, kind: Kind, offending: str) -> None:
    error = refused(parse_order_by, order_by, kind)
    assert offending in error.message


def test_order_by_must_be_a_list() -> None:
    refused(parse_order_by, "name DESC", "registered_model")


@pytest.mark.parametrize("offset", [0, 1, 99, 10_000, 2**40])
def test_page_token_round_trip(offset: int) -> None:
    token = encode_page_token(offset)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert str(offset) != token
    assert decode_page_token(token) == offset


@pytest.mark.parametrize("token", [None, ""])
def test_no_page_token_is_the_first_page(token: str | None) -> None:
    assert decode_page_token(token) == 0


def _raw_token(payload: bytes) -> str:
    return base64.urlsafe_b64encode(payload).decode()


@pytest.mark.parametrize(
    "token",
    [
        "not a token!",
        "%%%%",
        "abc",
        _raw_token(b"not json"),
        _raw_token(b"[1, 2]"),
        _raw_token(json.dumps({"offset": -1}).encode()),
        _raw_token(json.dumps({"offset": "3"}).encode()),
        _raw_token(json.dumps({"offset": True}).encode()),
        _raw_token(json.dumps({"offset": 1.5}).encode()),
        _raw_token(json.dumps({"start": 3}).encode()),
        _raw_token(b"\xff\xfe"),
        "A" * 5000,
        123,
    ],
)
def test_bad_page_tokens(token: object) -> None:
    error = refused(decode_page_token, token)
    assert "page_token" in error.message


@pytest.mark.parametrize("offset", [-1, True, 1.0, "3", 2**53, 2**63])
def test_encode_page_token_refuses_bad_offsets(offset: object) -> None:
    refused(encode_page_token, offset)


def test_max_results_limits_match_mlflow() -> None:
    assert MAX_RESULTS["registered_model"].default == 100
    assert MAX_RESULTS["registered_model"].maximum == 1000
    assert MAX_RESULTS["model_version"].default == 10_000
    assert MAX_RESULTS["model_version"].maximum == 200_000
    assert MAX_RESULTS["run"].default == 1000
    assert MAX_RESULTS["run"].maximum == 50_000


@pytest.mark.parametrize("kind", ["registered_model", "model_version", "run"])
def test_max_results_bounds(kind: Kind) -> None:
    limits = MAX_RESULTS[kind]
    assert validate_max_results(None, kind) == limits.default
    assert validate_max_results(1, kind) == 1
    assert validate_max_results(limits.maximum, kind) == limits.maximum
    error = refused(validate_max_results, limits.maximum + 1, kind)
    assert str(limits.maximum) in error.message
    refused(validate_max_results, 0, kind)
    refused(validate_max_results, -5, kind)


@pytest.mark.parametrize("value", [True, False, 1.0, "10", [10]])
def test_max_results_must_be_an_int(value: object) -> None:
    refused(validate_max_results, value, "registered_model")


@pytest.mark.parametrize(
    "value", ["plain", "it's", "back\\slash", "\\'", "' OR 1=1 --", "trailing\\", "", '"dq"']
)
def test_quote_literal_round_trips_any_text(value: str) -> None:
    (comparison,) = parse_filter(f"name = {quote_literal(value)}", "model_version")
    assert comparison.value == value
