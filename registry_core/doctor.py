"""`registry doctor`: check a registry's artifacts, stages and schema, and list what is wrong."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from registry_core.client import RegistryClient
from registry_core.entities import (
    STAGE_ARCHIVED,
    STAGE_PRODUCTION,
    ModelVersion,
    PagedList,
    Run,
    StageTransition,
)
from registry_core.errors import DATA_LOSS, INVALID_STATE
from registry_core.mlflow_artifacts import artifact_uri
from registry_core.search_filter import MAX_RESULTS
from registry_core.store.migrations import SCHEMA_VERSION
from registry_core.transfer import Progress, no_progress


@dataclass(frozen=True)
class Finding:
    """One problem: which check found it, what it concerns, what is wrong, and its error code."""

    check: str
    subject: str
    message: str
    error_code: str


@dataclass(frozen=True)
class DoctorReport:
    """Every finding, with how much was looked at."""

    findings: tuple[Finding, ...]
    schema_version: int
    versions: int
    runs: int
    artifacts: int

    @property
    def ok(self) -> bool:
        """True when nothing was found."""
        return not self.findings


def examine(client: RegistryClient, progress: Progress | None = None) -> DoctorReport:
    """Run every check: artifacts (MLflow's proxied files too), Production uniqueness, schema
    and store consistency."""
    versions: list[ModelVersion] = list(
        _every(
            client.search_model_versions,
            max_results=MAX_RESULTS["model_version"].maximum,
            order_by=["name ASC", "version_number ASC"],
        )
    )
    runs: list[Run] = list(_every(client.search_runs, max_results=MAX_RESULTS["run"].maximum))
    users = _artifact_users(versions, runs, client.proxied_files())
    findings = [
        *_artifact_findings(client, users, progress),
        *_production_findings(client, versions),
    ]
    ownership = client.artifact_folder_problem()
    if ownership is not None:
        findings.append(Finding("artifact folder", client.registry_uri, ownership, INVALID_STATE))
    schema = client.schema_version()
    if schema != SCHEMA_VERSION:
        findings.append(
            Finding(
                "schema",
                "registry",
                f"schema version is {schema}, this library expects {SCHEMA_VERSION}",
                INVALID_STATE,
            )
        )
    findings.extend(
        Finding("consistency", "registry", problem, INVALID_STATE)
        for problem in client.check_consistency()
    )
    return DoctorReport(
        findings=tuple(findings),
        schema_version=schema,
        versions=len(versions),
        runs=len(runs),
        artifacts=len(users),
    )


def _every(search: Callable[..., PagedList], **kwargs: Any) -> Iterator[Any]:
    """Every result of a search, following its page tokens."""
    token = None
    while True:
        page = search(page_token=token, **kwargs)
        yield from page
        token = page.token
        if token is None:
            return


def _artifact_users(
    versions: list[ModelVersion], runs: list[Run], proxied: dict[str, str]
) -> dict[str, list[str]]:
    """Each referenced digest with the versions, run artifacts and proxied files (by their
    `mlflow-artifacts:/` URI) that reference it."""
    users: dict[str, list[str]] = {}
    for mv in versions:
        if mv.artifact_sha256 is not None:
            users.setdefault(mv.artifact_sha256, []).append(mv.uri)
    for run in runs:
        for artifact in run.artifacts:
            users.setdefault(artifact.sha256, []).append(f"runs:/{run.run_id}/{artifact.path}")
    for path, digest in proxied.items():
        users.setdefault(digest, []).append(artifact_uri(path))
    return users


def _artifact_findings(
    client: RegistryClient, users: dict[str, list[str]], progress: Progress | None
) -> Iterator[Finding]:
    """Each reference to an artifact that is missing or whose bytes no longer match."""
    report = progress or no_progress
    report("artifacts", 0, len(users))
    for done, digest in enumerate(sorted(users), start=1):
        problem = client.artifacts.verify(digest)
        if problem is not None:
            for subject in users[digest]:
                yield Finding("artifact", subject, problem, DATA_LOSS)
        report("artifacts", done, len(users))


def _production_findings(client: RegistryClient, versions: list[ModelVersion]) -> Iterator[Finding]:
    """Models with several Production versions although their last promotion archived others."""
    holders: dict[str, list[str]] = {}
    for mv in versions:
        if mv.current_stage == STAGE_PRODUCTION:
            holders.setdefault(mv.name, []).append(mv.version)
    for name, numbers in sorted(holders.items()):
        if len(numbers) < 2:
            continue
        promotion = _archiving_promotion(client.get_model_version_history(name))
        if promotion is not None:
            yield Finding(
                "production",
                f"model {name}",
                f"versions {', '.join(numbers)} are all in Production, but the latest promotion "
                f"(version {promotion.version} by {promotion.actor}, history id {promotion.id}) "
                "archived the other Production versions",
                INVALID_STATE,
            )


def _archiving_promotion(history: list[StageTransition]) -> StageTransition | None:
    """The latest move into Production if it archived other versions, else None.

    A promotion that archives others (`archive_existing_versions`, or a rollback) records the
    archive events first, in the same transaction: with consecutive ids right before it, its
    timestamp, and a reason that starts with `archived:` or repeats the promotion's own.
    """
    entered = [
        index
        for index, entry in enumerate(history)
        if entry.event == "stage" and entry.to_stage == STAGE_PRODUCTION
    ]
    if not entered:
        return None
    promotion = history[entered[-1]]
    previous = history[entered[-1] - 1] if entered[-1] > 0 else None
    archived = (
        previous is not None
        and previous.id == promotion.id - 1
        and previous.event == "stage"
        and previous.from_stage == STAGE_PRODUCTION
        and previous.to_stage == STAGE_ARCHIVED
        and previous.timestamp == promotion.timestamp
        and previous.reason is not None
        and (previous.reason.startswith("archived:") or previous.reason == promotion.reason)
    )
    return promotion if archived else None
