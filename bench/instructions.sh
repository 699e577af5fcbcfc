#!/usr/bin/env bash
# Instructions (callgrind's Ir) `shout serve` executes per byte of raw bulk
# and per frame and line response, for two builds. Where a shared machine's timing
# spreads by +-30 %, instruction counts are the same run after run, so a
# change of a few per cent on a path can be seen. A server started and
# stopped without load gives the fixed cost, subtracted before dividing.
#
#   SHOUT_BEFORE=/path/to/old/shout bench/instructions.sh
set -euo pipefail
T=${CARGO_TARGET_DIR:-target}/release
NEW=${SHOUT:-$T/shout}
OLD=${SHOUT_BEFORE:?set SHOUT_BEFORE to the shout binary to compare against}
BENCH=${SHOUT_BENCH:-$T/shout-bench}
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT

run() { # BIN [LOAD-ARGS...] -> "Ir units" (units: bytes or responses; 0 without load)
  local bin=$1; shift
  valgrind --tool=callgrind --callgrind-out-file="$OUT" "$bin" serve --listen 127.0.0.1:0 \
    --threads 1 2>"$OUT.err" >/dev/null &
  local addr=""
  for _ in $(seq 200); do
    addr=$(grep -o 'listening on [^ ]*' "$OUT.err" 2>/dev/null | cut -d' ' -f3) && [ -n "$addr" ] && break
    sleep 0.1
  done
  local n=0
  if [ $# -gt 0 ]; then
    n=$("$BENCH" --json "$@" "$addr" 2>/dev/null | python3 -c \
      "import json,sys; r=json.load(sys.stdin); assert not r['errors']; print(r['bytes'] if r['mode']=='raw' else r['responses'])")
  fi
  local pid; pid=$(ss -Htlnp "sport = :${addr##*:}" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
  kill -TERM "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  echo "$(grep '^summary:' "$OUT" | awk '{print $2}') $n"
  rm -f "$OUT.err"
}

per() { # "Ir units" "Ir-fixed 0" -> Ir per unit
  echo "$1 $2" | awk '{printf "%.4f", ($1 - $3) / $2}'
}

for who in new old; do
  bin=$NEW; [ "$who" = old ] && bin=$OLD
  fixed=$(run "$bin")
  raw=$(run "$bin" --mode raw -c 1 --bytes 134217728)
  frame=$(run "$bin" --mode frame -c 8 -d 16 -b 64 -s 3)
  line=$(run "$bin" --mode line -c 8 -d 16 -b 64 -s 3)
  echo "$who: fixed $(echo "$fixed" | cut -d' ' -f1) Ir; raw $(per "$raw" "$fixed") Ir/byte; frame d16 $(per "$frame" "$fixed") Ir/response; line d16 $(per "$line" "$fixed") Ir/response"
done
