"""`import_mlflow`: plan what of an MLflow registry this registry lacks, then import it model by
model, each model's artifacts stored first and its rows written in one transaction."""

from __future__ import annotations

import hashlib
import os
import signal
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from registry_core.artifacts import CHUNK_SIZE
from registry_core.client import RegistryClient
from registry_core.errors import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from registry_core.mlflow_import.bundle import (
    IMPORT_ARTIFACT_TAG,
    IMPORT_CONVERTED_TAG,
    IMPORT_FLAVOR_TAG,
    IMPORT_NAME_TAG,
    IMPORT_SOURCE_TAG,
    IMPORT_USER_TAG,
    ImportedModel,
    ImportedRun,
    ImportedVersion,
)
from registry_core.mlflow_import.convert import Converter
from registry_core.mlflow_import.reader import (
    MlflowReader,
    SourceModel,
    SourceVersion,
    model_file,
    public_uri,
)
from registry_core.store.base import Progress
from registry_core.transfer import no_progress

ON_CONFLICT: tuple[str, ...] = ("fail", "skip", "rename")
RENAME_SUFFIX = "-mlflow"
MAX_RENAMES = 100
KILL_AFTER_ENV = "MODEL_REGISTRY_MLFLOW_IMPORT_KILL_AFTER"
"""For tests of resuming: SIGKILL the import after that many models, with the next model's
artifacts stored but its rows not yet written."""
PICKLE = "pickle"


@dataclass(frozen=True)
class ModelPlan:
    """What an import does with one MLflow model: `import` it new, `add` the versions a
    previous import lacks, leave it `up to date`, or `skip` it (its name is taken here)."""

    mlflow_name: str
    name: str
    action: str
    versions: int
    new_versions: int
    new_runs: int = 0
    """Distinct MLflow runs behind the new versions (some may be here already)."""


@dataclass(frozen=True)
class MlflowImportSummary:
    """What an import wrote (or, with `dry_run`, would write)."""

    tracking_uri: str
    dry_run: bool
    models: int = 0
    versions: int = 0
    runs: int = 0
    metrics: int = 0
    artifacts: int = 0
    bytes: int = 0
    converted: int = 0
    opaque: int = 0
    skipped: int = 0
    plans: tuple[ModelPlan, ...] = field(default=())


def import_mlflow(
    client: RegistryClient,
    tracking_uri: str,
    *,
    on_conflict: str = "fail",
    dry_run: bool = False,
    convert: bool = False,
    progress: Progress | None = None,
) -> MlflowImportSummary:
    """Import every registered model of an MLflow registry with its versions, aliases, runs and
    artifacts; what an earlier import brought is not imported again."""
    if on_conflict not in ON_CONFLICT:
        raise InvalidParameterValue(
            f"Invalid on_conflict {on_conflict!r}: use one of {', '.join(ON_CONFLICT)}."
        )
    report = progress or no_progress
    reader = MlflowReader(tracking_uri)
    origin = public_uri(tracking_uri)
    sources = [reader.model(name) for name in reader.model_names()]
    plans = [_plan(client, source, on_conflict) for source in sources]
    refused = [plan.mlflow_name for plan in plans if plan.action == "refuse"]
    if refused:
        raise ResourceAlreadyExists(
            f"Registered model(s) {', '.join(refused)} already exist here and were not imported "
            "from MLflow: nothing was imported. Pass on_conflict 'skip' or 'rename' "
            "(--on-conflict skip|rename)."
        )
    summary = MlflowImportSummary(
        tracking_uri=origin,
        dry_run=dry_run,
        skipped=sum(plan.action == "skip" for plan in plans),
        plans=tuple(plans),
    )
    if dry_run:
        return replace(
            summary,
            models=sum(plan.action == "import" for plan in plans),
            versions=sum(plan.new_versions for plan in plans),
            runs=sum(plan.new_runs for plan in plans),
        )
    kill_after = int(os.environ.get(KILL_AFTER_ENV) or -1)
    work = [
        (plan, source) for plan, source in zip(plans, sources, strict=True) if plan.new_versions
    ]
    report("models", 0, len(work))
    with Converter() as converter, tempfile.TemporaryDirectory(prefix="mlflow-import-") as tmp:
        for done, (plan, source) in enumerate(work):
            step = _Step(client, reader, converter if convert else None, Path(tmp) / str(done))
            bundle = step.bundle(plan, source, origin)
            if done == kill_after:
                os.kill(os.getpid(), signal.SIGKILL)
            result = client.import_mlflow_model(bundle)
            summary = replace(
                summary,
                models=summary.models + result.created,
                versions=summary.versions + result.versions,
                runs=summary.runs + result.runs,
                metrics=summary.metrics + result.metrics,
                artifacts=summary.artifacts + step.artifacts,
                bytes=summary.bytes + step.bytes,
                converted=summary.converted + step.converted,
                opaque=summary.opaque + step.opaque,
            )
            report("models", done + 1, len(work))
    return summary


def _candidates(name: str) -> Iterator[str]:
    yield name
    yield name + RENAME_SUFFIX
    for number in range(2, MAX_RENAMES):
        yield f"{name}{RENAME_SUFFIX}-{number}"


def _plan(client: RegistryClient, source: SourceModel, on_conflict: str) -> ModelPlan:
    """Where an MLflow model goes here: its earlier import, else a free name the policy allows."""
    for candidate in _candidates(source.name):
        try:
            here = client.get_registered_model(candidate)
        except ResourceDoesNotExist:
            break
        if here.tags.get(IMPORT_NAME_TAG) == source.name:
            held = {
                int(mv.version)
                for mv in client.search_model_versions(f"name='{_quoted(candidate)}'")
            }
            new = [mv for mv in source.versions if mv.version not in held]
            action = "add" if new else "up to date"
            runs = _runs(new)
            return ModelPlan(source.name, candidate, action, len(source.versions), len(new), runs)
    else:
        raise ResourceAlreadyExists(f"No free name for MLflow model {source.name!r} here.")
    count = len(source.versions)
    if candidate == source.name or on_conflict == "rename":
        runs = _runs(source.versions)
        return ModelPlan(source.name, candidate, "import", count, count, runs)
    action = "skip" if on_conflict == "skip" else "refuse"
    return ModelPlan(source.name, source.name, action, count, 0)


def _runs(versions: Sequence[SourceVersion]) -> int:
    return len({mv.run_id for mv in versions if mv.run_id})


def _quoted(name: str) -> str:
    return name.replace("\\", "\\\\").replace("'", "\\'")


class _Step:
    """One model's import: its artifacts downloaded, stored (and converted), then its bundle."""

    def __init__(
        self, client: RegistryClient, reader: MlflowReader, converter: Converter | None, tmp: Path
    ) -> None:
        self.client, self.reader, self.converter, self.tmp = client, reader, converter, tmp
        self.artifacts = self.bytes = self.converted = self.opaque = 0

    def bundle(self, plan: ModelPlan, source: SourceModel, origin: str) -> ImportedModel:
        """The model as the store takes it; every artifact it names is stored already."""
        held = self._held(plan)
        versions = [mv for mv in source.versions if mv.version not in held]
        runs: dict[str, ImportedRun] = {}
        for mv in versions:
            if mv.run_id and mv.run_id not in runs:
                run = self.reader.run(mv.run_id)
                if run is not None:
                    runs[mv.run_id] = replace(run, tags={**run.tags, IMPORT_SOURCE_TAG: origin})
        imported = tuple(self._version(source.name, mv) for mv in versions)
        return ImportedModel(
            name=plan.name,
            description=source.description,
            tags={**source.tags, IMPORT_SOURCE_TAG: origin, IMPORT_NAME_TAG: source.name},
            aliases=source.aliases,
            creation_timestamp=source.creation_timestamp,
            last_updated_timestamp=source.last_updated_timestamp,
            versions=imported,
            runs=tuple(runs.values()),
            reason=f"imported from MLflow ({origin})",
        )

    def _held(self, plan: ModelPlan) -> set[int]:
        if plan.action == "import":
            return set()
        found = self.client.search_model_versions(f"name='{_quoted(plan.name)}'")
        return {int(mv.version) for mv in found}

    def _version(self, name: str, mv: SourceVersion) -> ImportedVersion:
        folder = self.reader.download(mv, name, self.tmp / f"v{mv.version}")
        path, flavor = model_file(folder)
        if path.is_dir():
            path = _packed(path, self.tmp / f"v{mv.version}.tar")
        original, fmt = _digest_and_format(path)
        tags = {
            **mv.tags,
            IMPORT_SOURCE_TAG: mv.source,
            IMPORT_ARTIFACT_TAG: original,
            IMPORT_FLAVOR_TAG: flavor,
        }
        if mv.user_id:
            tags[IMPORT_USER_TAG] = mv.user_id
        signature = None
        if fmt == PICKLE and self.converter is not None and folder.is_dir():
            out = self.tmp / f"v{mv.version}.converted"
            answer = self.converter.convert(folder, out)
            if "error" in answer:
                tags[IMPORT_CONVERTED_TAG] = f"not converted: {answer['error']}"[:5000]
            else:
                path, fmt, signature = out, answer["format"], answer["signature"]
                checked = "predictions checked" if answer["checked"] else "no input example"
                tags[IMPORT_CONVERTED_TAG] = f"{PICKLE} -> {fmt} ({checked})"
                self.converted += 1
        ref = self.client.artifacts.put_file(path)
        self.artifacts += 1
        self.bytes += ref.size
        self.opaque += fmt == PICKLE
        return ImportedVersion(
            version=mv.version,
            current_stage=mv.current_stage,
            status=mv.status,
            description=mv.description,
            tags=tags,
            run_id=mv.run_id,
            run_link=mv.run_link,
            user_id=mv.user_id,
            creation_timestamp=mv.creation_timestamp,
            last_updated_timestamp=mv.last_updated_timestamp,
            artifact_sha256=ref.sha256,
            artifact_format=fmt,
            signature=signature,
        )


def _digest_and_format(path: Path) -> tuple[str, str]:
    """A file's sha256 and the format its first bytes say (pickle when none is known)."""
    from registry_core import formats

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        head = handle.read(16)
        digest.update(head)
        while chunk := handle.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest(), formats.detect_format(head)


def _packed(folder: Path, target: Path) -> Path:
    """A folder without a model file this registry knows, as one (opaque) tar file."""
    with tarfile.open(target, "w") as archive:
        archive.add(folder, arcname=folder.name)
    return target
