"""Backend-neutral Model Registry workloads (W0-W5) run through a small adapter interface.

Each workload prints JSON lines (per-op latency p50/p95/p99 and throughput) to stdout and
appends them to a results file, so the same numbers can be produced for any registry that
implements `RegistryAdapter`.

    python registry_workloads.py --adapter adapter_mlflow:MlflowAdapter
"""

from __future__ import annotations

import abc
import argparse
import hashlib
import importlib
import json
import multiprocessing as mp
import os
import platform
import queue
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
WORKLOADS = ("W0", "W1", "W2", "W3", "W4", "W5")


@dataclass(frozen=True)
class VersionInfo:
    name: str
    version: int
    stage: str


class RegistryAdapter(abc.ABC):
    """One registry rooted at a directory; `cls(root)` must reopen it from a fresh process."""

    name: str  # short id used in result file names
    backend_version: str
    cold_import: str  # Python statements whose cost is the backend's import-time cold start

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @classmethod
    def environment(cls) -> dict[str, str]:
        """Versions of what the backend runs on, for the results header."""
        return {}

    @abc.abstractmethod
    def create_model(self, name: str) -> None: ...

    @abc.abstractmethod
    def create_version(
        self, name: str, source_uri: str, run_id: str | None, tags: dict[str, str]
    ) -> int: ...

    @abc.abstractmethod
    def transition(self, name: str, version: int, stage: str, archive_existing: bool) -> None: ...

    def set_alias(self, name: str, alias: str, version: int) -> None:
        raise NotImplementedError

    @abc.abstractmethod
    def search_versions(self, filter: str, max_results: int | None = None) -> list[VersionInfo]:
        """Versions matching an MLflow-style filter; None means the backend's default page
        (MLflow: up to 10,000), which covers every workload here."""

    @abc.abstractmethod
    def search_models(self, filter: str | None) -> list[str]: ...

    @abc.abstractmethod
    def latest_versions(self, name: str, stages: list[str]) -> list[VersionInfo]: ...

    @abc.abstractmethod
    def get_version(self, name: str, version: int) -> VersionInfo: ...

    @abc.abstractmethod
    def log_sklearn_model(self, name: str, estimator: Any) -> int:
        """Save a fitted estimator as a new version of `name`; returns the version number."""

    @abc.abstractmethod
    def load(self, uri: str, flavor: str = "pyfunc") -> Any:
        """Load a model by URI; flavor is "pyfunc" (generic wrapper) or "native" (the estimator)."""

    def bulk_populate(self, models: Sequence[str], versions_per_model: int, start: int = 0) -> str:
        """Append versions start+1..start+versions_per_model (see `synthetic_version`) to each
        existing model. Override with the fastest legitimate path; returns its name."""
        for v in range(start + 1, start + versions_per_model + 1):
            for m in models:
                got = self.create_version(m, *synthetic_version(m, v))
                if got != v:
                    raise RuntimeError(f"{m}: expected version {v}, registry assigned {got}")
        return "public-api"


def synthetic_version(model: str, version: int) -> tuple[str, str, dict[str, str]]:
    """Deterministic (source_uri, run_id, tags) for version `version` of `model`."""
    key = f"{model}/{version}"
    rng = random.Random(key)
    run_id = hashlib.md5(key.encode()).hexdigest()
    tags = {"team": "abc"[rng.randrange(3)], "val_f1": f"{0.5 + rng.random() / 2:.4f}"}
    return f"file:///bench-artifacts/{key}", run_id, tags


def load_adapter(spec: str) -> type[RegistryAdapter]:
    module, _, cls = spec.partition(":")
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))
    return getattr(importlib.import_module(module), cls)


def summarize(samples_s: Sequence[float], wall_s: float | None = None) -> dict[str, float]:
    """Latency percentiles in ms and throughput (ops / wall seconds of the timed loop).

    Samples are in call order; for n >= 100 the p50 of the first and last 10% shows drift."""
    ms = [s * 1e3 for s in samples_s]
    srt = sorted(ms)
    q = statistics.quantiles(srt, n=100, method="inclusive") if len(srt) > 1 else srt * 99
    wall = wall_s if wall_s is not None else sum(samples_s)
    out = {
        "n": len(ms),
        "p50_ms": round(q[49], 3),
        "p95_ms": round(q[94], 3),
        "p99_ms": round(q[98], 3),
        "mean_ms": round(statistics.fmean(ms), 3),
        "min_ms": round(srt[0], 3),
        "max_ms": round(srt[-1], 3),
        "ops_per_s": round(len(ms) / wall, 2) if wall else None,
        "wall_s": round(wall, 3),
    }
    if len(ms) >= 100:
        tenth = len(ms) // 10
        out["first10pct_p50_ms"] = round(statistics.median(ms[:tenth]), 3)
        out["last10pct_p50_ms"] = round(statistics.median(ms[-tenth:]), 3)
    return out


def time_calls(fn: Callable[[int], Any], n: int, warmup: int = 0) -> tuple[dict[str, float], Any]:
    """Call fn(i) for i in range(n) after `warmup` untimed calls; returns (summary, last result)."""
    result = None
    for _ in range(warmup):
        result = fn(0)
    samples = []
    start = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        result = fn(i)
        samples.append(time.perf_counter() - t0)
    return summarize(samples, time.perf_counter() - start), result


class Reporter:
    """Writes one JSON object per line to stdout and to the results file."""

    def __init__(self, path: Path, common: dict[str, Any]) -> None:
        self.path, self.common = path, common
        path.parent.mkdir(parents=True, exist_ok=True)

    def emit(self, workload: str, op: str, **fields: Any) -> None:
        rec = {**self.common, "workload": workload, "op": op, **fields}
        rec["loadavg_1m"] = os.getloadavg()[0]
        line = json.dumps(rec)
        print(line, flush=True)
        with self.path.open("a") as f:
            f.write(line + "\n")


# --- W0: cold start -------------------------------------------------------------------------


def probe_main(spec: str, root: str) -> None:
    """Child-process half of W0: time adapter import, construction and the first call."""
    t0 = time.perf_counter()
    cls = load_adapter(spec)
    t1 = time.perf_counter()
    adapter = cls(Path(root))
    t2 = time.perf_counter()
    adapter.search_models(None)
    t3 = time.perf_counter()
    print(json.dumps({"import_s": t1 - t0, "construct_s": t2 - t1, "first_call_s": t3 - t2}))


def w0_cold_start(rep: Reporter, spec: str, cls: type[RegistryAdapter], work: Path) -> None:
    walls = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", cls.cold_import], check=True)
        walls.append(time.perf_counter() - t0)
    rep.emit("W0", "python_import", statement=cls.cold_import, **summarize(walls))

    root = work / "w0"
    runs = []
    for _ in range(5):  # first run creates the registry, the rest reopen it
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, __file__, "--probe", spec, str(root)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        runs.append(
            {**json.loads(out.strip().splitlines()[-1]), "process_s": time.perf_counter() - t0}
        )
    for label, subset in (("fresh_registry", runs[:1]), ("existing_registry", runs[1:])):
        for phase in ("import_s", "construct_s", "first_call_s", "process_s"):
            rep.emit("W0", f"{label}.{phase[:-2]}", **summarize([r[phase] for r in subset]))


# --- W1: sequential registration ------------------------------------------------------------


def w1_register(rep: Reporter, a: RegistryAdapter, n: int = 2000) -> None:
    a.create_model("w1")

    def create(i: int) -> int:
        return a.create_version("w1", *synthetic_version("w1", i + 1))

    stats, last = time_calls(create, n)
    assert last == n, f"last version {last} != {n}"
    rep.emit("W1", "create_version", **stats)


# --- W2: stage transitions and aliases ------------------------------------------------------


def w2_transition(rep: Reporter, a: RegistryAdapter, n: int = 500) -> None:
    a.create_model("w2")
    versions = n // 2
    for v in range(1, versions + 1):
        a.create_version("w2", *synthetic_version("w2", v))

    def step(i: int) -> None:
        a.transition("w2", i // 2 + 1, ("Staging", "Production")[i % 2], archive_existing=True)

    stats, _ = time_calls(step, n)
    prod = [mv.version for mv in a.latest_versions("w2", ["Production"])]
    staging = [mv.version for mv in a.latest_versions("w2", ["Staging"])]
    ok = prod == [versions] and staging == []
    rep.emit(
        "W2",
        "transition_archive_existing",
        production=prod,
        staging=staging,
        consistent=ok,
        **stats,
    )

    try:
        stats, _ = time_calls(lambda i: a.set_alias("w2", "champion", i % versions + 1), 200)
        rep.emit("W2", "set_alias", **stats)
    except NotImplementedError:
        rep.emit("W2", "set_alias", unsupported=True)


# --- W3: search at scale --------------------------------------------------------------------


def w3_search(
    rep: Reporter, a: RegistryAdapter, levels: Sequence[int], reps: int, budget_s: float
) -> None:
    models = [f"m{i}" for i in range(100)]
    stats, _ = time_calls(lambda i: a.create_model(models[i]), len(models))
    rep.emit("W3", "create_model", **stats)
    began, have, per_version_s = time.perf_counter(), 0, None
    for vpm in levels:
        add = vpm - have
        remaining = budget_s - (time.perf_counter() - began)
        if per_version_s is not None and add * len(models) * per_version_s > remaining:
            rep.emit(
                "W3",
                "populate",
                skipped=True,
                target_versions=vpm * len(models),
                estimate_s=round(add * len(models) * per_version_s),
                remaining_s=round(remaining),
            )
            break
        t0 = time.perf_counter()
        method = a.bulk_populate(models, add, start=have)
        wall = time.perf_counter() - t0
        per_version_s, have = wall / (add * len(models)), vpm
        total = vpm * len(models)
        rep.emit(
            "W3",
            "populate",
            method=method,
            added=add * len(models),
            total_versions=total,
            wall_s=round(wall, 2),
            s_per_1k_versions=round(per_version_s * 1000, 3),
        )
        a.transition("m42", vpm // 2 or 1, "Production", archive_existing=True)
        point = min(500, vpm)
        queries: list[tuple[str, Callable[[int], Any]]] = [
            ("search_versions name='m42'", lambda i: a.search_versions("name='m42'")),
            (
                "search_versions tags.team='a' max_results=100",
                lambda i: a.search_versions("tags.team='a'", max_results=100),
            ),
            ("search_models name LIKE '%4%'", lambda i: a.search_models("name LIKE '%4%'")),
            (
                "latest_versions m42 [Production]",
                lambda i: a.latest_versions("m42", ["Production"]),
            ),
            (f"get_version m42 {point}", lambda i, v=point: a.get_version("m42", v)),
        ]
        for op, fn in queries:
            stats, result = time_calls(fn, reps, warmup=2)
            count = len(result) if isinstance(result, list) else 1
            rep.emit("W3", op, total_versions=total, result_count=count, **stats)


# --- W4: model load by URI ------------------------------------------------------------------


def w4_load(rep: Reporter, a: RegistryAdapter, n: int = 20) -> None:
    import numpy as np
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    X, y = make_classification(n_samples=200, n_features=8, random_state=0)
    est = LogisticRegression(max_iter=200).fit(X, y)
    t0 = time.perf_counter()
    version = a.log_sklearn_model("w4", est)
    rep.emit("W4", "log_and_register_sklearn", **summarize([time.perf_counter() - t0]))
    a.transition("w4", version, "Production", archive_existing=True)
    uri, expected = "models:/w4/Production", est.predict(X)
    for flavor in ("pyfunc", "native"):
        stats, model = time_calls(lambda i, f=flavor: a.load(uri, f), n)
        same = bool(np.array_equal(np.asarray(model.predict(X)), expected))
        rep.emit("W4", f"load_{flavor}", uri=uri, predictions_match=same, **stats)


# --- W5: concurrent registration from several processes -------------------------------------


def _w5_worker(spec: str, root: str, model: str, n: int, wid: int, barrier: Any, out: Any) -> None:
    a = load_adapter(spec)(Path(root))
    barrier.wait()
    ops, start = [], time.monotonic()
    for i in range(n):
        t0 = time.monotonic()
        try:
            v, err = a.create_version(model, *synthetic_version(model, 10_000 * wid + i)), None
        except Exception as e:
            v, err = None, f"{type(e).__name__}: {e}"[:400]
        ops.append((time.monotonic() - t0, v, err))
    out.put({"wid": wid, "start": start, "end": time.monotonic(), "ops": ops})


def w5_concurrency(
    rep: Reporter, spec: str, a: RegistryAdapter, procs: int = 4, n: int = 100, timeout: float = 600
) -> None:
    model = "w5"
    a.create_model(model)
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(procs), ctx.Queue()
    workers = [
        ctx.Process(target=_w5_worker, args=(spec, str(a.root), model, n, w, barrier, out))
        for w in range(procs)
    ]
    for p in workers:
        p.start()
    results = []
    deadline = time.monotonic() + timeout
    while len(results) < procs and time.monotonic() < deadline:
        try:
            results.append(out.get(timeout=5))
        except queue.Empty:
            if not any(p.is_alive() for p in workers):
                break
    for p in workers:
        p.join(timeout=10)
        if p.is_alive():
            p.terminate()
    ops = [op for r in results for op in r["ops"]]
    got = [v for _, v, err in ops if err is None]
    errors = Counter(err for _, _, err in ops if err is not None)
    counts = Counter(got)
    stored = sorted(mv.version for mv in a.search_versions(f"name='{model}'"))
    top = max(got + stored, default=0)
    wall = (max(r["end"] for r in results) - min(r["start"] for r in results)) if results else None
    latencies = [s for s, _, err in ops if err is None]
    rep.emit(
        "W5",
        "concurrent_create_version",
        processes=procs,
        per_process=n,
        workers_reported=len(results),
        successes=len(got),
        errors=sum(errors.values()),
        error_texts=[{"count": c, "text": t} for t, c in errors.most_common(5)],
        duplicate_versions=sorted(v for v, c in counts.items() if c > 1),
        missing_versions=sorted(set(range(1, top + 1)) - set(stored)),
        stored_versions=len(stored),
        stored_but_reported_failed=len(set(stored) - set(got)),
        returned_but_not_stored=len(set(got) - set(stored)),
        **(summarize(latencies, wall) if latencies and wall else {"wall_s": wall}),
    )


# --- driver ---------------------------------------------------------------------------------


def environment(work: Path) -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "workdir": str(work),
    }


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--adapter", default="adapter_mlflow:MlflowAdapter", help="module:Class")
    p.add_argument("--only", default=",".join(WORKLOADS), help="comma-separated workloads")
    p.add_argument("--workdir", type=Path, help="scratch directory (default: a new temporary dir)")
    p.add_argument(
        "--out", type=Path, help="results file (default: $TMPDIR/registry-bench/<name>-<ver>.jsonl)"
    )
    p.add_argument("--w3-levels", default="10,100,250,500,1000", help="versions/model, 100 models")
    p.add_argument("--w3-reps", type=int, default=50)
    p.add_argument("--w3-budget-s", type=float, default=1200, help="skip levels that won't fit")
    p.add_argument("--w5-procs", default="4", help="writer processes for W5, comma-separated")
    p.add_argument("--probe", nargs=2, metavar=("SPEC", "ROOT"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.probe:
        return probe_main(*args.probe)

    cls = load_adapter(args.adapter)
    work = args.workdir or Path(tempfile.mkdtemp(prefix=f"regbench-{cls.name}-"))

    def adapter(w: str) -> RegistryAdapter:
        (work / w.lower()).mkdir(parents=True, exist_ok=True)
        return cls(work / w.lower())

    out = (
        args.out
        or Path(tempfile.gettempdir())
        / "registry-bench"
        / f"{cls.name}-{cls.backend_version}.jsonl"
    )
    rep = Reporter(out, {"adapter": cls.name, "backend_version": cls.backend_version})
    rep.emit("env", "environment", **environment(work), **cls.environment(), argv=sys.argv[1:])
    for w in args.only.split(","):
        t0 = time.perf_counter()
        if w == "W0":
            w0_cold_start(rep, args.adapter, cls, work)
        elif w == "W1":
            w1_register(rep, adapter(w))
        elif w == "W2":
            w2_transition(rep, adapter(w))
        elif w == "W3":
            levels = [int(x) for x in args.w3_levels.split(",")]
            w3_search(rep, adapter(w), levels, args.w3_reps, args.w3_budget_s)
        elif w == "W4":
            w4_load(rep, adapter(w))
        elif w == "W5":
            for procs in (int(x) for x in args.w5_procs.split(",")):
                w5_concurrency(rep, args.adapter, adapter(f"{w}-{procs}"), procs=procs)
        else:
            raise SystemExit(f"unknown workload {w}")
        print(f"# {w} done in {time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
