#!/usr/bin/env bash
# Install the system packages gatehouse needs to build (cmake, for Pingora)
# and to test (redis-server and redis-cli; chromium and chromium-driver for the headless
# browser tests, SPEC §15; nginx and caddy, the real front proxies of the
# forward-auth tests, SPEC §10), when they are missing. Debian/Ubuntu.
# Then panva's oidc-provider (npm) for the OpenID Connect tests (SPEC §13)
# into tests/oidc-provider/node_modules (git-ignored), from its lockfile.
# Silent when nothing is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# tests/oidc-provider: `npm ci` from package-lock.json when node_modules is
# missing (Node and npm come from Debian's packages if absent).
oidc_provider() {
    [ -d tests/oidc-provider/node_modules/oidc-provider ] && return 0
    echo "installing: oidc-provider (npm ci in tests/oidc-provider)" >&2
    (cd tests/oidc-provider && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
}

# The Debian packages whose programs are not here yet.
missing() {
    command -v cmake >/dev/null 2>&1 || echo cmake
    command -v redis-server >/dev/null 2>&1 || echo redis-server
    # The Redis Cluster tests and bench rows join nodes with redis-cli.
    command -v redis-cli >/dev/null 2>&1 || echo redis-tools
    # tests/common/browser.rs runs these paths.
    [ -x /usr/bin/chromium ] || echo chromium
    [ -x /usr/bin/chromedriver ] || echo chromium-driver
    # tests/common/front.rs runs `nginx` and `caddy` (nginx is in /usr/sbin).
    command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || echo nginx
    command -v caddy >/dev/null 2>&1 || echo caddy
    # tests/common/op.rs runs `node tests/oidc-provider/provider.mjs`.
    command -v node >/dev/null 2>&1 || echo nodejs
    command -v npm >/dev/null 2>&1 || echo npm
}

mapfile -t want < <(missing)
if [ "${#want[@]}" -eq 0 ]; then
    oidc_provider
    exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${want[*]}" >&2
$sudo apt-get update -qq
# nginx and caddy both try to start a service on port 80 where systemd
# runs; the second one failing to start must not fail the install, so what
# counts is whether the programs are there afterwards.
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${want[@]}" >/dev/null || true
mapfile -t still < <(missing)
if [ "${#still[@]}" -gt 0 ]; then
    echo "could not install: ${still[*]}" >&2
    exit 1
fi
oidc_provider
