"""Arguments and options that several commands take, declared once."""

from __future__ import annotations

from typing import Annotated

import typer

from registry_core.entities import STAGES


def complete_stage(incomplete: str) -> list[str]:
    """Shell completion for stage arguments."""
    return [stage for stage in STAGES if stage.lower().startswith(incomplete.lower())]


NameArg = Annotated[str, typer.Argument(help="The registered model's name.", show_default=False)]
VersionArg = Annotated[int, typer.Argument(help="The version number.", min=1, show_default=False)]
KeyArg = Annotated[str, typer.Argument(help="The tag's key.", show_default=False)]
ValueArg = Annotated[str, typer.Argument(help="The tag's value.", show_default=False)]
DescriptionArg = Annotated[str, typer.Argument(help="The new description.", show_default=False)]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
ActorOption = Annotated[
    str | None,
    typer.Option("--actor", help="Who makes the change (default: MODEL_REGISTRY_ACTOR, else you)."),
]
ReasonOption = Annotated[
    str | None, typer.Option("--reason", "-r", help="Why, recorded in the history.")
]
StageOption = Annotated[
    str | None,
    typer.Option(
        "--stage", "-s", help="Only versions in this stage.", autocompletion=complete_stage
    ),
]
FilterOption = Annotated[
    str | None,
    typer.Option("--filter", "-f", help="A search filter, e.g. \"tags.team = 'ml'\"."),
]
PageTokenOption = Annotated[
    str | None, typer.Option("--page-token", help="Continue a previous listing.")
]
