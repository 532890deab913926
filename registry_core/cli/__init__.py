"""The `registry` command line: everything the Python client does, for terminals and CI/CD.

Every command prints a table (or `--json`) on stdout. Exit codes: 0 on success, 1 on a registry
error (`ERROR_CODE: message` on stderr), 2 on a usage error.
"""

from __future__ import annotations

from typing import Annotated

import typer

from registry_core.cli import (
    compare,
    import_mlflow,
    maintenance,
    models,
    server,
    stages,
    transfer,
    versions,
    webhooks,
)
from registry_core.cli.output import RegistryGroup, start
from registry_core.cli.ui import app as ui_app
from registry_core.config import ENV_URI

app = typer.Typer(
    name="registry",
    cls=RegistryGroup,
    help="Inspect, compare, promote, roll back and back up the model registry.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

# Command groups by name, then commands at the top level; one line per module.
app.add_typer(models.app, name="models")
app.add_typer(versions.app, name="versions")
app.add_typer(webhooks.app, name="webhooks")
app.add_typer(compare.app)
app.add_typer(stages.app)
app.add_typer(maintenance.app)
app.add_typer(transfer.app)
app.add_typer(import_mlflow.app)
app.add_typer(ui_app)
app.add_typer(server.app)


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


__all__ = ["app", "main"]
