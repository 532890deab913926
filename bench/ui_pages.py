"""Server-side render time of the web UI's pages on a registry of 100,000 versions.

Usage: `python bench/ui_pages.py [--quick] [--models N] [--versions-per-model N]
[--iterations N] [--out PATH]` (the options of `registry_ops.py`; `--iterations` counts timed
requests per page). See bench/README.md for what is measured and why.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb
import httpx
import uvicorn
from registry_ops import FULL, RESULTS, Shape, cached_registry, machine, parse_args, percentiles
from rich.console import Console
from rich.table import Table

from registry_core.client import RegistryClient
from registry_core.config import resolve_location
from registry_core.server.serve import ServerSettings, build_app
from registry_core.store.embedded import EmbeddedStore

TARGET_MS = 100.0
TARGETED = ("models", "version")
T0_MS = 1_700_000_000_000

# A run for every version, as the lifecycle logs it: params, three metrics, Dagster source info.
RUNS: tuple[str, ...] = (
    """INSERT INTO runs (run_id, run_name, status, start_time, end_time, code_version,
           data_fingerprint, source_info, experiment_id, user_id)
       SELECT mv.run_id, printf('%s-%d', rm.name, mv.version), 'FINISHED',
              mv.creation_timestamp - 60000, mv.creation_timestamp - 1000, md5(mv.run_id)[:12],
              json_object('training', json_object('sha256', md5(mv.run_id || 'data'),
                  'row_count', 5000, 'schema', json_array(json_array('x', 'float64')))),
              json_object('dagster_run_id', md5(mv.run_id || 'dagster'),
                  'asset_key', replace(rm.name, '-', '_') || '/trained_model'),
              0, 'bench'
       FROM model_versions mv JOIN registered_models rm ON rm.id = mv.model_id""",
    """INSERT INTO run_params
       SELECT run_id, key, value FROM model_versions,
              (VALUES ('C', '1.0'), ('solver', 'lbfgs')) p(key, value)""",
    """INSERT INTO run_metrics
       SELECT run_id, key, 0.5 + (hash(run_id || key) % 1000) / 2000.0, 0, creation_timestamp
       FROM model_versions, (VALUES ('accuracy'), ('f1'), ('log_loss')) m(key)""",
)


@dataclass(frozen=True)
class PageResult:
    """One page's figures: server-side render time (Server-Timing) and the whole round trip."""

    page: str
    path: str
    n: int
    server_p50_ms: float
    server_p95_ms: float
    server_p99_ms: float
    round_trip_p50_ms: float
    round_trip_p95_ms: float
    bytes: int
    target_ms: float | None
    target_met: bool | None


def add_runs(path: Path) -> None:
    """Give every version of a populated registry its run."""
    conn = duckdb.connect(str(path))
    try:
        conn.execute("BEGIN TRANSACTION")
        for statement in RUNS:
            conn.execute(statement)
        conn.execute("COMMIT")
        conn.execute("CHECKPOINT")
    finally:
        conn.close()


def serve(path: Path) -> tuple[str, uvicorn.Server, threading.Thread]:
    """A registry server with auth on over `path`, on a free loopback port, in a thread."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    settings = ServerSettings(port=sock.getsockname()[1], webhook_interval=0)
    store = EmbeddedStore(resolve_location(path), idle_seconds=0, lock_timeout=30)
    server = uvicorn.Server(uvicorn.Config(build_app(store, settings), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise SystemExit("the registry server did not start")
        time.sleep(0.01)
    return settings.url, server, thread


def pages(shape: Shape) -> dict[str, str]:
    """The measured pages: each kind once, on the model in the middle of the registry."""
    name = shape.name(shape.models // 2)
    production, staging = shape.production_version, shape.staging_version
    return {
        "models": "/",
        "models (filtered)": "/?q=name+LIKE+%27model-00%25%27",
        "model": f"/models/{name}",
        "version": f"/models/{name}/versions/{production}",
        "compare": f"/models/{name}/compare?v={production}&v={staging}",
        "history": f"/models/{name}/history?holder=Production&at={T0_MS * 2}",
    }


def measure(browser: httpx.Client, page: str, path: str, iterations: int) -> PageResult:
    """Fetch a page once untimed, then `iterations` times, reading the server's own timing."""
    first = browser.get(path)
    if first.status_code != 200:
        raise SystemExit(f"{path} answered {first.status_code}: {first.text[:300]}")
    server_ms: list[float] = []
    round_trips: list[float] = []
    for _ in range(iterations):
        start = time.perf_counter()
        answer = browser.get(path)
        round_trips.append(time.perf_counter() - start)
        server_ms.append(float(answer.headers["server-timing"].split("dur=")[1]) / 1000)
    s50, s95, s99 = percentiles(server_ms)
    r50, r95, _ = percentiles(round_trips)
    target = TARGET_MS if page in TARGETED else None
    return PageResult(
        page=page,
        path=path,
        n=iterations,
        server_p50_ms=round(s50, 2),
        server_p95_ms=round(s95, 2),
        server_p99_ms=round(s99, 2),
        round_trip_p50_ms=round(r50, 2),
        round_trip_p95_ms=round(r95, 2),
        bytes=len(first.content),
        target_ms=target,
        target_met=None if target is None else s95 < target,
    )


def table(results: list[PageResult]) -> Table:
    grid = Table(title=f"UI pages ({results[0].n} timed requests each)", title_justify="left")
    grid.add_column("page")
    for column in ("server p50", "p95", "p99", "round trip p50", "p95", "KiB"):
        grid.add_column(column, justify="right")
    grid.add_column("target (server p95)")
    for r in results:
        verdict = ""
        if r.target_ms is not None:
            verdict = f"< {r.target_ms:g} ms " + (
                "[green]PASS[/green]" if r.target_met else "[red]MISS[/red]"
            )
        grid.add_row(
            r.page,
            f"{r.server_p50_ms:.1f}",
            f"{r.server_p95_ms:.1f}",
            f"{r.server_p99_ms:.1f}",
            f"{r.round_trip_p50_ms:.1f}",
            f"{r.round_trip_p95_ms:.1f}",
            f"{r.bytes / 1024:.0f}",
            verdict,
        )
    return grid


def main(argv: list[str] | None = None) -> None:
    """Populate (or reuse) the registry, give its versions runs, serve it, time each page."""
    args = parse_args(["--out", str(RESULTS / "ui_pages.json"), *(argv or sys.argv[1:])])
    console = Console(width=None if sys.stdout.isatty() else 150)
    shape = Shape(args.models, args.versions_per_model)
    info = machine()
    source, population = cached_registry(shape, args.out.parent, console)
    with tempfile.TemporaryDirectory(prefix="registry-ui-bench-") as scratch:
        path = Path(scratch) / "registry.duckdb"
        shutil.copyfile(source, path)
        add_runs(path)
        client = RegistryClient(path)
        problems = client.check_consistency()
        _, secret = client.create_token("bench-reader", "reader")
        client.close()
        if problems:
            raise SystemExit(f"The registry is inconsistent: {problems}")
        url, server, thread = serve(path)
        try:
            with httpx.Client(base_url=url, timeout=60) as browser:
                login = browser.get("/login")
                csrf = login.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
                browser.post("/login", data={"csrf_token": csrf, "token": secret})
                results = [
                    measure(browser, page, target, args.iterations)
                    for page, target in pages(shape).items()
                ]
        finally:
            server.should_exit = True
            thread.join()
    load_after = [round(x, 2) for x in os.getloadavg()]
    report: dict[str, Any] = {
        "machine": {**info, "load_average_after": load_after},
        "registry": {
            "models": shape.models,
            "versions_per_model": shape.versions_per_model,
            "versions": shape.versions,
            "runs": shape.versions,
            **population,
        },
        "target": {"applies_to": "models and version pages, server p95", "ms": TARGET_MS},
        "pages": [asdict(r) for r in results],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    console.print(
        f"{shape.versions:,} versions and runs ({shape.models} models x "
        f"{shape.versions_per_model}); {info['cpu_count']} CPUs, Python {info['python']}, "
        f"DuckDB {info['duckdb']}; load average {info['load_average'][0]} before, "
        f"{load_after[0]} after"
    )
    console.print(table(results))
    if shape.versions != FULL["models"] * FULL["versions_per_model"]:
        console.print("The target is set for 100,000 versions; this run is a different size.")
    console.print(f"Wrote {args.out}")


if __name__ == "__main__":
    main()
