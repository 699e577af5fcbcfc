"""Reads the JSON lines the benchmark scripts print: one object per
measurement, `{"server", "case", "result", ...}`. Shared by
before-after.py, tls.py and web.py."""
import json
import statistics
import sys
from collections import defaultdict


def load(stream, accept=lambda row: False):
    """Rows by (case, server). A row whose run failed or counted errors is
    reported on stderr and left out, unless `accept(row)` keeps it."""
    runs = defaultdict(list)
    for line in stream:
        line = line.strip()
        if not line:
            continue
        row = json.loads(line)
        r = row["result"]
        if r is None or (r.get("errors") and not accept(row)):
            print(f"FAILED: {row}", file=sys.stderr)
            continue
        runs[(row["case"], row["server"])].append(row)
    return runs


def median(runs, case, server, f):
    """The median of `f(row)` over the rows of (case, server), None for
    none (rows where `f` gives None do not count)."""
    vals = [f(row) for row in runs.get((case, server), [])]
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None
