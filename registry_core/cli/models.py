"""`registry models ...`: list, show, create, rename, describe, delete and tag registered models."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from registry_core.cli.options import (
    DescriptionArg,
    FilterOption,
    KeyArg,
    NameArg,
    PageTokenOption,
    ValueArg,
    YesOption,
)
from registry_core.cli.output import (
    client,
    details,
    done,
    emit,
    lines,
    short,
    stack,
    table,
    when,
)
from registry_core.entities import PagedList, RegisteredModel

if TYPE_CHECKING:
    from rich.console import RenderableType

app = typer.Typer(name="models", help="Registered models: list, show, create, change, delete.")
tag_app = typer.Typer(help="Set or delete a registered model's tags.")
app.add_typer(tag_app, name="tag")


def parse_tags(pairs: list[str] | None) -> dict[str, str]:
    """`KEY=VALUE` strings as a mapping; a usage error when one has no `=`."""
    tags: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not KEY=VALUE.", param_hint="--tag")
        tags[key] = value
    return tags


def _stages(model: RegisteredModel) -> str:
    return ", ".join(f"{mv.current_stage} v{mv.version}" for mv in model.latest_versions)


def _aliases(aliases: dict[str, str]) -> str:
    return ", ".join(f"@{alias} v{version}" for alias, version in sorted(aliases.items()))


def _first_line(description: str | None) -> str | None:
    return description.strip().splitlines()[0] if description and description.strip() else None


def _models_table(page: PagedList) -> RenderableType:
    grid = table(
        ["Name", "Latest per stage", "Aliases", "Updated", "Description"],
        (
            [
                model.name,
                _stages(model),
                _aliases(model.aliases),
                when(model.last_updated_timestamp),
                _first_line(model.description),
            ]
            for model in page
        ),
    )
    return stack(grid, f"More models: --page-token {page.token}" if page.token else None)


@app.command("list")
def list_models(
    filter_string: FilterOption = None,
    order_by: Annotated[
        list[str] | None,
        typer.Option(
            "--order-by",
            help="Sort key (repeatable): name, creation_timestamp or last_updated_timestamp, "
            "optionally followed by ASC or DESC.",
        ),
    ] = None,
    max_results: Annotated[int, typer.Option("--max", min=1, help="Most models to list.")] = 100,
    page_token: PageTokenOption = None,
) -> None:
    """List registered models with the latest version in each stage."""
    page = client().search_registered_models(filter_string, max_results, order_by, page_token)
    emit(
        {"registered_models": list(page), "next_page_token": page.token},
        lambda: _models_table(page),
    )


def _render_model(model: RegisteredModel) -> RenderableType:
    stages = table(
        ["Stage", "Version", "Aliases", "Updated", "sha256"],
        (
            [
                mv.current_stage,
                mv.version,
                ", ".join(f"@{alias}" for alias in mv.aliases),
                when(mv.last_updated_timestamp),
                short(mv.artifact_sha256),
            ]
            for mv in model.latest_versions
        ),
        title="Latest version per stage",
    )
    aliases = table(
        ["Alias", "Version"],
        ((f"@{alias}", version) for alias, version in sorted(model.aliases.items())),
        title="Aliases",
    )
    return stack(
        details(
            [
                ("Description", lines(model.description)),
                ("Created", when(model.creation_timestamp)),
                ("Updated", when(model.last_updated_timestamp)),
            ],
            title=f"Model {model.name}",
        ),
        stages if model.latest_versions else None,
        aliases if model.aliases else None,
        table(["Tag", "Value"], sorted(model.tags.items()), title="Tags") if model.tags else None,
    )


@app.command("show")
def show_model(name: NameArg) -> None:
    """Show a model: description, tags, aliases and the version in each stage."""
    model = client().get_registered_model(name)
    emit(model, lambda: _render_model(model))


@app.command("create")
def create_model(
    name: NameArg,
    description: Annotated[
        str | None, typer.Option("--description", "-d", help="What the model is for.")
    ] = None,
    tags: Annotated[
        list[str] | None, typer.Option("--tag", "-t", help="A tag as KEY=VALUE (repeatable).")
    ] = None,
) -> None:
    """Create a registered model."""
    model = client().create_registered_model(name, parse_tags(tags), description)
    done(model, f"Created model {model.name}.")


@app.command("rename")
def rename_model(
    name: NameArg,
    new_name: Annotated[str, typer.Argument(help="The new name.", show_default=False)],
) -> None:
    """Rename a registered model; its versions and history stay with it."""
    model = client().rename_registered_model(name, new_name)
    done(model, f"Renamed model {name} to {model.name}.")


@app.command("describe")
def describe_model(name: NameArg, description: DescriptionArg) -> None:
    """Set a registered model's description."""
    model = client().update_registered_model(name, description)
    done(model, f"Updated the description of model {model.name}.")


@app.command("delete")
def delete_model(name: NameArg, yes: YesOption = False) -> None:
    """Delete a registered model with all its versions; its history is kept."""
    if not yes:
        typer.confirm(f"Delete model {name} and all its versions?", abort=True)
    client().delete_registered_model(name)
    done({"name": name, "deleted": True}, f"Deleted model {name}.")


@tag_app.command("set")
def set_model_tag(name: NameArg, key: KeyArg, value: ValueArg) -> None:
    """Set a tag on a registered model."""
    client().set_registered_model_tag(name, key, value)
    done({"name": name, "key": key, "value": value}, f"Set tag {key}={value} on model {name}.")


@tag_app.command("delete")
def delete_model_tag(name: NameArg, key: KeyArg) -> None:
    """Delete a tag from a registered model."""
    client().delete_registered_model_tag(name, key)
    done({"name": name, "key": key, "deleted": True}, f"Deleted tag {key} of model {name}.")
