#!/usr/bin/env bash
# Start the demo: the repo's gateway.toml on the embedded memory store, the
# demo users (examples/demo-users.toml) and the echo upstream on :3000.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo build --bin gatehouse --example echo_upstream
[ -f keys/signing.pem ] || target/debug/gatehouse keys generate --out keys
target/debug/examples/echo_upstream 127.0.0.1:3000 &
echo_pid=$!
trap 'kill "$echo_pid" 2>/dev/null || true' EXIT
cat >&2 <<'MSG'
gatehouse demo on http://127.0.0.1:8080 (upstream: echo on 127.0.0.1:3000)
  users: alice / alice-demo-pass (admin), bob / bob-demo-pass (user),
         carol / carol-demo-pass (disabled)
  try:   curl -s http://127.0.0.1:8080/public/hello
         curl -s -X POST http://127.0.0.1:8080/auth/login -H 'content-type: application/json' \
              -d '{"username":"alice","password":"alice-demo-pass"}'
MSG
target/debug/gatehouse run --config gateway.toml
