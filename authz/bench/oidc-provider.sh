#!/usr/bin/env bash
# The bar from BRIEF.md, measured the same way as load.sh: node
# oidc-provider 9 (npm) issuing ES256 JWT access tokens for the
# client_credentials grant, one Node process, wrk with 64 connections.
#
#   DURATION=8s bash authz/bench/oidc-provider.sh
#
# Needs node + npm and wrk. Installs into a temp dir; nothing is kept.
set -euo pipefail
DURATION=${DURATION:-20s}
CONNS=${CONNS:-64}
PORT=${PORT:-18555}
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"
npm init -y >/dev/null
npm install --silent oidc-provider@9 >/dev/null
SECRET=bench-secret-bench-secret-bench-secret
cat > server.mjs <<JS
import Provider from 'oidc-provider';
import { generateKeyPair, exportJWK } from 'jose';
const { privateKey } = await generateKeyPair('ES256', { extractable: true });
const jwk = { ...(await exportJWK(privateKey)), alg: 'ES256', use: 'sig', kid: 'es' };
const provider = new Provider('http://127.0.0.1:$PORT', {
  jwks: { keys: [jwk] },
  clients: [{ client_id: 'bench', client_secret: '$SECRET', grant_types: ['client_credentials'],
              redirect_uris: [], response_types: [], scope: 'api', id_token_signed_response_alg: 'ES256' }],
  scopes: ['api'],
  features: {
    clientCredentials: { enabled: true },
    resourceIndicators: { enabled: true, defaultResource: () => 'https://api.example', useGrantedResource: () => true,
      getResourceServerInfo: () => ({ scope: 'api', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } }) },
  },
});
provider.listen($PORT);
JS
node server.mjs 2>/dev/null &
pid=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/.well-known/openid-configuration" && break; sleep 0.2; done
cat > post.lua <<LUA
wrk.method = "POST"
wrk.body = "grant_type=client_credentials&scope=api"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $(printf '%s' "bench:$SECRET" | base64 -w0)"
done = function(summary, latency, requests)
  io.write(string.format("oidc-provider $(node -e "process.stdout.write(require('./node_modules/oidc-provider/package.json').version)") client_credentials ES256: %.0f req/s  p50 %.2f ms  p99 %.2f ms  errors %d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
LUA
wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s post.lua "http://127.0.0.1:$PORT/token" | grep oidc-provider
