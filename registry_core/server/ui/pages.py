"""What each page shows, read through the registry client: plain data for the templates.

Every read is a client call (searches are paged by the store, runs of a page of versions come
in one `run_id IN (...)` search), so a page costs a handful of indexed queries whatever the
registry's size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup

from registry_core.client import Lineage, RegistryClient
from registry_core.comparison import Comparison, build_comparison
from registry_core.entities import (
    STAGE_ARCHIVED,
    STAGE_PRODUCTION,
    STAGE_STAGING,
    ModelVersion,
    RegisteredModel,
    Run,
    StageTransition,
    TransitionRequest,
    VersionComment,
)
from registry_core.errors import InvalidParameterValue
from registry_core.metrics import metric_direction
from registry_core.search_filter import decode_page_token, encode_page_token, quote_literal
from registry_core.server.ui.plots import metric_plot

CHAMPION = "champion"
DAGSTER_RUN_ID = "dagster_run_id"
PAGE_SIZES = (25, 50, 100)
MODELS_PER_PAGE = 50
VERSIONS_PER_PAGE = 50
PLOT_VERSIONS = 100
MAX_PLOTS = 12
KEY_METRICS = 4
MAX_COMPARED = 5
HISTORY_PER_PAGE = 100
MODEL_ORDERS: dict[str, tuple[str, list[str]]] = {
    "name": ("name A→Z", ["name ASC"]),
    "-name": ("name Z→A", ["name DESC"]),
    "-updated": ("last updated, newest first", ["last_updated_timestamp DESC"]),
    "updated": ("last updated, oldest first", ["last_updated_timestamp ASC"]),
    "-created": ("created, newest first", ["creation_timestamp DESC"]),
    "created": ("created, oldest first", ["creation_timestamp ASC"]),
}
_FILTER_SYNTAX = re.compile(r"[=<>!]|\b(I?LIKE|IN)\b", re.IGNORECASE)


def when(timestamp: int | None) -> str:
    """Epoch milliseconds as UTC, to the second."""
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(timestamp / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(timestamp: int | None) -> str:
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(timestamp / 1000, UTC).isoformat(timespec="milliseconds")


def size_text(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size:,} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size:,} bytes"


def metric_text(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def filter_for(text: str) -> str | None:
    """The filter a search box means: a filter expression as typed, or a bare word as a
    case-insensitive match anywhere in the model's name."""
    text = text.strip()
    if not text:
        return None
    if _FILTER_SYNTAX.search(text):
        return text
    return f"name ILIKE {quote_literal('%' + text + '%')}"


@dataclass(frozen=True)
class Pager:
    """Where a page of results stands: the next page's token, and the previous page's (`""`
    for the first page, None on the first page itself)."""

    next_token: str | None
    prev_token: str | None

    @classmethod
    def of(cls, token: str | None, size: int, next_token: str | None) -> Pager:
        offset = decode_page_token(token)
        prev = None if offset == 0 else (encode_page_token(offset - size) if offset > size else "")
        return cls(next_token, prev)


def runs_of(client: RegistryClient, versions: list[ModelVersion]) -> dict[str, Run]:
    """The runs of some versions, in one search."""
    ids = sorted({mv.run_id for mv in versions if mv.run_id})
    if not ids:
        return {}
    listed = ", ".join(quote_literal(run_id) for run_id in ids)
    found = client.search_runs(f"run_id IN ({listed})", max_results=len(ids))
    return {run.run_id: run for run in found}


def _version_filter(name: str, stage: str | None = None) -> str:
    clauses = [f"name = {quote_literal(name)}"]
    if stage:
        clauses.append(f"current_stage = {quote_literal(stage)}")
    return " AND ".join(clauses)


# -- the models page ---------------------------------------------------------------------


@dataclass(frozen=True)
class ModelRow:
    """One registered model: its latest version overall and in Staging and Production, its
    champion and other aliases."""

    model: RegisteredModel
    latest: ModelVersion | None
    staging: ModelVersion | None
    production: ModelVersion | None
    champion: str | None
    aliases: list[tuple[str, str]]

    @classmethod
    def of(cls, model: RegisteredModel) -> ModelRow:
        by_stage = {mv.current_stage: mv for mv in model.latest_versions}
        latest = max(model.latest_versions, key=lambda mv: int(mv.version), default=None)
        return cls(
            model=model,
            latest=latest,
            staging=by_stage.get(STAGE_STAGING),
            production=by_stage.get(STAGE_PRODUCTION),
            champion=model.aliases.get(CHAMPION),
            aliases=sorted((a, v) for a, v in model.aliases.items() if a != CHAMPION),
        )


@dataclass(frozen=True)
class ModelsPage:
    query: str
    order: str
    size: int
    rows: list[ModelRow]
    pager: Pager
    problem: str | None = None

    @classmethod
    def failed(cls, query: str, order: str, size: int, problem: str) -> ModelsPage:
        """The search form again, with what was wrong with it."""
        return cls(query, order, size, [], Pager(None, None), problem)


def models_page(
    client: RegistryClient, query: str, order: str, size: int, token: str | None
) -> ModelsPage:
    if order not in MODEL_ORDERS:
        raise InvalidParameterValue(
            f"Unknown order {order!r}: use one of {', '.join(MODEL_ORDERS)}."
        )
    if size not in PAGE_SIZES:
        raise InvalidParameterValue(f"Page size must be one of {PAGE_SIZES}, got {size}.")
    found = client.search_registered_models(
        filter_for(query), size, MODEL_ORDERS[order][1], token or None
    )
    rows = [ModelRow.of(model) for model in found]
    return ModelsPage(query, order, size, rows, Pager.of(token, size, found.token))


# -- a model's page ----------------------------------------------------------------------


@dataclass(frozen=True)
class VersionRow:
    """A version beside its run: validation outcome, key metrics, who registered it."""

    mv: ModelVersion
    run: Run | None

    @property
    def validation(self) -> str | None:
        return self.mv.tags.get("validation")

    @property
    def registered_by(self) -> str | None:
        return self.run.user_id if self.run else None

    @property
    def dagster_run_id(self) -> str | None:
        from_run = self.run.source_info.get(DAGSTER_RUN_ID) if self.run else None
        return self.mv.tags.get(DAGSTER_RUN_ID) or from_run

    def metric(self, key: str) -> float | None:
        return self.run.metrics.get(key) if self.run else None


def key_metrics(runs: list[Run]) -> list[str]:
    """The metrics worth a column: those whose better direction is known, else the first few."""
    keys = sorted({key for run in runs for key in run.metrics})
    directed = [key for key in keys if metric_direction(key)]
    return (directed or keys)[:KEY_METRICS]


@dataclass(frozen=True)
class ModelPage:
    model: RegisteredModel
    rows: list[VersionRow]
    stage: str | None
    pager: Pager
    key_metrics: list[str]
    plots: list[Markup]
    plotted: int
    production: str | None


def model_page(
    client: RegistryClient, name: str, stage: str | None, token: str | None
) -> ModelPage:
    with client.session():
        model = client.get_registered_model(name)
        page = client.search_model_versions(
            _version_filter(name, stage), VERSIONS_PER_PAGE, ["version_number DESC"], token
        )
        recent = client.search_model_versions(
            _version_filter(name), PLOT_VERSIONS, ["version_number DESC"]
        )
        runs = runs_of(client, [*page, *recent])
    production = next(
        (mv.version for mv in model.latest_versions if mv.current_stage == STAGE_PRODUCTION), None
    )
    rows = [VersionRow(mv, runs.get(mv.run_id or "")) for mv in page]
    plotted = [VersionRow(mv, runs.get(mv.run_id or "")) for mv in reversed(recent)]
    plotted_runs = [row.run for row in plotted if row.run]
    keys = key_metrics(plotted_runs)
    every = sorted({key for run in plotted_runs for key in run.metrics})
    plots = [
        metric_plot(
            key,
            [(int(r.mv.version), v) for r in plotted if (v := r.metric(key)) is not None],
            metric_direction(key),
            int(production) if production else None,
        )
        for key in [*keys, *(key for key in every if key not in keys)][:MAX_PLOTS]
    ]
    return ModelPage(
        model=model,
        rows=rows,
        stage=stage,
        pager=Pager.of(token, VERSIONS_PER_PAGE, page.token),
        key_metrics=key_metrics([row.run for row in rows if row.run]) or keys,
        plots=plots,
        plotted=len(recent),
        production=production,
    )


# -- a version's page --------------------------------------------------------------------


@dataclass(frozen=True)
class VersionPage:
    mv: ModelVersion
    run: Run | None
    uris: list[str]
    history: list[StageTransition]
    requests: list[TransitionRequest]
    comments: list[VersionComment]

    @property
    def row(self) -> VersionRow:
        return VersionRow(self.mv, self.run)

    @property
    def source_info(self) -> list[tuple[str, Any]]:
        return sorted(self.run.source_info.items()) if self.run else []


def version_page(client: RegistryClient, name: str, version: str) -> VersionPage:
    with client.session():
        lineage = client.get_model_version_lineage(name, version)
        mv = lineage.model_version
        history = client.get_model_version_history(name, mv.version)
        model = client.get_registered_model(name)
        requests = client.list_transition_requests(name, "open", version=mv.version)
        comments = client.list_comments(name, mv.version)
    uris = [mv.uri, *(f"models:/{name}@{alias}" for alias in mv.aliases)]
    holders = {held.current_stage: held.version for held in model.latest_versions}
    if (
        mv.current_stage in (STAGE_STAGING, STAGE_PRODUCTION)
        and holders.get(mv.current_stage) == mv.version
    ):
        uris.append(f"models:/{name}/{mv.current_stage}")
    if max((int(held) for held in holders.values()), default=0) == int(mv.version):
        uris.append(f"models:/{name}/latest")
    return VersionPage(mv, lineage.run, uris, list(reversed(history)), requests, comments)


# -- comparing versions ------------------------------------------------------------------


@dataclass(frozen=True)
class ComparePage:
    comparison: Comparison
    rows: list[VersionRow]
    all_params: bool

    @property
    def params(self) -> list[Any]:
        shown = self.comparison.params
        return shown if self.all_params else [p for p in shown if any(p.changed)]


def compared_versions(raw: list[str]) -> list[str]:
    """Two to five distinct version numbers, in the order given."""
    versions: list[str] = []
    for item in raw:
        for part in item.replace(",", " ").split():
            if not part.isdigit() or int(part) < 1:
                raise InvalidParameterValue(f"Not a version number: {part!r}.")
            if str(int(part)) not in versions:
                versions.append(str(int(part)))
    if not 2 <= len(versions) <= MAX_COMPARED:
        raise InvalidParameterValue(
            f"Choose two to {MAX_COMPARED} versions to compare; got {len(versions)}."
        )
    return versions


def compare_page(
    client: RegistryClient, name: str, raw_versions: list[str], all_params: bool
) -> ComparePage:
    versions = compared_versions(raw_versions)
    with client.session():
        lineages: list[Lineage] = [client.get_model_version_lineage(name, v) for v in versions]
    rows = [VersionRow(lineage.model_version, lineage.run) for lineage in lineages]
    return ComparePage(build_comparison(name, lineages), rows, all_params)


# -- history -----------------------------------------------------------------------------


def parse_when(text: str) -> datetime:
    """A time from the history form: ISO 8601 (without a zone it is UTC) or epoch ms."""
    text = text.strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidParameterValue(
            f"Not a time: {text!r}; use YYYY-MM-DD HH:MM (UTC) or epoch milliseconds."
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Holding:
    """The answer to "which version held <holder> at <time>"."""

    holder: str
    at: datetime
    version: ModelVersion | None


@dataclass(frozen=True)
class HistoryPage:
    model: RegisteredModel
    events: list[StageTransition]
    total: int
    page: int
    pages: int
    holders: list[str]
    holder: str
    at_text: str
    holding: Holding | None
    error: str | None = None
    version: str | None = None


def history_page(
    client: RegistryClient,
    name: str,
    version: str | None,
    page: int,
    holder: str,
    at_text: str,
) -> HistoryPage:
    with client.session():
        model = client.get_registered_model(name)
        events = client.get_model_version_history(name, version or None)
        holding, error = None, None
        if at_text.strip():
            try:
                at = parse_when(at_text)
                holding = Holding(holder, at, client.get_version_at(name, holder, at))
            except InvalidParameterValue as problem:
                error = problem.message
    aliases = sorted({e.alias for e in events if e.alias} | set(model.aliases))
    newest = list(reversed(events))
    pages = max(1, -(-len(newest) // HISTORY_PER_PAGE))
    page = min(max(page, 1), pages)
    shown = newest[(page - 1) * HISTORY_PER_PAGE : page * HISTORY_PER_PAGE]
    return HistoryPage(
        model=model,
        events=shown,
        total=len(newest),
        page=page,
        pages=pages,
        holders=[STAGE_PRODUCTION, STAGE_STAGING, STAGE_ARCHIVED, *(f"@{a}" for a in aliases)],
        holder=holder,
        at_text=at_text,
        holding=holding,
        error=error,
        version=version,
    )
