"""Signatures, event patterns, the envelope, the Slack text and the retry timing rules."""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest

from registry_core.errors import InvalidParameterValue
from registry_core.webhooks import events as ev
from registry_core.webhooks.delivery import (
    MAX_RETRY_AFTER_SECONDS,
    backoff_seconds,
    retry_after_seconds,
)
from registry_core.webhooks.signing import (
    HEADER_SIGNATURE,
    generate_secret,
    sign,
    signed_headers,
    verify,
)
from registry_core.webhooks.slack import slack_message

# The reference vector of the Standard Webhooks specification.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_matches_the_standard_webhooks_reference_vector() -> None:
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE
    headers = signed_headers(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY, VECTOR_SECRET)
    assert verify(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TIMESTAMP + 10)


def test_verify_rejects_tampering_wrong_secrets_and_stale_timestamps() -> None:
    secret, now = generate_secret(), int(time.time())
    headers = signed_headers("msg_1", now, b"{}", secret)
    assert verify(secret, headers, "{}")
    assert not verify(secret, headers, b'{"x":1}')
    assert not verify(generate_secret(), headers, b"{}")
    assert not verify(secret, headers, b"{}", now=now + 301)
    assert not verify(secret, {k: v for k, v in headers.items() if k != HEADER_SIGNATURE}, b"{}")
    rotated = {**headers, HEADER_SIGNATURE: f"v1,bm90IGl0 {headers[HEADER_SIGNATURE]}"}
    assert verify(secret, {k.upper(): v for k, v in rotated.items()}, b"{}")


def test_unsigned_without_a_secret_and_bad_whsec_secrets_refused() -> None:
    assert HEADER_SIGNATURE not in signed_headers("msg_1", 1, b"{}", None)
    with pytest.raises(InvalidParameterValue):
        sign("whsec_not base64!", "msg_1", 1, b"{}")


@pytest.mark.parametrize(
    "pattern,event,expected",
    [
        ("*", "registered_model.deleted", True),
        ("model_version.*", "model_version.stage_transitioned", True),
        ("model_version.*", "model_version_alias.set", False),
        ("model_version_alias.*", "model_version_alias.deleted", True),
        ("model_version.created", "model_version.created", True),
        ("model_version.created", "model_version.deleted", False),
    ],
)
def test_pattern_matching(pattern: str, event: str, expected: bool) -> None:
    assert ev.matches(ev.check_patterns([pattern]), event) is expected


@pytest.mark.parametrize(
    "patterns", ["model_version.*", [], ["model.*"], ["webhook.test"], ["model_version.moved"]]
)
def test_bad_patterns_are_refused(patterns: object) -> None:
    with pytest.raises(InvalidParameterValue):
        ev.check_patterns(patterns)


def test_check_event_wants_a_known_name_and_exactly_its_fields() -> None:
    data = {"name": "m", "old_name": "n"}
    assert ev.check_event("registered_model", "renamed", data) == ev.REGISTERED_MODEL_RENAMED
    with pytest.raises(InvalidParameterValue):
        ev.check_event("registered_model", "exploded", data)
    with pytest.raises(InvalidParameterValue):
        ev.check_event("registered_model", "renamed", {"name": "m"})


def test_envelope_has_the_four_keys_and_an_iso_utc_timestamp() -> None:
    body = ev.envelope("registered_model", "deleted", 1_700_000_000_123, {"name": "m"})
    assert body == {
        "entity": "registered_model",
        "action": "deleted",
        "timestamp": "2023-11-14T22:13:20.123Z",
        "data": {"name": "m"},
    }


def test_slack_text_is_readable_and_escaped() -> None:
    data = {
        "name": "a<b>&c",
        "version": "7",
        "run_id": None,
        "metrics": {"f1": 0.7},
        "failures": ["f1 0.70 < threshold 0.80"],
        "actor": "ci",
    }
    message = slack_message(ev.envelope("model_version", "validation_failed", 0, data))
    assert message["text"] == (
        ":x: *a&lt;b&gt;&amp;c* version *7* failed validation\n• f1 0.70 &lt; threshold 0.80"
    )
    assert "model_version.validation_failed" in message["blocks"][1]["elements"][0]["text"]


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = time.time()
    assert retry_after_seconds("120", now) == 120
    assert 299 <= (retry_after_seconds(formatdate(now + 300, usegmt=True), now) or 0) <= 300
    assert retry_after_seconds(formatdate(now - 60, usegmt=True), now) == 0
    assert retry_after_seconds("99999999", now) == MAX_RETRY_AFTER_SECONDS
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None


@pytest.mark.parametrize("round_number,full", [(1, 5.0), (2, 20.0), (3, 80.0), (40, 3600.0)])
def test_backoff_is_exponential_capped_and_jittered(round_number: int, full: float) -> None:
    delays = [backoff_seconds(round_number, 5.0, 3600.0) for _ in range(50)]
    assert all(full / 2 <= delay <= full for delay in delays)
    assert len(set(delays)) > 1


def test_slack_links_to_a_transition_request(monkeypatch: pytest.MonkeyPatch) -> None:
    data = {
        "id": 4,
        "name": "churn",
        "version": "3",
        "to_stage": "Production",
        "requested_by": "dagster:sensor",
        "actor": "dagster:sensor",
        "comment": "validation passed in run r1: f1=0.8\n\n| metric |",
    }
    monkeypatch.delenv("MODEL_REGISTRY_PUBLIC_URL", raising=False)
    text = slack_message(ev.envelope("transition_request", "created", 0, data))["text"]
    assert text.startswith(":raised_hand: dagster:sensor opened request *#4* to move *churn*")
    assert ": _validation passed in run r1: f1=0.8_" in text and "| metric |" not in text
    assert text.endswith("`registry requests approve churn 3 Production`")
    monkeypatch.setenv("MODEL_REGISTRY_PUBLIC_URL", "https://registry.example.com/")
    text = slack_message(ev.envelope("transition_request", "approved", 0, data))["text"]
    assert "(asked by dagster:sensor)" in text
    assert text.endswith(
        "<https://registry.example.com/models/churn/versions/3#request-4|Open request #4>"
    )
