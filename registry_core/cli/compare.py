"""`registry compare NAME V1 V2 ...`: params and metrics of versions side by side."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from registry_core.cli.options import NameArg
from registry_core.cli.output import client, emit, text
from registry_core.comparison import Comparison, MetricRow, build_comparison

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.text import Text

app = typer.Typer()

_VERDICT_STYLES = {"better": "green", "worse": "red", "same": "dim"}
_DIRECTION_NOTES = {"higher": " (higher is better)", "lower": " (lower is better)"}


def _metric_cell(row: MetricRow, index: int) -> Text:
    value = row.values[index]
    if value is None:
        return text(None)
    cell = text(f"{value:.6g}")
    delta, verdict = row.deltas[index], row.verdicts[index]
    if delta is not None and verdict != "same":
        label = f" ({delta:+.4g}{', ' + verdict if verdict else ''})"
        cell.append(label, style=_VERDICT_STYLES.get(verdict or "", "yellow"))
    return cell


def render_comparison(comparison: Comparison) -> RenderableType:
    """Versions as columns; params, then metrics with their change from the first column."""
    from rich.table import Table

    grid = Table("", *(f"v{column.version}" for column in comparison.versions))
    grid.title = f"{comparison.name}: changes from v{comparison.versions[0].version}"
    grid.title_justify = "left"
    grid.add_row("stage", *(text(column.stage) for column in comparison.versions))
    grid.add_row("run", *(text(column.run_id) for column in comparison.versions))
    if comparison.params:
        grid.add_section()
        for param in comparison.params:
            grid.add_row(
                text(f"params.{param.key}"),
                *(
                    text(value, style="yellow" if changed else "")
                    for value, changed in zip(param.values, param.changed, strict=True)
                ),
            )
    if comparison.metrics:
        grid.add_section()
        for metric in comparison.metrics:
            grid.add_row(
                text(f"metrics.{metric.key}{_DIRECTION_NOTES.get(metric.direction or '', '')}"),
                *(_metric_cell(metric, index) for index in range(len(metric.values))),
            )
    return grid


@app.command("compare")
def compare(
    name: NameArg,
    versions: Annotated[
        list[int],
        typer.Argument(
            help="Two or more version numbers; changes are measured from the first.",
            min=1,
            show_default=False,
        ),
    ],
) -> None:
    """Compare versions' params and metrics side by side, marking better and worse metrics."""
    if len(versions) < 2:
        raise typer.BadParameter("give at least two versions to compare.", param_hint="VERSIONS")
    with client().session() as registry:
        lineages = [registry.get_model_version_lineage(name, version) for version in versions]
    comparison = build_comparison(name, lineages)
    emit(comparison, lambda: render_comparison(comparison))
