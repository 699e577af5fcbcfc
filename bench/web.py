#!/usr/bin/env python3
"""Summarizes bench/web.sh: per case, the median over rounds of each
server's messages/s and server CPU per message, and shout's ratio to
tokio-tungstenite; for the hold case, RSS per idle WebSocket."""
import json
import statistics
import sys
from collections import defaultdict

runs = defaultdict(list)
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    row = json.loads(line)
    r = row["result"]
    if r is None or r.get("errors"):
        print(f"FAILED: {row}", file=sys.stderr)
        continue
    runs[(row["case"], row["server"])].append(r)


def med(case, server, key):
    vals = [r[key] for r in runs.get((case, server), []) if r.get(key) is not None]
    return statistics.median(vals) if vals else None


print("| case | measure | shout | tokio-tungstenite | shout/tokio |")
print("|---|---|---:|---:|---:|")
for case in sorted({c for c, _ in runs}):
    if case.startswith("hold"):
        keys = (("server_rss_bytes_per_connection", "RSS B per idle WebSocket"),)
    else:
        keys = (("requests_per_second", "messages/s"), ("server_cpu_ns_per_response", "server CPU ns/message"))
    for key, label in keys:
        s, t = med(case, "shout", key), med(case, "tokio", key)
        ratio = f"{s / t:.3f}" if s and t else "-"
        cell = lambda v: f"{v:,.0f}" if v is not None else "-"
        print(f"| {case} | {label} | {cell(s)} | {cell(t)} | {ratio} |")
        vals = lambda srv: [round(r[key]) for r in runs.get((case, srv), []) if r.get(key) is not None]
        print(f"<!-- {case} {key}: shout {vals('shout')} tokio {vals('tokio')} -->")
