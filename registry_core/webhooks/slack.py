"""The `slack` format: a readable Slack message (incoming-webhook payload) for a registry event."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from registry_core.webhooks import events as ev

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
    ev.WEBHOOK_TEST: "Test message for webhook *{webhook}*: {message}",
}
_ICONS: dict[str, str] = {
    ev.MODEL_VERSION_VALIDATION_PASSED: ":white_check_mark:",
    ev.MODEL_VERSION_VALIDATION_FAILED: ":x:",
    ev.REGISTERED_MODEL_DELETED: ":wastebasket:",
    ev.MODEL_VERSION_DELETED: ":wastebasket:",
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
    if data.get("failures"):
        text += "".join(f"\n• {escape(failure)}" for failure in data["failures"])
    return text


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
