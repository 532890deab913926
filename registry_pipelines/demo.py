"""`make demo`: retrain every declared model with Dagster's multiprocess executor, let the
promotion sensor act, run the promotions it asks for, then print the registry's state."""

import sys

import dagster as dg
from rich.console import Console
from rich.table import Table

from registry_core.client import RegistryClient
from registry_core.errors import RegistryError
from registry_core.search_filter import quote_literal
from registry_pipelines.definitions import LIFECYCLES, all_models_training_job, defs
from registry_pipelines.sensors import PROMOTION_SENSOR_NAME

_CURSOR_KEY = "registry_demo_promotion_cursor"


def _promotion_requests(instance: dg.DagsterInstance) -> list[dg.RunRequest]:
    """Evaluate the promotion sensor as the daemon would, keeping its cursor in the instance."""
    sensor = defs.resolve_sensor_def(PROMOTION_SENSOR_NAME)
    stored = instance.run_storage.get_cursor_values({_CURSOR_KEY}).get(_CURSOR_KEY)
    with dg.build_sensor_context(instance=instance, cursor=stored) as context:
        result = sensor.evaluate_tick(context)
    if result.cursor is not None:
        instance.run_storage.set_cursor_values({_CURSOR_KEY: result.cursor})
    return list(result.run_requests or [])


def _state_table(client: RegistryClient) -> Table:
    """The five newest versions of each declared model: stage, aliases, validation, metrics."""
    table = Table(title=f"Registry {client.registry_uri}")
    for column in ("model", "version", "stage", "aliases", "validation", "metrics"):
        table.add_column(column)
    with client.session():
        for lc in LIFECYCLES:
            versions = client.search_model_versions(
                f"name = {quote_literal(lc.spec.name)}",
                order_by=["version_number DESC"],
                max_results=5,
            )
            for mv in versions:
                run = client.get_model_version_lineage(mv.name, mv.version).run
                metrics = run.metrics if run else {}
                shown = [
                    f"{k}={metrics[k]:.3f}" for k in lc.spec.validation.thresholds if k in metrics
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


def main() -> int:
    """Train, promote, print; exit 1 when the training run fails or the registry cannot be read."""
    console = Console(width=max(Console().width, 110))
    instance = dg.DagsterInstance.get()
    console.print("[bold]Retraining every model (multiprocess executor)...[/bold]")
    with dg.execute_job(dg.reconstructable(all_models_training_job), instance=instance) as result:
        if not result.success:
            console.print(f"[red]Training run {result.run_id} failed.[/red]")
            return 1
        console.print(f"Training run {result.run_id} succeeded.")
    requests = _promotion_requests(instance)
    console.print(f"The promotion sensor asked for {len(requests)} promotion run(s).")
    for request in requests:
        promotion = defs.resolve_job_def(request.job_name).execute_in_process(
            run_config=request.run_config,
            instance=instance,
            tags={**request.tags, "dagster/sensor_name": PROMOTION_SENSOR_NAME},
            raise_on_error=False,
        )
        status = "succeeded" if promotion.success else "failed"
        console.print(f"  {request.run_key}: run {promotion.run_id} {status}")
    try:
        console.print(_state_table(RegistryClient()))
    except RegistryError as error:
        console.print(f"[red]{error}[/red]")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
