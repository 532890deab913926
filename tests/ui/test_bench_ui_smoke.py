"""The UI benchmark runs end to end on a tiny registry; its timings are not checked here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
PAGES = {"models", "models (filtered)", "model", "version", "compare", "history"}


def test_quick_ui_benchmark_times_every_page(tmp_path: Path) -> None:
    out = tmp_path / "ui_pages.json"
    done = subprocess.run(
        [sys.executable, "bench/ui_pages.py", "--quick", "--iterations", "2", "--out", out],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert report["registry"]["versions"] == report["registry"]["runs"] == 80
    rows = {row["page"]: row for row in report["pages"]}
    assert rows.keys() == PAGES
    for row in rows.values():
        assert row["n"] == 2
        assert 0 < row["server_p50_ms"] <= row["round_trip_p50_ms"]
        assert row["bytes"] > 1000
    assert {page for page, row in rows.items() if row["target_ms"]} == {"models", "version"}
