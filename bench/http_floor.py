"""The least a call through the registry server can cost on this machine: client processes each
making round trips to `/health`, which does no registry work, over one httpx connection each as
`RegistryClient("http://...")` does, started together as W5's writers are.

    .venv/bin/python bench/http_floor.py                      # 1, 4 and 16 processes
    .venv/bin/python bench/http_floor.py --procs 4 --calls 50  # a quick look

W5 compares the server with MLflow's client writing SQLite in its own process, with no HTTP at
all; a median below this floor is out of reach of any server behind HTTP here.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from server_overhead import serve


def _client(url: str, calls: int, start: Any, out: Any) -> None:
    with httpx.Client(base_url=url) as http:
        http.get("/health").raise_for_status()
        start.wait()
        samples = []
        for _ in range(calls):
            began = time.perf_counter()
            http.get("/health").raise_for_status()
            samples.append(time.perf_counter() - began)
    out.put(samples)


def floor(url: str, procs: int, calls: int) -> dict[str, float]:
    """p50 and p95 in ms of `procs` processes' round trips, and round trips per second."""
    context = mp.get_context("spawn")
    start, out = context.Barrier(procs + 1), context.Queue()
    workers = [context.Process(target=_client, args=(url, calls, start, out)) for _ in range(procs)]
    for worker in workers:
        worker.start()
    start.wait()
    began = time.perf_counter()
    samples = sorted(s * 1e3 for _ in workers for s in out.get(timeout=600))
    wall = time.perf_counter() - began
    for worker in workers:
        worker.join()
    return {
        "procs": procs,
        "p50_ms": statistics.median(samples),
        "p95_ms": samples[int(len(samples) * 0.95)],
        "per_s": len(samples) / wall,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procs", default="1,4,16", help="client processes, comma-separated")
    parser.add_argument("--calls", type=int, default=300, help="round trips per process")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    server, url = serve(Path(tempfile.mkdtemp(prefix="http-floor-")) / "registry")
    try:
        rows = [floor(url, int(procs), args.calls) for procs in args.procs.split(",")]
    finally:
        server.terminate()
        server.wait(timeout=60)
    print(f"| client processes ({args.calls} round trips each) | p50 | p95 | round trips/s |")
    print("|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['procs']} | {row['p50_ms']:.2f} ms | {row['p95_ms']:.2f} ms "
            f"| {row['per_s']:.0f} |"
        )
    print(f"\nload average before: {load:.2f}, after: {os.getloadavg()[0]:.2f}")
    if args.out:
        args.out.write_text(json.dumps({"calls": args.calls, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
