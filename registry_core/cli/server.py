"""`registry server`, `registry tokens ...`, `registry backup` and `registry restore`: run the
registry for a team, decide who may use it, and keep copies of it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from registry_core.cli.output import client, done, emit, progress, stack, state, table, when
from registry_core.config import chosen_uri, is_server_uri, resolve_location
from registry_core.entities import ROLES, ApiToken
from registry_core.errors import InvalidParameterValue

app = typer.Typer()
tokens = typer.Typer(help="Access tokens of a registry server: create, list, revoke.")

_MB = 1024 * 1024


@app.command("server")
def server(
    host: Annotated[str, typer.Option(help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The port to listen on.", min=1, max=65535)] = 5050,
    no_auth: Annotated[
        bool,
        typer.Option(
            "--no-auth",
            help="Serve anyone without a token, as an admin (refused unless HOST is loopback).",
        ),
    ] = False,
    certfile: Annotated[
        Path | None, typer.Option(help="A TLS certificate (PEM): serve https.")
    ] = None,
    keyfile: Annotated[Path | None, typer.Option(help="The TLS certificate's private key.")] = None,
    max_json_mb: Annotated[
        float, typer.Option(help="The largest JSON request body, in MiB.", min=0.001)
    ] = 4.0,
    max_artifact_mb: Annotated[
        float, typer.Option(help="The largest artifact upload or import, in MiB.", min=0.001)
    ] = 8192.0,
    webhook_interval: Annotated[
        float,
        typer.Option(help="Seconds between webhook deliveries by the server (0: never).", min=0),
    ] = 5.0,
) -> None:
    """Serve the registry over HTTP (MLflow's REST API, this registry's API, the web UI) until
    SIGTERM or Ctrl+C; the server holds the registry file for its whole life."""
    from registry_core.server.limits import ServerLimits
    from registry_core.server.serve import ServerSettings, run_server

    uri = chosen_uri(state().registry_uri)
    if is_server_uri(uri):
        raise InvalidParameterValue(
            f"{uri} is already a registry server: point --registry-uri at a registry folder."
        )
    settings = ServerSettings(
        host=host,
        port=port,
        auth=not no_auth,
        limits=ServerLimits(
            json_bytes=int(max_json_mb * _MB), artifact_bytes=int(max_artifact_mb * _MB)
        ),
        webhook_interval=webhook_interval,
        ssl_certfile=str(certfile) if certfile else None,
        ssl_keyfile=str(keyfile) if keyfile else None,
    )
    run_server(resolve_location(uri), settings)


def _token_rows(found: list[ApiToken]) -> object:
    return table(
        ["Name", "Role", "Created by", "Created", "Revoked"],
        [
            (t.name, t.role, t.created_by, when(t.creation_timestamp), when(t.revoked_timestamp))
            for t in found
        ],
    )


@tokens.command("create")
def create_token(
    name: Annotated[str, typer.Argument(help="Who the token stands for, e.g. ci-deploy.")],
    role: Annotated[
        str, typer.Option("--role", help=f"One of {', '.join(ROLES)}.", show_default=False)
    ],
) -> None:
    """Create a token and print it once, alone on the last line of stdout (only its hash is
    kept); send it as MODEL_REGISTRY_TOKEN (or MLFLOW_TRACKING_TOKEN for MLflow's client)."""
    token, secret = client().create_token(name, role)
    if state().json_output:
        emit({"token": token, "secret": secret}, lambda: "")
        return
    typer.echo(f"Token {token.name!r} with role {token.role}; it is shown only now:")
    typer.echo(secret)


@tokens.command("list")
def list_tokens() -> None:
    """Every token with its role; secrets are never shown."""
    found = client().list_tokens()
    emit(found, lambda: _token_rows(found))


@tokens.command("revoke")
def revoke_token(name: Annotated[str, typer.Argument(help="The token's name.")]) -> None:
    """Revoke a token: the server refuses it from now on."""
    token = client().revoke_token(name)
    done(token, f"Token {token.name!r} revoked.")


app.add_typer(tokens, name="tokens")

_LABELS = {
    "rows": "Copying rows",
    "artifacts": "Copying artifacts",
    "verify": "Verifying tables",
    "transfer": "Transferring the backup",
}


@app.command("backup")
def backup(
    destination: Annotated[Path, typer.Argument(help="A new, empty folder.", show_default=False)],
) -> None:
    """Copy the whole registry, consistently, into a new folder, also while a server runs (the
    copy is made by the server in one snapshot); signing secrets of webhooks included."""
    with progress(_LABELS) as report:
        summary = client().export_registry(destination, report, include_secrets=True)
    emit(
        summary,
        lambda: stack(
            f"Backed up {sum(summary.rows.values())} rows, {summary.artifacts} artifact file(s) "
            f"({summary.artifact_bytes} bytes) and {summary.webhooks} webhook(s) to "
            f"{summary.directory}."
        ),
    )


@app.command("restore")
def restore(
    source: Annotated[Path, typer.Argument(help="A folder `registry backup` wrote.")],
) -> None:
    """Put a backup back into an empty registry (a new folder, or a server over one)."""
    registry = client()
    if registry.search_registered_models(max_results=1) or registry.search_runs(max_results=1):
        raise InvalidParameterValue(
            f"{registry.registry_uri} is not empty: restore into a new registry, or use "
            "`registry import --on-conflict ...` to merge."
        )
    with progress(_LABELS) as report:
        summary = registry.import_registry(source, "fail", report)
    emit(
        summary,
        lambda: stack(
            f"Restored {sum(summary.rows.values())} rows and {summary.artifacts} artifact "
            f"file(s) from {summary.directory} into {registry.registry_uri}."
        ),
    )
