"""Promotion: give Production (and @champion) to a validated version, never to an older one."""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from registry_core.client import RegistryClient
from registry_core.config import default_actor
from registry_core.entities import STAGE_PRODUCTION
from registry_core.errors import InvalidState
from registry_core.search_filter import quote_literal

CHAMPION_ALIAS = "champion"
SENSOR_NAME_TAG = "dagster/sensor_name"


@dataclass(frozen=True)
class PromotionOutcome:
    """What a promotion did: the version now in Production, the one before, and why."""

    promoted: bool
    production_version: str | None
    previous_version: str | None
    message: str


def promotion_actor(context: dg.AssetExecutionContext | dg.OpExecutionContext) -> str:
    """`dagster:<sensor name>` for sensor-launched runs, else `dagster:<who launched it>`."""
    sensor = context.run.tags.get(SENSOR_NAME_TAG)
    return f"dagster:{sensor}" if sensor else f"dagster:{default_actor()}"


def newest_validated_version(client: RegistryClient, name: str) -> str | None:
    """The highest version of a model tagged `validation=passed`."""
    found = client.search_model_versions(
        f"name = {quote_literal(name)} AND tags.validation = 'passed'",
        max_results=1,
        order_by=["version_number DESC"],
    )
    return found[0].version if found else None


def promote(
    client: RegistryClient,
    name: str,
    version: int | None,
    *,
    actor: str,
    reason: str,
    allow_unvalidated: bool = False,
) -> PromotionOutcome:
    """Move a version to Production, archiving the others, and point @champion at it.

    Refuses a version whose validation failed (unless allowed) and never replaces a newer
    Production version with an older one; those cases are reported, not raised.
    """
    with client.session():
        chosen = str(version) if version is not None else newest_validated_version(client, name)
        current = client.get_latest_versions(name, [STAGE_PRODUCTION])
        previous = current[0].version if current else None
        if chosen is None:
            return PromotionOutcome(False, previous, previous, "no version passed validation")
        mv = client.get_model_version(name, chosen)
        if mv.tags.get("validation") != "passed" and not allow_unvalidated:
            raise InvalidState(
                f"Version {chosen} of {name} has validation={mv.tags.get('validation', 'none')}: "
                "only versions that passed validation are promoted."
            )
        if previous is not None and int(previous) >= int(chosen):
            message = (
                f"version {chosen} not promoted: version {previous} is already in Production"
                if int(previous) > int(chosen)
                else f"version {chosen} is already in Production"
            )
            return PromotionOutcome(False, previous, previous, message)
        client.transition_model_version_stage(
            name,
            chosen,
            STAGE_PRODUCTION,
            archive_existing_versions=True,
            actor=actor,
            reason=reason,
        )
        client.set_registered_model_alias(name, CHAMPION_ALIAS, chosen, actor=actor, reason=reason)
    return PromotionOutcome(
        True, chosen, previous, f"version {chosen} promoted to Production (was {previous})"
    )
