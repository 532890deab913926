"""The registry's web UI: server-rendered pages at `/` over the server's own store.

Models, a model, a version, compare and history pages, read and acted on through
`RegistryClient(store=...)`, with the API's role rules; plain HTML forms with CSRF tokens and
vendored CSS, so every page works offline and without JavaScript.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from registry_core.client import RegistryClient
from registry_core.server.auth import Authenticator
from registry_core.server.ui.links import DagsterLinks
from registry_core.server.ui.rendering import STATIC
from registry_core.server.ui.routes import RegistryUi, add_ui_routes
from registry_core.store.embedded import EmbeddedStore

STATIC_PATH = "/static"


def mount_ui(
    app: FastAPI, store: EmbeddedStore, auth: Authenticator, dagster_ui_url: str | None = None
) -> RegistryUi:
    """Serve the UI from `app`; Dagster links go to `dagster_ui_url`, else `DAGSTER_UI_URL`."""
    dagster = DagsterLinks.checked(dagster_ui_url) if dagster_ui_url else DagsterLinks.from_env()
    ui = RegistryUi(RegistryClient(store=store), auth, dagster)
    add_ui_routes(app, ui)
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC), name="ui-static")
    app.state.ui = ui
    return ui


__all__ = ["RegistryUi", "mount_ui"]
