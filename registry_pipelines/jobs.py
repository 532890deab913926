"""Manual control from the Launchpad: promote a chosen version, roll a stage back, or settle a
transition request."""

import dagster as dg

from registry_core.entities import STAGE_PRODUCTION, STAGE_STAGING
from registry_pipelines.promotion import CHAMPION_ALIAS, promote, promotion_actor
from registry_pipelines.resources import RegistryResource


class PromoteConfig(dg.Config):
    """Which version of which model goes to which stage, and why."""

    model: str
    version: int
    stage: str = STAGE_PRODUCTION
    reason: str = ""
    allow_unvalidated: bool = False


class RollbackConfig(dg.Config):
    """Which model's stage (or `@alias`) goes back to its previous holder, and why."""

    model: str
    stage: str = STAGE_PRODUCTION
    reason: str = ""


class ApprovalConfig(dg.Config):
    """Which open transition request to settle (by model, version and stage), how, and why."""

    model: str
    version: int
    stage: str = STAGE_PRODUCTION
    approve: bool = True
    comment: str = ""


@dg.op(description="Move a version to a stage, archiving the others; Production moves @champion.")
def promote_model_version(
    context: dg.OpExecutionContext, config: PromoteConfig, registry: RegistryResource
) -> None:
    client = registry.client()
    actor = promotion_actor(context)
    reason = config.reason or f"manual promotion, Dagster run {context.run.run_id}"
    if config.stage.lower() == STAGE_PRODUCTION.lower():
        outcome = promote(
            client,
            config.model,
            config.version,
            actor=actor,
            reason=reason,
            allow_unvalidated=config.allow_unvalidated,
        )
        if not outcome.promoted:
            raise dg.Failure(description=outcome.message)
        context.log.info(outcome.message)
        return
    mv = client.transition_model_version_stage(
        config.model,
        config.version,
        config.stage,
        archive_existing_versions=config.stage.lower() == STAGE_STAGING.lower(),
        actor=actor,
        reason=reason,
    )
    context.log.info(f"version {mv.version} of {mv.name} is now in {mv.current_stage}")


@dg.op(description="Give a stage (or @alias) back to its previous holder; archive the current one.")
def rollback_model(
    context: dg.OpExecutionContext, config: RollbackConfig, registry: RegistryResource
) -> None:
    client = registry.client()
    actor = promotion_actor(context)
    reason = config.reason or f"rollback, Dagster run {context.run.run_id}"
    with client.session():
        restored = client.rollback(config.model, config.stage, actor=actor, reason=reason)
        if config.stage.lower() == STAGE_PRODUCTION.lower():
            client.set_registered_model_alias(
                config.model, CHAMPION_ALIAS, restored.version, actor=actor, reason=reason
            )
    context.log.info(f"{config.stage} of {config.model} is back on version {restored.version}")


@dg.job(description="Promote a chosen model version (configure model, version and stage).")
def promotion_job() -> None:
    promote_model_version()


@dg.job(description="Roll a model's stage back to the version that held it before.")
def rollback_job() -> None:
    rollback_model()


@dg.op(description="Approve (or reject) an open transition request, in the launcher's name.")
def settle_transition_request(
    context: dg.OpExecutionContext, config: ApprovalConfig, registry: RegistryResource
) -> None:
    client = registry.client()
    settle = (
        client.approve_transition_request if config.approve else client.reject_transition_request
    )
    request = settle(
        config.model,
        config.version,
        config.stage,
        comment=config.comment or None,
        actor=promotion_actor(context),
    )
    context.log.info(
        f"request #{request.id} of {request.requested_by} ({config.model} version "
        f"{config.version} to {request.to_stage}) is {request.status}"
    )


@dg.job(description="Approve or reject a transition request (configure model, version, stage).")
def approval_job() -> None:
    settle_transition_request()
