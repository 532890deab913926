"""Webhooks: registry events sent to subscribed URLs, signed (Standard Webhooks) and retried.

Events are written to an outbox in the same transaction as the change that causes them
(`registry_core.store.outbox.record_event`); a deliverer (`registry_core.webhooks.delivery`,
run by the Dagster sensor or `registry webhooks deliver`) sends them at least once.
"""

from registry_core.webhooks.entities import Delivery, DeliveryAttempt, DeliverySummary, Webhook
from registry_core.webhooks.signing import generate_secret, verify

__all__ = [
    "Delivery",
    "DeliveryAttempt",
    "DeliverySummary",
    "Webhook",
    "generate_secret",
    "verify",
]
