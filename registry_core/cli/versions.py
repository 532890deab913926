"""`registry versions ...`: list, show, describe, tag and delete model versions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from registry_core import validation
from registry_core.cli.comments import comments_table
from registry_core.cli.options import (
    ActorOption,
    DescriptionArg,
    FilterOption,
    KeyArg,
    NameArg,
    PageTokenOption,
    StageOption,
    ValueArg,
    VersionArg,
    YesOption,
)
from registry_core.cli.output import (
    client,
    details,
    done,
    emit,
    lines,
    short,
    signature_summary,
    stack,
    table,
    when,
)
from registry_core.client import Lineage
from registry_core.entities import ModelVersion, PagedList, Run
from registry_core.search_filter import quote_literal

if TYPE_CHECKING:
    from rich.console import RenderableType

app = typer.Typer(
    name="versions", help="Model versions: list, show, describe, tag and delete them."
)
tag_app = typer.Typer(help="Set or delete a model version's tags.")
app.add_typer(tag_app, name="tag")

DAGSTER_RUN_ID = "dagster_run_id"


def _versions_table(page: PagedList) -> RenderableType:
    grid = table(
        ["Version", "Stage", "Aliases", "Created", "Run", "Format", "sha256", "Description"],
        (
            [
                mv.version,
                mv.current_stage,
                ", ".join(f"@{alias}" for alias in mv.aliases),
                when(mv.creation_timestamp),
                mv.run_id,
                mv.artifact_format,
                short(mv.artifact_sha256),
                mv.description,
            ]
            for mv in page
        ),
    )
    more = f"More versions: --page-token {page.token}" if page.token else None
    return stack(grid, more)


@app.command("list")
def list_versions(
    name: NameArg,
    stage: StageOption = None,
    filter_string: FilterOption = None,
    max_results: Annotated[int, typer.Option("--max", min=1, help="Most versions to list.")] = 1000,
    page_token: PageTokenOption = None,
) -> None:
    """List a model's versions, newest first."""
    clauses = [f"name = {quote_literal(name)}"]
    if stage is not None:
        clauses.append(f"current_stage = {quote_literal(validation.stage(stage))}")
    if filter_string:
        clauses.append(filter_string)
    with client().session() as registry:
        registry.get_registered_model(name)
        page = registry.search_model_versions(
            " AND ".join(clauses), max_results, ["version_number DESC"], page_token
        )
    emit(
        {"model_versions": list(page), "next_page_token": page.token},
        lambda: _versions_table(page),
    )


def _version_details(mv: ModelVersion) -> RenderableType:
    return details(
        [
            ("Stage", mv.current_stage),
            ("Aliases", ", ".join(f"@{alias}" for alias in mv.aliases)),
            ("Status", mv.status),
            ("Description", lines(mv.description)),
            ("Source", mv.source),
            ("Run", mv.run_id),
            ("Run link", mv.run_link),
            ("sha256", mv.artifact_sha256),
            ("Size", mv.artifact_size),
            ("Format", mv.artifact_format),
            ("Signature", signature_summary(mv.signature)),
            ("Created", when(mv.creation_timestamp)),
            ("Updated", when(mv.last_updated_timestamp)),
        ],
        title=f"Model {mv.name} version {mv.version}",
    )


def _run_details(run: Run) -> RenderableType:
    extra = [
        (key, value) for key, value in sorted(run.source_info.items()) if key != DAGSTER_RUN_ID
    ]
    return details(
        [
            ("Run", run.run_id),
            ("Name", run.run_name),
            ("Status", run.status),
            ("Started", when(run.start_time)),
            ("Ended", when(run.end_time)),
            ("Code version", run.code_version),
            ("Dagster run", run.source_info.get(DAGSTER_RUN_ID)),
            *extra,
        ],
        title="Run",
    )


def _fingerprints(run: Run) -> RenderableType | None:
    if not run.data_fingerprint:
        return None
    return table(
        ["Data", "Rows", "sha256", "Columns"],
        (
            [
                context,
                fingerprint.get("row_count"),
                fingerprint.get("sha256"),
                ", ".join(f"{column}:{dtype}" for column, dtype in fingerprint.get("schema", [])),
            ]
            for context, fingerprint in sorted(run.data_fingerprint.items())
        ),
        title="Data fingerprint",
    )


def render_lineage(lineage: Lineage) -> RenderableType:
    """A version with its tags and, when known, its run's params, metrics and data."""
    mv, run = lineage.model_version, lineage.run
    return stack(
        _version_details(mv),
        table(["Tag", "Value"], sorted(mv.tags.items()), title="Tags") if mv.tags else None,
        _run_details(run) if run else None,
        table(["Param", "Value"], sorted(run.params.items()), title="Params")
        if run and run.params
        else None,
        table(["Metric", "Value"], sorted(run.metrics.items()), title="Metrics")
        if run and run.metrics
        else None,
        _fingerprints(run) if run else None,
    )


def lineage_data(lineage: Lineage) -> dict[str, Any]:
    """The JSON form of `versions show`."""
    run = lineage.run
    return {
        "model_version": lineage.model_version,
        "run": run,
        "dagster_run_id": run.source_info.get(DAGSTER_RUN_ID) if run else None,
    }


@app.command("show")
def show_version(name: NameArg, version: VersionArg) -> None:
    """Show a version: stage, aliases, tags, source, sha256, its run's params and metrics, its
    open transition requests and its comments."""
    registry = client()
    with registry.session():
        lineage = registry.get_model_version_lineage(name, version)
        requests = registry.list_transition_requests(name, "open", version=version)
        comments = registry.list_comments(name, version)
    emit(
        {**lineage_data(lineage), "open_requests": requests, "comments": comments},
        lambda: stack(
            render_lineage(lineage),
            table(
                ["Request", "To stage", "Requested by", "Requested"],
                (
                    [f"#{r.id}", r.to_stage, r.requested_by, when(r.creation_timestamp)]
                    for r in requests
                ),
                title="Open transition requests",
            )
            if requests
            else None,
            comments_table(comments) if comments else None,
        ),
    )


@app.command("describe")
def describe_version(
    name: NameArg,
    version: VersionArg,
    description: DescriptionArg,
) -> None:
    """Set a model version's description."""
    mv = client().update_model_version(name, version, description)
    done(mv, f"Updated the description of model {name} version {mv.version}.")


@app.command("delete")
def delete_version(
    name: NameArg,
    version: VersionArg,
    yes: YesOption = False,
    actor: ActorOption = None,
) -> None:
    """Delete a model version (its aliases go with it; the history records the deletion)."""
    if not yes:
        typer.confirm(f"Delete model {name} version {version}?", abort=True)
    client().delete_model_version(name, version, actor)
    done(
        {"name": name, "version": str(version), "deleted": True},
        f"Deleted model {name} version {version}.",
    )


@tag_app.command("set")
def set_version_tag(
    name: NameArg,
    version: VersionArg,
    key: KeyArg,
    value: ValueArg,
) -> None:
    """Set a tag on a model version."""
    client().set_model_version_tag(name, version, key, value)
    done(
        {"name": name, "version": str(version), "key": key, "value": value},
        f"Set tag {key}={value} on model {name} version {version}.",
    )


@tag_app.command("delete")
def delete_version_tag(name: NameArg, version: VersionArg, key: KeyArg) -> None:
    """Delete a tag from a model version."""
    client().delete_model_version_tag(name, version, key)
    done(
        {"name": name, "version": str(version), "key": key, "deleted": True},
        f"Deleted tag {key} of model {name} version {version}.",
    )
