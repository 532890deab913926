"""Promotion commands: `transition`, `alias set|delete`, `history`, `which` and `rollback`."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from registry_core.cli.options import (
    ActorOption,
    NameArg,
    ReasonOption,
    VersionArg,
    complete_stage,
)
from registry_core.cli.output import client, details, done, emit, table, when
from registry_core.client import to_epoch_ms
from registry_core.entities import ModelVersion
from registry_core.errors import InvalidParameterValue, ResourceDoesNotExist

if TYPE_CHECKING:
    from rich.console import RenderableType

app = typer.Typer()
alias_app = typer.Typer(help="Point an alias (such as @champion) at a version, or remove it.")
app.add_typer(alias_app, name="alias")

AliasArg = Annotated[
    str, typer.Argument(help="The alias, with or without a leading @.", show_default=False)
]


def _alias(text: str) -> str:
    return text[1:] if text.startswith("@") else text


def render_version(mv: ModelVersion, title: str) -> RenderableType:
    """The essentials of a version: stage, aliases, digest, run and when it last changed."""
    return details(
        [
            ("Model", mv.name),
            ("Version", mv.version),
            ("Stage", mv.current_stage),
            ("Aliases", ", ".join(f"@{alias}" for alias in mv.aliases)),
            ("URI", mv.uri),
            ("sha256", mv.artifact_sha256),
            ("Run", mv.run_id),
            ("Updated", when(mv.last_updated_timestamp)),
        ],
        title=title,
    )


@app.command("transition")
def transition(
    name: NameArg,
    version: VersionArg,
    stage: Annotated[
        str,
        typer.Argument(
            help="None, Staging, Production or Archived (any case).",
            autocompletion=complete_stage,
            show_default=False,
        ),
    ],
    archive_existing: Annotated[
        bool,
        typer.Option(
            "--archive-existing",
            help="Archive the versions now in that stage (Staging or Production).",
        ),
    ] = False,
    reason: ReasonOption = None,
    actor: ActorOption = None,
) -> None:
    """Move a version to a stage, recording who did it and why."""
    mv = client().transition_model_version_stage(
        name, version, stage, archive_existing, actor=actor, reason=reason
    )
    emit(mv, lambda: render_version(mv, f"Moved {name} version {mv.version} to {mv.current_stage}"))


@alias_app.command("set")
def set_alias(
    name: NameArg,
    alias: AliasArg,
    version: VersionArg,
    reason: ReasonOption = None,
    actor: ActorOption = None,
) -> None:
    """Point an alias at a version (moving it if it points elsewhere)."""
    client().set_registered_model_alias(name, _alias(alias), version, actor=actor, reason=reason)
    done(
        {"name": name, "alias": _alias(alias), "version": str(version)},
        f"@{_alias(alias)} of {name} now points at version {version}.",
    )


@alias_app.command("delete")
def delete_alias(
    name: NameArg, alias: AliasArg, reason: ReasonOption = None, actor: ActorOption = None
) -> None:
    """Remove an alias from a model."""
    client().delete_registered_model_alias(name, _alias(alias), actor=actor, reason=reason)
    done(
        {"name": name, "alias": _alias(alias), "deleted": True},
        f"Removed @{_alias(alias)} from {name}.",
    )


@app.command("history")
def history(
    name: NameArg,
    version: Annotated[
        int | None, typer.Option("--version", min=1, help="Only this version's entries.")
    ] = None,
) -> None:
    """Who moved which version where, when and why (stages, aliases, deletions), oldest first."""
    entries = client().get_model_version_history(name, version)
    emit(
        entries,
        lambda: table(
            ["ID", "Time", "Version", "Event", "Change", "Actor", "Reason"],
            (
                [e.id, when(e.timestamp), e.version, e.event, e.change, e.actor, e.reason]
                for e in entries
            ),
            title=f"History of {name}",
        ),
    )


def parse_time(value: str) -> int:
    """Epoch milliseconds from digits, else from an ISO-8601 time (local when no offset);
    refused when no calendar date matches it, so it can always be shown."""
    stripped = value.strip()
    moment = int(stripped) if stripped.lstrip("-").isdigit() else to_epoch_ms(stripped)
    try:
        datetime.fromtimestamp(moment / 1000)
    except (OverflowError, OSError, ValueError):
        raise InvalidParameterValue(f"{value!r} is outside the range of dates.") from None
    return moment


@app.command("which")
def which(
    name: NameArg,
    target: Annotated[
        str,
        typer.Argument(
            metavar="STAGE_OR_@ALIAS",
            help="A stage (Production) or an alias (@champion).",
            show_default=False,
        ),
    ],
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="A past time, ISO-8601 (2024-05-01T12:00:00+00:00) or epoch milliseconds.",
        ),
    ] = None,
) -> None:
    """The version that holds a stage or alias now, or held it at a past time (and where that
    version is now)."""
    registry = client()
    moment = parse_time(at) if at is not None else None
    if moment is not None:
        mv = registry.get_version_at(name, target, moment)
        if mv is None:
            raise ResourceDoesNotExist(f"No version of {name} held {target} at {when(moment)}.")
    elif target.startswith("@"):
        mv = registry.get_model_version_by_alias(name, _alias(target))
    else:
        found = registry.get_latest_versions(name, [target])
        if not found:
            raise ResourceDoesNotExist(f"No version of {name} is in {target}.")
        mv = found[0]
    emit(
        {"name": name, "target": target, "at": moment, "version": mv.version, "model_version": mv},
        lambda: (
            render_version(mv, f"{target} of {name}")
            if moment is None
            else render_held(mv, target, moment)
        ),
    )


def render_held(mv: ModelVersion, target: str, moment: int) -> RenderableType:
    """The version that held a stage or alias at a past time, and where it is now."""
    return details(
        [
            ("Model", mv.name),
            ("Version", mv.version),
            ("Held", f"{target} at {when(moment)}"),
            ("Stage now", mv.current_stage),
            ("Aliases now", ", ".join(f"@{alias}" for alias in mv.aliases)),
            ("URI", mv.uri),
            ("sha256", mv.artifact_sha256),
            ("Run", mv.run_id),
            ("Updated", when(mv.last_updated_timestamp)),
        ],
        title=f"{target} of {mv.name} at {when(moment)}: version {mv.version}",
    )


@app.command("rollback")
def rollback(
    name: NameArg,
    stage: Annotated[
        str,
        typer.Option(
            "--stage",
            "-s",
            help="Staging, Production or an @alias.",
            autocompletion=complete_stage,
        ),
    ] = "Production",
    reason: ReasonOption = None,
    actor: ActorOption = None,
) -> None:
    """Give a stage (or alias) back to the version that held it before, archiving the current."""
    mv = client().rollback(name, stage, actor=actor, reason=reason)
    emit(mv, lambda: render_version(mv, f"Rolled back {stage} of {name} to version {mv.version}"))
