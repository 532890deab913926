"""Export and import through the server: a dump made server-side in one snapshot and streamed
out as a tar; a dump streamed in as a tar, unpacked safely (no links, no paths out of the
folder) and imported in one transaction."""

from __future__ import annotations

import dataclasses
import json
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from registry_core.api.endpoints import ADMIN, EXPORT_PATH, IMPORT_PATH
from registry_core.errors import InvalidParameterValue
from registry_core.server.auth import Principal
from registry_core.server.streams import RequestBody
from registry_core.store.embedded import EmbeddedStore

DUMP_DIR = "dump"


def unpack_dump(archive: Path, target: Path) -> None:
    """Unpack a dump's tar into `target`, refusing links, devices and paths out of it."""
    try:
        with tarfile.open(archive, "r:") as tar:
            tar.extractall(target, filter="data")
    except (tarfile.TarError, OSError) as error:
        raise InvalidParameterValue(f"The dump archive is not a valid tar: {error}") from None


def pack_dump(directory: Path, archive: Path) -> None:
    """A dump folder as an uncompressed tar (its artifacts are mostly compressed already)."""
    with tarfile.open(archive, "w:") as tar:
        for path in sorted(directory.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(directory)), recursive=False)


def add_archive_routes(
    app: FastAPI,
    store: EmbeddedStore,
    caller: Callable[[Request], Principal],
    require: Callable[[Principal, str], None],
) -> None:
    """GET `EXPORT_PATH` and POST `IMPORT_PATH` (admin)."""

    @app.get(EXPORT_PATH, tags=["Registry"], operation_id="export_registry", summary="Export")
    def export(request: Request, include_secrets: bool = False) -> Response:
        require(caller(request), ADMIN)
        work = Path(tempfile.mkdtemp(prefix="registry-export-"))
        try:
            store.export_registry(str(work / DUMP_DIR), include_secrets=include_secrets)
            pack_dump(work / DUMP_DIR, work / "dump.tar")
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        return FileResponse(
            work / "dump.tar",
            media_type="application/x-tar",
            background=BackgroundTask(shutil.rmtree, work, ignore_errors=True),
        )

    @app.post(IMPORT_PATH, tags=["Registry"], operation_id="import_registry", summary="Import")
    def import_(request: Request, on_conflict: str = "fail") -> Response:
        require(caller(request), ADMIN)
        with tempfile.TemporaryDirectory(prefix="registry-import-") as work:
            archive = Path(work) / "dump.tar"
            body = RequestBody(request)
            with archive.open("wb") as out:
                shutil.copyfileobj(body, out)
            unpack_dump(archive, Path(work) / DUMP_DIR)
            summary = store.import_registry(str(Path(work) / DUMP_DIR), on_conflict)
        return Response(json.dumps(dataclasses.asdict(summary)), media_type="application/json")
