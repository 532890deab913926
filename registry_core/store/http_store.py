"""`HttpStore`: the store interface over a registry server, its methods made from the endpoint
table, so the client does over HTTP exactly what it does on an embedded file.

One connection pool per store (httpx), timeouts, and retries with backoff when the connection
fails or the server is briefly unavailable. Every write carries an idempotency key that stays
the same across its retries, and the server answers a repeated key with its first answer, so a
retry after a lost reply never writes twice.
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
import inspect
import json
import os
import random
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from registry_core.api.endpoints import (
    ARTIFACT_PATH,
    ENDPOINTS,
    EPOCH_HEADER,
    EXPORT_PATH,
    IDEMPOTENCY_HEADER,
    IMPORT_PATH,
    Endpoint,
)
from registry_core.api.errors import error_from
from registry_core.api.wire import dataclass_codec
from registry_core.artifacts import CHUNK_SIZE, ArtifactRef, is_sha256
from registry_core.errors import (
    TEMPORARILY_UNAVAILABLE,
    ArtifactIntegrityError,
    InvalidParameterValue,
    RegistryError,
    ResourceDoesNotExist,
)
from registry_core.store.base import Progress, RegistryStore

ENV_TIMEOUT = "MODEL_REGISTRY_HTTP_TIMEOUT"
ENV_RETRIES = "MODEL_REGISTRY_HTTP_RETRIES"
DEFAULT_TIMEOUT = 60.0
DEFAULT_RETRIES = 6
TRANSFER_TASK = "transfer"
"""The progress task of a dump streamed from or to a server (in bytes)."""
_RETRIED = (httpx.TransportError,)
_BACKOFF_FIRST = 0.05
_BACKOFF_MAX = 5.0


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidParameterValue(f"{name}={raw!r} is not a number.") from None
    if not value >= 0 or value == float("inf"):
        raise InvalidParameterValue(f"{name}={raw!r} must be a finite, non-negative number.")
    return value


class _Transport:
    """One pool of connections to the server, with retries and the caller's token."""

    def __init__(self, base_url: str, token: str | None) -> None:
        headers = {"user-agent": "registry-core"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        timeout = _env_number(ENV_TIMEOUT, DEFAULT_TIMEOUT)
        self.retries = int(_env_number(ENV_RETRIES, DEFAULT_RETRIES))
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)
        self.epoch: str | None = None

    def idempotency_key(self) -> str:
        """A fresh key for one write, kept across its retries. It starts with the server's
        epoch when one was seen, which spares the server looking the key up."""
        key = uuid.uuid4().hex
        return f"{self.epoch}.{key}" if self.epoch else key

    def send(self, build: Callable[[], httpx.Request], stream: bool = False) -> httpx.Response:
        """Send a request, again after a failed connection or a 503, with growing pauses."""
        delay = _BACKOFF_FIRST
        for attempt in range(self.retries + 1):
            try:
                response = self.http.send(build(), stream=stream)
            except _RETRIED as error:
                if attempt == self.retries:
                    raise RegistryError(
                        f"Cannot reach the registry server at {self.base_url}: {error}",
                        TEMPORARILY_UNAVAILABLE,
                    ) from error
            else:
                self.epoch = response.headers.get(EPOCH_HEADER, self.epoch)
                if response.status_code != 503 or attempt == self.retries:
                    return response
                response.close()
            time.sleep(random.uniform(delay / 2, delay))
            delay = min(delay * 2, _BACKOFF_MAX)
        raise AssertionError("unreachable")

    def check(self, response: httpx.Response) -> httpx.Response:
        """The response itself when it succeeded, else its typed error."""
        if response.is_success:
            return response
        response.read()
        try:
            body = response.json()
        except ValueError:
            body = None
        raise error_from(response.status_code, body)


class HttpArtifacts:
    """The server's artifact folder: uploads checked there against their sha256 before any row
    may point at them, downloads checked here again before anything reads them."""

    def __init__(self, transport: _Transport) -> None:
        self._transport = transport

    @staticmethod
    def _path(sha256: str) -> str:
        if not isinstance(sha256, str) or not is_sha256(sha256):
            raise InvalidParameterValue(
                f"Invalid artifact digest {sha256!r}: expected 64 lowercase hex characters."
            )
        return ARTIFACT_PATH.format(sha256=sha256)

    def put_bytes(self, data: bytes) -> ArtifactRef:
        digest = hashlib.sha256(data).hexdigest()
        return self._upload(digest, lambda: data)

    def put_file(self, path: Path | str) -> ArtifactRef:
        source = Path(path)
        if not source.is_file():
            raise ResourceDoesNotExist(f"Cannot store {str(source)!r}: no such file.")
        digest = hashlib.sha256()
        with source.open("rb") as handle:
            while chunk := handle.read(CHUNK_SIZE):
                digest.update(chunk)
        return self._upload(digest.hexdigest(), lambda: _chunks(source))

    def put_stream(self, stream: BinaryIO, expected_sha256: str | None = None) -> ArtifactRef:
        data = stream.read()
        ref = self.put_bytes(data)
        if expected_sha256 is not None and ref.sha256 != expected_sha256:
            raise ArtifactIntegrityError(
                f"The stream hashes to {ref.sha256}, not the expected {expected_sha256}."
            )
        return ref

    def _upload(self, digest: str, content: Callable[[], Any]) -> ArtifactRef:
        path = self._path(digest)
        response = self._transport.send(
            lambda: self._transport.http.build_request(
                "PUT",
                path,
                content=content(),
                headers={"content-type": "application/octet-stream"},
            )
        )
        body = self._transport.check(response).json()
        return ArtifactRef(body["sha256"], int(body["size"]))

    def read_verified(self, sha256: str) -> bytes:
        path = self._path(sha256)
        response = self._transport.send(
            lambda: self._transport.http.build_request("GET", path), stream=True
        )
        try:
            self._transport.check(response)
            digest, parts = hashlib.sha256(), []
            for chunk in response.iter_bytes(CHUNK_SIZE):
                digest.update(chunk)
                parts.append(chunk)
        finally:
            response.close()
        if digest.hexdigest() != sha256:
            raise ArtifactIntegrityError(
                f"Artifact {sha256} failed verification after download: checksum mismatch "
                f"(actual sha256 {digest.hexdigest()})."
            )
        return b"".join(parts)

    def verify(self, sha256: str) -> str | None:
        path = self._path(sha256) + "/verify"
        response = self._transport.send(lambda: self._transport.http.build_request("GET", path))
        return self._transport.check(response).json().get("problem")

    def exists(self, sha256: str) -> bool:
        path = self._path(sha256)
        response = self._transport.send(lambda: self._transport.http.build_request("HEAD", path))
        if response.status_code == 404:
            return False
        self._transport.check(response)
        return True


def _encodable(field: str, value: Any) -> Any:
    """`value` when JSON can carry it; else the typed error the server would give."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        raise InvalidParameterValue(
            f"Invalid request: {field}: a {type(value).__name__} cannot be sent as JSON."
        ) from None
    return value


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            yield chunk


class HttpStore(RegistryStore):
    """A registry server at `base_url`, reached with `token` (or anonymously)."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self._transport = _Transport(base_url, token)
        self.artifacts = HttpArtifacts(self._transport)

    @property
    def uri(self) -> str:
        return self._transport.base_url

    @contextmanager
    def session(self) -> Iterator[None]:
        yield

    def close(self) -> None:
        self._transport.http.close()

    def export_registry(
        self, directory: str, progress: Progress | None = None, include_secrets: bool = False
    ) -> Any:
        from registry_core.server.archive_routes import unpack_dump
        from registry_core.transfer import ExportSummary, prepare_export_dir, read_manifest

        target = Path(directory)
        prepare_export_dir(target)
        report = progress or (lambda task, done, total: None)
        response = self._transport.send(
            lambda: self._transport.http.build_request(
                "GET", EXPORT_PATH, params={"include_secrets": include_secrets}
            ),
            stream=True,
        )
        with tempfile.TemporaryDirectory(prefix="registry-export-") as work:
            archive = Path(work) / "dump.tar"
            try:
                self._transport.check(response)
                total, done = int(response.headers.get("content-length") or 0), 0
                report(TRANSFER_TASK, 0, total)
                with archive.open("wb") as out:
                    for chunk in response.iter_bytes(CHUNK_SIZE):
                        out.write(chunk)
                        done += len(chunk)
                        report(TRANSFER_TASK, done, total)
            finally:
                response.close()
            unpack_dump(archive, target)
        manifest = read_manifest(target)
        hooks = manifest.get("webhooks") or {}
        records = (target / hooks["file"]).read_text().splitlines() if hooks else []
        return ExportSummary(
            directory=str(target),
            schema_version=manifest["schema_version"],
            rows={name: entry["rows"] for name, entry in manifest["tables"].items()},
            artifacts=len(manifest["artifacts"]),
            artifact_bytes=sum(item["size"] for item in manifest["artifacts"]),
            webhooks=len(records),
            secrets_left_out=tuple(
                hook["name"]
                for hook in map(json.loads, records)
                if hook.get("has_secret") and hook.get("secret") is None
            ),
        )

    def import_registry(
        self, directory: str, on_conflict: str = "fail", progress: Progress | None = None
    ) -> Any:
        from registry_core.server.archive_routes import pack_dump
        from registry_core.transfer import ImportSummary, read_manifest

        source = Path(directory)
        read_manifest(source)
        with tempfile.TemporaryDirectory(prefix="registry-import-") as work:
            archive = Path(work) / "dump.tar"
            pack_dump(source, archive)
            response = self._transport.send(
                lambda: self._transport.http.build_request(
                    "POST",
                    IMPORT_PATH,
                    params={"on_conflict": on_conflict},
                    content=_chunks(archive),
                    headers={
                        "content-type": "application/x-tar",
                        IDEMPOTENCY_HEADER: self._transport.idempotency_key(),
                    },
                )
            )
        data = self._transport.check(response).json()
        summary = dataclass_codec(ImportSummary).decode(data)
        return dataclasses.replace(summary, directory=str(source))

    def _call(self, endpoint: Endpoint, arguments: dict[str, Any]) -> Any:
        body = {
            param.field: _encodable(param.field, param.codec.encode(arguments[param.name]))
            for param in endpoint.params
            if arguments.get(param.name) is not None
        }
        headers = {IDEMPOTENCY_HEADER: self._transport.idempotency_key()} if endpoint.writes else {}
        if endpoint.http == "GET":
            options: dict[str, Any] = {"params": body}
        else:
            # MLflow's JSON: NaN metric values travel as NaN, which httpx's encoder refuses.
            options = {"content": json.dumps(body).encode()}
            headers["content-type"] = "application/json"
        response = self._transport.send(
            lambda: self._transport.http.build_request(
                endpoint.http, endpoint.path, headers=headers, **options
            )
        )
        return endpoint.reply.decode(self._transport.check(response).json())


def _store_method(endpoint: Endpoint) -> Callable[..., Any]:
    """A method with the interface's signature that sends its arguments to `endpoint`."""
    signature = inspect.signature(getattr(RegistryStore, endpoint.method))

    def method(self: HttpStore, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs)
        return self._call(endpoint, dict(bound.arguments))

    method.__name__ = endpoint.method
    method.__qualname__ = f"HttpStore.{endpoint.method}"
    method.__signature__ = signature  # type: ignore[attr-defined]
    method.__doc__ = f"{endpoint.http} {endpoint.path}"
    return method


for _endpoint in ENDPOINTS.by_method.values():
    setattr(HttpStore, _endpoint.method, _store_method(_endpoint))
abc.update_abstractmethods(HttpStore)
