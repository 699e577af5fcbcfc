# Sourced by the benchmark scripts: start and stop server processes pinned
# to core 0, their pid and stderr in "$TMP" (which the caller makes and
# removes, killing "$TMP"/*.pid on exit).

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
