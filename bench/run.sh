#!/usr/bin/env bash
# Reproduces the server section of BENCHMARKS.md: every server pinned to core 0, the load
# generator to core 1, the three servers measured side by side in the same
# run, ROUNDS rounds each. Prints one JSON object per measurement.
#
# The product server is `shout serve` (crate shout-mio); the load generator
# and the two comparison servers (--serve-echo, --serve-tokio) are
# `shout-bench` (crate shout-bench, this directory).
#
#   cargo build --release -p shout-mio -p shout-bench --features shout-bench/tokio-compare
#   ROUNDS=3 bench/run.sh > results.jsonl
#
# SHOUT and SHOUT_BENCH name the binaries (default: the release builds in
# $CARGO_TARGET_DIR, or target/ at the top of the workspace).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${CARGO_TARGET_DIR:-$ROOT/target}/release
SHOUT=${SHOUT:-$OUT/shout}
BENCH=${SHOUT_BENCH:-$OUT/shout-bench}
for bin in "$SHOUT" "$BENCH"; do
  if [ ! -x "$bin" ]; then
    echo "no $bin: build it first (see the top of $0)" >&2
    exit 1
  fi
done
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-5}

. "$(dirname "$0")/servers.sh"

load() { # SERVER-NAME ARGS... -> one JSON line tagged with the server
  local name=$1; shift
  local out pid
  pid=$(cat "$TMP/${name%-hello}.pid")
  out=$(taskset -c 1 "$BENCH" --json --server-pid "$pid" "$@" 2>/dev/null) || true
  echo "{\"server\":\"$name\",\"args\":\"$*\",\"result\":${out:-null}}"
}

for round in $(seq "$ROUNDS"); do
  for fr in line frame; do
    S=$(start shout "$SHOUT" serve --listen 127.0.0.1:0 --threads 1 --framing "$fr")
    T=$(start tokio "$BENCH" --serve-tokio 127.0.0.1:0 --server-framing "$fr")
    E=$(start echo "$BENCH" --serve-echo 127.0.0.1:0)
    for depth in 1 16; do
      load shout --mode "$fr" -c 64 -d "$depth" -b 64 -s "$SECS" "$S"
      load echo  --mode "$fr" -c 64 -d "$depth" -b 64 -s "$SECS" --echo "$E"
      load tokio --mode "$fr" -c 64 -d "$depth" -b 64 -s "$SECS" "$T"
    done
    stop shout; stop tokio; stop echo
  done
  S=$(start shout "$SHOUT" serve --listen 127.0.0.1:0 --threads 1 --framing raw)
  T=$(start tokio "$BENCH" --serve-tokio 127.0.0.1:0 --server-framing raw)
  E=$(start echo "$BENCH" --serve-echo 127.0.0.1:0)
  for c in 1 16; do
    bytes=$(( 1073741824 / c ))
    load shout --mode raw -c "$c" --bytes "$bytes" "$S"
    load echo  --mode raw -c "$c" --bytes "$bytes" --echo "$E"
    load tokio --mode raw -c "$c" --bytes "$bytes" "$T"
  done
  stop shout; stop tokio; stop echo
  S=$(start shout "$SHOUT" serve --listen 127.0.0.1:0 --threads 1 --udp)
  load shout --mode udp -c 16 -d 1 -b 64 -s "$SECS" "$S"
  stop shout
done

# Memory: a fresh server per run, 10,000 held connections.
for round in $(seq "$ROUNDS"); do
  S=$(start shout "$SHOUT" serve --listen 127.0.0.1:0 --threads 1)
  load shout --mode hold -c 10000 -s 2 "$S"
  stop shout
  S=$(start shout "$SHOUT" serve --listen 127.0.0.1:0 --threads 1)
  load shout-hello --mode hold -c 10000 -s 2 --hello "$S"
  stop shout
  E=$(start echo "$BENCH" --serve-echo 127.0.0.1:0)
  load echo --mode hold -c 10000 -s 2 "$E"
  stop echo
  T=$(start tokio "$BENCH" --serve-tokio 127.0.0.1:0)
  load tokio-hello --mode hold -c 10000 -s 2 --hello "$T"
  stop tokio
done
