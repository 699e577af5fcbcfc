#!/usr/bin/env bash
# WebSocket in one run: `shout serve --framing web` against a
# tokio-tungstenite echo-uppercase server (`shout-bench --serve-tokio-ws`,
# built with --features tokio-compare). Each server on core 0, the load on
# core 1, the cases interleaved round by round. One JSON object per
# measurement; bench/web.py summarizes them. For 1 MiB messages the echo
# ceiling (`shout-bench --serve-echo`) runs the same sizes too, to show
# what moving the bytes alone costs on this machine.
#
#   cargo build --release -p shout-mio -p shout-bench --features shout-bench/tokio-compare
#   ROUNDS=3 bench/web.sh > web.jsonl && python3 bench/web.py < web.jsonl
set -euo pipefail
T=${CARGO_TARGET_DIR:-target}/release
SHOUT=${SHOUT:-$T/shout}
BENCH=${SHOUT_BENCH:-$T/shout-bench}
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-4}
. "$(dirname "$0")/servers.sh"
both() { # CASE ARGS... : the same load against each server, fresh
  local case=$1; shift
  local a
  a=$(start shout "$SHOUT" serve --listen 127.0.0.1:0 --threads 1 --framing web --idle-timeout 0)
  load shout "$case" "$@" "$a"
  stop shout
  a=$(start tokio "$BENCH" --serve-tokio-ws 127.0.0.1:0)
  load tokio "$case" "$@" "$a"
  stop tokio
}
ceiling() { # CASE ARGS... : the echo ceiling (no protocol, no work) on
  # the same request/response sizes, as SHOUT/1 frames (it echoes bytes)
  local case=$1; shift
  local a
  a=$(start echo "$BENCH" --serve-echo 127.0.0.1:0)
  load echo "$case" "$@" --echo "$a"
  stop echo
}
for _ in $(seq "$ROUNDS"); do
  both ws-64-d16 --mode ws -c 64 -d 16 -b 64 -s "$SECS"
  both ws-1mib --mode ws -c 4 -d 1 -b 1048576 -s "$SECS"
  ceiling ws-1mib --mode frame -c 4 -d 1 -b 1048576 -s "$SECS"
done
both hold-ws-10000 --mode hold --ws -c 10000 -s 2
