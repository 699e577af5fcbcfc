#!/usr/bin/env bash
# Two builds of `shout serve` side by side with the echo ceiling, in the
# same run: every server pinned to core 0, the load to core 1, the cases
# interleaved round by round so drift on a shared machine hits all alike.
# Prints one JSON object per measurement (feed it to before-after.py).
#
#   SHOUT_BEFORE=/path/to/old/shout ROUNDS=3 bench/before-after.sh > ba.jsonl
#   python3 bench/before-after.py < ba.jsonl
set -euo pipefail
T=${CARGO_TARGET_DIR:-target}/release
NEW=${SHOUT:-$T/shout}
OLD=${SHOUT_BEFORE:?set SHOUT_BEFORE to the shout binary to compare against}
BENCH=${SHOUT_BENCH:-$T/shout-bench}
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-4}

. "$(dirname "$0")/servers.sh"
trio() { # FRAMING CASE ARGS... : new, old and echo on the same case
  local fr=$1 case=$2; shift 2
  local n o e
  n=$(start new "$NEW" serve --listen 127.0.0.1:0 --threads 1 --framing "$fr")
  o=$(start old "$OLD" serve --listen 127.0.0.1:0 --threads 1 --framing "$fr")
  e=$(start echo "$BENCH" --serve-echo 127.0.0.1:0)
  load new "$case" "$@" "$n"
  load old "$case" "$@" "$o"
  load echo "$case" "$@" --echo "$e"
  stop new; stop old; stop echo
}
for _ in $(seq "$ROUNDS"); do
  for fr in line frame; do
    for d in 1 16; do
      trio "$fr" "$fr-d$d" --mode "$fr" -c 64 -d "$d" -b 64 -s "$SECS"
    done
  done
  trio raw raw-c1 --mode raw -c 1 --bytes 268435456
  trio raw raw-c16 --mode raw -c 16 --bytes 16777216
  for who in new old; do
    bin=$NEW; [ "$who" = old ] && bin=$OLD
    a=$(start "$who" "$bin" serve --listen 127.0.0.1:0 --threads 1 --idle-timeout 0)
    load "$who" hold-hello --mode hold -c 10000 --hello -s 1 "$a"
    stop "$who"
  done
done
