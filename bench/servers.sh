# Sourced by the benchmark scripts: start and stop server processes pinned
# to core 0, their pid and stderr in "$TMP" (made here, and removed on exit
# with every server still in "$TMP"/*.pid killed), and run the load on
# core 1 ($BENCH, the caller's).
TMP=$(mktemp -d)
trap 'kill $(cat "$TMP"/*.pid 2>/dev/null) 2>/dev/null || true; rm -rf "$TMP"' EXIT

start() { # NAME CMD... -> prints the address once it listens
  local n=$1; shift
  taskset -c 0 "$@" >/dev/null 2>"$TMP/$n.err" </dev/null &
  echo $! >"$TMP/$n.pid"
  for _ in $(seq 200); do grep -q 'listening on' "$TMP/$n.err" && break; sleep 0.05; done
  if ! grep -q 'listening on' "$TMP/$n.err"; then
    echo "server $n did not start: $(cat "$TMP/$n.err")" >&2
    exit 1
  fi
  grep -o 'listening on [^ ]*' "$TMP/$n.err" | head -1 | cut -d' ' -f3
}

stop() { # NAME
  kill "$(cat "$TMP/$1.pid")" 2>/dev/null || true
  wait "$(cat "$TMP/$1.pid")" 2>/dev/null || true
  rm -f "$TMP/$1.pid"
}

# (tls.sh, which adds nginx's CPU, and run.sh, which tags rows by their
# arguments, define their own load after sourcing this.)
load() { # NAME CASE ARGS... -> one JSON line: the load's report on server NAME
  local name=$1 case=$2; shift 2
  local out
  out=$(taskset -c 1 "$BENCH" --json --server-pid "$(cat "$TMP/$name.pid")" "$@" 2>"$TMP/load.err") || true
  [ -n "$out" ] || echo "load $name $case failed: $(tail -3 "$TMP/load.err")" >&2
  echo "{\"server\":\"$name\",\"case\":\"$case\",\"result\":${out:-null}}"
}
