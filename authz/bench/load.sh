#!/usr/bin/env bash
# Load benchmark of a release build on loopback with wrk (Debian package).
#
#   bash authz/bench/load.sh            # all scenarios, 20 s each
#   DURATION=10s CONNS=64 bash authz/bench/load.sh
#
# Starts `tollgate serve` on a throw-away config (SQLite in a temp dir),
# creates an ES256 and an RS256 client_credentials client, then measures
# client_credentials grants (ES256, RS256), introspection, discovery, and
# the decision point: `/v1/decide` and the ext_authz check with a user's
# access token (obtained by signing in with curl).
# Prints requests/s, p50/p99 latency and the server's peak RSS per scenario.
# The load generator runs on the same 2 cores as the server.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-target/release/tollgate}
DURATION=${DURATION:-20s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
PORT=${PORT:-18443}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
[ -x "$BIN" ] || cargo build --release -p tollgate-authz --bin tollgate

work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
cat > "$work/tollgate.toml" <<TOML
version = 1
issuer = "http://127.0.0.1:$PORT"
listen = "127.0.0.1:$PORT"
[database]
url = "sqlite://$work/tollgate.db"
[gateway]
audiences = ["https://api.example"]
# One subject asked thousands of times a second: no per-subject budget.
decide_per_subject_per_minute = 0
[policy]
files = ["$PWD/policies/default.yaml", "$work/routes.yaml"]
[[clients]]
id = "web"
secret_env = "BENCH_WEB_SECRET"
redirect_uris = ["https://web.example/cb"]
require_pkce = false
access_token_audience = "https://api.example"
TOML
# Two API routes: /orders is open to any signed-in user (the score is still
# computed), /admin needs a passkey (the RFC 9470 challenge path).
cat > "$work/routes.yaml" <<YAML
rules_before:
  - {name: orders-api, when: {action: request, path: ["/orders"]}, allow: true}
  - {name: admin-api, when: {action: request, path: ["/admin/*"]}, require: phr, max_age: 5m}
YAML
export BENCH_WEB_SECRET=$(head -c24 /dev/urandom | base64 | tr -d '/+=')-web-secret
export TOLLGATE_MASTER_KEY=$(head -c32 /dev/urandom | base64)
export TOLLGATE_LOG=warn
cfg=(--config "$work/tollgate.toml")
secret() { "$BIN" clients add "$1" --grant client_credentials --alg "$2" --permission decide --permission introspect "${cfg[@]}" | sed -n 's/^client secret.*: //p'; }
ES=$(secret bench-es ES256)
RS=$(secret bench-rs RS256)
PW="bench password $(head -c8 /dev/urandom | base64)"
echo "$PW" | "$BIN" users add alice --group staff --password-stdin "${cfg[@]}" >/dev/null
"$BIN" serve "${cfg[@]}" 2>"$work/server.log" &
pid=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done

# Every wrk script ends with this: one RESULT line per run.
REPORT='done = function(summary, latency, requests)
  io.write(string.format("RESULT %.0f req/s  p50 %.2f ms  p99 %.2f ms  errors %d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end'

post_script() { # $1 = body, $2 = basic auth user:pass
  cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = "$1"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $(printf '%s' "$2" | base64 -w0)"
$REPORT
LUA
}

peak_rss() { awk '/VmHWM/ {print $2/1024 " MiB"}' "/proc/$pid/status"; }

run() { # $1 = name, $2 = url
  local out
  out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$work/post.lua" "$2" | grep RESULT)
  echo "$1: ${out#RESULT }  peak RSS $(peak_rss)"
}

post_script "grant_type=client_credentials" "bench-es:$ES"; run "client_credentials ES256" "http://127.0.0.1:$PORT/token"
post_script "grant_type=client_credentials" "bench-rs:$RS"; run "client_credentials RS256" "http://127.0.0.1:$PORT/token"
TOKEN=$(curl -s -u "bench-es:$ES" -d grant_type=client_credentials "http://127.0.0.1:$PORT/token" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
post_script "token=$TOKEN" "bench-es:$ES"; run "introspection" "http://127.0.0.1:$PORT/introspect"
printf '%s\n' "$REPORT" > "$work/post.lua"
run "discovery" "http://127.0.0.1:$PORT/.well-known/openid-configuration"

# The decision point. A user's access token first: sign in like a browser.
UA="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
B="http://127.0.0.1:$PORT"
jar="$work/cookies"
login=$(curl -s -A "$UA" -c "$jar" -b "$jar" -o /dev/null -w '%{redirect_url}' \
  "$B/authorize?client_id=web&redirect_uri=https%3A%2F%2Fweb.example%2Fcb&response_type=code&scope=openid")
csrf=$(curl -s -A "$UA" -c "$jar" -b "$jar" "$login" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)
back=$(curl -s -A "$UA" -c "$jar" -b "$jar" -o /dev/null -w '%{redirect_url}' \
  --data-urlencode "csrf=$csrf" --data-urlencode "username=alice" --data-urlencode "password=$PW" "$login")
code=$(printf '%s' "$back" | sed -n 's/.*[?&]code=\([^&]*\).*/\1/p')
[ -n "$code" ] || { echo "bench sign-in failed: $back"; exit 1; }
USER_TOKEN=$(curl -s -u "web:$BENCH_WEB_SECRET" -d grant_type=authorization_code -d "code=$code" \
  -d redirect_uri=https://web.example/cb "$B/token" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
NOW=$(date +%s)
cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"subject":"alice","action":"request","resource":"https://api.example/orders","context":{"ip":"127.0.0.1","user_agent":"$UA","session":{"acr":"aal2","auth_time":$NOW}}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Basic $(printf '%s' "bench-es:$ES" | base64 -w0)"
$REPORT
LUA
echo "one decision: $(curl -s -u "bench-es:$ES" -H 'Content-Type: application/json' --data "$(sed -n "s/^wrk.body = '\(.*\)'$/\1/p" "$work/post.lua")" "$B/v1/decide" | cut -c1-160)"
run "/v1/decide" "$B/v1/decide"
cat > "$work/post.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $USER_TOKEN"
wrk.headers["User-Agent"] = "$UA"
$REPORT
LUA
for route in orders admin/users; do
  echo "one check of /$route: $(curl -s -o /dev/null -w '%{http_code}' -A "$UA" -H "Authorization: Bearer $USER_TOKEN" "$B/ext_authz/$route")"
done
run "ext_authz allow (/orders)" "$B/ext_authz/orders"
run "ext_authz step-up challenge (/admin/users, 401s counted as errors)" "$B/ext_authz/admin/users"
echo "openssl speed rsa2048 (2 cores) for reference:"
openssl speed -multi 2 -seconds 3 rsa2048 2>/dev/null | grep -E '^rsa 2048' || true
