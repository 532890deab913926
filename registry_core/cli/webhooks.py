"""`registry webhooks ...`: subscribe URLs to registry events, test them, read and redo deliveries,
and drain the outbox where Dagster's webhook sensor is not running."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from registry_core.cli.options import YesOption
from registry_core.cli.output import (
    EXIT_REGISTRY_ERROR,
    client,
    details,
    done,
    emit,
    printable,
    stack,
    table,
    when,
)
from registry_core.webhooks.entities import (
    DELIVERY_STATUSES,
    FORMATS,
    WEBHOOK_STATUSES,
    Delivery,
    DeliveryAttempt,
    Webhook,
)

app = typer.Typer(
    name="webhooks", help="Webhooks: subscriptions, test sends, delivery history, redelivery."
)

if TYPE_CHECKING:
    from rich.console import RenderableType

WebhookArg = Annotated[str, typer.Argument(help="The webhook's name.", show_default=False)]
DeliveryArg = Annotated[
    str, typer.Argument(help="The delivery id (the webhook-id header).", show_default=False)
]
EventsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--event",
        "-e",
        help="An event name or wildcard, e.g. model_version.stage_transitioned or "
        "model_version.* (repeatable).",
    ),
]
SecretOption = Annotated[
    str | None,
    typer.Option(
        "--secret",
        envvar="REGISTRY_WEBHOOK_SECRET",
        show_envvar=True,
        help="The signing secret (an empty string removes it on update).",
    ),
]
AllowHttpOption = Annotated[
    bool,
    typer.Option("--allow-http", help="Allow a plain http URL to a host other than localhost."),
]


def _complete(choices: tuple[str, ...]) -> object:
    return lambda incomplete: [c for c in choices if c.lower().startswith(incomplete.lower())]


DescriptionOption = Annotated[
    str | None, typer.Option("--description", "-d", help="What it is for.")
]
STATUS = typer.Option(
    "--status", help="ACTIVE or DISABLED.", autocompletion=_complete(WEBHOOK_STATUSES)
)
FORMAT = typer.Option(
    "--format", help="json (the event envelope) or slack.", autocompletion=_complete(FORMATS)
)


def _webhooks_table(hooks: list[Webhook]) -> RenderableType:
    return table(
        ["Name", "URL", "Events", "Status", "Format", "Signed", "Description"],
        (
            [
                hook.name,
                hook.url,
                ", ".join(hook.events),
                hook.status,
                hook.format,
                "yes" if hook.has_secret else "no",
                hook.description,
            ]
            for hook in hooks
        ),
    )


def _attempt(attempt: DeliveryAttempt, title: str) -> RenderableType:
    return details(
        [
            ("Delivery", attempt.delivery_id),
            ("Attempt", attempt.number),
            ("Outcome", attempt.outcome),
            ("Status code", attempt.status_code),
            ("Latency ms", attempt.latency_ms),
            ("Error", attempt.error),
        ],
        title=title,
    )


def _fail_unless_delivered(attempt: DeliveryAttempt) -> None:
    """Exit 1 with the receiver's answer on stderr when a send was not accepted."""
    if not attempt.succeeded:
        answer = attempt.error or f"HTTP {attempt.status_code}"
        typer.echo(printable(f"DELIVERY_FAILED: {attempt.outcome.lower()} ({answer})."), err=True)
        raise typer.Exit(EXIT_REGISTRY_ERROR)


@app.command("list")
def list_webhooks() -> None:
    """List webhooks (secrets are never shown)."""
    hooks = client().list_webhooks()
    emit(hooks, lambda: _webhooks_table(hooks))


@app.command("create")
def create_webhook(
    name: WebhookArg,
    url: Annotated[str, typer.Argument(help="Where to POST events.", show_default=False)],
    events: EventsOption = None,
    secret: SecretOption = None,
    description: DescriptionOption = None,
    status: Annotated[str, STATUS] = "ACTIVE",
    body_format: Annotated[str, FORMAT] = "json",
    allow_http: AllowHttpOption = False,
) -> None:
    """Subscribe a URL to registry events (default: every event)."""
    hook = client().create_webhook(
        name, url, events or ["*"], secret, description, status, body_format, allow_http=allow_http
    )
    done(hook, f"Created webhook {hook.name} for {', '.join(hook.events)}.")


@app.command("update")
def update_webhook(
    name: WebhookArg,
    url: Annotated[str | None, typer.Option("--url", help="A new URL.")] = None,
    events: EventsOption = None,
    secret: SecretOption = None,
    description: DescriptionOption = None,
    status: Annotated[str | None, STATUS] = None,
    body_format: Annotated[str | None, FORMAT] = None,
    allow_http: AllowHttpOption = False,
) -> None:
    """Change a webhook's URL, events, secret, description, status or format."""
    hook = client().update_webhook(
        name, url, events, secret, description, status, body_format, allow_http=allow_http
    )
    done(hook, f"Updated webhook {hook.name}.")


@app.command("delete")
def delete_webhook(name: WebhookArg, yes: YesOption = False) -> None:
    """Delete a webhook with its delivery history."""
    if not yes:
        typer.confirm(f"Delete webhook {name} and its delivery history?", abort=True)
    client().delete_webhook(name)
    done({"name": name, "deleted": True}, f"Deleted webhook {name}.")


@app.command("test")
def test_webhook(name: WebhookArg) -> None:
    """Send a `webhook.test` event now; exit 1 unless the receiver accepted it."""
    attempt = client().test_webhook(name)
    emit(attempt, lambda: _attempt(attempt, f"Test of webhook {name}"))
    _fail_unless_delivered(attempt)


def _deliveries_table(deliveries: list[Delivery]) -> RenderableType:
    return table(
        ["Delivery", "Webhook", "Event", "Time", "Status", "Attempts", "Last code", "Last error"],
        (
            [
                d.id,
                d.webhook,
                d.event,
                when(d.event_timestamp),
                d.status,
                d.attempts,
                d.last_status_code,
                d.last_error,
            ]
            for d in deliveries
        ),
    )


@app.command("deliveries")
def deliveries(
    name: Annotated[
        str | None, typer.Argument(help="Only this webhook's deliveries.", show_default=False)
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="PENDING, DELIVERED, FAILED or DEAD_LETTER.",
            autocompletion=_complete(DELIVERY_STATUSES),
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Most deliveries to list.")] = 100,
) -> None:
    """Deliveries, newest event first, with every attempt in --json."""
    found = client().list_webhook_deliveries(name, status, limit)
    emit(found, lambda: _deliveries_table(found))


@app.command("show")
def show_delivery(delivery_id: DeliveryArg) -> None:
    """One delivery with each attempt: time, status code, latency, error and outcome."""
    delivery = client().get_webhook_delivery(delivery_id)
    emit(
        delivery,
        lambda: stack(
            _deliveries_table([delivery]),
            table(
                ["Attempt", "Time", "Code", "Latency ms", "Outcome", "Error", "Deliverer"],
                (
                    [
                        a.number,
                        when(a.timestamp),
                        a.status_code,
                        a.latency_ms,
                        a.outcome,
                        a.error,
                        a.deliverer,
                    ]
                    for a in delivery.history
                ),
                title="Attempts",
            ),
        ),
    )


@app.command("redeliver")
def redeliver(delivery_id: DeliveryArg) -> None:
    """Send a delivery again now, under the same id; exit 1 unless the receiver accepted it."""
    attempt = client().redeliver(delivery_id)
    emit(attempt, lambda: _attempt(attempt, f"Redelivery of {delivery_id}"))
    _fail_unless_delivered(attempt)


@app.command("deliver")
def deliver(
    max_seconds: Annotated[
        float | None, typer.Option("--max-seconds", min=0, help="Stop starting sends after this.")
    ] = None,
) -> None:
    """Send every delivery that is due now (what the Dagster webhook sensor does on each tick)."""
    summary = client().deliver_webhooks(max_seconds)
    emit(summary, lambda: str(summary).capitalize() + ".")
