"""`make demo`: retrain every shipped model with Dagster's multiprocess executor, let each model's
promotion sensor act, run the promotions they ask for, then print the registry's state.

It prints one line per step and the final table; Dagster's full event log goes to
`$DAGSTER_HOME/demo.log`, or to the terminal with `-v`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
from rich.console import Console
from rich.table import Table

from registry_core.client import RegistryClient
from registry_core.errors import RegistryError
from registry_core.search_filter import quote_literal

_CURSOR_KEY = "registry_demo_promotion_cursor"
_STEP_ENDS = {dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE}


def _promotion_requests(
    instance: dg.DagsterInstance, defs: dg.Definitions, sensor_name: str
) -> list[dg.RunRequest]:
    """Evaluate one promotion sensor as the daemon would, keeping its cursor in the instance."""
    sensor = defs.resolve_sensor_def(sensor_name)
    key = f"{_CURSOR_KEY}:{sensor_name}"
    stored = instance.run_storage.get_cursor_values({key}).get(key)
    with dg.build_sensor_context(instance=instance, cursor=stored) as context:
        result = sensor.evaluate_tick(context)
    if result.cursor is not None:
        instance.run_storage.set_cursor_values({key: result.cursor})
    return list(result.run_requests or [])


def _step_lines(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """One line per finished step, in the order they finished, with its time or its error."""
    starts: dict[str, float] = {}
    lines = []
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or entry.step_key is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            starts[entry.step_key] = entry.timestamp
        elif event.event_type in _STEP_ENDS:
            seconds = entry.timestamp - starts.get(entry.step_key, entry.timestamp)
            step = entry.step_key.replace("__", "/")
            if event.event_type == dg.DagsterEventType.STEP_SUCCESS:
                lines.append(f"  [green]ok[/green]   {step:<46} {seconds:5.1f}s")
            else:
                error = event.step_failure_data.error
                reason = error.message.strip().splitlines()[-1] if error else "failed"
                lines.append(f"  [red]FAIL[/red] {step:<46} {reason}")
    return lines


@contextlib.contextmanager
def _output_to(path: Path | None) -> Iterator[None]:
    """Send everything this process and its step processes write to stdout and stderr into
    `path` (appending) for the duration; a no-op for None."""
    if path is None:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with path.open("ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, copy in zip((1, 2), saved, strict=True):
                os.dup2(copy, fd)
                os.close(copy)


def _state_table(client: RegistryClient, specs: list[Any]) -> Table:
    """The five newest versions of each declared model: stage, aliases, validation, metrics."""
    table = Table(title=f"Registry {client.registry_uri}")
    for column in ("model", "version", "stage", "aliases", "validation", "metrics"):
        table.add_column(column)
    with client.session():
        for spec in specs:
            versions = client.search_model_versions(
                f"name = {quote_literal(spec.name)}",
                order_by=["version_number DESC"],
                max_results=5,
            )
            for mv in versions:
                run = client.get_model_version_lineage(mv.name, mv.version).run
                metrics = run.metrics if run else {}
                shown = [
                    f"{k}={metrics[k]:.3f}" for k in spec.validation.thresholds if k in metrics
                ]
                table.add_row(
                    mv.name,
                    mv.version,
                    mv.current_stage,
                    ", ".join(mv.aliases),
                    mv.tags.get("validation", ""),
                    " ".join(shown),
                )
    return table


def main(argv: list[str] | None = None) -> int:
    """Train, promote, print; exit 1 when the training run fails or the registry cannot be read."""
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="Dagster's log on stderr.")
    verbose = parser.parse_args(argv).verbose
    if not verbose:
        warnings.filterwarnings("ignore")
        os.environ.setdefault("PYTHONWARNINGS", "ignore")  # the step processes too
    log_path = None if verbose else Path(os.environ.get("DAGSTER_HOME") or ".") / "demo.log"
    console = Console(width=max(Console().width, 110))
    with _output_to(log_path):
        from registry_pipelines.definitions import SPECS, all_models_training_job, defs
        from registry_pipelines.sensors import promotion_sensor_name

        instance = dg.DagsterInstance.get()
    where = "below" if verbose else f"in {log_path}"
    console.print(f"[bold]Training {len(SPECS)} models[/bold] (Dagster's log {where})")
    with (
        _output_to(log_path),
        dg.execute_job(dg.reconstructable(all_models_training_job), instance=instance) as result,
    ):
        success, run_id = result.success, result.run_id
    for line in _step_lines(instance, run_id):
        console.print(line)
    if not success:
        console.print(f"[red]Training run {run_id} failed.[/red]")
        return 1
    for spec in SPECS:
        if spec.promotion.policy != "auto":
            continue
        sensor_name = promotion_sensor_name(spec)
        with _output_to(log_path):
            requests = _promotion_requests(instance, defs, sensor_name)
        for request in requests:
            with _output_to(log_path):
                promotion = defs.resolve_job_def(request.job_name).execute_in_process(
                    run_config=request.run_config,
                    instance=instance,
                    tags={**request.tags, "dagster/sensor_name": sensor_name},
                    raise_on_error=False,
                )
            status = "[green]ok[/green]  " if promotion.success else "[red]FAIL[/red]"
            console.print(f"  {status} promote {request.run_key.removeprefix('promote:')}")
    try:
        console.print(_state_table(RegistryClient(), SPECS))
    except RegistryError as error:
        console.print(f"[red]{error}[/red]")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
