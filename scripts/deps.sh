#!/usr/bin/env bash
# Install the system packages gatehouse needs to build (cmake, for Pingora)
# and to test (redis-server; chromium and chromium-driver for the headless
# browser tests, SPEC §15), when they are missing. Debian/Ubuntu. Silent when
# nothing is missing.
set -euo pipefail
missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# tests/common/browser.rs runs these paths.
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
[ "${#missing[@]}" -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
