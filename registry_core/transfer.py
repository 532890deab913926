"""Export a whole registry to a folder and import it back: a versioned, self-describing dump.

Layout of a dump folder:

    manifest.json               format name and version, schema version, sequences, and per
                                table its columns, row count and the sha256 of its file;
                                per artifact its sha256 and size
    tables/<table>.jsonl        one JSON object per row, keys named as the columns
    webhooks.jsonl              one JSON object per webhook subscription, its secret only when
                                asked for (the file is then readable by its owner only)
    artifacts/<sha[:2]>/<sha>   the artifact files, content-addressed as in a registry

The manifest is written last, so a folder without one is an interrupted export. An import into
an empty registry restores every row as it was (ids, version numbers, timestamps, history
order, next-version counters, sequences); into a non-empty one it renumbers the internal model
and history ids and resolves conflicting model names and run ids as asked. MLflow's logged
models and the artifact proxy's files travel too: a logged model id the registry holds, or a
proxy path it holds with other bytes, conflicts like a run id (a path holding the same bytes is
left as it is), and a skipped run's logged models and proxy files are skipped with it. Every
row's values are checked first, then artifacts are verified and copied, then every row is
loaded in one transaction, checked against the registry's invariants, and committed or rolled
back whole. A dump of an older schema version imports too: a table or column it lacks is left
empty or at its default. Webhook subscriptions import with fresh ids and receive the events
recorded after the import; one that signed its deliveries but comes without its secret is
imported DISABLED. Delivery history is not exported.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from registry_core import validation as check
from registry_core.artifacts import ArtifactStore, is_sha256, validate_source
from registry_core.client import RegistryClient
from registry_core.errors import (
    ArtifactIntegrityError,
    InvalidParameterValue,
    InvalidState,
    ResourceAlreadyExists,
)
from registry_core.mlflow_artifacts import LOGGED_MODEL_ID, folder_owner, safe_path
from registry_core.store import transfer_sql as sql
from registry_core.store.logged_model_sql import logged_model_status
from registry_core.store.migrations import (
    SCHEMA_VERSION,
    VERSION_KEY_FACTOR,
    current_version,
    version_key,
)
from registry_core.store.run_store import valid_run_id
from registry_core.store.transfer_sql import TABLES, WEBHOOK_FIELDS, TableSpec
from registry_core.webhooks import events as webhook_events
from registry_core.webhooks import validation as wcheck
from registry_core.webhooks.entities import WEBHOOK_DISABLED

FORMAT_NAME = "dagster-model-registry-export"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
TABLES_DIR = "tables"
ARTIFACTS_DIR = "artifacts"
WEBHOOKS_FILE = "webhooks.jsonl"
BATCH_ROWS = 5000
ON_CONFLICT: tuple[str, ...] = ("fail", "skip", "overwrite")

Progress = Callable[[str, int, int], None]
"""Called as `progress(task, done, total)` while a long step runs."""

# Columns holding artifact digests, the run tables whose rows belong to one run, and the
# tables of MLflow's logged models.
_DIGEST_COLUMNS = {
    "model_versions": "artifact_sha256",
    "run_artifacts": "sha256",
    "mlflow_artifacts": "sha256",
}
_RUN_TABLES = frozenset({"runs", "run_params", "run_tags", "run_metrics", "run_artifacts"})
_LOGGED_MODEL_TABLES = frozenset(
    {"logged_models", "logged_model_tags", "logged_model_params", "logged_model_outputs"}
)
# Columns an import needs to renumber and resolve conflicts, even from an older schema's dump.
_REQUIRED_COLUMNS = {
    "registered_models": ("id", "name"),
    "registered_model_tags": ("model_id",),
    "model_versions": ("vkey", "model_id"),
    "model_version_tags": ("vkey",),
    "registered_model_aliases": ("model_id",),
    "history": ("id", "model_id"),
    **{name: ("run_id",) for name in _RUN_TABLES},
    "logged_models": ("model_id", "source_run_id"),
    "logged_model_tags": ("model_id",),
    "logged_model_params": ("model_id",),
    "logged_model_outputs": ("run_id", "model_id"),
    "mlflow_artifacts": ("path", "sha256"),
}
_MODEL_COLUMNS = {
    "registered_models": "id",
    "registered_model_tags": "model_id",
    "model_versions": "model_id",
    "registered_model_aliases": "model_id",
    "history": "model_id",
}


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote."""

    directory: str
    schema_version: int
    rows: dict[str, int]
    artifacts: int
    artifact_bytes: int
    webhooks: int = 0
    secrets_left_out: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImportSummary:
    """What an import loaded: `identical` into an empty registry, else `merged`."""

    directory: str
    mode: str
    rows: dict[str, int]
    artifacts: int
    skipped_models: tuple[str, ...] = ()
    skipped_runs: tuple[str, ...] = ()
    overwritten_models: tuple[str, ...] = ()
    overwritten_runs: tuple[str, ...] = ()
    webhooks: int = 0
    disabled_webhooks: tuple[str, ...] = ()
    skipped_webhooks: tuple[str, ...] = ()
    overwritten_webhooks: tuple[str, ...] = ()


def no_progress(task: str, done: int, total: int) -> None:
    """The progress callback that shows nothing, used when the caller gives none."""


def _table_file(directory: Path, table: TableSpec) -> Path:
    return directory / TABLES_DIR / f"{table.name}.jsonl"


# -- export --------------------------------------------------------------------------------


def export_registry(
    client: RegistryClient,
    directory: str | os.PathLike[str],
    progress: Progress | None = None,
    include_secrets: bool = False,
) -> ExportSummary:
    """Dump every registry row, every artifact they reference and the webhook subscriptions
    (their secrets only with `include_secrets`) into a new, empty folder."""
    report = progress or no_progress
    target = Path(directory)
    prepare_export_dir(target)
    digests: set[str] = set()
    tables: dict[str, dict[str, Any]] = {}
    manager = sql.connection_manager(client)
    with manager.transaction() as conn:
        manager.flush_appends()
        version = current_version(conn)
        sequences = sql.sequence_values(conn)
        total = sum(sql.count_rows(conn, table) for table in TABLES)
        done = 0
        report("rows", 0, total)
        for table in TABLES:
            entry = _dump_table(conn, table, _table_file(target, table), digests)
            tables[table.name] = entry
            done += entry["rows"]
            report("rows", done, total)
        hooks = sql.read_webhooks(conn)
    webhooks = _dump_webhooks(hooks, target / WEBHOOKS_FILE, include_secrets)
    artifacts = _export_artifacts(
        client.artifacts, ArtifactStore(target / ARTIFACTS_DIR), digests, report
    )
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "schema_version": version,
        "created_at": time.time_ns() // 1_000_000,
        "source_registry": client.registry_uri,
        "sequences": sequences,
        "tables": tables,
        "webhooks": webhooks,
        "artifacts": artifacts,
    }
    _write_json_atomically(target / MANIFEST_NAME, manifest)
    return ExportSummary(
        directory=str(target),
        schema_version=version,
        rows={name: entry["rows"] for name, entry in tables.items()},
        artifacts=len(artifacts),
        artifact_bytes=sum(item["size"] for item in artifacts),
        webhooks=webhooks["rows"],
        secrets_left_out=tuple(
            hook["name"] for hook in hooks if hook["secret"] is not None and not include_secrets
        ),
    )


def _dump_webhooks(
    hooks: list[dict[str, Any]], path: Path, include_secrets: bool
) -> dict[str, Any]:
    """Write the subscriptions as JSON lines; their manifest entry."""
    digest = hashlib.sha256()
    with path.open("wb") as out:
        if include_secrets:
            os.fchmod(out.fileno(), 0o600)
        for hook in hooks:
            record = {
                **hook,
                "events": json.loads(hook["events"]),
                "secret": hook["secret"] if include_secrets else None,
                "has_secret": hook["secret"] is not None,
            }
            data = (json.dumps(record, ensure_ascii=False) + "\n").encode()
            out.write(data)
            digest.update(data)
        out.flush()
        os.fsync(out.fileno())
    return {
        "file": WEBHOOKS_FILE,
        "rows": len(hooks),
        "sha256": digest.hexdigest(),
        "secrets": "included" if include_secrets else "left out",
    }


def prepare_export_dir(target: Path) -> None:
    """Create the dump folder, refusing one that already holds anything."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InvalidParameterValue(
            f"Cannot export into {str(target)!r}: it exists and is not an empty folder."
        )
    (target / TABLES_DIR).mkdir(parents=True, exist_ok=True)


def _dump_table(
    conn: duckdb.DuckDBPyConnection, table: TableSpec, path: Path, digests: set[str]
) -> dict[str, Any]:
    """Write a table as JSON lines, collecting artifact digests; its manifest entry."""
    digest = hashlib.sha256()
    rows = 0
    columns = table.column_names
    digest_at = (
        columns.index(_DIGEST_COLUMNS[table.name]) if table.name in _DIGEST_COLUMNS else None
    )
    with path.open("wb") as out:
        for batch in sql.read_rows(conn, table, BATCH_ROWS):
            for row in batch:
                line = json.dumps(dict(zip(columns, row, strict=True)), ensure_ascii=False)
                data = (line + "\n").encode()
                out.write(data)
                digest.update(data)
                if digest_at is not None and row[digest_at] is not None:
                    digests.add(row[digest_at])
            rows += len(batch)
        out.flush()
        os.fsync(out.fileno())
    return {
        "file": f"{TABLES_DIR}/{path.name}",
        "columns": list(columns),
        "rows": rows,
        "sha256": digest.hexdigest(),
    }


def _export_artifacts(
    source: ArtifactStore, dump: ArtifactStore, digests: set[str], report: Progress
) -> list[dict[str, Any]]:
    """Copy each referenced artifact into the dump, verified; their manifest entries."""
    entries: list[dict[str, Any]] = []
    ordered = sorted(digests)
    report("artifacts", 0, len(ordered))
    for done, digest in enumerate(ordered, start=1):
        problem = source.verify(digest)
        if problem is not None:
            raise ArtifactIntegrityError(f"Cannot export: {problem}")
        ref = dump.put_file(source.path_for(digest))
        if ref.sha256 != digest:
            raise ArtifactIntegrityError(f"Cannot export: artifact {digest} changed while copied.")
        entries.append({"sha256": ref.sha256, "size": ref.size})
        report("artifacts", done, len(ordered))
    if dump.tmp_dir.is_dir():
        dump.tmp_dir.rmdir()
    return entries


def _write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    """Write a JSON file under a temporary name, then rename it into place."""
    partial = path.with_name(path.name + ".part")
    with partial.open("w", encoding="utf-8") as out:
        json.dump(data, out, indent=2, ensure_ascii=False)
        out.write("\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, path)


# -- import --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Keys:
    """The dump's keys a non-empty registry may hold already: model names by id, run ids,
    logged model ids with their source run, and proxy paths with their digest."""

    models: dict[int, str]
    runs: list[str]
    logged_models: dict[str, str | None]
    files: dict[str, str]


@dataclass(frozen=True)
class _Conflicts:
    """What of the dump the registry holds: model names, run ids, logged model ids, and proxy
    paths that point at other bytes."""

    names: tuple[str, ...] = ()
    runs: tuple[str, ...] = ()
    logged_models: tuple[str, ...] = ()
    files: tuple[str, ...] = ()


@dataclass
class _Plan:
    """How the rows of a dump go into the target: which to drop and how ids are renumbered."""

    identical: bool
    model_ids: dict[int, int] = field(default_factory=dict)
    skipped_models: set[int] = field(default_factory=set)
    skipped_runs: set[str] = field(default_factory=set)
    skipped_logged_models: set[str] = field(default_factory=set)
    skipped_files: set[str] = field(default_factory=set)


def import_registry(
    client: RegistryClient,
    directory: str | os.PathLike[str],
    on_conflict: str = "fail",
    progress: Progress | None = None,
) -> ImportSummary:
    """Load a dump: artifacts first (verified), then every row in one transaction.

    `on_conflict` says what to do with a model name, run id, logged model id or proxy path
    (with other bytes) the registry already holds: `fail` (change nothing), `skip` (keep the
    registry's) or `overwrite` (take the export's).
    """
    if on_conflict not in ON_CONFLICT:
        raise InvalidParameterValue(
            f"Invalid on_conflict {on_conflict!r}: use one of {', '.join(ON_CONFLICT)}."
        )
    report = progress or no_progress
    source = Path(directory)
    manifest = read_manifest(source)
    _verify_table_files(source, manifest, report)
    artifacts = {item["sha256"] for item in manifest["artifacts"]}
    keys = _Keys(
        models=dict(_column_values(source, manifest, "registered_models", ("id", "name"))),
        runs=[rid for (rid,) in _column_values(source, manifest, "runs", ("run_id",))],
        logged_models=dict(
            _column_values(source, manifest, "logged_models", ("model_id", "source_run_id"))
        ),
        files=dict(_column_values(source, manifest, "mlflow_artifacts", ("path", "sha256"))),
    )
    webhooks = _read_webhooks(source, manifest)
    hook_names = [hook["name"] for hook in webhooks]
    manager = sql.connection_manager(client)
    if on_conflict == "fail":
        # Refuse before copying anything; the transaction below checks again.
        with manager.connection() as conn:
            conflicts = _conflicts(conn, keys) if not sql.is_empty(conn) else _Conflicts()
            _refuse_conflicts(conflicts, tuple(sql.existing_webhook_names(conn, hook_names)))
    # Every value is checked before any artifact is copied; the load below checks again.
    _check_rows(source, manifest, artifacts, client.artifacts.root)
    _import_artifacts(ArtifactStore(source / ARTIFACTS_DIR), client.artifacts, manifest, report)
    deleted = _deleted_model_history(source, manifest, set(keys.models))
    with manager.transaction() as conn:
        manager.flush_appends()
        before = client.check_consistency()
        plan = _Plan(identical=sql.is_empty(conn))
        if not plan.identical:
            # A deleted model's history that the registry already holds is not loaded twice.
            held = sql.deleted_model_history(conn)
            plan.skipped_models = {key for key, group in deleted.items() if group in held}
        conflicts = _resolve_conflicts(conn, plan, keys, on_conflict)
        rows = _load_tables(conn, source, manifest, plan, artifacts, client.artifacts.root, report)
        if plan.identical:
            _restore_sequences(conn, manifest)
        hook_conflicts = _load_webhooks(conn, webhooks, on_conflict)
        problems = [problem for problem in client.check_consistency() if problem not in before]
        if problems:
            raise InvalidState(
                "The import was rolled back: it would leave the registry inconsistent ("
                + "; ".join(problems)
                + ")."
            )
    names, runs = conflicts.names, conflicts.runs
    skipping = on_conflict == "skip"
    return ImportSummary(
        directory=str(source),
        mode="identical" if plan.identical else "merged",
        rows=rows,
        artifacts=len(artifacts),
        skipped_models=names if skipping else (),
        skipped_runs=runs if skipping else (),
        overwritten_models=() if skipping else names,
        overwritten_runs=() if skipping else runs,
        webhooks=len(webhooks) - (len(hook_conflicts) if skipping else 0),
        disabled_webhooks=tuple(
            hook["name"]
            for hook in webhooks
            if hook["disabled_for_secret"] and not (skipping and hook["name"] in hook_conflicts)
        ),
        skipped_webhooks=hook_conflicts if skipping else (),
        overwritten_webhooks=() if skipping else hook_conflicts,
    )


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest of a dump folder, checked against this library's format and schema."""
    path = directory / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidParameterValue(
            f"{str(directory)!r} is not a registry export: it has no {MANIFEST_NAME} "
            "(an interrupted export leaves none)."
        ) from None
    except (OSError, ValueError) as error:
        raise InvalidParameterValue(f"Cannot read {path}: {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise InvalidParameterValue(f"{path} is not a {FORMAT_NAME} manifest.")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise InvalidParameterValue(
            f"{path} has format version {manifest.get('format_version')!r}; this library reads "
            f"version {FORMAT_VERSION}."
        )
    schema = manifest.get("schema_version")
    if not isinstance(schema, int) or isinstance(schema, bool) or not 1 <= schema <= SCHEMA_VERSION:
        raise InvalidParameterValue(
            f"The export has schema version {schema!r} and this registry {SCHEMA_VERSION}: "
            "import it with a library version at least as new as the one that exported it."
        )
    _check_manifest_tables(path, manifest.get("tables"), current=schema == SCHEMA_VERSION)
    _check_manifest_artifacts(path, manifest.get("artifacts"))
    _check_manifest_webhooks(path, manifest.get("webhooks"))
    sequences = manifest.get("sequences")
    if not isinstance(sequences, dict) or not all(
        isinstance(sequences.get(name), int) for name in sql.SEQUENCES
    ):
        raise InvalidParameterValue(f"{path}: 'sequences' must give {', '.join(sql.SEQUENCES)}.")
    return manifest


def _check_manifest_tables(path: Path, tables: Any, current: bool) -> None:
    """Tables and columns must be this schema's; a dump of an older schema may lack some."""
    known = set(sql.TABLES_BY_NAME)
    if (
        not isinstance(tables, dict)
        or not set(tables) <= known
        or (current and set(tables) != known)
    ):
        raise InvalidParameterValue(
            f"{path}: 'tables' must describe exactly {', '.join(sql.TABLES_BY_NAME)}."
        )
    for table in TABLES:
        if table.name not in tables:
            continue
        entry = tables[table.name]
        columns = entry.get("columns") if isinstance(entry, dict) else None
        if (
            not isinstance(entry, dict)
            or entry.get("file") != f"{TABLES_DIR}/{table.name}.jsonl"
            or not _known_columns(table, columns, current)
            or not isinstance(entry.get("rows"), int)
            or not isinstance(entry.get("sha256"), str)
            or not is_sha256(entry["sha256"])
        ):
            raise InvalidParameterValue(
                f"{path}: the entry of table {table.name} does not match this registry's "
                f"schema (columns {', '.join(table.column_names)})."
            )


def _known_columns(table: TableSpec, columns: Any, current: bool) -> bool:
    """True when a dump's column list is the table's (or, from an older schema, a subset
    of it holding the columns an import needs)."""
    if current:
        return columns == list(table.column_names)
    return (
        isinstance(columns, list)
        and all(isinstance(column, str) for column in columns)
        and len(set(columns)) == len(columns)
        and set(_REQUIRED_COLUMNS.get(table.name, ())) <= set(columns) <= set(table.column_names)
    )


def _dump_columns(manifest: dict[str, Any], table: TableSpec) -> tuple[str, ...] | None:
    """The columns a dump holds for a table, None when it has no such table (older schema)."""
    entry = manifest["tables"].get(table.name)
    return None if entry is None else tuple(entry["columns"])


def _check_manifest_artifacts(path: Path, artifacts: Any) -> None:
    if not isinstance(artifacts, list) or not all(
        isinstance(item, dict)
        and isinstance(item.get("sha256"), str)
        and is_sha256(item["sha256"])
        and isinstance(item.get("size"), int)
        for item in artifacts
    ):
        raise InvalidParameterValue(f"{path}: 'artifacts' must list sha256 and size per file.")


def _check_manifest_webhooks(path: Path, entry: Any) -> None:
    """A dump from before subscriptions were exported has no entry; any other must be whole."""
    if entry is None:
        return
    if (
        not isinstance(entry, dict)
        or entry.get("file") != WEBHOOKS_FILE
        or not isinstance(entry.get("rows"), int)
        or not isinstance(entry.get("sha256"), str)
        or not is_sha256(entry["sha256"])
    ):
        raise InvalidParameterValue(f"{path}: 'webhooks' must give file, rows and sha256.")


_WEBHOOK_KEYS = frozenset({*WEBHOOK_FIELDS, "has_secret"})


def _read_webhooks(source: Path, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The dump's subscriptions, checked as `create_webhook` checks them, ready to insert; one
    that signed its deliveries but comes without its secret is marked to import DISABLED."""
    entry = manifest.get("webhooks")
    if entry is None:
        return []
    path = source / WEBHOOKS_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ArtifactIntegrityError(f"The export is incomplete: {path} is missing.") from None
    lines = data.splitlines()
    if hashlib.sha256(data).hexdigest() != entry["sha256"] or len(lines) != entry["rows"]:
        raise ArtifactIntegrityError(f"{path} does not match the manifest.")
    hooks = []
    for number, line in enumerate(lines, start=1):
        try:
            hooks.append(_webhook_record(json.loads(line)))
        except (InvalidParameterValue, ValueError, TypeError) as error:
            message = error.message if isinstance(error, InvalidParameterValue) else str(error)
            raise InvalidParameterValue(
                f"The export's webhooks hold a value this registry refuses ({path} line "
                f"{number}): {message}"
            ) from None
    return hooks


def _webhook_record(record: Any) -> dict[str, Any]:
    """One exported subscription as the row to insert, or an error saying what is wrong."""
    if not isinstance(record, dict) or set(record) != _WEBHOOK_KEYS:
        raise InvalidParameterValue(f"expected an object with keys {', '.join(_WEBHOOK_KEYS)}")
    timestamps = (record["creation_timestamp"], record["last_updated_timestamp"])
    if not all(isinstance(value, int) and not isinstance(value, bool) for value in timestamps):
        raise InvalidParameterValue("timestamps must be integers")
    secret = wcheck.webhook_secret(record["secret"])
    disabled = bool(record["has_secret"]) and secret is None
    return {
        "name": wcheck.webhook_name(record["name"]),
        "url": wcheck.webhook_url(record["url"]),
        "events": json.dumps(webhook_events.check_patterns(record["events"])),
        "secret": secret,
        "description": check.description(record["description"]),
        "status": WEBHOOK_DISABLED if disabled else wcheck.webhook_status(record["status"]),
        "format": wcheck.webhook_format(record["format"]),
        "creation_timestamp": timestamps[0],
        "last_updated_timestamp": timestamps[1],
        "disabled_for_secret": disabled,
    }


def _load_webhooks(
    conn: duckdb.DuckDBPyConnection, hooks: list[dict[str, Any]], on_conflict: str
) -> tuple[str, ...]:
    """Insert the subscriptions, resolving names the registry holds as asked; those names."""
    taken = tuple(sql.existing_webhook_names(conn, [hook["name"] for hook in hooks]))
    if on_conflict == "fail":
        _refuse_conflicts(_Conflicts(), taken)
    if on_conflict == "overwrite":
        sql.delete_webhooks(conn, taken)
    for hook in hooks:
        if on_conflict != "skip" or hook["name"] not in taken:
            sql.insert_webhook(conn, hook)
    return taken


def _verify_table_files(source: Path, manifest: dict[str, Any], report: Progress) -> None:
    """Check each table file's sha256 and row count against the manifest."""
    total = sum(entry["rows"] for entry in manifest["tables"].values())
    done = 0
    report("verify", 0, total)
    for table in TABLES:
        entry = manifest["tables"].get(table.name)
        if entry is None:
            continue
        path = _table_file(source, table)
        digest = hashlib.sha256()
        rows = 0
        try:
            with path.open("rb") as handle:
                for line in handle:
                    digest.update(line)
                    rows += 1
        except FileNotFoundError:
            raise ArtifactIntegrityError(f"The export is incomplete: {path} is missing.") from None
        if digest.hexdigest() != entry["sha256"] or rows != entry["rows"]:
            raise ArtifactIntegrityError(
                f"{path} does not match the manifest (expected {entry['rows']} rows with sha256 "
                f"{entry['sha256']}, found {rows} rows with sha256 {digest.hexdigest()})."
            )
        done += rows
        report("verify", done, total)


def _import_artifacts(
    dump: ArtifactStore, target: ArtifactStore, manifest: dict[str, Any], report: Progress
) -> None:
    """Verify each artifact of the dump and copy it into the registry's store."""
    items = manifest["artifacts"]
    report("artifacts", 0, len(items))
    for done, item in enumerate(items, start=1):
        problem = dump.verify(item["sha256"])
        if problem is not None:
            raise ArtifactIntegrityError(f"The export is damaged: {problem}")
        ref = target.put_file(dump.path_for(item["sha256"]))
        if (ref.sha256, ref.size) != (item["sha256"], item["size"]):
            raise ArtifactIntegrityError(
                f"The export is damaged: artifact {item['sha256']} (size {item['size']}) was "
                f"read as {ref.sha256} (size {ref.size})."
            )
        report("artifacts", done, len(items))


def _read_table(
    source: Path, table: TableSpec, present: tuple[str, ...] | None
) -> Iterator[list[tuple[Any, ...]]]:
    """A table file's rows as tuples in the spec's column order (None for a column the dump
    lacks), in batches, each checked for shape; nothing for a table the dump lacks."""
    if present is None:
        return
    path = _table_file(source, table)
    columns = table.column_names
    batch: list[tuple[Any, ...]] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                record = json.loads(line)
            except ValueError as error:
                raise InvalidParameterValue(f"{path} line {number}: {error}") from None
            if not isinstance(record, dict) or set(record) != set(present):
                raise InvalidParameterValue(
                    f"{path} line {number}: expected an object with keys {', '.join(present)}."
                )
            row = tuple(record.get(column) for column in columns)
            for index, value in enumerate(row):
                if not table.check_value(index, value):
                    raise InvalidParameterValue(
                        f"{path} line {number}: {columns[index]} = {value!r} is not a "
                        f"{table.columns[index][1]}."
                    )
            batch.append(row)
            if len(batch) >= BATCH_ROWS:
                yield batch
                batch = []
    if batch:
        yield batch


def _column_values(
    source: Path, manifest: dict[str, Any], table_name: str, wanted: tuple[str, ...]
) -> list[tuple[Any, ...]]:
    """Some columns of every row of a table file."""
    table = sql.TABLES_BY_NAME[table_name]
    indexes = [table.column_names.index(column) for column in wanted]
    return [
        tuple(row[index] for index in indexes)
        for batch in _read_table(source, table, _dump_columns(manifest, table))
        for row in batch
    ]


def _deleted_model_history(
    source: Path, manifest: dict[str, Any], live: set[int]
) -> dict[int, tuple[tuple[Any, ...], ...]]:
    """Per model id of the dump's history that is no live model's, its entries without ids."""
    table = sql.TABLES_BY_NAME["history"]
    groups: dict[int, list[tuple[Any, ...]]] = {}
    for batch in _read_table(source, table, _dump_columns(manifest, table)):
        for row in batch:
            if row[1] not in live:
                groups.setdefault(row[1], []).append(row[2:])
    return {model_id: tuple(group) for model_id, group in groups.items()}


def _conflicts(conn: duckdb.DuckDBPyConnection, keys: _Keys) -> _Conflicts:
    """The dump's model names, run ids, logged model ids and proxy paths (with other bytes)
    that the registry already holds."""
    held = sql.mlflow_artifact_digests(conn, list(keys.files))
    return _Conflicts(
        names=tuple(sql.existing_model_names(conn, list(keys.models.values()))),
        runs=tuple(sql.existing_run_ids(conn, keys.runs)),
        logged_models=tuple(sql.existing_logged_model_ids(conn, list(keys.logged_models))),
        files=tuple(sorted(path for path, digest in held.items() if digest != keys.files[path])),
    )


def _refuse_conflicts(conflicts: _Conflicts, webhooks: tuple[str, ...] = ()) -> None:
    """RESOURCE_ALREADY_EXISTS naming what conflicts, if anything does."""
    held = [
        f"{kind} {_listing(items)}"
        for kind, items in (
            ("model(s)", conflicts.names),
            ("run(s)", conflicts.runs),
            ("logged model(s)", conflicts.logged_models),
            ("proxied file(s)", conflicts.files),
            ("webhook(s)", webhooks),
        )
        if items
    ]
    if held:
        raise ResourceAlreadyExists(
            f"The registry already holds {' and '.join(held)} of the export; "
            "resolve with on-conflict skip or overwrite."
        )


def _resolve_conflicts(
    conn: duckdb.DuckDBPyConnection, plan: _Plan, keys: _Keys, on_conflict: str
) -> _Conflicts:
    """Apply the conflict rule and number the dump's models; what conflicted."""
    if plan.identical:
        return _Conflicts()
    conflicts = _conflicts(conn, keys)
    if on_conflict == "fail":
        _refuse_conflicts(conflicts)
    # A proxy path that holds the same bytes already is no conflict: the registry's row stays.
    held = sql.mlflow_artifact_digests(conn, list(keys.files))
    plan.skipped_files = set(held) - set(conflicts.files)
    if on_conflict == "overwrite":
        sql.delete_models(conn, conflicts.names)
        sql.delete_runs(conn, conflicts.runs)
        sql.delete_logged_models(conn, conflicts.logged_models)
        sql.delete_mlflow_artifacts(conn, conflicts.files)
    else:
        names = set(conflicts.names)
        plan.skipped_models |= {key for key, name in keys.models.items() if name in names}
        plan.skipped_runs = set(conflicts.runs)
        # A skipped run's logged models, and the files of skipped runs and models, go with it.
        plan.skipped_logged_models = set(conflicts.logged_models) | {
            model_id
            for model_id, run_id in keys.logged_models.items()
            if run_id in plan.skipped_runs
        }
        owners = plan.skipped_runs | plan.skipped_logged_models
        plan.skipped_files |= set(conflicts.files) | {
            path for path in keys.files if folder_owner(path) in owners
        }
    kept = sorted(model_id for model_id in keys.models if model_id not in plan.skipped_models)
    plan.model_ids = dict(
        zip(kept, sql.take_ids(conn, sql.MODEL_ID_SEQUENCE, len(kept)), strict=True)
    )
    return conflicts


def _listing(items: tuple[str, ...], limit: int = 5) -> str:
    """Names joined by commas, the list cut short after `limit`."""
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"


def _check_rows(source: Path, manifest: dict[str, Any], artifacts: set[str], root: Path) -> None:
    """Refuse a dump holding any value the registry's API would refuse, or a reference to an
    artifact it does not carry, before anything is written."""
    for table in TABLES:
        for batch in _read_table(source, table, _dump_columns(manifest, table)):
            _check_digests(table, _check_values(table, batch, root), artifacts)


def _load_tables(
    conn: duckdb.DuckDBPyConnection,
    source: Path,
    manifest: dict[str, Any],
    plan: _Plan,
    artifacts: set[str],
    root: Path,
    report: Progress,
) -> dict[str, int]:
    """Insert every table's rows; how many rows each table received."""
    total = sum(entry["rows"] for entry in manifest["tables"].values())
    done = 0
    loaded = dict.fromkeys(sql.TABLES_BY_NAME, 0)
    report("rows", 0, total)
    for table in TABLES:
        present = _dump_columns(manifest, table)
        for batch in _read_table(source, table, present):
            done += len(batch)
            checked = _check_values(table, batch, root)
            rows = checked if plan.identical else _renumber(conn, table, checked, plan)
            _check_digests(table, rows, artifacts)
            sql.insert_rows(conn, table, rows, present)
            loaded[table.name] += len(rows)
            report("rows", done, total)
    return loaded


def _renumber(
    conn: duckdb.DuckDBPyConnection,
    table: TableSpec,
    rows: list[tuple[Any, ...]],
    plan: _Plan,
) -> list[tuple[Any, ...]]:
    """Drop the rows of skipped models, runs, logged models and proxy files, and give models
    and history fresh ids."""
    columns = table.column_names
    if table.name in _RUN_TABLES:
        at = columns.index("run_id")
        return [row for row in rows if row[at] not in plan.skipped_runs]
    if table.name == "mlflow_artifacts":
        at = columns.index("path")
        return [row for row in rows if row[at] not in plan.skipped_files]
    if table.name in _LOGGED_MODEL_TABLES:
        at = columns.index("model_id")
        run_at = columns.index("run_id") if "run_id" in columns else None
        return [
            row
            for row in rows
            if row[at] not in plan.skipped_logged_models
            and (run_at is None or row[run_at] not in plan.skipped_runs)
        ]
    if table.name == "model_version_tags":
        at = columns.index("vkey")
        return [
            (_new_vkey(plan, table, row[at]), *row[1:])
            for row in rows
            if row[at] // VERSION_KEY_FACTOR not in plan.skipped_models
        ]
    at = columns.index(_MODEL_COLUMNS[table.name])
    kept = [list(row) for row in rows if row[at] not in plan.skipped_models]
    if table.name == "history":
        # History of deleted models keeps its own (fresh) model id, apart from live models.
        orphans = sorted({row[at] for row in kept} - set(plan.model_ids))
        fresh = sql.take_ids(conn, sql.MODEL_ID_SEQUENCE, len(orphans))
        plan.model_ids.update(zip(orphans, fresh, strict=True))
        ids = sql.take_ids(conn, sql.HISTORY_ID_SEQUENCE, len(kept))
        for row, new_id in zip(kept, ids, strict=True):
            row[0] = new_id
    for row in kept:
        row[at] = _new_model_id(plan, table, row[at])
    if table.name == "model_versions":
        vkey_at = columns.index("vkey")
        for row in kept:
            row[vkey_at] = _new_vkey(plan, table, row[vkey_at])
    return [tuple(row) for row in kept]


def _new_model_id(plan: _Plan, table: TableSpec, model_id: int) -> int:
    """The target's id for a dump's model; a row of a model the dump lacks is refused."""
    if model_id not in plan.model_ids:
        raise InvalidState(
            f"The import was rolled back: the export's {table.name} refer to model id "
            f"{model_id!r}, which it does not hold."
        )
    return plan.model_ids[model_id]


def _new_vkey(plan: _Plan, table: TableSpec, vkey: int) -> int:
    model_id, number = divmod(vkey, VERSION_KEY_FACTOR)
    return version_key(_new_model_id(plan, table, model_id), number)


def _check_values(
    table: TableSpec, rows: list[tuple[Any, ...]], root: Path
) -> list[tuple[Any, ...]]:
    """Refuse names, aliases, run ids, run artifact paths, version sources, logged models and
    proxy paths the registry's own API would refuse; a local-path source not valid here becomes
    its artifact's URI."""
    checks = _VALUE_CHECKS.get(table.name)
    if not checks:
        return rows
    columns = table.column_names
    out: list[tuple[Any, ...]] = []
    for row in rows:
        record = dict(zip(columns, row, strict=True))
        try:
            for column, check in checks:
                if record[column] is not None:
                    record[column] = check(record, root)
        except InvalidParameterValue as error:
            raise InvalidParameterValue(
                f"The export's {table.name} hold a value this registry refuses: {error.message}"
            ) from None
        out.append(tuple(record[column] for column in columns))
    return out


def _run_artifact_path(record: dict[str, Any], root: Path) -> str:
    uri = f"runs:/{record['run_id']}/{record['path']}"
    if validate_source(uri, root) != uri:
        raise InvalidParameterValue(f"Invalid run artifact path {record['path']!r}.")
    return record["path"]


def _version_source(record: dict[str, Any], root: Path) -> str:
    source, digest = record["source"], record.get("artifact_sha256")
    try:
        if validate_source(source, root) == source:
            return source
    except InvalidParameterValue:
        if _LOCAL_SOURCE.match(source) and digest is not None:
            # A path inside the exporting registry's artifact folder: point at the artifact.
            return f"artifacts:/{digest}"
        raise
    raise InvalidParameterValue(f"Model version source {source!r} is not in normal form.")


# A local path or file: URI, the sources tied to one registry's artifact folder.
_LOCAL_SOURCE = re.compile(r"(?![A-Za-z][A-Za-z0-9+.-]*:)|file:", re.IGNORECASE)
_Check = Callable[[dict[str, Any], Path], Any]
_RUN_ID_CHECK: tuple[str, _Check] = ("run_id", lambda record, _: valid_run_id(record["run_id"]))
_DESCRIPTION_CHECK: tuple[str, _Check] = (
    "description",
    lambda record, _: check.description(record["description"]),
)


def _logged_model_id(record: dict[str, Any], _: Path) -> str:
    """A logged model id as MLflow spells it (`m-` and 32 hex digits), which names its folder."""
    if not LOGGED_MODEL_ID.fullmatch(record["model_id"]):
        raise InvalidParameterValue(f"Invalid logged model id {record['model_id']!r}.")
    return record["model_id"]


def _tag_checks(kind: str) -> tuple[tuple[str, _Check], ...]:
    """The key and value checks of a tag (or param) table."""
    return (
        ("key", lambda record, _: check.tag_key(record["key"], kind)),
        ("value", lambda record, _: check.tag_value(record["key"], record["value"], kind)),
    )


_VALUE_CHECKS: dict[str, tuple[tuple[str, _Check], ...]] = {
    "registered_models": (
        ("name", lambda record, _: check.model_name(record["name"])),
        _DESCRIPTION_CHECK,
    ),
    "registered_model_tags": _tag_checks("tag"),
    "model_version_tags": _tag_checks("tag"),
    "registered_model_aliases": (("alias", lambda record, _: check.alias(record["alias"])),),
    "history": (
        ("model_name", lambda record, _: check.model_name(record["model_name"])),
        ("alias", lambda record, _: check.alias(record["alias"])),
    ),
    "model_versions": (_RUN_ID_CHECK, ("source", _version_source), _DESCRIPTION_CHECK),
    "runs": (_RUN_ID_CHECK, ("run_name", lambda record, _: check.run_name(record["run_name"]))),
    "run_params": (_RUN_ID_CHECK, *_tag_checks("param")),
    "run_tags": (_RUN_ID_CHECK, *_tag_checks("tag")),
    "run_metrics": (
        _RUN_ID_CHECK,
        ("key", lambda record, _: check.tag_key(record["key"], "metric")),
    ),
    "run_artifacts": (_RUN_ID_CHECK, ("path", _run_artifact_path)),
    "logged_models": (
        ("model_id", _logged_model_id),
        ("name", lambda record, _: check.plain("Logged model name", record["name"])),
        ("source_run_id", lambda record, _: valid_run_id(record["source_run_id"])),
        ("model_type", lambda record, _: check.plain("Logged model type", record["model_type"])),
        ("status", lambda record, _: logged_model_status(record["status"])),
    ),
    "logged_model_tags": (("model_id", _logged_model_id), *_tag_checks("tag")),
    "logged_model_params": (("model_id", _logged_model_id), *_tag_checks("param")),
    "logged_model_outputs": (
        _RUN_ID_CHECK,
        ("model_id", _logged_model_id),
        ("step", lambda record, _: check.metric_step(record["step"])),
    ),
    "mlflow_artifacts": (("path", lambda record, _: safe_path(record["path"])),),
}


def _check_digests(table: TableSpec, rows: list[tuple[Any, ...]], artifacts: set[str]) -> None:
    """Refuse rows that reference an artifact the dump does not carry."""
    if table.name not in _DIGEST_COLUMNS:
        return
    at = table.column_names.index(_DIGEST_COLUMNS[table.name])
    missing = sorted({row[at] for row in rows if row[at] is not None} - artifacts)
    if missing:
        raise ArtifactIntegrityError(
            f"The export's {table.name} reference artifacts it does not carry: "
            + ", ".join(missing[:5])
        )


def _restore_sequences(conn: duckdb.DuckDBPyConnection, manifest: dict[str, Any]) -> None:
    """Leave each id sequence where the exported registry had it, and past every id loaded."""
    highest = sql.highest_ids(conn)
    for name in sql.SEQUENCES:
        sql.advance_sequence(conn, name, max(manifest["sequences"][name], highest[name]))
