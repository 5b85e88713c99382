#!/usr/bin/env bash
# Replicas on PostgreSQL + Redis behind nginx (round robin, keep-alive
# upstreams), measured with wrk: client_credentials and `POST /v1/decide`
# on 1 and on 2 replicas, and one replica straight (no nginx) with and
# without `[state] redis`, which is the per-decision cost of the Redis
# round trip.
#
#   bash authz/bench/replicas.sh
#   DURATION=10s CONNS=64 PG=postgres://postgres@127.0.0.1:5432 REDIS=redis://127.0.0.1:6379 bash authz/bench/replicas.sh
#
# Everything (nginx, the replicas, PostgreSQL, Redis, wrk) shares the same
# cores, so two replicas cannot be faster than one here: the table shows
# what the coordination costs, not how a second machine scales.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-target/release/tollgate}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
REDIS=${REDIS:-redis://127.0.0.1:6379}
NGINX=${NGINX:-/usr/sbin/nginx}
for tool in wrk psql "$NGINX" redis-cli; do
  command -v "$tool" >/dev/null || { echo "$tool is not installed (apt-get install wrk postgresql-client nginx redis-tools)"; exit 1; }
done
[ -x "$BIN" ] || cargo build --release -p tollgate-authz --bin tollgate

work=$(mktemp -d)
pids=()
stop_all() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done; pids=(); }
db=tollgate_bench_$$
trap 'stop_all; psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
psql -q "$PG/postgres" -c "CREATE DATABASE $db" >/dev/null
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

LB=$(free_port)
config() { # $1 = file, $2 = with redis (yes/no)
  cat > "$1" <<TOML
version = 1
issuer = "http://127.0.0.1:$LB"
[database]
url = "$PG/$db"
max_connections = 16
[gateway]
decide_per_subject_per_minute = 0
[metrics]
public = true
$( [ "$2" = yes ] && printf '[state]\nredis = "%s"\nkey_prefix = "bench%s:"\n' "$REDIS" "$$" )
[[clients]]
id = "bench"
secret_env = "BENCH_SECRET"
grant_types = ["client_credentials"]
redirect_uris = []
permissions = ["decide"]
TOML
}
export BENCH_SECRET=$(head -c24 /dev/urandom | base64 | tr -d '/+=')-bench-secret
export TOLLGATE_MASTER_KEY=$(head -c32 /dev/urandom | base64)
export TOLLGATE_LOG=warn
config "$work/redis.toml" yes
config "$work/plain.toml" no
"$BIN" migrate --config "$work/redis.toml" >/dev/null

start_replicas() { # $1 = config, $2.. = ports
  local cfg=$1; shift
  for port in "$@"; do
    "$BIN" serve --config "$cfg" --listen "127.0.0.1:$port" 2>>"$work/server.log" &
    pids+=($!)
  done
  for port in "$@"; do
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
  done
}

start_nginx() { # $@ = upstream ports
  local servers=""
  for port in "$@"; do servers+="    server 127.0.0.1:$port;"$'\n'; done
  mkdir -p "$work/nginx"
  cat > "$work/nginx/nginx.conf" <<NGINX
daemon off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  upstream tollgate {
$servers    keepalive 64;
  }
  server {
    listen 127.0.0.1:$LB;
    location / {
      proxy_pass http://tollgate;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_next_upstream error timeout non_idempotent;
    }
  }
}
NGINX
  "$NGINX" -c "$work/nginx/nginx.conf" -p "$work/nginx" &
  pids+=($!)
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$LB/healthz" >/dev/null && break; sleep 0.1; done
}

REPORT='done = function(summary, latency, requests)
  io.write(string.format("RESULT %.0f req/s  p50 %.2f ms  p99 %.2f ms  errors %d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end'
auth="Basic $(printf '%s' "bench:$BENCH_SECRET" | base64 -w0)"
cat > "$work/token.lua" <<LUA
wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "$auth"
$REPORT
LUA
# Logins of many users from many addresses: every decision reads and
# writes the velocity counters (one Redis script call when configured).
cat > "$work/decide.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "$auth"
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"subject":"user%d","action":"login","context":{"ip":"10.%d.%d.%d","user_agent":"Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0"}}',
    n % 5000, math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
  return wrk.format(nil, nil, nil, body)
end
$REPORT
LUA

run() { # $1 = label, $2 = base URL
  local tok dec
  tok=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$work/token.lua" "$2/token" | grep RESULT)
  dec=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$work/decide.lua" "$2/v1/decide" | grep RESULT)
  printf '%s\n  client_credentials: %s\n  /v1/decide (login):  %s\n' "$1" "${tok#RESULT }" "${dec#RESULT }"
}

# The Redis round trip apart from the decision: p50 and p99 of the
# replica's `tollgate_state_round_trip_seconds` histogram (linear within a
# bucket, as Prometheus's histogram_quantile), over the decisions just run.
round_trips() { # $1 = base URL
  curl -sf "$1/metrics" | python3 -c '
import sys
b = []
for l in sys.stdin:
    if l.startswith("tollgate_state_round_trip_seconds_bucket"):
        le = l.split("le=\"")[1].split("\"")[0]
        b.append((float("inf") if le == "+Inf" else float(le), float(l.split()[-1])))
b.sort()
total = b[-1][1] if b else 0
def q(p):
    lo, below = 0.0, 0.0
    for le, n in b:
        if n >= p * total:
            if le == float("inf"):
                return lo
            return lo + (le - lo) * (p * total - below) / max(n - below, 1)
        lo, below = le, n
    return lo
print("  Redis round trip (per decision, %d calls): p50 %.0f us  p99 %.0f us" % (total, q(0.5) * 1e6, q(0.99) * 1e6))
'
}

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
p1=$(free_port); p2=$(free_port)
start_replicas "$work/plain.toml" "$p1"
run "1 replica, PostgreSQL, velocity in memory, direct" "http://127.0.0.1:$p1"
stop_all
start_replicas "$work/redis.toml" "$p1"
run "1 replica, PostgreSQL + Redis, direct" "http://127.0.0.1:$p1"
round_trips "http://127.0.0.1:$p1"
start_nginx "$p1"
run "1 replica, PostgreSQL + Redis, behind nginx" "http://127.0.0.1:$LB"
stop_all
start_replicas "$work/redis.toml" "$p1" "$p2"
start_nginx "$p1" "$p2"
run "2 replicas, PostgreSQL + Redis, behind nginx (round robin)" "http://127.0.0.1:$LB"
stop_all
echo "errors from the servers: $(grep -ciE 'error|panic' "$work/server.log" || true)"
