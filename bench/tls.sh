#!/usr/bin/env bash
# TLS in one run: `shout serve` terminating TLS itself, the same server
# without TLS, and nginx's stream module terminating TLS in front of a plain
# `shout serve` (what a user would otherwise do). Every server process is
# pinned to core 0 (nginx's one worker and its shout alike: the same core
# budget), the load to core 1; the cases interleave round by round.
# Prints one JSON object per measurement (bench/tls.py summarizes them).
#
#   ROUNDS=3 bench/tls.sh > tls.jsonl && python3 bench/tls.py < tls.jsonl
set -euo pipefail
T=${CARGO_TARGET_DIR:-target}/release
SHOUT=${SHOUT:-$T/shout}
BENCH=${SHOUT_BENCH:-$T/shout-bench}
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-4}
NGINX=${NGINX:-nginx}
command -v "$NGINX" >/dev/null || { echo "nginx is needed (apt-get install nginx-light libnginx-mod-stream)" >&2; exit 1; }

. "$(dirname "$0")/servers.sh"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout "$TMP/key.pem" -out "$TMP/cert.pem" -days 1 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
  -addext basicConstraints=critical,CA:FALSE 2>/dev/null

# nginx: one worker in the foreground, TLS on a free port, proxying to $1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_nginx() { # UPSTREAM -> the TLS address
  local port; port=$(free_port)
  cat >"$TMP/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 1;
daemon off;
master_process off;
pid $TMP/nginx.pidfile;
error_log $TMP/nginx.log error;
worker_rlimit_nofile 65536;
events { worker_connections 30000; }
stream {
    server {
        listen 127.0.0.1:$port ssl;
        ssl_certificate $TMP/cert.pem;
        ssl_certificate_key $TMP/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        # A client's close_notify ends only its direction, as with shout's
        # own TLS: the answers still in flight come back.
        proxy_half_close on;
        proxy_pass $1;
    }
}
EOF
  # master_process off: the one process is the worker, pinned to core 0.
  taskset -c 0 "$NGINX" -c "$TMP/nginx.conf" -e "$TMP/nginx.log" >/dev/null 2>&1 </dev/null &
  echo $! >"$TMP/nginx.pid"
  for _ in $(seq 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null && break
    sleep 0.05
  done
  echo "127.0.0.1:$port"
}

cpu() { # PIDS... -> their user+system CPU seconds so far
  local t=0 p
  for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo "$t $(getconf CLK_TCK)" | awk '{printf "%.3f", $1 / $2}'
}
load() { # NAME CASE "PIDS" ARGS... : the servers' CPU over the run is added
  local name=$1 case=$2 pids=$3; shift 3
  local out c0 c1
  # shellcheck disable=SC2086
  c0=$(cpu $pids)
  out=$(taskset -c 1 "$BENCH" --json "$@" 2>"$TMP/load.err") || true
  # shellcheck disable=SC2086
  c1=$(cpu $pids)
  [ -n "$out" ] || echo "load $name $case failed: $(tail -3 "$TMP/load.err")" >&2
  echo "{\"server\":\"$name\",\"case\":\"$case\",\"server_cpu_s\":$(echo "$c1 $c0" | awk '{printf "%.3f", $1 - $2}'),\"result\":${out:-null}}"
}

tls_args=(--tls --ca "$TMP/cert.pem" --server-name localhost)
cases() { # NAME ADDR PID TLS? : every case against one server
  local name=$1 a=$2 pid=$3 t=()
  [ "$4" = tls ] && t=("${tls_args[@]}")
  load "$name" frame-d16 "$pid" "${t[@]}" --mode frame -c 64 -d 16 -b 64 -s "$SECS" "$a"
  load "$name" raw-c1 "$pid" "${t[@]}" --mode raw -c 1 --bytes 268435456 "$a"
  load "$name" raw-c16 "$pid" "${t[@]}" --mode raw -c 16 --bytes 16777216 "$a"
  if [ "$4" = tls ]; then
    [ "$name" = nginx-tls ] || load "$name" handshake-c16 "$pid" "${t[@]}" --mode handshake -c 16 -s "$SECS" "$a"
    s_time "$name" "$pid" "$a"
  fi
}

# Full handshakes one after another by openssl s_time, a client both
# servers accept (nginx ends a session without close_notify, which
# shout-bench's handshake mode counts as a failure).
s_time() { # NAME "PIDS" ADDR
  local name=$1 pids=$2 out c0 c1 n secs
  # shellcheck disable=SC2086
  c0=$(cpu $pids)
  out=$(taskset -c 1 openssl s_time -connect "$3" -new -time "$SECS" -CAfile "$TMP/cert.pem" 2>&1 | grep 'real seconds' | head -1)
  # shellcheck disable=SC2086
  c1=$(cpu $pids)
  n=$(echo "$out" | awk '{print $1}'); secs=$(echo "$out" | awk '{print $4}')
  echo "{\"server\":\"$name\",\"case\":\"handshake-s_time\",\"server_cpu_s\":$(echo "$c1 $c0" | awk '{printf "%.3f", $1 - $2}'),\"result\":{\"errors\":0,\"handshakes\":${n:-0},\"handshakes_per_second\":$(echo "${n:-0} ${secs:-1}" | awk '{printf "%.1f", $1 / $2}')}}"
}

for _ in $(seq "$ROUNDS"); do
  # shout terminating TLS, and the same process serving plain.
  a=$(start shout "$SHOUT" serve --listen 127.0.0.1:0 --threads 1 --idle-timeout 0 \
        --tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem")
  cases shout-tls "$a" "$(cat "$TMP/shout.pid")" tls
  cases shout-plain "$a" "$(cat "$TMP/shout.pid")" plain
  stop shout
  # nginx terminating TLS in front of plain shout; CPU is both processes'.
  a=$(start shout "$SHOUT" serve --listen 127.0.0.1:0 --threads 1 --idle-timeout 0)
  n=$(start_nginx "$a")
  cases nginx-tls "$n" "$(cat "$TMP/nginx.pid") $(cat "$TMP/shout.pid")" tls
  stop nginx; stop shout
done
# Memory: 10,000 idle connections held after the handshake, TLS and plain,
# a fresh server each.
for t in tls plain; do
  a=$(start shout "$SHOUT" serve --listen 127.0.0.1:0 --threads 1 --idle-timeout 0 \
        --tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem")
  extra=(); [ "$t" = tls ] && extra=("${tls_args[@]}")
  load "shout-$t" hold-10000 "$(cat "$TMP/shout.pid")" "${extra[@]}" --mode hold -c 10000 -s 1 \
    --server-pid "$(cat "$TMP/shout.pid")" "$a"
  stop shout
done
