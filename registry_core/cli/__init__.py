"""The `registry` command line: everything the Python client does, for terminals and CI/CD.

Every command prints a table (or `--json`) on stdout. Exit codes: 0 on success, 1 on a registry
error (`ERROR_CODE: message` on stderr), 2 on a usage error.
"""

from __future__ import annotations

from typing import Annotated

import typer

from registry_core.cli.group import RegistryGroup
from registry_core.cli.output import start
from registry_core.config import ENV_URI

# Each module of registry_core.cli that adds commands, with the names it adds (a Typer `app`
# with a name adds that group, one without adds its own commands); one line per module. A
# module is imported only when one of its commands runs, or help lists them all.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "models": ("models",),
    "versions": ("versions",),
    "webhooks": ("webhooks",),
    "requests": ("requests",),
    "comments": ("comments",),
    "compare": ("compare",),
    "stages": ("transition", "history", "which", "rollback", "alias"),
    "maintenance": ("load-check", "gc", "doctor"),
    "transfer": ("export", "import"),
    "import_mlflow": ("import-mlflow",),
    "ui": ("ui",),
    "server": ("server", "backup", "restore", "tokens"),
}


class Registry(RegistryGroup):
    """The `registry` command over the command modules above."""

    command_modules = COMMAND_MODULES


app = typer.Typer(
    name="registry",
    cls=Registry,
    help="Inspect, compare, promote, roll back and back up the model registry.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def root(
    ctx: typer.Context,
    registry_uri: Annotated[
        str | None,
        typer.Option(
            "--registry-uri",
            envvar=ENV_URI,
            show_envvar=True,
            help="The registry folder, .duckdb file, duckdb:///path, or a registry server's "
            "http(s):// URL (default: ./.registry/).",
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")
    ] = False,
) -> None:
    """Inspect, compare, promote, roll back and back up the model registry."""
    start(ctx, registry_uri, json_output)


def main() -> None:
    """The `registry` executable."""
    app(prog_name="registry")


__all__ = ["COMMAND_MODULES", "app", "main"]
