"""The fluent API of `mlflow`: `start_run`, `log_param`, `log_metric`, `log_model`, ... on an
active run, so training scripts port by changing the import."""

from __future__ import annotations

import os
import subprocess
import threading
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from registry_core import config
from registry_core.client import RegistryClient
from registry_core.entities import Metric, ModelVersion, Run, now_ms
from registry_core.errors import InvalidState, ResourceDoesNotExist
from registry_core.fingerprint import DataFingerprint
from registry_core.signature import ModelSignature
from registry_core.uris import RunUri, parse_uri

_local = threading.local()


def get_registry_uri() -> str:
    """The registry the fluent API and new clients use: a server URL or a folder."""
    uri = config.chosen_uri()
    return uri if config.is_server_uri(uri) else str(config.resolve_location(uri).root)


def _client() -> RegistryClient:
    return RegistryClient()


def _stack() -> list[ActiveRun]:
    if not hasattr(_local, "stack"):
        _local.stack = []
    return _local.stack


@dataclass(frozen=True)
class RunInfo:
    """The identity of a run, as `mlflow.ActiveRun.info` offers it."""

    run_id: str
    run_name: str | None


class ActiveRun:
    """The run that fluent calls log to; ends as FINISHED, or FAILED when the block raises."""

    def __init__(self, run: Run) -> None:
        self.info = RunInfo(run.run_id, run.run_name)

    @property
    def run_id(self) -> str:
        return self.info.run_id

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        end_run("FAILED" if exc_type else "FINISHED")

    def __repr__(self) -> str:
        return f"ActiveRun(run_id={self.info.run_id!r}, run_name={self.info.run_name!r})"


@dataclass(frozen=True)
class LoggedModelInfo:
    """What `log_model` stored: the run URI, the digest and, when asked, the new version."""

    run_id: str
    artifact_path: str
    model_uri: str
    sha256: str
    format: str
    signature: dict[str, Any] | None
    registered_model_version: str | None


def git_commit(path: str | os.PathLike[str] | None = None) -> str | None:
    """The git commit of the working directory's repository, if there is one."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=path,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def start_run(
    run_name: str | None = None,
    tags: dict[str, Any] | None = None,
    *,
    nested: bool = False,
    source_info: dict[str, Any] | None = None,
    code_version: str | None = None,
) -> ActiveRun:
    """Start a run and make it active; use it as a context manager to end it."""
    if _stack() and not nested:
        raise InvalidState(
            f"Run {_stack()[-1].run_id} is already active: end it first, or pass nested=True."
        )
    run = _client().create_run(
        run_name,
        tags,
        code_version=code_version or git_commit(),
        source_info=source_info,
    )
    active = ActiveRun(run)
    _stack().append(active)
    return active


def active_run() -> ActiveRun | None:
    """The innermost active run of this thread, or None."""
    return _stack()[-1] if _stack() else None


def end_run(status: str = "FINISHED") -> None:
    """End the active run with a status (FINISHED, FAILED or KILLED); a no-op when none is."""
    if _stack():
        run = _stack().pop()
        _client().set_terminated(run.run_id, status)


def _active_id() -> str:
    run = active_run()
    if run is None:
        raise InvalidState("No active run: call start_run() first.")
    return run.run_id


def log_param(key: str, value: Any) -> Any:
    _client().log_param(_active_id(), key, value)
    return value


def log_params(params: dict[str, Any]) -> None:
    _client().log_batch(_active_id(), params=params)


def log_metric(
    key: str, value: float, step: int | None = None, timestamp: int | None = None
) -> None:
    _client().log_metric(_active_id(), key, value, timestamp=timestamp, step=step)


def log_metrics(metrics: dict[str, float], step: int | None = None) -> None:
    when = now_ms()
    batch = [Metric(key, value, step or 0, when) for key, value in metrics.items()]
    _client().log_batch(_active_id(), metrics=batch)


def set_tag(key: str, value: Any) -> None:
    _client().set_tag(_active_id(), key, value)


def set_tags(tags: dict[str, Any]) -> None:
    _client().log_batch(_active_id(), tags=tags)


def log_input(data: Any, context: str = "training") -> DataFingerprint:
    """Fingerprint the active run's data (content and schema hash, row count)."""
    return _client().log_input(_active_id(), data, context)


def log_model(
    sk_model: Any,
    artifact_path: str,
    registered_model_name: str | None = None,
    input_example: Any = None,
    signature: ModelSignature | None = None,
    format: str | None = None,
    tags: dict[str, Any] | None = None,
) -> LoggedModelInfo:
    """Store a model under the active run (skops for scikit-learn) and, when a name is given,
    register it as a new version of that model, creating the model if needed."""
    client = _client()
    rid = _active_id()
    artifact = client.log_model_artifact(
        rid,
        sk_model,
        artifact_path,
        input_example=input_example,
        signature=signature,
        format=format,
    )
    uri = f"runs:/{rid}/{artifact.path}"
    version = (
        register_model(uri, registered_model_name, tags).version if registered_model_name else None
    )
    return LoggedModelInfo(
        rid, artifact.path, uri, artifact.sha256, artifact.format, artifact.signature, version
    )


def register_model(model_uri: str, name: str, tags: dict[str, Any] | None = None) -> ModelVersion:
    """Register the model at a URI as a new version of `name`, creating the model if missing."""
    client = _client()
    with client.session():
        try:
            client.get_registered_model(name)
        except ResourceDoesNotExist:
            client.create_registered_model(name)
        parsed = parse_uri(model_uri)
        run_id = parsed.run_id if isinstance(parsed, RunUri) else None
        return client.create_model_version(name, model_uri, run_id=run_id, tags=tags)
