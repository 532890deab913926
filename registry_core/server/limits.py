"""What the server accepts and records of each request: body size limits and one access-log
line per request (method, path, status, milliseconds, caller; never bodies or headers)."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from registry_core.api.endpoints import IMPORT_PATH, MLFLOW_ARTIFACTS, REGISTRY
from registry_core.errors import RegistryError

LARGE_BODY_PREFIXES = (REGISTRY + "/artifacts/", MLFLOW_ARTIFACTS + "/", IMPORT_PATH)
REQUEST_LIMIT_EXCEEDED = "REQUEST_LIMIT_EXCEEDED"
_access = logging.getLogger("registry.server.access")


@dataclass(frozen=True)
class ServerLimits:
    """The largest JSON body, and the largest artifact upload or import, in bytes."""

    json_bytes: int = 4 * 1024 * 1024
    artifact_bytes: int = 8 * 1024**3


class BodyTooLarge(RegistryError):
    """A request body over the server's limit (HTTP 413)."""

    error_code = REQUEST_LIMIT_EXCEEDED


class RequestGuard:
    """Pure ASGI middleware: refuses oversized bodies before the app reads them (by
    Content-Length, or while counting a streamed body), and writes the access log."""

    def __init__(self, app: Any, limits: ServerLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path = scope.get("path", "")
        limit = (
            self.limits.artifact_bytes
            if path.startswith(LARGE_BODY_PREFIXES)
            else self.limits.json_bytes
        )
        status = {"code": 500}

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            declared = _content_length(scope)
            if declared is not None and declared > limit:
                await _too_large(sending, limit)
                return
            received = 0

            async def receiving() -> dict[str, Any]:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        raise BodyTooLarge(_too_large_message(limit))
                return message

            await self.app(scope, receiving, sending)
        finally:
            who = scope.get("state", {}).get("principal", "-")
            client = scope.get("client") or ("-", 0)
            _access.info(
                '%s "%s %s" %d %.1fms %s',
                client[0],
                scope.get("method", ""),
                path,
                status["code"],
                (time.perf_counter() - started) * 1000,
                who,
            )


def _content_length(scope: dict[str, Any]) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _too_large_message(limit: int) -> str:
    return f"The request body is larger than this server's limit of {limit} bytes."


async def _too_large(send: Any, limit: int) -> None:
    body = json.dumps(
        {"error_code": REQUEST_LIMIT_EXCEEDED, "message": _too_large_message(limit)}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
