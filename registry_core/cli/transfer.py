"""`registry export DIR` and `registry import DIR`: back up a registry and restore it."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import RenderableType

from registry_core.cli.output import client, emit, progress, stack, table
from registry_core.transfer import ImportSummary

app = typer.Typer()

_LABELS = {
    "verify": "Verifying tables",
    "rows": "Copying rows",
    "artifacts": "Copying artifacts",
    "transfer": "Transferring the dump",
}


class OnConflict(StrEnum):
    """What `import` does with a model name or run id the registry already holds."""

    fail = "fail"
    skip = "skip"
    overwrite = "overwrite"


DirArg = Annotated[Path, typer.Argument(help="The dump folder.", show_default=False)]


def _rows_table(rows: dict[str, int]) -> RenderableType:
    return table(["Table", "Rows"], rows.items())


@app.command("export")
def export(directory: DirArg) -> None:
    """Dump every model, version, run, history entry and artifact into a new folder."""
    with progress(_LABELS) as report:
        summary = client().export_registry(directory, report)
    emit(
        summary,
        lambda: stack(
            _rows_table(summary.rows),
            f"Exported schema version {summary.schema_version} with {summary.artifacts} "
            f"artifact file(s) ({summary.artifact_bytes} bytes) to {summary.directory}.",
        ),
    )


def _conflicts(summary: ImportSummary) -> str | None:
    parts = [
        f"{label}: {', '.join(items)}"
        for label, items in (
            ("Skipped models", summary.skipped_models),
            ("Skipped runs", summary.skipped_runs),
            ("Overwrote models", summary.overwritten_models),
            ("Overwrote runs", summary.overwritten_runs),
        )
        if items
    ]
    return "\n".join(parts) or None


@app.command("import")
def import_(
    directory: DirArg,
    on_conflict: Annotated[
        OnConflict,
        typer.Option(
            "--on-conflict",
            case_sensitive=False,
            help="When a model name or run id already exists: fail (change nothing), skip "
            "the export's copy, or overwrite the registry's.",
        ),
    ] = OnConflict.fail,
) -> None:
    """Load an export: identical into an empty registry, merged into a non-empty one."""
    with progress(_LABELS) as report:
        summary = client().import_registry(directory, on_conflict.value, report)
    emit(
        summary,
        lambda: stack(
            _rows_table(summary.rows),
            _conflicts(summary),
            f"Imported {summary.artifacts} artifact file(s) from {summary.directory} "
            f"({summary.mode}).",
        ),
    )
