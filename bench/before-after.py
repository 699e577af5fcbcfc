#!/usr/bin/env python3
"""Summarizes bench/before-after.sh: per case, the median over rounds of
each server's throughput and server CPU, and the ratios new/old and
new/echo (the echo ceiling does no transform)."""
import json
import statistics
import sys
from collections import Counter

from runs import load, median


def numbered(lines):
    """Each row with its round: the how-manyth row of its (case, server),
    failed rows counted, so that dropping one does not shift the pairs."""
    seen = Counter()
    for line in lines:
        if not line.strip():
            continue
        row = json.loads(line)
        key = (row["case"], row["server"])
        row["round"] = seen[key]
        seen[key] += 1
        yield json.dumps(row)


runs = load(numbered(sys.stdin))


def med(case, server, key):
    return median(runs, case, server, lambda row: row["result"].get(key))


def ratio(a, b):
    return f"{a / b:.3f}" if a and b else "-"


cases = sorted({c for c, _ in runs})
print("| case | metric | new | old | echo | new/old | new/echo |")
print("|---|---|---:|---:|---:|---:|---:|")
for case in cases:
    if case.startswith("hold"):
        n, o = (med(case, s, "server_rss_bytes_per_connection") for s in ("new", "old"))
        print(f"| {case} | RSS B/conn | {n:.0f} | {o:.0f} | - | {ratio(n, o)} | - |")
        continue
    raw = case.startswith("raw")
    thr, cpu = ("mb_per_second", "server_cpu_ns_per_byte") if raw else (
        "requests_per_second", "server_cpu_ns_per_response")
    unit = "MB/s" if raw else "req/s"
    cunit = "CPU ns/B" if raw else "CPU ns/resp"
    for key, label in ((thr, unit), (cpu, cunit)):
        n, o, e = (med(case, s, key) for s in ("new", "old", "echo"))
        fmt = (lambda v: f"{v:.3f}") if key == "server_cpu_ns_per_byte" else (lambda v: f"{v:,.0f}")
        cells = [fmt(v) if v is not None else "-" for v in (n, o, e)]
        print(f"| {case} | {label} | {' | '.join(cells)} | {ratio(n, o)} | {ratio(n, e)} |")

# The same ratios paired round by round (the servers of one round ran
# minutes apart at most, so machine drift cancels better than between
# medians): the median of the per-round ratios and their range.
def paired(case, a, b, key):
    xs = {row["round"]: row["result"].get(key) for row in runs.get((case, a), [])}
    ys = {row["round"]: row["result"].get(key) for row in runs.get((case, b), [])}
    rs = sorted(xs[r] / ys[r] for r in xs.keys() & ys.keys() if xs[r] and ys[r])
    if not rs:
        return "-"
    return f"{statistics.median(rs):.3f} ({rs[0]:.2f}-{rs[-1]:.2f}, n={len(rs)})"


print()
print("| case | metric | new/old per round | new/echo per round |")
print("|---|---|---|---|")
for case in cases:
    if case.startswith("hold"):
        continue
    raw = case.startswith("raw")
    keys = (("mb_per_second", "MB/s"), ("server_cpu_ns_per_byte", "CPU ns/B")) if raw else (
        ("requests_per_second", "req/s"), ("server_cpu_ns_per_response", "CPU ns/resp"))
    for key, label in keys:
        print(f"| {case} | {label} | {paired(case, 'new', 'old', key)} | {paired(case, 'new', 'echo', key)} |")
