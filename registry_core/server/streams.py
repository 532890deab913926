"""Request bodies read as blocking files, so uploads stream to disk in a worker thread."""

from __future__ import annotations

import anyio.from_thread
from fastapi import Request


class RequestBody:
    """A request body as a file-like object for code running in a worker thread; each read
    pulls the next chunks from the event loop, so a large body never sits in memory."""

    def __init__(self, request: Request) -> None:
        self._chunks = request.stream().__aiter__()
        self._pending = b""
        self._done = False

    def read(self, size: int = -1) -> bytes:
        while not self._done and (size < 0 or len(self._pending) < size):
            try:
                self._pending += anyio.from_thread.run(self._chunks.__anext__)
            except StopAsyncIteration:
                self._done = True
        if size < 0:
            size = len(self._pending)
        data, self._pending = self._pending[:size], self._pending[size:]
        return data
