#!/usr/bin/env python3
"""Summarizes bench/web.sh: per case, the median over rounds of each
server's messages/s and server CPU per message, and shout's ratio to
tokio-tungstenite; for the hold case, RSS per idle WebSocket. Where the
echo ceiling ran the same sizes (1 MiB), its figure and tokio's ratio to it
are shown too."""
import sys

from runs import load, median

runs = load(sys.stdin)


def med(case, server, key):
    return median(runs, case, server, lambda row: row["result"].get(key))


print("| case | measure | shout | tokio-tungstenite | shout/tokio | echo ceiling | echo/tokio |")
print("|---|---|---:|---:|---:|---:|---:|")
for case in sorted({c for c, _ in runs}):
    if case.startswith("hold"):
        keys = (("server_rss_bytes_per_connection", "RSS B per idle WebSocket"),)
    else:
        keys = (("requests_per_second", "messages/s"), ("server_cpu_ns_per_response", "server CPU ns/message"))
    for key, label in keys:
        s, t, e = (med(case, srv, key) for srv in ("shout", "tokio", "echo"))
        ratio = lambda a, b: f"{a / b:.3f}" if a and b else "-"
        cell = lambda v: f"{v:,.0f}" if v is not None else "-"
        print(f"| {case} | {label} | {cell(s)} | {cell(t)} | {ratio(s, t)} | {cell(e)} | {ratio(e, t)} |")
        vals = lambda srv: [round(row["result"][key]) for row in runs.get((case, srv), []) if row["result"].get(key) is not None]
        print(f"<!-- {case} {key}: shout {vals('shout')} tokio {vals('tokio')} echo {vals('echo')} -->")
