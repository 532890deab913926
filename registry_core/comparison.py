"""Versions side by side: their runs' params and metrics lined up, each metric's change from the
first version marked better or worse by the metric's direction (for the CLI and the web UI)."""

from __future__ import annotations

from dataclasses import dataclass

from registry_core.client import Lineage
from registry_core.metrics import is_better, metric_direction


@dataclass(frozen=True)
class VersionColumn:
    """Which version a column shows and where it stands."""

    version: str
    stage: str
    run_id: str | None


@dataclass(frozen=True)
class ParamRow:
    """One param across the versions; `changed` says where it differs from the first."""

    key: str
    values: list[str | None]
    changed: list[bool]


@dataclass(frozen=True)
class MetricRow:
    """One metric across the versions with its change from the first and whether it is better."""

    key: str
    direction: str | None
    values: list[float | None]
    deltas: list[float | None]
    verdicts: list[str | None]


@dataclass(frozen=True)
class Comparison:
    """The whole comparison, as `--json` prints it."""

    name: str
    versions: list[VersionColumn]
    params: list[ParamRow]
    metrics: list[MetricRow]


def _verdict(key: str, value: float | None, first: float | None) -> str | None:
    if value is None or first is None:
        return None
    if value == first:
        return "same"
    better = is_better(key, value, first)
    return None if better is None else ("better" if better else "worse")


def _metric_row(key: str, values: list[float | None]) -> MetricRow:
    first = values[0]
    later = values[1:]
    return MetricRow(
        key=key,
        direction=metric_direction(key),
        values=values,
        deltas=[None, *(None if v is None or first is None else v - first for v in later)],
        verdicts=[None, *(_verdict(key, v, first) for v in later)],
    )


def build_comparison(name: str, lineages: list[Lineage]) -> Comparison:
    """Line up the params and metrics of each version's run."""
    runs = [lineage.run for lineage in lineages]
    params = [run.params if run else {} for run in runs]
    metrics = [run.metrics if run else {} for run in runs]
    param_keys = sorted({key for values in params for key in values})
    metric_keys = sorted({key for values in metrics for key in values})
    return Comparison(
        name=name,
        versions=[
            VersionColumn(
                lineage.model_version.version,
                lineage.model_version.current_stage,
                lineage.model_version.run_id,
            )
            for lineage in lineages
        ],
        params=[
            ParamRow(
                key,
                [values.get(key) for values in params],
                [values.get(key) != params[0].get(key) for values in params],
            )
            for key in param_keys
        ],
        metrics=[_metric_row(key, [values.get(key) for values in metrics]) for key in metric_keys],
    )
