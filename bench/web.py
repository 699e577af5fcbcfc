#!/usr/bin/env python3
"""Summarizes bench/web.sh: per case, the median over rounds of each
server's messages/s and server CPU per message, and shout's ratio to
tokio-tungstenite; for the hold case, RSS per idle WebSocket."""
import sys

from runs import load, median

runs = load(sys.stdin)


def med(case, server, key):
    return median(runs, case, server, lambda row: row["result"].get(key))


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
        vals = lambda srv: [round(row["result"][key]) for row in runs.get((case, srv), []) if row["result"].get(key) is not None]
        print(f"<!-- {case} {key}: shout {vals('shout')} tokio {vals('tokio')} -->")
