"""The deliverer: drains the outbox, POSTing each due delivery and scheduling retries.

Success is a 2xx answer. Connection errors, timeouts, 5xx, 408 and 429 are retried with
exponential backoff and jitter (or after `Retry-After`), then dead-lettered after
`max_attempts`. Any other answer fails the delivery at once, with its status code in the
history: a 3xx (redirects are never followed, so an event cannot be steered to another host)
or a 4xx such as 401 says the subscription is misconfigured, which retrying cannot fix;
`redeliver` sends it again once the URL or secret is corrected.
"""

from __future__ import annotations

import json
import os
import random
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from functools import partial

import httpx

from registry_core import config
from registry_core.errors import InvalidParameterValue
from registry_core.store.outbox import AttemptResult, Claim, OutboxStore
from registry_core.webhooks import events as ev
from registry_core.webhooks.entities import (
    DELIVERY_DEAD_LETTER,
    DELIVERY_DELIVERED,
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    FORMAT_SLACK,
    OUTCOME_DEAD_LETTER,
    OUTCOME_DELIVERED,
    OUTCOME_FAILED,
    OUTCOME_RETRY,
    DeliveryAttempt,
    DeliverySummary,
)
from registry_core.webhooks.signing import signed_headers
from registry_core.webhooks.slack import slack_message

ENV_TIMEOUT = "MODEL_REGISTRY_WEBHOOK_TIMEOUT"
ENV_MAX_ATTEMPTS = "MODEL_REGISTRY_WEBHOOK_MAX_ATTEMPTS"
DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_MAX_ATTEMPTS = 8
MAX_RETRY_AFTER_SECONDS = 24 * 3600.0
RETRYABLE_STATUS_CODES = frozenset({408, 429})
USER_AGENT = "dagster-model-registry-webhooks/0.1"
_BACKOFF_FACTOR = 4
_EXCERPT_BYTES = 300


@dataclass(frozen=True)
class DeliveryConfig:
    """How a deliverer sends: request timeout, attempt limit, backoff and parallel requests."""

    timeout: float = DEFAULT_TIMEOUT_SECONDS
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    backoff_base: float = 5.0
    backoff_max: float = 6 * 3600.0
    concurrency: int = 8

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise InvalidParameterValue(f"Webhook timeout must be positive, got {self.timeout}.")
        if self.max_attempts < 1:
            raise InvalidParameterValue(
                f"max_attempts must be at least 1, got {self.max_attempts}."
            )
        if not 0 <= self.backoff_base <= self.backoff_max:
            raise InvalidParameterValue("Backoff needs 0 <= backoff_base <= backoff_max.")
        if self.concurrency < 1:
            raise InvalidParameterValue(f"concurrency must be at least 1, got {self.concurrency}.")

    @classmethod
    def from_env(cls) -> DeliveryConfig:
        """Defaults, with `MODEL_REGISTRY_WEBHOOK_TIMEOUT` and `..._MAX_ATTEMPTS` applied."""
        return cls(
            timeout=config.env_float(ENV_TIMEOUT, DEFAULT_TIMEOUT_SECONDS),
            max_attempts=int(config.env_float(ENV_MAX_ATTEMPTS, DEFAULT_MAX_ATTEMPTS)),
        )

    @property
    def lease_seconds(self) -> float:
        """How long a claim stays with its deliverer: well past a request's longest timeout."""
        return 3 * self.timeout + 30


def backoff_seconds(round_number: int, base: float, cap: float) -> float:
    """Delay after a failed attempt: base x 4^(n-1), capped, with equal jitter (half to all)."""
    delay = min(cap, base * _BACKOFF_FACTOR ** min(round_number - 1, 32))
    return delay / 2 + random.uniform(0, delay / 2)


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Seconds a `Retry-After` header (delta seconds or HTTP date) asks for, capped at a day."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - now
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


@dataclass(frozen=True)
class _Answer:
    status_code: int | None
    error: str | None
    retryable: bool
    retry_after: float | None = None


def _classify(status_code: int, headers: Mapping[str, str], excerpt: str, now: float) -> _Answer:
    if 200 <= status_code < 300:
        return _Answer(status_code, None, False)
    if 300 <= status_code < 400:
        location = headers.get("location", "?")
        return _Answer(
            status_code, f"HTTP {status_code}: redirect to {location} not followed", False
        )
    error = f"HTTP {status_code}: {excerpt}" if excerpt else f"HTTP {status_code}"
    if status_code >= 500 or status_code in RETRYABLE_STATUS_CODES:
        return _Answer(
            status_code, error, True, retry_after_seconds(headers.get("retry-after"), now)
        )
    return _Answer(status_code, error, False)


def _post(
    http: httpx.Client, url: str, body: bytes, headers: dict[str, str], now: float
) -> _Answer:
    """POST once; read at most a short excerpt of an error answer's body."""
    try:
        with http.stream("POST", url, content=body, headers=headers) as response:
            excerpt = b""
            if not 200 <= response.status_code < 300:
                for chunk in response.iter_bytes():
                    excerpt += chunk
                    if len(excerpt) >= _EXCERPT_BYTES:
                        break
    except httpx.TimeoutException as error:
        return _Answer(None, f"timed out ({type(error).__name__})", True)
    except httpx.TransportError as error:
        return _Answer(None, f"{type(error).__name__}: {error}", True)
    text = excerpt[:_EXCERPT_BYTES].decode(errors="replace").strip()
    return _classify(response.status_code, response.headers, text, now)


def request_body(claim: Claim) -> bytes:
    """The exact bytes POSTed (and signed): the JSON envelope, or a Slack message."""
    payload = ev.envelope(claim.entity, claim.action, claim.timestamp, claim.data)
    if claim.format == FORMAT_SLACK:
        payload = slack_message(payload)
    return json.dumps(payload, separators=(",", ":")).encode()


class WebhookDeliverer:
    """Sends due deliveries; deliverers in many threads or processes never double-send.

    `clock` (epoch seconds) decides what is due and when retries and leases end, so tests can
    move time forward instead of sleeping.
    """

    def __init__(
        self,
        outbox: OutboxStore,
        config: DeliveryConfig | None = None,
        clock: Callable[[], float] = time.time,
        owner: str | None = None,
    ) -> None:
        self.outbox = outbox
        self.config = config or DeliveryConfig.from_env()
        self.clock = clock
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    @property
    def _lease_ms(self) -> int:
        return int(self.config.lease_seconds * 1000)

    def _http(self) -> httpx.Client:
        return httpx.Client(
            timeout=self.config.timeout,
            follow_redirects=False,
            headers={"user-agent": USER_AGENT, "content-type": "application/json"},
        )

    def deliver_pending(self, max_seconds: float | None = None) -> DeliverySummary:
        """Send what is due now, batch by batch, until nothing is due or `max_seconds` pass.

        Retries scheduled for later are left to a later call: this never sleeps.
        """
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        outcomes: Counter[str] = Counter()
        with self._http() as http, ThreadPoolExecutor(self.config.concurrency) as pool:
            while deadline is None or time.monotonic() < deadline:
                claims = self.outbox.claim_due(
                    self.owner, self._now_ms(), self._lease_ms, self.config.concurrency
                )
                if not claims:
                    break
                results = list(pool.map(partial(self._send, http), claims))
                self.outbox.record_attempts(results, self._now_ms())
                outcomes.update(result.attempt.outcome for result in results)
        return DeliverySummary(
            delivered=outcomes[OUTCOME_DELIVERED],
            retrying=outcomes[OUTCOME_RETRY],
            failed=outcomes[OUTCOME_FAILED],
            dead_lettered=outcomes[OUTCOME_DEAD_LETTER],
        )

    def send_test(self, name: str) -> DeliveryAttempt:
        """Send a `webhook.test` event to one webhook now and return the attempt."""
        return self._send_now(
            self.outbox.claim_test(name, self.owner, self._now_ms(), self._lease_ms)
        )

    def redeliver(self, delivery_id: str) -> DeliveryAttempt:
        """Send a delivery again now (same id), with a fresh budget of attempts."""
        return self._send_now(
            self.outbox.claim_redelivery(delivery_id, self.owner, self._now_ms(), self._lease_ms)
        )

    def _send_now(self, claim: Claim) -> DeliveryAttempt:
        with self._http() as http:
            result = self._send(http, claim)
        self.outbox.record_attempts([result], self._now_ms())
        return result.attempt

    def _send(self, http: httpx.Client, claim: Claim) -> AttemptResult:
        """POST one claimed delivery, with no registry lock held, and judge the answer."""
        body = request_body(claim)
        started = self.clock()
        headers = signed_headers(claim.delivery_id, int(started), body, claim.secret)
        timer = time.perf_counter()
        answer = _post(http, claim.url, body, headers, started)
        latency_ms = round((time.perf_counter() - timer) * 1000)
        outcome, status, next_attempt_at = self._decide(claim, answer)
        attempt = DeliveryAttempt(
            delivery_id=claim.delivery_id,
            number=claim.number,
            timestamp=int(started * 1000),
            status_code=answer.status_code,
            latency_ms=latency_ms,
            error=answer.error,
            outcome=outcome,
            deliverer=self.owner,
        )
        return AttemptResult(attempt, status, next_attempt_at)

    def _decide(self, claim: Claim, answer: _Answer) -> tuple[str, str, int | None]:
        """The attempt's outcome, the delivery's new status and when to try next."""
        if answer.error is None:
            return OUTCOME_DELIVERED, DELIVERY_DELIVERED, None
        if not answer.retryable:
            return OUTCOME_FAILED, DELIVERY_FAILED, None
        if claim.round_number >= self.config.max_attempts:
            return OUTCOME_DEAD_LETTER, DELIVERY_DEAD_LETTER, None
        delay = answer.retry_after
        if delay is None:
            delay = backoff_seconds(
                claim.round_number, self.config.backoff_base, self.config.backoff_max
            )
        return OUTCOME_RETRY, DELIVERY_PENDING, self._now_ms() + round(delay * 1000)
