"""`registry ui`: the web UI of a local registry, for you alone, on a loopback address.

Nobody signs in: the one local user has every role, and changes are recorded under
`MODEL_REGISTRY_ACTOR` (else the OS user), as from the CLI. The registry file is opened per
request and released after the idle window, so Dagster and the CLI keep using it meanwhile.
"""

from __future__ import annotations

import socket
import webbrowser
from typing import Annotated

import typer

from registry_core.cli.output import state
from registry_core.config import (
    DEFAULT_IDLE_SECONDS,
    DEFAULT_LOCK_TIMEOUT,
    ENV_DAGSTER_UI_URL,
    chosen_uri,
    is_server_uri,
    resolve_location,
)
from registry_core.errors import InvalidParameterValue, InvalidState

app = typer.Typer()
DEFAULT_PORT = 5051


@app.command("ui")
def ui(
    host: Annotated[
        str, typer.Option(help="A loopback address to listen on (127.0.0.1, ::1 or localhost).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The port (0 picks a free one).", min=0)] = DEFAULT_PORT,
    dagster_ui_url: Annotated[
        str | None,
        typer.Option(
            envvar=ENV_DAGSTER_UI_URL,
            show_envvar=True,
            help="The Dagster UI, to link versions to their Dagster runs and assets.",
        ),
    ] = None,
    open_browser: Annotated[
        bool, typer.Option("--open", help="Open the UI in the default web browser.")
    ] = False,
) -> None:
    """Serve the web UI of a local registry (no sign-in; loopback only) until Ctrl+C."""
    import uvicorn

    from registry_core.server.app import create_app
    from registry_core.server.serve import is_loopback
    from registry_core.server.ui.links import DagsterLinks
    from registry_core.store.connection import read_server_note
    from registry_core.store.embedded import EmbeddedStore

    uri = chosen_uri(state().registry_uri)
    if is_server_uri(uri):
        raise InvalidParameterValue(
            f"{uri} is a registry server: its UI is served at {uri.rstrip('/')}/ already."
        )
    if not is_loopback(host):
        raise InvalidParameterValue(
            f"`registry ui` serves one local user without sign-in, so it listens only on a "
            f"loopback address, not {host}; for a team, run `registry server` with tokens."
        )
    location = resolve_location(uri)
    note = read_server_note(location.db_path)
    if note is not None:
        raise InvalidState(f"A registry server holds {location.db_path}: open {note['url']}/.")
    links = DagsterLinks.checked(dagster_ui_url or None)
    store = EmbeddedStore(location, DEFAULT_IDLE_SECONDS, DEFAULT_LOCK_TIMEOUT)
    web = create_app(store, auth=False)
    web.state.ui.dagster = links
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family)
    sock.bind((host, port))
    sock.listen(128)  # connections wait in the backlog from now on, before uvicorn starts
    bound = f"[{host}]" if ":" in host else host
    url = f"http://{bound}:{sock.getsockname()[1]}/"
    typer.echo(f"Registry UI for {location.root} at {url} (Ctrl+C stops it)")
    if open_browser:
        webbrowser.open(url)
    server = uvicorn.Server(uvicorn.Config(web, log_level="warning", access_log=False))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        web.state.commits.close()
        store.close()
