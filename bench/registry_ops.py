"""Latency and throughput of the registry's hot operations on a registry of 100,000 versions.

Usage: `python bench/registry_ops.py [--quick] [--models N] [--versions-per-model N]
[--iterations N] [--out PATH]`. See bench/README.md for what is measured and why.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
from rich.console import Console
from rich.table import Table

from registry_core.client import RegistryClient
from registry_core.config import DEFAULT_IDLE_SECONDS
from registry_core.entities import (
    STAGE_ARCHIVED,
    STAGE_NONE,
    STAGE_PRODUCTION,
    STAGE_STAGING,
    STATUS_READY,
)
from registry_core.store.migrations import SCHEMA_VERSION, migrate, version_key

RESULTS = Path(__file__).resolve().parent / "results"
FULL = {"models": 100, "versions_per_model": 1000, "iterations": 100}
QUICK = {"models": 4, "versions_per_model": 20, "iterations": 3}
WRITE_TARGET_MS = 5.0
SEARCH_TARGET_MS = 50.0
BACK_TO_BACK = "back to back"
MODES = (BACK_TO_BACK, "cold")
PAGE = 100
MAX = 200_000
TEAMS = 10
FAILED_EVERY = 100
ALIAS = "champion"
ACTOR = "bench"
SEARCH_TEAM = "team-3"
SEARCH_LIKE = "model-00%"
T0_MS = 1_700_000_000_000
DAY_MS = 86_400_000

# One staging table describes every version, numbered by `seq` in creation order (round robin
# over the models, one second apart); the registry tables are filled from it with exactly the rows
# the client writes: the version and its tags when created, then a `stage` history row for each
# transition out of None and an `alias_set` row for the champion alias, each change with its
# webhook outbox event.
POPULATION: tuple[str, ...] = (
    """CREATE TEMP TABLE bench_versions AS
       SELECT *,
              $t0 + $day + seq * 1000 AS created,
              $t0 + $day + seq * 1000 + CASE WHEN stage = $none THEN 0 ELSE 500 END AS updated,
              printf('team-%d', (model_id - 1) % $teams) AS team,
              CASE WHEN seq % $failed_every = 0 THEN 'failed' ELSE 'passed' END AS validation
       FROM (
           SELECT model_id, printf('model-%03d', model_id - 1) AS name, version,
                  version_key(model_id, version) AS vkey,
                  md5(version_key(model_id, version)::VARCHAR) AS run_id,
                  (version - 1) * $models + model_id - 1 AS seq,
                  CASE WHEN version = $production_version THEN $production
                       WHEN version = $staging_version THEN $staging
                       WHEN version <= $archived_up_to THEN $archived
                       ELSE $none END AS stage
           FROM (SELECT m + 1 AS model_id, v + 1 AS version
                 FROM range($models) a(m), range($versions) b(v)))""",
    """INSERT INTO registered_models
       SELECT model_id, name, NULL, $t0 + (model_id - 1) * 1000, $t0 + (model_id - 1) * 1000,
              max(version) + 1
       FROM bench_versions GROUP BY model_id, name ORDER BY model_id""",
    """INSERT INTO model_versions (vkey, model_id, version, source, run_id, run_link,
           current_stage, status, description, creation_timestamp, last_updated_timestamp)
       SELECT vkey, model_id, version, printf('runs:/%s/model', run_id), run_id, NULL, stage,
              $ready, NULL, created, updated
       FROM bench_versions ORDER BY created""",
    """INSERT INTO model_version_tags
       SELECT vkey, key, value FROM (
           SELECT created, vkey, 'team' AS key, team AS value FROM bench_versions
           UNION ALL SELECT created, vkey, 'validation', validation FROM bench_versions)
       ORDER BY created, key""",
    """INSERT INTO registered_model_aliases
       SELECT model_id, $alias, version FROM bench_versions WHERE stage = $production
       ORDER BY model_id""",
    """INSERT INTO history
       SELECT row_number() OVER (ORDER BY timestamp, model_id, version), model_id, name, version,
              event, NULL, from_stage, to_stage, alias, $actor, NULL, timestamp, NULL
       FROM (SELECT model_id, name, version, 'stage' AS event, $none AS from_stage,
                    stage AS to_stage, NULL AS alias, updated AS timestamp
             FROM bench_versions WHERE stage <> $none
             UNION ALL
             SELECT model_id, name, version, 'alias_set', NULL, NULL, $alias, updated + 100
             FROM bench_versions WHERE stage = $production)
       ORDER BY 1""",
    """UPDATE registered_models SET last_updated_timestamp = latest.timestamp
       FROM (SELECT model_id, max(timestamp) AS timestamp
             FROM (SELECT model_id, timestamp FROM history
                   UNION ALL SELECT model_id, last_updated_timestamp FROM model_versions)
             GROUP BY model_id) latest
       WHERE registered_models.id = latest.model_id""",
    """INSERT INTO webhook_events (id, entity, action, data, timestamp)
       SELECT row_number() OVER (ORDER BY timestamp, kind), entity, action, data, timestamp
       FROM (SELECT 0 AS kind, 'registered_model' AS entity, 'created' AS action,
                    json_object('name', name, 'description', NULL, 'tags', json_object()) AS data,
                    creation_timestamp AS timestamp
             FROM registered_models
             UNION ALL
             SELECT 1, 'model_version', 'created',
                    json_object('name', name, 'version', version::VARCHAR,
                                'source', printf('runs:/%s/model', run_id), 'run_id', run_id,
                                'description', NULL,
                                'tags', json_object('team', team, 'validation', validation)),
                    created
             FROM bench_versions
             UNION ALL
             SELECT 2, 'model_version', 'stage_transitioned',
                    json_object('name', name, 'version', version::VARCHAR, 'actor', $actor,
                                'from_stage', $none, 'to_stage', stage, 'reason', NULL,
                                'run_id', run_id),
                    updated
             FROM bench_versions WHERE stage <> $none
             UNION ALL
             SELECT 3, 'model_version_alias', 'set',
                    json_object('name', name, 'version', version::VARCHAR, 'actor', $actor,
                                'alias', $alias, 'reason', NULL, 'previous_version', NULL),
                    updated + 100
             FROM bench_versions WHERE stage = $production)
       ORDER BY 1""",
    "SELECT max(nextval('registered_model_id_seq')) FROM registered_models",
    "SELECT max(nextval('history_id_seq')) FROM history",
    "SELECT max(nextval('webhook_event_id_seq')) FROM webhook_events",
    "DROP TABLE bench_versions",
)


@dataclass(frozen=True)
class Shape:
    """The registry's size and where each version's stage falls."""

    models: int
    versions_per_model: int

    @property
    def versions(self) -> int:
        return self.models * self.versions_per_model

    @property
    def production_version(self) -> int:
        return self.versions_per_model - 4

    @property
    def staging_version(self) -> int:
        return self.versions_per_model - 1

    @property
    def archived_up_to(self) -> int:
        return self.versions_per_model * 7 // 10

    def name(self, index: int) -> str:
        """The name of the model at a 0-based index."""
        return f"model-{index % self.models:03d}"

    def unstaged_versions(self) -> list[int]:
        """The version numbers that start in stage None (promotion candidates)."""
        held = (self.production_version, self.staging_version)
        return [
            v for v in range(self.archived_up_to + 1, self.versions_per_model + 1) if v not in held
        ]

    def params(self) -> dict[str, Any]:
        """The parameters of the population statements."""
        return {
            "models": self.models,
            "versions": self.versions_per_model,
            "teams": TEAMS,
            "failed_every": FAILED_EVERY,
            "t0": T0_MS,
            "day": DAY_MS,
            "production_version": self.production_version,
            "staging_version": self.staging_version,
            "archived_up_to": self.archived_up_to,
            "none": STAGE_NONE,
            "staging": STAGE_STAGING,
            "production": STAGE_PRODUCTION,
            "archived": STAGE_ARCHIVED,
            "ready": STATUS_READY,
            "alias": ALIAS,
            "actor": ACTOR,
        }


@dataclass(frozen=True)
class Op:
    """One measured operation: `call(client, i)` runs iteration `i`."""

    name: str
    target_ms: float
    call: Callable[[RegistryClient, int], Any]
    filter_string: str | None = None


@dataclass(frozen=True)
class Result:
    """The figures of one operation in one client mode."""

    op: str
    mode: str
    n: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    ops_per_s: float
    rows_matched: int | None
    rows_returned: int | None
    file_opens: int
    target_ms: float | None
    target_met: bool | None


def populate(path: Path, shape: Shape) -> float:
    """Fill a new registry file with `shape`'s models and versions; the seconds it took."""
    start = time.perf_counter()
    conn = duckdb.connect(str(path))
    try:
        migrate(conn)
        conn.create_function("version_key", version_key, ["BIGINT", "BIGINT"], "BIGINT")
        params = shape.params()
        conn.execute("BEGIN TRANSACTION")
        for statement in POPULATION:
            used = {key: value for key, value in params.items() if f"${key}" in statement}
            conn.execute(statement, used)
        conn.execute("COMMIT")
        conn.execute("CHECKPOINT")
    finally:
        conn.close()
    return time.perf_counter() - start


def cached_registry(shape: Shape, cache_dir: Path, console: Console) -> tuple[Path, dict[str, Any]]:
    """The populated registry file for `shape`, built and checked once per schema and recipe."""
    recipe = hashlib.sha256("\n".join(POPULATION).encode()).hexdigest()[:12]
    stem = f"registry-{shape.models}x{shape.versions_per_model}-schema{SCHEMA_VERSION}-{recipe}"
    path = cache_dir / f"{stem}.duckdb"
    info_path = cache_dir / f"{stem}.json"
    if path.exists() and info_path.exists():
        return path, {**json.loads(info_path.read_text()), "cached": True}
    cache_dir.mkdir(parents=True, exist_ok=True)
    console.print(f"Populating {shape.versions:,} versions into {path} ...")
    with tempfile.TemporaryDirectory(dir=cache_dir) as scratch:
        building = Path(scratch) / "registry.duckdb"
        seconds = populate(building, shape)
        client = RegistryClient(building)
        problems = client.check_consistency()
        client.close()
        if problems:
            raise SystemExit(f"The populated registry is inconsistent: {problems}")
        os.replace(building, path)
    info = {"population_seconds": round(seconds, 3)}
    info_path.write_text(json.dumps(info))
    console.print(f"Populated in {seconds:.2f} s; consistency check passed.")
    return path, {**info, "cached": False}


def ops(shape: Shape) -> list[Op]:
    """The measured operations: reads first, then writes, so reads see the populated state."""
    rng = random.Random(42)
    unstaged = shape.unstaged_versions()
    middle = shape.name(shape.models // 2)

    def create(client: RegistryClient, i: int) -> Any:
        run_id = rng.randbytes(16).hex()
        return client.create_model_version(
            shape.name(i),
            f"runs:/{run_id}/model",
            run_id=run_id,
            tags={"team": f"team-{i % shape.models % TEAMS}", "validation": "passed"},
        )

    def candidate(i: int, offset: int) -> int:
        return unstaged[(i // shape.models + offset) % len(unstaged)]

    searches = {
        "name =": f"name = '{middle}'",
        "tag team =": f"tags.team = '{SEARCH_TEAM}'",
        "tag validation = (1%)": "tags.validation = 'failed'",
        "name LIKE": f"name LIKE '{SEARCH_LIKE}'",
    }
    measured = [
        Op(
            "get_model_version",
            WRITE_TARGET_MS,
            lambda c, i: c.get_model_version(
                shape.name(rng.randrange(shape.models)),
                rng.randint(1, shape.versions_per_model),
            ),
        ),
        Op(
            "get_latest_versions",
            WRITE_TARGET_MS,
            lambda c, i: c.get_latest_versions(shape.name(rng.randrange(shape.models))),
        ),
    ]
    for label, filter_string in searches.items():
        measured += [
            Op(
                f"search {label} (page {PAGE})",
                SEARCH_TARGET_MS,
                lambda c, i, f=filter_string: c.search_model_versions(f, max_results=PAGE),
                filter_string,
            ),
            Op(
                f"search {label} (full)",
                SEARCH_TARGET_MS,
                lambda c, i, f=filter_string: c.search_model_versions(f),
                filter_string,
            ),
        ]
    return [
        *measured,
        Op("create_model_version", WRITE_TARGET_MS, create),
        Op(
            "transition_model_version_stage",
            WRITE_TARGET_MS,
            lambda c, i: c.transition_model_version_stage(
                shape.name(i), candidate(i, 0), STAGE_STAGING, actor=ACTOR
            ),
        ),
        Op(
            "transition_model_version_stage (archive existing)",
            WRITE_TARGET_MS,
            lambda c, i: c.transition_model_version_stage(
                shape.name(i), candidate(i, len(unstaged) // 2), STAGE_PRODUCTION, True, actor=ACTOR
            ),
        ),
    ]


def percentiles(latencies: list[float]) -> tuple[float, float, float]:
    """p50, p95 and p99 of latencies in seconds, in milliseconds."""
    p50, p95, p99 = np.percentile(np.array(latencies) * 1000, [50, 95, 99])
    return float(p50), float(p95), float(p99)


def measure(client: RegistryClient, op: Op, iterations: int, mode: str) -> Result:
    """Run `op` once untimed, then `iterations` timed calls back to back."""
    op.call(client, -1)
    manager = client._store.manager
    opens_before = manager.opens
    latencies: list[float] = []
    returned = None
    for i in range(iterations):
        start = time.perf_counter()
        result = op.call(client, i)
        latencies.append(time.perf_counter() - start)
        if op.filter_string is not None:
            returned = len(result)
    p50, p95, p99 = percentiles(latencies)
    target = op.target_ms if mode == BACK_TO_BACK else None
    return Result(
        op=op.name,
        mode=mode,
        n=iterations,
        p50_ms=round(p50, 3),
        p95_ms=round(p95, 3),
        p99_ms=round(p99, 3),
        ops_per_s=round(iterations / sum(latencies), 1),
        rows_matched=None,
        rows_returned=returned,
        file_opens=manager.opens - opens_before,
        target_ms=target,
        target_met=None if target is None else p50 < target,
    )


def run_mode(
    source: Path, shape: Shape, iterations: int, mode: str, console: Console
) -> list[Result]:
    """Every operation against a fresh copy of the registry, in one client mode, with a line
    per operation as it finishes (the full run takes minutes)."""
    with tempfile.TemporaryDirectory(prefix="registry-bench-") as scratch:
        path = Path(scratch) / "registry.duckdb"
        shutil.copyfile(source, path)
        idle = DEFAULT_IDLE_SECONDS if mode == BACK_TO_BACK else 0.0
        client = RegistryClient(path, idle_timeout=idle)
        operations = ops(shape)
        matched = {
            op.filter_string: len(client.search_model_versions(op.filter_string, max_results=MAX))
            for op in operations
            if op.filter_string is not None
        }
        results = []
        for done, op in enumerate(operations, start=1):
            result = measure(client, op, iterations, mode)
            if op.filter_string is not None:
                result = replace(result, rows_matched=matched[op.filter_string])
            results.append(result)
            console.print(
                f"[{mode} {done}/{len(operations)}] {op.name}: p50 {result.p50_ms} ms",
                markup=False,
                highlight=False,
            )
        client.close()
    return results


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "duckdb": duckdb.__version__,
        "platform": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def table(results: list[Result], mode: str) -> Table:
    """One mode's figures as a rich table, with PASS/MISS next to the targeted ones."""
    grid = Table(title=f"{mode} ({results[0].n} timed calls per operation)", title_justify="left")
    grid.add_column("operation")
    for column in ("p50 ms", "p95 ms", "p99 ms", "ops/s", "matched", "returned", "opens"):
        grid.add_column(column, justify="right")
    grid.add_column("target p50")
    for r in results:
        verdict = ""
        if r.target_ms is not None:
            verdict = f"< {r.target_ms:g} ms " + (
                "[green]PASS[/green]" if r.target_met else "[red]MISS[/red]"
            )
        grid.add_row(
            r.op,
            f"{r.p50_ms:.2f}",
            f"{r.p95_ms:.2f}",
            f"{r.p99_ms:.2f}",
            f"{r.ops_per_s:,.0f}",
            "" if r.rows_matched is None else f"{r.rows_matched:,}",
            "" if r.rows_returned is None else f"{r.rows_returned:,}",
            str(r.file_opens),
            verdict,
        )
    return grid


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line; sizes default to the full benchmark, or a small one with --quick."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, help=f"registered models ({FULL['models']})")
    parser.add_argument(
        "--versions-per-model",
        type=int,
        help=f"versions of each model, at least 10 ({FULL['versions_per_model']})",
    )
    parser.add_argument(
        "--iterations", type=int, help=f"timed calls per operation and mode ({FULL['iterations']})"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS / "registry_ops.json",
        help="the JSON report; the populated registry is cached in the same folder",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a smoke run: {QUICK['models']} x {QUICK['versions_per_model']} versions, "
        f"{QUICK['iterations']} iterations (explicit sizes still win)",
    )
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else FULL
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.models < 1 or args.versions_per_model < 10 or args.iterations < 1:
        parser.error("need --models >= 1, --versions-per-model >= 10 and --iterations >= 1")
    return args


def main(argv: list[str] | None = None) -> None:
    """Populate (or reuse) the registry, measure both client modes, print and save the figures."""
    args = parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 150)
    shape = Shape(args.models, args.versions_per_model)
    info = machine()
    source, population = cached_registry(shape, args.out.parent, console)
    results = [r for mode in MODES for r in run_mode(source, shape, args.iterations, mode, console)]
    load_after = [round(x, 2) for x in os.getloadavg()]
    report = {
        "machine": {**info, "load_average_after": load_after},
        "registry": {
            "models": shape.models,
            "versions_per_model": shape.versions_per_model,
            "versions": shape.versions,
            "schema_version": SCHEMA_VERSION,
            **population,
        },
        "targets": {
            "applies_to": "back to back, at p50",
            "reads_and_writes_ms": WRITE_TARGET_MS,
            "searches_ms": SEARCH_TARGET_MS,
        },
        "ops": [asdict(r) for r in results],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    console.print(
        f"{shape.versions:,} versions ({shape.models} models x {shape.versions_per_model}); "
        f"{info['cpu_count']} CPUs, Python {info['python']}, DuckDB {info['duckdb']}; "
        f"load average {info['load_average'][0]} before, {load_after[0]} after"
    )
    for mode in MODES:
        console.print(table([r for r in results if r.mode == mode], mode))
    population_note = "cached, built in" if population["cached"] else "populated in"
    console.print(f"Registry {population_note} {population['population_seconds']} s.")
    if shape.versions != FULL["models"] * FULL["versions_per_model"]:
        console.print("Targets are set for 100,000 versions; this run is a different size.")
    console.print(f"Wrote {args.out}")


if __name__ == "__main__":
    main()
