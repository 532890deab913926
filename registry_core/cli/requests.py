"""Transition requests: `requests list|create|approve|reject|cancel|protect`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from registry_core.cli.options import ActorOption, NameArg, VersionArg, complete_stage
from registry_core.cli.output import client, details, emit, lines, table, when
from registry_core.entities import REQUEST_STATUSES, StageProtection, TransitionRequest

if TYPE_CHECKING:
    from rich.console import RenderableType

app = typer.Typer(
    name="requests",
    help="Ask for a version to be moved into a stage, and approve, reject or cancel requests.",
)

StageArg = Annotated[
    str,
    typer.Argument(
        help="Staging, Production or Archived (any case).",
        autocompletion=complete_stage,
        show_default=False,
    ),
]
CommentOption = Annotated[
    str | None, typer.Option("--comment", "-c", help="Why, recorded in the history.")
]


def render_request(request: TransitionRequest, title: str) -> RenderableType:
    """One request: what it asks, who asked and what became of it."""
    return details(
        [
            ("Request", f"#{request.id}"),
            ("Model", request.name),
            ("Version", request.version),
            ("To stage", request.to_stage),
            ("Status", request.status),
            ("Requested by", request.requested_by),
            ("Requested", when(request.creation_timestamp)),
            ("Comment", lines(request.comment)),
            ("Resolved by", request.resolved_by),
            ("Resolved", when(request.resolved_timestamp)),
            ("Resolution", lines(request.resolution)),
        ],
        title=title,
    )


@app.command("list")
def list_requests(
    name: Annotated[
        str | None, typer.Argument(help="Only this model's requests.", show_default=False)
    ] = None,
    status: Annotated[
        str,
        typer.Option(
            "--status",
            help=f"{', '.join(REQUEST_STATUSES)} or all.",
        ),
    ] = "open",
    version: Annotated[
        int | None, typer.Option("--version", min=1, help="Only this version's requests.")
    ] = None,
) -> None:
    """Transition requests, newest first (open ones unless --status says otherwise)."""
    found = client().list_transition_requests(name, status, version=version)
    emit(
        found,
        lambda: table(
            ["ID", "Model", "Version", "To stage", "Status", "Requested by", "Requested", "By"],
            (
                [
                    f"#{r.id}",
                    r.name,
                    r.version,
                    r.to_stage,
                    r.status,
                    r.requested_by,
                    when(r.creation_timestamp),
                    r.resolved_by,
                ]
                for r in found
            ),
            title="Transition requests",
        ),
    )


@app.command("create")
def create(
    name: NameArg,
    version: VersionArg,
    stage: StageArg,
    comment: CommentOption = None,
    actor: ActorOption = None,
) -> None:
    """Ask for a version to be moved into a stage."""
    request = client().create_transition_request(name, version, stage, comment, actor=actor)
    emit(request, lambda: render_request(request, f"Opened request #{request.id}"))


@app.command("approve")
def approve(
    name: NameArg,
    version: VersionArg,
    stage: StageArg,
    keep_existing: Annotated[
        bool,
        typer.Option(
            "--keep-existing", help="Leave the versions now in that stage where they are."
        ),
    ] = False,
    comment: CommentOption = None,
    actor: ActorOption = None,
) -> None:
    """Approve the open request and make its transition (archiving the stage's holders)."""
    request = client().approve_transition_request(
        name, version, stage, not keep_existing, comment, actor=actor
    )
    emit(
        request,
        lambda: render_request(
            request, f"Approved request #{request.id}: version {version} is in {request.to_stage}"
        ),
    )


@app.command("reject")
def reject(
    name: NameArg,
    version: VersionArg,
    stage: StageArg,
    comment: CommentOption = None,
    actor: ActorOption = None,
) -> None:
    """Reject the open request."""
    request = client().reject_transition_request(name, version, stage, comment, actor=actor)
    emit(request, lambda: render_request(request, f"Rejected request #{request.id}"))


@app.command("cancel")
def cancel(
    name: NameArg,
    version: VersionArg,
    stage: StageArg,
    comment: CommentOption = None,
    actor: ActorOption = None,
) -> None:
    """Withdraw your own open request."""
    request = client().cancel_transition_request(name, version, stage, comment, actor=actor)
    emit(request, lambda: render_request(request, f"Cancelled request #{request.id}"))


def render_protection(protection: StageProtection) -> RenderableType:
    return details(
        [
            ("Model", protection.name),
            ("Protected", ", ".join(protection.stages) or "none"),
            ("Direct roles", ", ".join(protection.direct_roles) or "none"),
        ],
        title=f"Protected stages of {protection.name}",
    )


@app.command("protect")
def protect(
    name: NameArg,
    stages: Annotated[
        list[str] | None,
        typer.Option(
            "--stage",
            "-s",
            help="A stage that needs an approved request (repeat; none lifts the protection).",
            autocompletion=complete_stage,
        ),
    ] = None,
    direct_roles: Annotated[
        list[str] | None,
        typer.Option(
            "--direct-role", help="A token role that may still transition directly (repeat)."
        ),
    ] = None,
    show: Annotated[bool, typer.Option("--show", help="Only show the protection.")] = False,
) -> None:
    """Set which stages of a model need an approved request (an admin's call)."""
    registry = client()
    protection = (
        registry.get_stage_protection(name)
        if show
        else registry.set_stage_protection(name, stages or [], direct_roles or [])
    )
    emit(protection, lambda: render_protection(protection))
