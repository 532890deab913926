"""Every query of `registry export` and `registry import`: read each registry table row for row,
load rows back, find conflicts, delete what an overwrite replaces and move the id sequences.

Table, column and sequence names come only from the constants below; every value is bound.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb

from registry_core.errors import InvalidParameterValue
from registry_core.store.connection import ConnectionManager
from registry_core.store.outbox import delete_webhook_rows

if TYPE_CHECKING:
    from registry_core.client import RegistryClient

MODEL_ID_SEQUENCE = "registered_model_id_seq"
HISTORY_ID_SEQUENCE = "history_id_seq"
SEQUENCES: tuple[str, ...] = (MODEL_ID_SEQUENCE, HISTORY_ID_SEQUENCE)
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "BIGINT": (int,),
    "INTEGER": (int,),
    "DOUBLE": (int, float),
    "VARCHAR": (str,),
}


@dataclass(frozen=True)
class TableSpec:
    """One registry table as it is dumped: its columns with their types, in a stable order."""

    name: str
    columns: tuple[tuple[str, str], ...]
    order_by: str

    @property
    def column_names(self) -> tuple[str, ...]:
        """The column names, in dump order."""
        return tuple(name for name, _ in self.columns)

    def check_value(self, column: int, value: Any) -> bool:
        """True when a JSON value fits a column's type (None is left to NOT NULL constraints)."""
        if value is None:
            return True
        return not isinstance(value, bool) and isinstance(
            value, _PYTHON_TYPES[self.columns[column][1]]
        )


def _spec(name: str, columns: str, order_by: str) -> TableSpec:
    pairs = tuple(tuple(part.split()) for part in columns.split(","))
    return TableSpec(name, tuple((column, kind) for column, kind in pairs), order_by)


# Parents before children, so a dump reads (and loads) in an order that makes sense to a reader.
TABLES: tuple[TableSpec, ...] = (
    _spec(
        "registered_models",
        "id BIGINT, name VARCHAR, description VARCHAR, creation_timestamp BIGINT, "
        "last_updated_timestamp BIGINT, next_version INTEGER",
        "id",
    ),
    _spec("registered_model_tags", "model_id BIGINT, key VARCHAR, value VARCHAR", "model_id, key"),
    _spec(
        "model_versions",
        "vkey BIGINT, model_id BIGINT, version INTEGER, source VARCHAR, run_id VARCHAR, "
        "run_link VARCHAR, current_stage VARCHAR, status VARCHAR, description VARCHAR, "
        "creation_timestamp BIGINT, last_updated_timestamp BIGINT, artifact_sha256 VARCHAR, "
        "artifact_size BIGINT, artifact_format VARCHAR, signature VARCHAR",
        "vkey",
    ),
    _spec("model_version_tags", "vkey BIGINT, key VARCHAR, value VARCHAR", "vkey, key"),
    _spec(
        "registered_model_aliases",
        "model_id BIGINT, alias VARCHAR, version INTEGER",
        "model_id, alias",
    ),
    _spec(
        "history",
        "id BIGINT, model_id BIGINT, model_name VARCHAR, version INTEGER, event VARCHAR, "
        "from_version INTEGER, from_stage VARCHAR, to_stage VARCHAR, alias VARCHAR, "
        "actor VARCHAR, reason VARCHAR, timestamp BIGINT",
        "id",
    ),
    _spec(
        "runs",
        "run_id VARCHAR, run_name VARCHAR, status VARCHAR, start_time BIGINT, end_time BIGINT, "
        "code_version VARCHAR, data_fingerprint VARCHAR, source_info VARCHAR, "
        "experiment_id BIGINT, user_id VARCHAR",
        "run_id",
    ),
    _spec("run_params", "run_id VARCHAR, key VARCHAR, value VARCHAR", "run_id, key"),
    _spec("run_tags", "run_id VARCHAR, key VARCHAR, value VARCHAR", "run_id, key"),
    # Metric history has no key: logging order (rowid) is kept, and with it the order of ties.
    _spec(
        "run_metrics",
        "run_id VARCHAR, key VARCHAR, value DOUBLE, step BIGINT, timestamp BIGINT",
        "rowid",
    ),
    _spec(
        "run_artifacts",
        "run_id VARCHAR, path VARCHAR, sha256 VARCHAR, size BIGINT, format VARCHAR, "
        "signature VARCHAR",
        "run_id, path",
    ),
    # MLflow's logged models and the artifact proxy's paths (schema 7).
    _spec(
        "logged_models",
        "model_id VARCHAR, experiment_id BIGINT, name VARCHAR, source_run_id VARCHAR, "
        "model_type VARCHAR, status VARCHAR, creation_timestamp BIGINT, "
        "last_updated_timestamp BIGINT",
        "model_id",
    ),
    _spec("logged_model_tags", "model_id VARCHAR, key VARCHAR, value VARCHAR", "model_id, key"),
    _spec("logged_model_params", "model_id VARCHAR, key VARCHAR, value VARCHAR", "model_id, key"),
    _spec(
        "logged_model_outputs", "run_id VARCHAR, model_id VARCHAR, step BIGINT", "run_id, model_id"
    ),
    _spec(
        "mlflow_artifacts",
        "path VARCHAR, sha256 VARCHAR, size BIGINT, creation_timestamp BIGINT",
        "path",
    ),
)
TABLES_BY_NAME: dict[str, TableSpec] = {table.name: table for table in TABLES}
# A run's rows, the logged models it output included (the models themselves are their own).
_RUN_TABLES = (
    "run_params",
    "run_tags",
    "run_metrics",
    "run_artifacts",
    "logged_model_outputs",
    "runs",
)
_LOGGED_MODEL_TABLES = (
    "logged_model_tags",
    "logged_model_params",
    "logged_model_outputs",
    "logged_models",
)


def connection_manager(client: RegistryClient) -> ConnectionManager:
    """The connection manager behind a client, for work that spans one transaction."""
    return client._store.manager


def count_rows(conn: duckdb.DuckDBPyConnection, table: TableSpec) -> int:
    """How many rows a table holds."""
    return conn.execute(f"SELECT count(*) FROM {table.name}").fetchone()[0]


def is_empty(conn: duckdb.DuckDBPyConnection) -> bool:
    """True when no registry table holds a row (webhook tables are not looked at)."""
    total = " + ".join(f"(SELECT count(*) FROM {table.name})" for table in TABLES)
    return conn.execute(f"SELECT {total}").fetchone()[0] == 0


def read_rows(
    conn: duckdb.DuckDBPyConnection, table: TableSpec, batch_size: int
) -> Iterator[list[tuple[Any, ...]]]:
    """A table's rows in dump order, in batches; run no other query while iterating."""
    columns = ", ".join(table.column_names)
    conn.execute(f"SELECT {columns} FROM {table.name} ORDER BY {table.order_by}")
    while rows := conn.fetchmany(batch_size):
        yield rows


def insert_rows(
    conn: duckdb.DuckDBPyConnection,
    table: TableSpec,
    rows: Sequence[Sequence[Any]],
    columns: Sequence[str] | None = None,
) -> None:
    """Insert rows as given (column order of the spec), keeping their order; only `columns`
    when given (the others take their defaults, for a dump of an older schema)."""
    if not rows:
        return
    wanted = table.column_names if columns is None else tuple(columns)
    if not wanted or not set(wanted) <= set(table.column_names):
        raise InvalidParameterValue(f"Cannot load columns {list(wanted)} into {table.name}.")
    indexes = [table.column_names.index(column) for column in wanted]
    values = ", ".join(f"unnest(?::{table.columns[index][1]}[])" for index in indexes)
    by_column = list(zip(*rows, strict=True))
    try:
        conn.execute(
            f"INSERT INTO {table.name} ({', '.join(wanted)}) SELECT {values}",
            [list(by_column[index]) for index in indexes],
        )
    except duckdb.Error as error:
        raise InvalidParameterValue(f"Cannot load the rows of {table.name}: {error}") from None


def sequence_values(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """The last value each id sequence handed out (0 when it has handed out none)."""
    rows = conn.execute(
        "SELECT sequence_name, coalesce(last_value, start_value - 1) FROM duckdb_sequences() "
        "WHERE schema_name = 'main' AND sequence_name IN (SELECT unnest(?::VARCHAR[]))",
        [list(SEQUENCES)],
    ).fetchall()
    return {name: int(value) for name, value in rows}


def _sequence(name: str) -> str:
    if name not in SEQUENCES:
        raise InvalidParameterValue(f"Unknown sequence {name!r}.")
    return name


MAX_SEQUENCE_VALUE = 2**31 - 1


def advance_sequence(conn: duckdb.DuckDBPyConnection, name: str, last_value: int) -> None:
    """Move a sequence forward so its next value is above `last_value` (never backwards).

    Ids stay below 2**31 (a model id is the high half of a version key), which also bounds the
    time a forged manifest can hold the file while the sequence is stepped forward."""
    if not 0 <= last_value <= MAX_SEQUENCE_VALUE:
        raise InvalidParameterValue(
            f"Sequence {name!r} cannot move to {last_value}: "
            f"ids must lie in 0..{MAX_SEQUENCE_VALUE}."
        )
    missing = last_value - sequence_values(conn)[_sequence(name)]
    if missing > 0:
        conn.execute(f"SELECT max(nextval('{name}')) FROM range(?)", [missing]).fetchall()


def highest_ids(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Per sequence, the highest id in use (model ids live on in the history of deleted models)."""
    models, history = conn.execute(
        "SELECT greatest((SELECT coalesce(max(id), 0) FROM registered_models), "
        "(SELECT coalesce(max(model_id), 0) FROM history)), "
        "(SELECT coalesce(max(id), 0) FROM history)"
    ).fetchone()
    return {MODEL_ID_SEQUENCE: models, HISTORY_ID_SEQUENCE: history}


def take_ids(conn: duckdb.DuckDBPyConnection, name: str, count: int) -> list[int]:
    """`count` fresh ids from a sequence, ascending."""
    if count <= 0:
        return []
    rows = conn.execute(
        f"SELECT nextval('{_sequence(name)}') AS id FROM range(?) ORDER BY id", [count]
    ).fetchall()
    return [row[0] for row in rows]


def existing_model_names(conn: duckdb.DuckDBPyConnection, names: Sequence[str]) -> list[str]:
    """The names among `names` that already belong to a registered model."""
    rows = conn.execute(
        "SELECT name FROM registered_models WHERE name IN (SELECT unnest(?::VARCHAR[])) "
        "ORDER BY name",
        [list(names)],
    ).fetchall()
    return [row[0] for row in rows]


def existing_run_ids(conn: duckdb.DuckDBPyConnection, run_ids: Sequence[str]) -> list[str]:
    """The ids among `run_ids` that already belong to a run."""
    rows = conn.execute(
        "SELECT run_id FROM runs WHERE run_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY run_id",
        [list(run_ids)],
    ).fetchall()
    return [row[0] for row in rows]


def deleted_model_history(conn: duckdb.DuckDBPyConnection) -> set[tuple[tuple[Any, ...], ...]]:
    """The history of each deleted model (no live model has its id), without the ids."""
    rows = conn.execute(
        "SELECT model_id, model_name, version, event, from_version, from_stage, to_stage, alias, "
        "actor, reason, timestamp FROM history "
        "WHERE model_id NOT IN (SELECT id FROM registered_models) ORDER BY model_id, id"
    ).fetchall()
    groups: dict[int, list[tuple[Any, ...]]] = {}
    for model_id, *content in rows:
        groups.setdefault(model_id, []).append(tuple(content))
    return {tuple(group) for group in groups.values()}


def delete_models(conn: duckdb.DuckDBPyConnection, names: Sequence[str]) -> None:
    """Delete models with their versions, tags and aliases; their history stays, as on delete."""
    ids = "SELECT id FROM registered_models WHERE name IN (SELECT unnest(?::VARCHAR[]))"
    conn.execute(
        "DELETE FROM model_version_tags WHERE vkey IN "
        f"(SELECT vkey FROM model_versions WHERE model_id IN ({ids}))",
        [list(names)],
    )
    for table in ("model_versions", "registered_model_tags", "registered_model_aliases"):
        conn.execute(f"DELETE FROM {table} WHERE model_id IN ({ids})", [list(names)])
    conn.execute(
        "DELETE FROM registered_models WHERE name IN (SELECT unnest(?::VARCHAR[]))", [list(names)]
    )


def delete_runs(conn: duckdb.DuckDBPyConnection, run_ids: Sequence[str]) -> None:
    """Delete runs with their params, tags, metric history, artifact records and the records of
    the logged models they output."""
    for table in _RUN_TABLES:
        conn.execute(
            f"DELETE FROM {table} WHERE run_id IN (SELECT unnest(?::VARCHAR[]))", [list(run_ids)]
        )


def existing_logged_model_ids(
    conn: duckdb.DuckDBPyConnection, model_ids: Sequence[str]
) -> list[str]:
    """The ids among `model_ids` that already belong to a logged model."""
    rows = conn.execute(
        "SELECT model_id FROM logged_models WHERE model_id IN (SELECT unnest(?::VARCHAR[])) "
        "ORDER BY model_id",
        [list(model_ids)],
    ).fetchall()
    return [row[0] for row in rows]


def delete_logged_models(conn: duckdb.DuckDBPyConnection, model_ids: Sequence[str]) -> None:
    """Delete logged models with their tags, params and the records of runs that output them."""
    for table in _LOGGED_MODEL_TABLES:
        conn.execute(
            f"DELETE FROM {table} WHERE model_id IN (SELECT unnest(?::VARCHAR[]))",
            [list(model_ids)],
        )


def mlflow_artifact_digests(
    conn: duckdb.DuckDBPyConnection, paths: Sequence[str]
) -> dict[str, str]:
    """The digest each of `paths` already points at in the artifact proxy, by path."""
    rows = conn.execute(
        "SELECT path, sha256 FROM mlflow_artifacts WHERE path IN (SELECT unnest(?::VARCHAR[]))",
        [list(paths)],
    ).fetchall()
    return dict(rows)


def delete_mlflow_artifacts(conn: duckdb.DuckDBPyConnection, paths: Sequence[str]) -> None:
    """Forget proxy paths (the stored bytes stay until `gc` finds nothing else uses them)."""
    conn.execute(
        "DELETE FROM mlflow_artifacts WHERE path IN (SELECT unnest(?::VARCHAR[]))", [list(paths)]
    )


# Webhook subscriptions travel as their fields, not as rows: ids and the outbox cursor are the
# registry's own, and a secret only when asked for.
WEBHOOK_FIELDS: tuple[str, ...] = (
    "name",
    "url",
    "events",
    "secret",
    "description",
    "status",
    "format",
    "creation_timestamp",
    "last_updated_timestamp",
)


def read_webhooks(conn: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every subscription by name, `events` as the stored JSON text."""
    rows = conn.execute(f"SELECT {', '.join(WEBHOOK_FIELDS)} FROM webhooks ORDER BY name")
    return [dict(zip(WEBHOOK_FIELDS, row, strict=True)) for row in rows.fetchall()]


def existing_webhook_names(conn: duckdb.DuckDBPyConnection, names: Sequence[str]) -> list[str]:
    """The names among `names` that already belong to a subscription."""
    rows = conn.execute(
        "SELECT name FROM webhooks WHERE name IN (SELECT unnest(?::VARCHAR[])) ORDER BY name",
        [list(names)],
    ).fetchall()
    return [row[0] for row in rows]


def delete_webhooks(conn: duckdb.DuckDBPyConnection, names: Sequence[str]) -> None:
    """Delete subscriptions with their deliveries and delivery history."""
    for (webhook_id,) in conn.execute(
        "SELECT id FROM webhooks WHERE name IN (SELECT unnest(?::VARCHAR[]))", [list(names)]
    ).fetchall():
        delete_webhook_rows(conn, webhook_id)


def insert_webhook(conn: duckdb.DuckDBPyConnection, webhook: dict[str, Any]) -> None:
    """Add a subscription that receives the events recorded from now on."""
    conn.execute(
        f"INSERT INTO webhooks (id, {', '.join(WEBHOOK_FIELDS)}, event_cursor) "
        f"SELECT nextval('webhook_id_seq'), {', '.join('?' for _ in WEBHOOK_FIELDS)}, "
        "(SELECT coalesce(max(id), 0) FROM webhook_events)",
        [webhook[field] for field in WEBHOOK_FIELDS],
    )
