"""Training tables from the user's own data: Parquet or CSV files and globs, a read-only DuckDB
query, or the value of an upstream asset; then the declared target and feature columns. DuckDB
is imported by the step that reads files or a query, not by the code location."""

from __future__ import annotations

import glob
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from registry_pipelines.datasets import load_demo
from registry_pipelines.specs import DataSpec, FieldProblem, file_format


def read_source(spec: DataSpec, seed: int) -> pd.DataFrame:
    """The whole table a demo, file or SQL source holds now (`seed` picks a demo snapshot)."""
    if spec.demo is not None:
        return load_demo(spec, seed)
    if spec.path is not None:
        return _read_files(spec.path)
    if spec.sql is not None:
        return _read_query(spec.sql.database, spec.sql.query)
    raise AssertionError("asset sources arrive as the upstream asset's value")


def from_upstream(value: object, key: str) -> pd.DataFrame:
    """An upstream asset's value as one DataFrame; the partitions of a partitioned asset (which
    Dagster's IO managers load as a partition -> value mapping) are concatenated in key order."""
    if isinstance(value, Mapping):
        parts = [value[partition] for partition in sorted(value)]
        if not parts or not all(isinstance(part, pd.DataFrame) for part in parts):
            raise FieldProblem(
                ("asset",), f"the partitions of asset {key!r} did not all load as DataFrames"
            )
        return pd.concat(parts, ignore_index=True)
    if not isinstance(value, pd.DataFrame):
        raise FieldProblem(
            ("asset",),
            f"asset {key!r} loaded as a {type(value).__name__}, not a pandas DataFrame",
        )
    return value


def training_table(frame: pd.DataFrame, spec: DataSpec) -> pd.DataFrame:
    """The declared feature columns (all but the target by default) and the target, last."""
    columns = [str(column) for column in frame.columns]
    if spec.target not in columns:
        raise FieldProblem(
            ("target",),
            f"column {spec.target!r} is not in the training data (columns: {_listing(columns)})",
        )
    features = spec.features or [column for column in columns if column != spec.target]
    missing = [column for column in features if column not in columns]
    if missing:
        raise FieldProblem(
            ("features",),
            f"column(s) {', '.join(map(repr, missing))} not in the training data "
            f"(columns: {_listing(columns)})",
        )
    if not features:
        raise FieldProblem(("target",), "the training data has no column besides the target")
    if len(frame) == 0:
        raise FieldProblem((), "the training data has no rows")
    if frame[spec.target].isna().any():
        raise FieldProblem(("target",), f"column {spec.target!r} has missing values")
    return frame[[*features, spec.target]].reset_index(drop=True)


def _read_files(pattern: str) -> pd.DataFrame:
    """Every file the path or glob matches, read by DuckDB as one table."""
    import duckdb

    matches = sorted(glob.glob(pattern, recursive=True))
    if not matches:
        raise FieldProblem(("path",), f"no file matches {pattern!r}")
    connection = duckdb.connect()
    try:
        if file_format(pattern) == "parquet":
            relation = connection.read_parquet(matches)
        else:
            relation = connection.read_csv(matches)
        return relation.df()
    except duckdb.Error as exc:
        raise FieldProblem(("path",), f"cannot read {pattern!r}: {exc}") from exc
    finally:
        connection.close()


def _read_query(database: str, query: str) -> pd.DataFrame:
    """One SELECT statement on a DuckDB file opened read-only."""
    import duckdb

    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise FieldProblem(("sql", "query"), f"not valid SQL: {exc}") from exc
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise FieldProblem(("sql", "query"), "give exactly one SELECT statement")
    if not Path(database).is_file():
        raise FieldProblem(("sql", "database"), f"no DuckDB database file at {database!r}")
    try:
        connection = duckdb.connect(database, read_only=True)
    except duckdb.Error as exc:
        raise FieldProblem(("sql", "database"), f"cannot open {database!r}: {exc}") from exc
    try:
        return connection.execute(query).df()
    except duckdb.Error as exc:
        raise FieldProblem(("sql", "query"), f"the query failed: {exc}") from exc
    finally:
        connection.close()


def _listing(columns: list[str], limit: int = 12) -> str:
    """A short, comma-separated column list."""
    shown = ", ".join(columns[:limit])
    return shown + (f", ... ({len(columns)} in all)" if len(columns) > limit else "")
