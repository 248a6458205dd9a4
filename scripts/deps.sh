#!/usr/bin/env bash
# Install the system packages gatehouse needs to build (cmake, for Pingora)
# and to test (redis-server; chromium and chromium-driver for the headless
# browser tests, SPEC §15; nginx and caddy, the real front proxies of the
# forward-auth tests, SPEC §10), when they are missing. Debian/Ubuntu.
# Silent when nothing is missing.
set -euo pipefail

# The Debian packages whose programs are not here yet.
missing() {
    command -v cmake >/dev/null 2>&1 || echo cmake
    command -v redis-server >/dev/null 2>&1 || echo redis-server
    # tests/common/browser.rs runs these paths.
    [ -x /usr/bin/chromium ] || echo chromium
    [ -x /usr/bin/chromedriver ] || echo chromium-driver
    # tests/common/front.rs runs `nginx` and `caddy` (nginx is in /usr/sbin).
    command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || echo nginx
    command -v caddy >/dev/null 2>&1 || echo caddy
}

mapfile -t want < <(missing)
[ "${#want[@]}" -eq 0 ] && exit 0
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
