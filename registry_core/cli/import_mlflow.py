"""`registry import-mlflow --tracking-uri URI`: move a whole MLflow registry in."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.console import RenderableType

from registry_core.cli.output import client, emit, progress, stack, table
from registry_core.mlflow_import.importer import MlflowImportSummary

app = typer.Typer()

_LABELS = {"models": "Importing models"}


class OnConflict(StrEnum):
    """What the import does with an MLflow model whose name this registry already uses."""

    fail = "fail"
    skip = "skip"
    rename = "rename"


def _totals(summary: MlflowImportSummary) -> RenderableType:
    columns = ["Models", "Versions", "Runs", "Artifacts", "Bytes", "Converted", "Opaque", "Skipped"]
    row = (
        summary.models,
        summary.versions,
        summary.runs,
        summary.artifacts,
        summary.bytes,
        summary.converted,
        summary.opaque,
        summary.skipped,
    )
    title = "Would import" if summary.dry_run else "Imported"
    return table(columns, [row], title=f"{title} from {summary.tracking_uri}")


def _plans(summary: MlflowImportSummary) -> RenderableType:
    rows = [
        (plan.mlflow_name, plan.name, plan.action, plan.versions, plan.new_versions)
        for plan in summary.plans
    ]
    return table(["MLflow model", "Here as", "Action", "Versions", "New"], rows)


def _notes(summary: MlflowImportSummary) -> str | None:
    if summary.dry_run or not summary.opaque:
        return None
    return (
        f"{summary.opaque} version(s) hold pickled models, loadable only with allow_pickle=True; "
        "import with --convert to save them in a safe format (if you trust this MLflow)."
    )


@app.command("import-mlflow")
def import_mlflow(
    tracking_uri: Annotated[
        str,
        typer.Option(
            "--tracking-uri",
            help="The MLflow registry: a server (http://host:5000), a database "
            "(sqlite:///mlflow.db) or a local mlruns folder.",
            show_default=False,
        ),
    ],
    on_conflict: Annotated[
        OnConflict,
        typer.Option(
            "--on-conflict",
            case_sensitive=False,
            help="When a model name is taken here by a model not imported from this MLflow: "
            "fail (import nothing), skip that model, or rename it (NAME-mlflow).",
        ),
    ] = OnConflict.fail,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be imported; change nothing.")
    ] = False,
    convert: Annotated[
        bool,
        typer.Option(
            "--convert",
            help="Load each pickled model once, in a separate process, and save it in this "
            "registry's safe format (skops, XGBoost JSON, LightGBM text), its predictions on "
            "MLflow's input example checked. Only for an MLflow you trust.",
        ),
    ] = False,
) -> None:
    """Import every MLflow registered model with its versions (numbers kept), stages, aliases,
    runs and artifacts; a second run imports nothing twice, an interrupted one resumes."""
    with progress(_LABELS) as report:
        summary = client().import_mlflow(
            tracking_uri,
            on_conflict=on_conflict.value,
            dry_run=dry_run,
            convert=convert,
            progress=report,
        )
    emit(summary, lambda: stack(_plans(summary), _totals(summary), _notes(summary)))
