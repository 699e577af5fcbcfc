#!/usr/bin/env bash
# One load against one server, with what a timing run cannot show: the
# server's socket calls per response (`perf stat` on the syscall
# tracepoints) and where its CPU went (`perf record`, by DSO: the kernel,
# the server's binary, libc). The server on core 0, the load on core 1.
# Prints one line of text.
#
#   bench/perf-share.sh LOAD-ARGS... -- SERVER-COMMAND...
#   bench/perf-share.sh --mode ws -c 4 -d 1 -b 1048576 -s 3 -- \
#       target/release/shout serve --framing web --idle-timeout 0 --socket-buffer 0
#
# The server listens on a free port of 127.0.0.1: `--listen ADDR` is
# appended to a `shout serve` command, the bare address to a `shout-bench
# --serve-*` one. Socket calls are per response, or per MiB for raw bulk.
# Needs perf and python3.
set -euo pipefail
T=${CARGO_TARGET_DIR:-target}/release
BENCH=${SHOUT_BENCH:-$T/shout-bench}
command -v perf >/dev/null || { echo "perf is needed (apt-get install linux-perf)" >&2; exit 1; }
load=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do load+=("$1"); shift; done
[ $# -gt 1 ] || { echo "usage: $0 LOAD-ARGS... -- SERVER-COMMAND..." >&2; exit 2; }
shift
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
case "$*" in
  *--serve-*) server=("$@" "127.0.0.1:$port") ;;
  *) server=("$@" --listen "127.0.0.1:$port") ;;
esac
TMP=$(mktemp -d)
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$TMP"' EXIT
pids=()
taskset -c 0 "${server[@]}" >/dev/null 2>"$TMP/server.err" &
pid=$!; pids+=("$pid")
for _ in $(seq 100); do grep -q 'listening on' "$TMP/server.err" && break; sleep 0.05; done
grep -q 'listening on' "$TMP/server.err" || { echo "the server did not start: $(cat "$TMP/server.err")" >&2; exit 1; }
perf stat -e syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto -p "$pid" -o "$TMP/stat" 2>/dev/null &
pids+=($!)
perf record -F 999 -p "$pid" -o "$TMP/perf.data" >/dev/null 2>&1 &
pids+=($!)
sleep 0.2
taskset -c 1 "$BENCH" --json --server-pid "$pid" "${load[@]}" "127.0.0.1:$port" >"$TMP/load.json"
kill -INT "${pids[1]}" "${pids[2]}"
wait "${pids[1]}" "${pids[2]}" 2>/dev/null || true
perf report -i "$TMP/perf.data" --no-children --sort dso --stdio 2>/dev/null >"$TMP/dso"
python3 - "$TMP" <<'PY'
import json, re, sys
tmp = sys.argv[1]
r = json.load(open(f"{tmp}/load.json"))
raw = r["mode"] == "raw"
n = (r["bytes"] / 2**20 if raw else r["responses"]) or 1
calls = {}
for line in open(f"{tmp}/stat"):
    m = re.match(r"\s*([\d,]+)\s+syscalls:sys_enter_(\w+)", line)
    if m:
        calls[m.group(2)] = int(m.group(1).replace(",", "")) / n
shares = []
for line in open(f"{tmp}/dso"):
    m = re.match(r"\s*([\d.]+)%\s+(\S+)", line)
    if m and not line.startswith("#"):
        shares.append(f"{m.group(2)} {m.group(1)}%")
per = r["server_cpu_ns_per_byte"] if raw else r["server_cpu_ns_per_response"]
unit = "ns/B" if raw else "ns/response"
rate = f'{r["mb_per_second"]:.0f} MB/s' if raw else f'{r["requests_per_second"]:.0f}/s'
print(f'{rate}, server {per:.3f} {unit}, errors {r["errors"]}; per {"MiB" if raw else "response"}: '
      f'recvfrom {calls.get("recvfrom", 0):.4f}, sendto {calls.get("sendto", 0):.4f}; '
      f'CPU by DSO: {", ".join(shares[:4])}')
PY
