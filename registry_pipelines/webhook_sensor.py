"""A Dagster sensor, running by default, that delivers the registry's pending webhook events."""

from __future__ import annotations

import dagster as dg

from registry_pipelines.resources import RegistryResource

# Dagster abandons a sensor evaluation after 60 s by default; a drain stops taking new work
# after this budget, and its last batch ends within one request timeout.
TICK_BUDGET_SECONDS = 40.0


@dg.sensor(
    name="registry_webhooks",
    description="Sends pending registry webhook events, with retries and dead letters.",
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def webhook_sensor(
    context: dg.SensorEvaluationContext, registry: RegistryResource
) -> dg.SkipReason:
    """Drain the webhook outbox on each tick; it never requests runs."""
    summary = registry.client().deliver_webhooks(max_seconds=TICK_BUDGET_SECONDS)
    if summary.attempts:
        context.log.info(str(summary))
    return dg.SkipReason(str(summary))
