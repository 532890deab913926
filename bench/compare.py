"""Side-by-side table of two registry_workloads.py result files: p50 and p95 per operation, and the
ratio baseline/candidate (above 1: the candidate is faster). Usage: compare.py BASELINE.jsonl CANDIDATE.jsonl"""

import json
import sys


def load(path):
    rows = {}
    for line in open(path):
        d = json.loads(line)
        if "p50_ms" not in d:
            continue
        key = (d["workload"], d["op"], d.get("total_versions") or d.get("processes"))
        rows[key] = d
    return rows


def main(base_path, cand_path):
    base, cand = load(base_path), load(cand_path)
    print(
        "| workload | op | versions | baseline p50 | ours p50 | p50 ratio | baseline p95 | ours p95 |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for key in base:
        if key not in cand:
            continue
        b, c = base[key], cand[key]
        ratio = b["p50_ms"] / c["p50_ms"] if c["p50_ms"] else float("inf")
        w, op, n = key
        print(
            f"| {w} | {op} | {n or ''} | {b['p50_ms']:.1f} | {c['p50_ms']:.1f} | {ratio:.2f}x | {b['p95_ms']:.1f} | {c['p95_ms']:.1f} |"
        )
    for key in cand:
        if key[0] == "W5" and key in base:
            for name, d in (("baseline", base[key]), ("ours", cand[key])):
                print(
                    f"W5 {name}: successes={d.get('successes')} errors={d.get('errors')} dup={d.get('duplicate_versions')} missing={d.get('missing_versions')}"
                )


if __name__ == "__main__":
    main(*sys.argv[1:3])
