"""`registry export DIR` and `registry import DIR`: back up a registry and restore it."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from registry_core.cli.output import client, emit, progress, stack, table
from registry_core.transfer import ImportSummary

if TYPE_CHECKING:
    from rich.console import RenderableType

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
def export(
    directory: DirArg,
    include_secrets: Annotated[
        bool,
        typer.Option(
            "--include-secrets",
            help="Also write the webhooks' signing secrets (in plain text, in a file only you "
            "can read); without them an import leaves signed webhooks DISABLED.",
        ),
    ] = False,
) -> None:
    """Dump every model, version, run, history entry, artifact and webhook subscription into a
    new folder (not the webhooks' delivery history)."""
    with progress(_LABELS) as report:
        summary = client().export_registry(directory, report, include_secrets)
    left_out = (
        f"Left out the signing secrets of {', '.join(summary.secrets_left_out)}: an import "
        "leaves them DISABLED until `registry webhooks update NAME --secret ... --status "
        "ACTIVE` (or export with --include-secrets)."
        if summary.secrets_left_out
        else None
    )
    emit(
        summary,
        lambda: stack(
            _rows_table(summary.rows),
            f"Exported schema version {summary.schema_version} with {summary.artifacts} "
            f"artifact file(s) ({summary.artifact_bytes} bytes) and {summary.webhooks} webhook "
            f"subscription(s) to {summary.directory}.",
            left_out,
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
            ("Skipped webhooks", summary.skipped_webhooks),
            ("Overwrote webhooks", summary.overwritten_webhooks),
            (
                "DISABLED (no secret in the export; set one, then --status ACTIVE)",
                summary.disabled_webhooks,
            ),
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
            help="When a model name, run id or webhook name already exists: fail (change "
            "nothing), skip the export's copy, or overwrite the registry's.",
        ),
    ] = OnConflict.fail,
) -> None:
    """Load an export: identical into an empty registry, merged into a non-empty one; webhook
    subscriptions receive the events recorded from then on."""
    with progress(_LABELS) as report:
        summary = client().import_registry(directory, on_conflict.value, report)
    emit(
        summary,
        lambda: stack(
            _rows_table(summary.rows),
            _conflicts(summary),
            f"Imported {summary.artifacts} artifact file(s) and {summary.webhooks} webhook "
            f"subscription(s) from {summary.directory} ({summary.mode}).",
        ),
    )
