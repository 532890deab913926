"""What the registry server adds to a single call: each operation timed through
`RegistryClient(path)` on an embedded file and through `RegistryClient("http://...")` on a
`registry server` holding another file of the same shape, one after the other, sequentially
(no concurrency), and the p50 of each side by side with the difference.

    .venv/bin/python bench/server_overhead.py               # 300 calls per operation and side
    .venv/bin/python bench/server_overhead.py --calls 20    # a quick look

The server runs without auth on a loopback port; every write through it carries an
idempotency key, as the client always sends one.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from registry_core.client import RegistryClient

TARGET_MS = 2.0
MODEL = "overhead"


def operations(client: RegistryClient) -> dict[str, Callable[[int], Any]]:
    """The timed calls; call `i` of each works on version `i % 100 + 1` where it needs one."""

    def version(i: int) -> int:
        return i % 100 + 1

    return {
        "create_model_version": lambda i: client.create_model_version(
            MODEL, f"runs:/{i:08x}/model", run_id=f"{i:08x}", tags={"team": "a", "f1": "0.5"}
        ),
        "get_model_version": lambda i: client.get_model_version(MODEL, version(i)),
        "search_model_versions (page of 100)": lambda i: client.search_model_versions(
            f"name = '{MODEL}'", max_results=100
        ),
        "set_model_version_tag": lambda i: client.set_model_version_tag(
            MODEL, version(i), "reviewed", str(i)
        ),
        "transition_model_version_stage": lambda i: client.transition_model_version_stage(
            MODEL, version(i), "Staging"
        ),
        "get_latest_versions": lambda i: client.get_latest_versions(MODEL, ["Staging"]),
    }


def measure(client: RegistryClient, calls: int) -> dict[str, float]:
    """p50 in ms of each operation, after one untimed call; creates come first, so every
    version the other operations name exists."""
    client.create_registered_model(MODEL)
    p50 = {}
    for name, call in operations(client).items():
        call(calls)
        samples = []
        for i in range(calls):
            start = time.perf_counter()
            call(i)
            samples.append(time.perf_counter() - start)
        p50[name] = statistics.median(samples) * 1e3
    return p50


def serve(registry: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`registry server` on a free loopback port, once it answers /health."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [str(Path(sys.executable).with_name("registry")), "--registry-uri", str(registry)]
    server = subprocess.Popen(
        [*command, "server", "--no-auth", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return server, url
        except httpx.TransportError:
            time.sleep(0.05)
    server.kill()
    raise SystemExit("the registry server did not start")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="timed calls per operation")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="server-overhead-"))
    load = os.getloadavg()[0]
    embedded = measure(RegistryClient(work / "embedded"), args.calls)
    server, url = serve(work / "served")
    try:
        served = measure(RegistryClient(url), args.calls)
    finally:
        server.terminate()
        server.wait(timeout=60)
    rows = [{"op": op, "embedded_ms": embedded[op], "server_ms": served[op]} for op in embedded]
    print(f"| operation (p50, {args.calls} calls) | embedded | server | difference |")
    print("|---|---|---|---|")
    for row in rows:
        extra = row["server_ms"] - row["embedded_ms"]
        mark = "✓" if extra <= TARGET_MS else "✗"
        print(
            f"| `{row['op']}` | {row['embedded_ms']:.2f} ms | {row['server_ms']:.2f} ms "
            f"| {extra:+.2f} ms {mark} |"
        )
    print(f"\nload average before: {load:.2f}, after: {os.getloadavg()[0]:.2f}")
    if args.out:
        args.out.write_text(json.dumps({"calls": args.calls, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
