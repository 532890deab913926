"""The registry benchmark runs end to end on a tiny registry; its timings are not checked here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SEARCHES = ("name =", "tag team =", "tag validation = (1%)", "name LIKE")
OPS = {
    "get_model_version",
    "get_latest_versions",
    "create_model_version",
    "transition_model_version_stage",
    "transition_model_version_stage (archive existing)",
    *(f"search {kind} ({size})" for kind in SEARCHES for size in ("page 100", "full")),
}


def run_bench(*arguments: str | Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """Run a bench script from the project's root; it must succeed."""
    done = subprocess.run(
        [sys.executable, *arguments], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stderr
    return done


def test_quick_benchmark_writes_every_op(tmp_path: Path) -> None:
    out = tmp_path / "registry_ops.json"
    run_bench("bench/registry_ops.py", "--quick", "--iterations", "2", "--out", out)
    report = json.loads(out.read_text())
    assert {"cpu_count", "python", "duckdb"} <= report["machine"].keys()
    assert report["registry"]["versions"] == report["registry"]["models"] * 20
    for mode in ("back to back", "cold"):
        rows = {row["op"]: row for row in report["ops"] if row["mode"] == mode}
        assert rows.keys() == OPS
        for name, row in rows.items():
            assert row["n"] == 2
            assert {"p50_ms", "p95_ms", "p99_ms", "ops_per_s"} <= row.keys()
            if name.startswith("search"):
                assert row["rows_matched"] >= row["rows_returned"] >= 1
    cold = [row for row in report["ops"] if row["mode"] == "cold"]
    assert all(row["file_opens"] >= row["n"] for row in cold)


def test_startup_benchmark_prints_its_side_by_side_table(tmp_path: Path) -> None:
    out = tmp_path / "startup.json"
    done = run_bench("bench/startup.py", "--runs", "1", "--out", out, timeout=600)
    assert done.stdout.startswith("| start-up | ours wall (CPU) |")
    report = json.loads(out.read_text())
    assert report["runs"] == 1
    assert [row["startup"].split()[0] for row in report["rows"]] == [
        "import",
        "fresh",
        "`registry",
        "`registry",
        "code",
    ]
    assert all(row["ours"]["wall_s"] > 0 and row["other"]["wall_s"] > 0 for row in report["rows"])


def test_server_overhead_benchmark_times_each_call_on_both_sides(tmp_path: Path) -> None:
    out = tmp_path / "overhead.json"
    done = run_bench("bench/server_overhead.py", "--calls", "5", "--out", out)
    assert done.stdout.startswith("| operation (p50, 5 calls) | embedded | server |")
    rows = json.loads(out.read_text())["rows"]
    assert len(rows) == 6
    assert all(row["embedded_ms"] > 0 and row["server_ms"] > 0 for row in rows)


def test_http_floor_benchmark_times_round_trips_from_each_process_count(tmp_path: Path) -> None:
    out = tmp_path / "floor.json"
    done = run_bench("bench/http_floor.py", "--procs", "1,2", "--calls", "5", "--out", out)
    assert done.stdout.startswith("| client processes (5 round trips each) | p50 | p95 |")
    rows = json.loads(out.read_text())["rows"]
    assert [row["procs"] for row in rows] == [1, 2]
    assert all(0 < row["p50_ms"] <= row["p95_ms"] and row["per_s"] > 0 for row in rows)
