"""The `slack` format: a readable Slack message (incoming-webhook payload) for a registry event."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from registry_core.webhooks import events as ev

ENV_PUBLIC_URL = "MODEL_REGISTRY_PUBLIC_URL"
"""The registry server's address as people reach it; Slack messages link to requests there."""
_REQUEST = "request *#{id}* to move *{name}* version *{version}* to *{to_stage}*"

_TEMPLATES: dict[str, str] = {
    ev.REGISTERED_MODEL_CREATED: "Registered model *{name}* was created",
    ev.REGISTERED_MODEL_RENAMED: "Registered model *{old_name}* was renamed to *{name}*",
    ev.REGISTERED_MODEL_DELETED: "Registered model *{name}* was deleted",
    ev.MODEL_VERSION_CREATED: "*{name}* version *{version}* was registered",
    ev.MODEL_VERSION_DELETED: "*{name}* version *{version}* ({stage}) was deleted by {actor}",
    ev.MODEL_VERSION_STAGE_TRANSITIONED: (
        "*{name}* version *{version}* moved from *{from_stage}* to *{to_stage}* by {actor}"
    ),
    ev.MODEL_VERSION_VALIDATION_PASSED: "*{name}* version *{version}* passed validation",
    ev.MODEL_VERSION_VALIDATION_FAILED: "*{name}* version *{version}* failed validation",
    ev.MODEL_VERSION_ALIAS_SET: "*{name}* alias *@{alias}* now points at version *{version}*",
    ev.MODEL_VERSION_ALIAS_DELETED: "*{name}* alias *@{alias}* (version {version}) was removed",
    ev.MODEL_VERSION_TAG_SET: "*{name}* version *{version}*: tag `{key}` set to `{value}`",
    ev.MODEL_VERSION_TAG_DELETED: "*{name}* version *{version}*: tag `{key}` removed",
    ev.TRANSITION_REQUEST_CREATED: "{actor} opened " + _REQUEST,
    ev.TRANSITION_REQUEST_APPROVED: "{actor} approved " + _REQUEST + " (asked by {requested_by})",
    ev.TRANSITION_REQUEST_REJECTED: "{actor} rejected " + _REQUEST + " (asked by {requested_by})",
    ev.TRANSITION_REQUEST_CANCELLED: "{actor} cancelled " + _REQUEST,
    ev.TRANSITION_REQUEST_CLOSED: "Closed " + _REQUEST,
    ev.MODEL_VERSION_COMMENT_CREATED: "{author} commented on *{name}* version *{version}*",
    ev.WEBHOOK_TEST: "Test message for webhook *{webhook}*: {message}",
}
_ICONS: dict[str, str] = {
    ev.MODEL_VERSION_VALIDATION_PASSED: ":white_check_mark:",
    ev.MODEL_VERSION_VALIDATION_FAILED: ":x:",
    ev.REGISTERED_MODEL_DELETED: ":wastebasket:",
    ev.MODEL_VERSION_DELETED: ":wastebasket:",
    ev.TRANSITION_REQUEST_CREATED: ":raised_hand:",
    ev.TRANSITION_REQUEST_APPROVED: ":white_check_mark:",
    ev.TRANSITION_REQUEST_REJECTED: ":no_entry:",
    ev.MODEL_VERSION_COMMENT_CREATED: ":speech_balloon:",
}


def escape(text: object) -> str:
    """Text with the three characters Slack's mrkdwn reserves (&, <, >) escaped."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _Fields(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def describe(event: str, data: Mapping[str, Any]) -> str:
    """One mrkdwn sentence saying what happened, with the reason or failed checks appended."""
    fields = _Fields({key: escape(value) for key, value in data.items()})
    text = _TEMPLATES.get(event, f"Registry event `{escape(event)}`").format_map(fields)
    icon = _ICONS.get(event)
    if event == ev.MODEL_VERSION_STAGE_TRANSITIONED and data.get("to_stage") == "Production":
        icon = ":rocket:"
    if icon:
        text = f"{icon} {text}"
    if data.get("reason"):
        text += f": _{escape(data['reason'])}_"
    if data.get("comment"):
        text += f": _{escape(str(data['comment']).splitlines()[0])}_"
    if event.startswith("transition_request."):
        text += "\n" + request_link(data)
    if data.get("failures"):
        text += "".join(f"\n• {escape(failure)}" for failure in data["failures"])
    return text


def request_link(data: Mapping[str, Any]) -> str:
    """Where to act on a request: its version's page on the registry server when
    `MODEL_REGISTRY_PUBLIC_URL` is set, else the command that approves it."""
    base = os.environ.get(ENV_PUBLIC_URL, "").rstrip("/")
    if base:
        page = f"{base}/models/{quote(str(data['name']), safe='')}/versions/{data['version']}"
        return f"<{page}#request-{data['id']}|Open request #{data['id']}>"
    return (
        f"`registry requests approve {escape(data['name'])} {data['version']} {data['to_stage']}`"
    )


def slack_message(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """A Slack incoming-webhook body: a `text` fallback plus a section and a context block."""
    event = ev.event_name(envelope["entity"], envelope["action"])
    text = describe(event, envelope["data"])
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"`{event}` at {envelope['timestamp']}"}],
            },
        ],
    }
