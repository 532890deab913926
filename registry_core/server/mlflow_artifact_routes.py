"""MLflow's artifact proxy, for MLflow's own client: a file uploaded to a path is streamed into
the content-addressed folder (hashed on the way) before the path points at it, and a download
is checked against its digest before it is sent. Listing a folder is an ordinary endpoint
(`list_mlflow_artifacts`)."""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response

from registry_core.api.endpoints import MLFLOW_ARTIFACTS, READER, WRITER
from registry_core.errors import ArtifactIntegrityError, ResourceDoesNotExist
from registry_core.mlflow_artifacts import safe_path
from registry_core.server.auth import Principal
from registry_core.server.streams import RequestBody
from registry_core.store.embedded import EmbeddedStore

FILE_PATH = MLFLOW_ARTIFACTS + "/{artifact_path:path}"


def add_mlflow_artifact_routes(
    app: FastAPI,
    store: EmbeddedStore,
    caller: Callable[[Request], Principal],
    require: Callable[[Principal, str], None],
    commit: Callable[[Callable[[], None]], None],
) -> None:
    """PUT and GET `FILE_PATH`; the path's row is written by `commit`, as every write is."""
    tags: list[Any] = ["MLflow"]

    @app.put(FILE_PATH, tags=tags, operation_id="put_mlflow_artifact", summary="Upload a file")
    def upload(artifact_path: str, request: Request) -> Response:
        require(caller(request), WRITER)
        path = safe_path(artifact_path)
        ref = store.artifacts.put_stream(RequestBody(request))
        commit(lambda: store.record_mlflow_artifact(path, ref))
        return Response(json.dumps({}), media_type="application/json")

    @app.get(FILE_PATH, tags=tags, operation_id="get_mlflow_artifact", summary="Download a file")
    def download(artifact_path: str, request: Request) -> Response:
        require(caller(request), READER)
        path = safe_path(artifact_path)
        ref = store.mlflow_artifact(path)
        if ref is None:
            raise ResourceDoesNotExist(f"No artifact at {path!r}.")
        problem = store.artifacts.verify(ref.sha256)
        if problem is not None:
            raise ArtifactIntegrityError(problem)
        kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
        return FileResponse(store.artifacts.path_for(ref.sha256), media_type=kind)
