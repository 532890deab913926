"""Compiled filters and sort keys run against a real DuckDB registry file, injection included."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from registry_core.errors import INVALID_PARAMETER_VALUE, InvalidParameterValue
from registry_core.search_filter import (
    Comparison,
    Kind,
    OrderKey,
    parse_filter,
    parse_order_by,
)
from registry_core.store.filter_sql import compile_filter, compile_order_by
from registry_core.store.migrations import migrate, version_key

DROP_NAME = "a'; DROP TABLE registered_models; --"

MODELS = [
    (1, "fraud-detector", 1000, 5000),
    (2, "Fraud-Scorer", 2000, 4000),
    (3, "churn_model", 3000, 3000),
    (4, DROP_NAME, 4000, 6000),
]
MODEL_TAGS = [
    (1, "team", "risk"),
    (1, "team.name", "Risk Ops"),
    (2, "team", "growth"),
    (3, "owner", "bob"),
]
VERSIONS = [
    (1, 1, "s3://bucket/fraud/1", "run-a", "Archived", 100, 100),
    (1, 2, "s3://bucket/fraud/2", "run-b", "Production", 200, 700),
    (1, 3, "s3://bucket/fraud/3", None, "Staging", 300, 300),
    (2, 1, "s3://bucket/scorer/1", "run-c", "None", 400, 400),
    (3, 1, "file:///models/churn/1", "run-a", "Production", 500, 500),
]
VERSION_TAGS = [
    (1, 2, "validated", "true"),
    (1, 3, "validated", "false"),
    (2, 1, "validated", "TRUE"),
]
RUNS = [
    ("run-a", "baseline", "FINISHED", 1000, 2000),
    ("run-b", "tuned", "FINISHED", 3000, 4000),
    ("run-c", "Tuned-Again", "RUNNING", 5000, None),
    ("run-d", None, "FAILED", 2000, 2500),
]
RUN_PARAMS = [
    ("run-a", "lr", "0.1"),
    ("run-b", "lr", "0.01"),
    ("run-c", "lr", "0.01"),
    ("run-a", "model", "rf"),
    ("run-b", "model", "gbm"),
]
# Latest value per run: run-a 0.7 (highest step), run-b 0.95 (same step, later timestamp),
# run-c 0.8 (highest step beats a later timestamp), run-d none.
RUN_METRICS = [
    ("run-a", "acc", 0.9, 0, 10),
    ("run-a", "acc", 0.7, 1, 20),
    ("run-b", "acc", 0.6, 0, 10),
    ("run-b", "acc", 0.95, 0, 30),
    ("run-c", "acc", 0.8, 5, 5),
    ("run-c", "acc", 0.99, 2, 50),
    ("run-a", "loss", 0.3, 0, 10),
]
RUN_TAGS = [
    ("run-a", "env", "prod"),
    ("run-b", "env", "dev"),
    ("run-c", "env", "Prod"),
]


@pytest.fixture(scope="module")
def conn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    """A registry file with the real schema and a few models, versions and runs."""
    connection = duckdb.connect(str(tmp_path_factory.mktemp("filter_sql") / "registry.duckdb"))
    migrate(connection)
    connection.executemany(
        "INSERT INTO registered_models "
        "(id, name, creation_timestamp, last_updated_timestamp, next_version) "
        "VALUES (?, ?, ?, ?, 1)",
        MODELS,
    )
    connection.executemany("INSERT INTO registered_model_tags VALUES (?, ?, ?)", MODEL_TAGS)
    connection.executemany(
        "INSERT INTO model_versions (vkey, model_id, version, source, run_id, current_stage, "
        "status, creation_timestamp, last_updated_timestamp) "
        "VALUES (?, ?, ?, ?, ?, ?, 'READY', ?, ?)",
        [(version_key(row[0], row[1]), *row) for row in VERSIONS],
    )
    connection.executemany(
        "INSERT INTO model_version_tags VALUES (?, ?, ?)",
        [(version_key(m, v), key, value) for m, v, key, value in VERSION_TAGS],
    )
    connection.executemany(
        "INSERT INTO runs (run_id, run_name, status, start_time, end_time) VALUES (?, ?, ?, ?, ?)",
        RUNS,
    )
    connection.executemany("INSERT INTO run_params VALUES (?, ?, ?)", RUN_PARAMS)
    connection.executemany("INSERT INTO run_metrics VALUES (?, ?, ?, ?, ?)", RUN_METRICS)
    connection.executemany("INSERT INTO run_tags VALUES (?, ?, ?)", RUN_TAGS)
    yield connection
    connection.close()


def table_counts(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Every table of the file with its row count."""
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
    ]
    return {
        table: conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in tables
    }


@pytest.fixture(scope="module")
def baseline(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return table_counts(conn)


_QUERIES: dict[Kind, str] = {
    "registered_model": "SELECT rm.name FROM registered_models rm WHERE {where} ORDER BY {order}",
    "model_version": (
        "SELECT rm.name, mv.version FROM model_versions mv "
        "JOIN registered_models rm ON rm.id = mv.model_id WHERE {where} ORDER BY {order}"
    ),
    "run": "SELECT r.run_id FROM runs r WHERE {where} ORDER BY {order}",
}


def search(
    conn: duckdb.DuckDBPyConnection,
    kind: Kind,
    filter_string: str | None,
    order_by: list[str] | None = None,
) -> list:
    """Parse, compile and run a search the way the store will; rows in order."""
    where, where_params = compile_filter(parse_filter(filter_string, kind), kind)
    order, order_params = compile_order_by(parse_order_by(order_by, kind), kind)
    assert "'" not in where + order and ";" not in where + order
    rows = conn.execute(
        _QUERIES[kind].format(where=where, order=order), where_params + order_params
    ).fetchall()
    return [row[0] if len(row) == 1 else row for row in rows]


def models(conn: duckdb.DuckDBPyConnection, filter_string: str | None, **kw) -> list[str]:
    return search(conn, "registered_model", filter_string, **kw)


def versions(conn: duckdb.DuckDBPyConnection, filter_string: str | None, **kw) -> list:
    return search(conn, "model_version", filter_string, **kw)


def runs(conn: duckdb.DuckDBPyConnection, filter_string: str | None, **kw) -> list[str]:
    return search(conn, "run", filter_string, **kw)


def sql_quote(value: str, mark: str = "'") -> str:
    """Quote a value for a filter string the way a careful caller would (backslashes too)."""
    return mark + value.replace("\\", "\\\\").replace(mark, mark * 2) + mark


def test_empty_filter_compiles_to_true() -> None:
    assert compile_filter((), "registered_model") == ("TRUE", [])


def test_parameters_follow_placeholder_order() -> None:
    conditions = parse_filter(
        "tags.team = 'risk' AND name LIKE 'f%' AND run_id IN ('x', 'y')", "model_version"
    )
    sql, params = compile_filter(conditions, "model_version")
    assert sql.count("?") == len(params) == 5
    assert params == ["team", "risk", "f%", "x", "y"]


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        (None, ["Fraud-Scorer", DROP_NAME, "churn_model", "fraud-detector"]),
        ("name = 'fraud-detector'", ["fraud-detector"]),
        ("name != 'fraud-detector'", ["Fraud-Scorer", DROP_NAME, "churn_model"]),
        ("name LIKE 'fraud%'", ["fraud-detector"]),
        ("name ILIKE 'fraud%'", ["Fraud-Scorer", "fraud-detector"]),
        ("name LIKE 'churn_model'", ["churn_model"]),
        ("name LIKE 'churn%m_del'", ["churn_model"]),
        ("name LIKE 'FRAUD%'", []),
        ("tags.team = 'risk'", ["fraud-detector"]),
        ("tags.team != 'risk'", ["Fraud-Scorer"]),
        ("tags.team ILIKE 'RISK'", ["fraud-detector"]),
        ("tags.team LIKE 'RISK'", []),
        ("tags.`team.name` ILIKE '%ops'", ["fraud-detector"]),
        ("tags.owner LIKE 'b%'", ["churn_model"]),
        ("tags.missing = 'x'", []),
        ("name ILIKE 'fraud%' AND tags.team = 'growth'", ["Fraud-Scorer"]),
        ("name ILIKE 'fraud%' AND tags.team != 'growth'", ["fraud-detector"]),
    ],
)
def test_registered_model_filters(
    conn: duckdb.DuckDBPyConnection, filter_string: str | None, expected: list[str]
) -> None:
    assert models(conn, filter_string) == expected


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        (
            "name = 'fraud-detector'",
            [("fraud-detector", 2), ("fraud-detector", 3), ("fraud-detector", 1)],
        ),
        (
            "run_id IN ('run-a', 'run-c')",
            [("churn_model", 1), ("Fraud-Scorer", 1), ("fraud-detector", 1)],
        ),
        ("run_id NOT IN ('run-a')", [("fraud-detector", 2), ("Fraud-Scorer", 1)]),
        ("run_id = 'run-b'", [("fraud-detector", 2)]),
        ("version_number >= 2", [("fraud-detector", 2), ("fraud-detector", 3)]),
        (
            "version_number < 2 AND name ILIKE 'FRAUD%'",
            [("Fraud-Scorer", 1), ("fraud-detector", 1)],
        ),
        ("version_number != 1", [("fraud-detector", 2), ("fraud-detector", 3)]),
        ("current_stage = 'production'", [("fraud-detector", 2), ("churn_model", 1)]),
        (
            "current_stage IN ('staging', 'ARCHIVED')",
            [("fraud-detector", 3), ("fraud-detector", 1)],
        ),
        ("current_stage NOT IN ('Production', 'Archived', 'Staging')", [("Fraud-Scorer", 1)]),
        ("current_stage = 'none'", [("Fraud-Scorer", 1)]),
        ("source_path LIKE 'file://%'", [("churn_model", 1)]),
        ("source_path = 's3://bucket/fraud/3'", [("fraud-detector", 3)]),
        ("tags.validated = 'true'", [("fraud-detector", 2)]),
        ("tags.validated ILIKE 'true'", [("fraud-detector", 2), ("Fraud-Scorer", 1)]),
        ("tags.validated != 'true'", [("Fraud-Scorer", 1), ("fraud-detector", 3)]),
        (
            "source_path LIKE 's3://%' AND tags.validated ILIKE 'TRUE'",
            [("fraud-detector", 2), ("Fraud-Scorer", 1)],
        ),
    ],
)
def test_model_version_filters(
    conn: duckdb.DuckDBPyConnection, filter_string: str, expected: list
) -> None:
    assert versions(conn, filter_string) == expected


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("run_id = 'run-a'", ["run-a"]),
        ("attributes.run_id IN ('run-a', 'run-d')", ["run-d", "run-a"]),
        ("run_id NOT IN ('run-a', 'run-d')", ["run-c", "run-b"]),
        ("run_name = 'tuned'", ["run-b"]),
        ("run_name ILIKE 'tuned%'", ["run-c", "run-b"]),
        ("run_name LIKE 'tuned%'", ["run-b"]),
        ("status != 'FINISHED'", ["run-c", "run-d"]),
        ("start_time >= 2000 AND end_time < 4500", ["run-b", "run-d"]),
        ("end_time > 0", ["run-b", "run-d", "run-a"]),
        ("params.lr = '0.01'", ["run-c", "run-b"]),
        ("params.model != 'rf'", ["run-b"]),
        ("params.lr LIKE '0.1'", ["run-a"]),
        ("metrics.acc > 0.75", ["run-c", "run-b"]),
        ("metrics.acc < 0.75", ["run-a"]),
        ("metrics.acc = 0.7", ["run-a"]),
        ("metrics.acc >= 0.9", ["run-b"]),
        ("metrics.acc != 0.8", ["run-b", "run-a"]),
        ("metrics.loss <= 1", ["run-a"]),
        ("metrics.missing > 0", []),
        ("tags.env ILIKE 'prod'", ["run-c", "run-a"]),
        ("tags.env = 'prod' AND metrics.acc < 1 AND params.lr = '0.1'", ["run-a"]),
    ],
)
def test_run_filters(conn: duckdb.DuckDBPyConnection, filter_string: str, expected: list) -> None:
    assert runs(conn, filter_string) == expected


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (None, ["Fraud-Scorer", DROP_NAME, "churn_model", "fraud-detector"]),
        (["name DESC"], ["fraud-detector", "churn_model", DROP_NAME, "Fraud-Scorer"]),
        (
            ["last_updated_timestamp DESC"],
            [DROP_NAME, "fraud-detector", "Fraud-Scorer", "churn_model"],
        ),
        (["timestamp"], ["churn_model", "Fraud-Scorer", "fraud-detector", DROP_NAME]),
        (
            ["creation_timestamp ASC"],
            ["fraud-detector", "Fraud-Scorer", "churn_model", DROP_NAME],
        ),
    ],
)
def test_registered_model_order(
    conn: duckdb.DuckDBPyConnection, order_by: list[str] | None, expected: list[str]
) -> None:
    assert models(conn, None, order_by=order_by) == expected


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (
            None,
            [
                ("fraud-detector", 2),
                ("churn_model", 1),
                ("Fraud-Scorer", 1),
                ("fraud-detector", 3),
                ("fraud-detector", 1),
            ],
        ),
        (
            ["name"],
            [
                ("Fraud-Scorer", 1),
                ("churn_model", 1),
                ("fraud-detector", 3),
                ("fraud-detector", 2),
                ("fraud-detector", 1),
            ],
        ),
        (
            ["version_number DESC", "creation_timestamp DESC"],
            [
                ("fraud-detector", 3),
                ("fraud-detector", 2),
                ("churn_model", 1),
                ("Fraud-Scorer", 1),
                ("fraud-detector", 1),
            ],
        ),
    ],
)
def test_model_version_order(
    conn: duckdb.DuckDBPyConnection, order_by: list[str] | None, expected: list
) -> None:
    assert versions(conn, None, order_by=order_by) == expected


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (None, ["run-c", "run-b", "run-d", "run-a"]),
        (["start_time ASC"], ["run-a", "run-d", "run-b", "run-c"]),
        (["metrics.acc DESC"], ["run-b", "run-c", "run-a", "run-d"]),
        (["metrics.acc ASC"], ["run-a", "run-c", "run-b", "run-d"]),
        (["params.lr"], ["run-c", "run-b", "run-a", "run-d"]),
        (["params.lr DESC"], ["run-a", "run-c", "run-b", "run-d"]),
        (["end_time"], ["run-a", "run-d", "run-b", "run-c"]),
        (["end_time DESC"], ["run-b", "run-d", "run-a", "run-c"]),
        (["run_name"], ["run-c", "run-a", "run-b", "run-d"]),
        (["metrics.missing", "start_time ASC"], ["run-a", "run-d", "run-b", "run-c"]),
    ],
)
def test_run_order(
    conn: duckdb.DuckDBPyConnection, order_by: list[str] | None, expected: list[str]
) -> None:
    assert runs(conn, None, order_by=order_by) == expected


def test_run_order_and_filter_parameters_combine(conn: duckdb.DuckDBPyConnection) -> None:
    assert runs(conn, "params.lr = '0.01' AND metrics.acc > 0", order_by=["metrics.acc"]) == [
        "run-c",
        "run-b",
    ]


@pytest.mark.parametrize("mark", ["'", '"'])
def test_model_named_like_an_injection_is_found_by_exact_match(
    conn: duckdb.DuckDBPyConnection, baseline: dict[str, int], mark: str
) -> None:
    assert models(conn, f"name = {sql_quote(DROP_NAME, mark)}") == [DROP_NAME]
    assert versions(conn, f"name = {sql_quote(DROP_NAME, mark)}") == []
    assert table_counts(conn) == baseline


@pytest.mark.parametrize(
    "value",
    [
        "x' OR '1'='1",
        DROP_NAME,
        "' UNION SELECT name FROM registered_models --",
        "/* comment */",
        "%' OR 1=1 --",
        'a"; DROP TABLE runs; --',
        "\\'; DROP TABLE runs; --",
    ],
)
def test_injected_values_are_literals(
    conn: duckdb.DuckDBPyConnection, baseline: dict[str, int], value: str
) -> None:
    quoted = sql_quote(value)
    expected = [DROP_NAME] if value == DROP_NAME else []
    assert models(conn, f"name = {quoted}") == expected
    assert models(conn, f"tags.team = {quoted}") == []
    assert versions(conn, f"run_id IN ({quoted}, 'zzz')") == []
    assert runs(conn, f"params.lr = {quoted} AND tags.env != {quoted}") == []
    assert table_counts(conn) == baseline


@pytest.mark.parametrize(
    ("kind", "filter_string"),
    [
        ("registered_model", "name = 'x' OR '1'='1'"),
        ("registered_model", "name = 'a'; DROP TABLE registered_models; --'"),
        ("registered_model", "name = '' UNION SELECT name FROM registered_models --"),
        ("registered_model", "name = 'a' /* comment */"),
        ("registered_model", "name = 'a' -- comment"),
        ("registered_model", "name LIKE '%' OR 1=1"),
        ("registered_model", "name = '\\''; DROP TABLE registered_models; --'"),
        ("registered_model", "name = 'a') OR (1=1"),
        ("registered_model", "tags.team = 'risk' OR TRUE"),
        ("model_version", "version_number = 1; DROP TABLE model_versions"),
        ("model_version", "version_number = 1 OR 1=1"),
        ("model_version", "run_id IN ('a') OR 1=1"),
        ("model_version", "run_id IN ('a'); DROP TABLE runs; --"),
        ("run", "metrics.acc > 0 UNION SELECT 1"),
        ("run", "metrics.acc > (SELECT 1)"),
        ("run", "params.lr = '0.1' AND 1=1"),
        ("run", "start_time > 0 --"),
    ],
)
def test_injected_filters_are_refused(
    conn: duckdb.DuckDBPyConnection, baseline: dict[str, int], kind: Kind, filter_string: str
) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        search(conn, kind, filter_string)
    assert caught.value.error_code == INVALID_PARAMETER_VALUE
    assert table_counts(conn) == baseline


@pytest.mark.parametrize(
    ("kind", "filter_string"),
    [
        ("registered_model", "tags.`k'; DROP TABLE x; --` = 'v'"),
        ("registered_model", "tags.`team' OR '1'='1` != 'v'"),
        ("model_version", "tags.\"k; DROP TABLE model_versions; --\" = 'v'"),
        ("model_version", "tags.`k`` = 'v' --` = 'v'"),
        ("run", "params.`lr'); DROP TABLE runs; --` = '0.1'"),
        ("run", "metrics.`acc' OR 1=1 --` > 0"),
        ("run", "tags.`env) OR (1=1` = 'prod'"),
    ],
)
def test_injected_keys_are_literals(
    conn: duckdb.DuckDBPyConnection, baseline: dict[str, int], kind: Kind, filter_string: str
) -> None:
    assert search(conn, kind, filter_string) == []
    assert table_counts(conn) == baseline


@pytest.mark.parametrize(
    ("kind", "order_by"),
    [
        ("registered_model", ["name; DROP TABLE registered_models"]),
        ("registered_model", ["name DESC, (SELECT 1)"]),
        ("model_version", ["version_number DESC; --"]),
        ("run", ["start_time DESC NULLS FIRST"]),
        ("run", ["metrics.acc DESC); DROP TABLE runs; --"]),
    ],
)
def test_injected_order_by_is_refused(
    conn: duckdb.DuckDBPyConnection, baseline: dict[str, int], kind: Kind, order_by: list[str]
) -> None:
    with pytest.raises(InvalidParameterValue):
        search(conn, kind, None, order_by=order_by)
    assert table_counts(conn) == baseline


def test_injected_order_by_keys_are_literals(
    conn: duckdb.DuckDBPyConnection, baseline: dict[str, int]
) -> None:
    order_by = ["metrics.`acc'); DROP TABLE runs; --` DESC", "params.`x' OR 1=1`"]
    assert runs(conn, None, order_by=order_by) == ["run-c", "run-b", "run-d", "run-a"]
    assert table_counts(conn) == baseline


@pytest.mark.parametrize(
    ("condition", "kind"),
    [
        (
            Comparison("attribute", "name; DROP TABLE registered_models", "=", "x"),
            "registered_model",
        ),
        (Comparison("attribute", "name", "= 'x' OR 1=1 --", "x"), "registered_model"),
        (Comparison("attribute", "run_id", "IN", ()), "model_version"),
        (Comparison("tag", "team", "IN", ("a",)), "registered_model"),
        (Comparison("param", "lr", "=", "x"), "model_version"),
        (Comparison("metric", "acc", "LIKE", "x"), "run"),
        (Comparison("attribute", "name", "=", "x"), "dataset"),
    ],
)
def test_hand_made_conditions_only_compile_from_the_whitelist(condition: Comparison, kind) -> None:
    with pytest.raises(InvalidParameterValue):
        compile_filter((condition,), kind)


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("name; DROP TABLE registered_models", "registered_model"),
        ("metrics.acc", "model_version"),
        ("tags.team", "run"),
        ("metrics.", "run"),
        ("status", "run"),
    ],
)
def test_hand_made_order_keys_only_compile_from_the_whitelist(key: str, kind: Kind) -> None:
    with pytest.raises(InvalidParameterValue):
        compile_order_by((OrderKey(key, True),), kind)


def test_database_is_intact_after_everything(
    conn: duckdb.DuckDBPyConnection, baseline: dict[str, int]
) -> None:
    assert table_counts(conn) == baseline
    assert baseline["registered_models"] == len(MODELS)
    assert baseline["runs"] == len(RUNS)
