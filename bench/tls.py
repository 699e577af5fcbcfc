#!/usr/bin/env python3
"""Summarizes bench/tls.sh: per case, the median over rounds of each
server's throughput, what one second of server CPU serves (throughput per
server core), and the ratios of shout's own TLS to nginx terminating TLS
in front of it and to the same shout without TLS."""
import sys

from runs import load, median



def unclean_end(row):
    """nginx ends a TLS session without close_notify once its upstream
    has closed; with every byte through, the run's figures stand."""
    r = row["result"]
    return (
        row["server"] == "nginx-tls"
        and "without a TLS close_notify" in (r.get("first_error") or "")
        and r.get("mode") == "raw"
        and r.get("bytes") == 268435456
    )


runs = load(sys.stdin, accept=unclean_end)

UNITS = {  # case prefix -> (result key of the rate, the count it divides, unit)
    "frame": ("requests_per_second", "responses", "req"),
    "raw": ("mb_per_second", "bytes", "MB"),
    "handshake": ("handshakes_per_second", "handshakes", "handshakes"),
}


def unit(case):
    return next(v for k, v in UNITS.items() if case.startswith(k))


def med(case, server, f):
    return median(runs, case, server, lambda row: f(row["result"], row["server_cpu_s"]))


def rate(case, server):
    key, _, _ = unit(case)
    return med(case, server, lambda r, _: r[key])


def per_cpu_s(case, server):
    _, count, name = unit(case)
    scale = 1e6 if name == "MB" else 1
    return med(case, server, lambda r, cpu: r[count] / scale / cpu if cpu > 0 else None)


def ratio(a, b):
    return f"{a / b:.2f}" if a and b else "-"


servers = ("shout-tls", "nginx-tls", "shout-plain")
cases = sorted({c for c, _ in runs if not c.startswith("hold")})
print("| case | measure | shout TLS | nginx TLS + shout | shout plain | TLS/nginx | TLS/plain |")
print("|---|---|---:|---:|---:|---:|---:|")
for case in cases:
    _, _, name = unit(case)
    for label, f in ((f"{name}/s", rate), (f"{name} per CPU-second", per_cpu_s)):
        t, n, p = (f(case, s) for s in servers)
        cells = [f"{v:,.0f}" if v is not None else "-" for v in (t, n, p)]
        print(f"| {case} | {label} | {' | '.join(cells)} | {ratio(t, n)} | {ratio(t, p)} |")
for case in sorted({c for c, _ in runs if c.startswith("hold")}):
    for s in ("shout-tls", "shout-plain"):
        b = med(case, s, lambda r, _: r.get("server_rss_bytes_per_connection"))
        if b is not None:
            print(f"| {case} | RSS B/conn, {s} | {b:,.0f} | | | | |")
