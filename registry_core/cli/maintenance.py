"""Checks and upkeep: `load-check` (a CI/CD gate), `gc` and `doctor`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from registry_core import formats
from registry_core.cli.output import (
    busy,
    client,
    details,
    emit,
    jsonable,
    progress,
    signature_summary,
    stack,
    table,
)
from registry_core.doctor import DoctorReport, examine
from registry_core.errors import DATA_LOSS, RegistryError
from registry_core.loaded_model import LoadedModel, ModelInfo
from registry_core.signature import ModelSignature

if TYPE_CHECKING:
    from rich.console import RenderableType

app = typer.Typer()


def _load(uri: str, trusted: list[str], allow_pickle: bool) -> dict[str, Any]:
    """Every step of `load_model` without its cache: resolve, verify, deserialize, wrap."""
    registry = client()
    resolved = registry.resolve_model_uri(uri)
    data = registry.artifacts.read_verified(resolved.sha256)
    model = formats.load_model_bytes(
        data, resolved.format, trusted_types=trusted, allow_pickle=allow_pickle
    )
    mv = resolved.model_version
    name, version = (mv.name, mv.version) if mv else (None, None)
    signature = ModelSignature.from_dict(resolved.signature) if resolved.signature else None
    # The wrapper refuses a model without `predict`, as `load_model` would.
    LoadedModel(
        model,
        signature,
        ModelInfo(uri, name or "", version or "", resolved.sha256, resolved.format),
    )
    return {
        "uri": uri,
        "name": name,
        "version": version,
        "stage": mv.current_stage if mv else None,
        "aliases": list(mv.aliases) if mv else [],
        "run_id": resolved.run_id,
        "sha256": resolved.sha256,
        "size": len(data),
        "format": resolved.format,
        "model_class": f"{type(model).__module__}.{type(model).__qualname__}",
        "signature": resolved.signature,
        "checks": ["resolved", "sha256 verified", "deserialized", "has predict"],
    }


@app.command("load-check")
def load_check(
    uri: Annotated[
        str,
        typer.Argument(
            help="models:/NAME/VERSION, models:/NAME/STAGE, models:/NAME/latest, "
            "models:/NAME@ALIAS or runs:/RUN_ID/PATH.",
            show_default=False,
        ),
    ],
    allow_pickle: Annotated[
        bool,
        typer.Option("--allow-pickle", help="Allow pickle files (only from authors you trust)."),
    ] = False,
    trust: Annotated[
        list[str] | None,
        typer.Option("--trust", help="A fully qualified type name to trust (repeatable)."),
    ] = None,
) -> None:
    """Resolve a model URI, verify its sha256 and deserialize it; exit 1 on any failure."""
    result = _load(uri, trust or [], allow_pickle)
    emit(
        result,
        lambda: details(
            [
                ("URI", uri),
                ("Model", result["name"]),
                ("Version", result["version"]),
                ("Stage", result["stage"]),
                ("Aliases", ", ".join(f"@{alias}" for alias in result["aliases"])),
                ("Run", result["run_id"]),
                ("sha256", result["sha256"]),
                ("Size", result["size"]),
                ("Format", result["format"]),
                ("Class", result["model_class"]),
                ("Signature", signature_summary(result["signature"])),
                ("Checks", ", ".join(result["checks"]) + ": OK"),
            ],
            title="Load check passed",
        ),
    )


@app.command("gc")
def gc(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only list what would be removed.")
    ] = False,
    grace_seconds: Annotated[
        float,
        typer.Option(
            "--grace-seconds",
            min=0,
            help="Keep unreferenced files younger than this (a writer stores its file first).",
        ),
    ] = 3600.0,
) -> None:
    """Remove artifact files that no version or run references."""
    with busy("Collecting unreferenced artifacts..."):
        removed = client().gc(dry_run=dry_run, grace_seconds=grace_seconds)
    total = sum(ref.size for ref in removed)
    verb = "Would remove" if dry_run else "Removed"
    emit(
        {"dry_run": dry_run, "removed": removed, "count": len(removed), "bytes": total},
        lambda: stack(
            table(["sha256", "Bytes"], ((ref.sha256, ref.size) for ref in removed))
            if removed
            else None,
            f"{verb} {len(removed)} artifact file(s), {total} bytes.",
        ),
    )


def _render_report(report: DoctorReport) -> RenderableType:
    summary = (
        f"Checked {report.versions} version(s), {report.runs} run(s) and {report.artifacts} "
        f"artifact file(s); schema version {report.schema_version}."
    )
    if report.ok:
        return stack(summary, "No problems found.")
    return stack(
        summary,
        table(
            ["Check", "Subject", "Problem"],
            ((f.check, f.subject, f.message) for f in report.findings),
            title=f"{len(report.findings)} problem(s)",
        ),
    )


@app.command("doctor")
def doctor() -> None:
    """Check artifacts against their sha256, Production stages and the schema; exit 1 if wrong."""
    with progress({"artifacts": "Verifying artifacts"}) as report_progress:
        report = examine(client(), report_progress)
    emit({"ok": report.ok, **jsonable(report)}, lambda: _render_report(report))
    if not report.ok:
        codes = {finding.error_code for finding in report.findings}
        raise RegistryError(
            f"doctor found {len(report.findings)} problem(s).",
            DATA_LOSS if DATA_LOSS in codes else report.findings[0].error_code,
        )
