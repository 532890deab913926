"""Promotion: give Production (and @champion) to a validated version, never to an older one."""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from registry_core.client import RegistryClient
from registry_core.config import default_actor
from registry_core.entities import STAGE_PRODUCTION, TransitionRequest
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


def approved_request(
    client: RegistryClient, name: str, version: int, request_id: int
) -> TransitionRequest:
    """The approved request to Production `request_id` of this version (Failure without one)."""
    for request in client.list_transition_requests(name, "approved", version=version):
        if request.id == request_id and request.to_stage == STAGE_PRODUCTION:
            return request
    raise dg.Failure(
        description=f"Version {version} of {name} has no approved request #{request_id} to "
        "Production."
    )


def complete_approval(
    client: RegistryClient, name: str, request: TransitionRequest
) -> PromotionOutcome:
    """After an approved request moved a version to Production, point @champion at it in the
    approver's name; reported as not promoted if the version has left Production since."""
    with client.session():
        history = client.get_model_version_history(name)
        moved = next(
            h for h in reversed(history) if h.request_id == request.id and h.event == "stage"
        )
        previous = next(
            (
                h.version
                for h in history
                if h.event == "stage"
                and h.from_stage == STAGE_PRODUCTION
                and h.timestamp == moved.timestamp
            ),
            None,
        )
        if client.get_model_version(name, request.version).current_stage != STAGE_PRODUCTION:
            current = client.get_latest_versions(name, [STAGE_PRODUCTION])
            holder = current[0].version if current else None
            return PromotionOutcome(
                False,
                holder,
                previous,
                f"version {request.version} left Production after request #{request.id} "
                "was approved",
            )
        client.set_registered_model_alias(
            name,
            CHAMPION_ALIAS,
            request.version,
            actor=request.resolved_by or request.requested_by,
            reason=f"approved request #{request.id} of {request.requested_by}",
        )
    return PromotionOutcome(
        True,
        request.version,
        previous,
        f"version {request.version} promoted to Production by {request.resolved_by}, who "
        f"approved request #{request.id} of {request.requested_by} (was {previous})",
    )
