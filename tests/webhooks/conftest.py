"""A real HTTP receiver on 127.0.0.1 with scripted answers, and a clock tests move by hand."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from registry_core.client import RegistryClient
from registry_core.store.outbox import OutboxStore
from registry_core.webhooks.delivery import DeliveryConfig, WebhookDeliverer
from registry_core.webhooks.signing import HEADER_ID, verify

WAIT_SECONDS = 20.0


@dataclass(frozen=True)
class Reply:
    """One scripted answer; with `hold`, the receiver answers only once the event is set."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    hold: threading.Event | None = None


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it; `status` is None when it was held, not answered."""

    headers: dict[str, str]
    body: bytes
    status: int | None

    @property
    def delivery_id(self) -> str:
        return self.headers[HEADER_ID]

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops concurrent connects: 1 s SYN retries


class Receiver:
    """A ThreadingHTTPServer that checks signatures (401 when wrong) and answers from a script.

    `latency` makes every answer that much slower, as a busy receiver would be.
    """

    def __init__(self) -> None:
        self.secret: str | None = None
        self.latency = 0.0
        self.replies: deque[Reply] = deque()
        self.received: list[Received] = []
        self.port = 0
        self._changed = threading.Condition()
        self._server: _Server | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    @property
    def accepted(self) -> list[Received]:
        """Requests answered with a 2xx: what the receiver actually processed."""
        return [r for r in self.received if r.status is not None and 200 <= r.status < 300]

    def script(self, *replies: Reply | int) -> None:
        """Answer the next requests with these, then 200 again."""
        self.replies.extend(r if isinstance(r, Reply) else Reply(r) for r in replies)

    def start(self) -> None:
        """Listen (again, on the same port after `stop`)."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = _Server(("127.0.0.1", self.port), Handler)
        self.port = server.server_port
        self._server = server
        threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()

    def stop(self) -> None:
        """Stop listening: connections are refused until `start`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_for(self, count: int) -> list[Received]:
        """Block until `count` requests arrived (the arrival is the synchronization point)."""
        with self._changed:
            arrived = self._changed.wait_for(lambda: len(self.received) >= count, WAIT_SECONDS)
        assert arrived, f"only {len(self.received)} of {count} requests arrived"
        return self.received

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers.get("content-length", 0)))
        if self.latency:
            time.sleep(self.latency)
        headers = {key.lower(): value for key, value in request.headers.items()}
        with self._changed:
            if self.secret is not None and not verify(self.secret, headers, body):
                reply = Reply(401)
            else:
                reply = self.replies.popleft() if self.replies else Reply()
            self.received.append(Received(headers, body, None if reply.hold else reply.status))
            self._changed.notify_all()
        if reply.hold is not None:
            reply.hold.wait(WAIT_SECONDS)
        try:
            request.send_response(reply.status)
            for key, value in reply.headers.items():
                request.send_header(key, value)
            request.send_header("content-length", "0")
            request.end_headers()
        except OSError:
            pass


class Clock:
    """Epoch seconds that move only when a test says so, so retries need no sleeping."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def promote(client: RegistryClient, name: str = "churn") -> None:
    """Register `name` version 1 (run r1) and move it to Production as alice."""
    client.create_registered_model(name)
    client.create_model_version(name, "runs:/r1/model", run_id="r1")
    client.transition_model_version_stage(
        name, 1, "Production", actor="alice", reason="beats the champion"
    )


def outbox_of(client: RegistryClient) -> OutboxStore:
    """The webhook store over the client's own connection manager."""
    return OutboxStore(client._store.manager)


def deliverer(
    client: RegistryClient, clock: Clock, max_attempts: int = 8, timeout: float = 5.0
) -> WebhookDeliverer:
    """A deliverer on the test clock with a 1 s backoff base (retries due 1, 4, 16 s later)."""
    config = DeliveryConfig(timeout=timeout, max_attempts=max_attempts, backoff_base=1.0)
    return WebhookDeliverer(outbox_of(client), config, clock)
