"""Artifact routes: uploads streamed to a staging file and checked against the digest in their
path before they are kept; downloads streamed from the content-addressed folder (the client
checks them again); existence and verification by digest."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response

from registry_core.api.endpoints import ARTIFACT_PATH, READER, WRITER
from registry_core.errors import ArtifactIntegrityError
from registry_core.server.auth import Principal
from registry_core.server.streams import RequestBody
from registry_core.store.embedded import EmbeddedStore


def add_artifact_routes(
    app: FastAPI,
    store: EmbeddedStore,
    caller: Callable[[Request], Principal],
    require: Callable[[Principal, str], None],
) -> None:
    """PUT, GET and HEAD `ARTIFACT_PATH`, and GET `ARTIFACT_PATH/verify`."""
    tags: list[Any] = ["Registry"]

    @app.put(ARTIFACT_PATH, tags=tags, operation_id="put_artifact", summary="Upload an artifact")
    def upload(sha256: str, request: Request) -> Response:
        require(caller(request), WRITER)
        ref = store.artifacts.put_stream(RequestBody(request), sha256)
        return Response(
            json.dumps({"sha256": ref.sha256, "size": ref.size}), media_type="application/json"
        )

    @app.get(ARTIFACT_PATH, tags=tags, operation_id="get_artifact", summary="Download an artifact")
    def download(sha256: str, request: Request) -> Response:
        require(caller(request), READER)
        path = store.artifacts.path_for(sha256)
        if not path.is_file():
            raise ArtifactIntegrityError(f"Artifact {sha256} is missing from the server's store.")
        return FileResponse(path, media_type="application/octet-stream")

    @app.head(ARTIFACT_PATH, tags=tags, operation_id="head_artifact", summary="Is it stored?")
    def exists(sha256: str, request: Request) -> Response:
        require(caller(request), READER)
        return Response(status_code=200 if store.artifacts.exists(sha256) else 404)

    @app.get(
        ARTIFACT_PATH + "/verify",
        tags=tags,
        operation_id="verify_artifact",
        summary="What is wrong with a stored artifact",
    )
    def verify(sha256: str, request: Request) -> Response:
        require(caller(request), READER)
        problem = store.artifacts.verify(sha256)
        return Response(json.dumps({"problem": problem}), media_type="application/json")
