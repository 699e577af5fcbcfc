#!/usr/bin/env python3
"""Summarizes run.sh output (JSON lines on stdin): the median of the rounds
for each server and configuration, and each server's ratio to the echo
ceiling."""
import json
import statistics
import sys
from collections import defaultdict

runs = defaultdict(list)
failed = []
for line in sys.stdin:
    d = json.loads(line)
    r = d["result"]
    if r is None or r["errors"]:
        failed.append((d["server"], d["args"], r and r["first_error"]))
        if r is None:
            continue
    key = (r["mode"], r["connections"], r["depth"], r["payload"])
    runs[(key, d["server"])].append(r)

def med(rs, f):
    vals = [f(r) for r in rs if f(r) is not None]
    return statistics.median(vals) if vals else None

configs = sorted({k for k, _ in runs}, key=lambda k: (["line", "frame", "raw", "udp", "hold"].index(k[0]), k[1], k[2]))
print("| mode | conns | depth | server | rounds | req/s | MB/s | p50 us | p99 us | p999 us | vs echo (throughput) | server CPU per response (ns) or per MB (ms) | echo CPU / this CPU | RSS bytes/conn |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for key in configs:
    mode, conns, depth, _ = key
    echo = runs.get((key, "echo"))
    for server in ["shout", "echo", "tokio", "shout-hello", "tokio-hello"]:
        rs = runs.get((key, server))
        if not rs:
            continue
        rate = med(rs, lambda r: r["requests_per_second"])
        mbs = med(rs, lambda r: r["mb_per_second"])
        metric = (lambda r: r["mb_per_second"]) if mode == "raw" else (lambda r: r["requests_per_second"])
        ratio = ""
        if echo and mode not in ("hold", "udp"):
            ratio = "%.2fx" % (med(rs, metric) / med(echo, metric))
        rss = med(rs, lambda r: r["server_rss_bytes_per_connection"])
        if mode == "raw":
            cpu_of = lambda r: r.get("server_cpu_ns_per_byte") and r["server_cpu_ns_per_byte"] * 1e6 / 1e6
        else:
            cpu_of = lambda r: r.get("server_cpu_ns_per_response")
        cpu = med(rs, cpu_of) if mode != "hold" else None
        cpu_ratio = ""
        if echo and cpu and mode not in ("hold", "udp"):
            ecpu = med(echo, cpu_of)
            cpu_ratio = "%.2fx" % (ecpu / cpu) if ecpu else ""
        fmt = lambda v, p="%.0f": "-" if v is None else p % v
        print("| %s | %d | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            mode, conns, depth if mode not in ("raw", "hold") else "-", server, len(rs),
            fmt(rate) if mode not in ("raw", "hold") else "-",
            fmt(mbs, "%.1f") if mode in ("raw",) else "-",
            fmt(med(rs, lambda r: r["latency_us"]["p50"])),
            fmt(med(rs, lambda r: r["latency_us"]["p99"])),
            fmt(med(rs, lambda r: r["latency_us"]["p999"])),
            ratio, fmt(cpu, "%.3f" if mode == "raw" else "%.0f"), cpu_ratio, fmt(rss, "%.1f")))
if failed:
    print("\nruns with errors:")
    for f in failed:
        print(" ", f)
