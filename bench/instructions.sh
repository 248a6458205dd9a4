#!/usr/bin/env bash
# Instructions per request, counted by valgrind's callgrind: the user-space
# instructions the proxy process executes for one keep-alive request, for
# the tuned bare Pingora passthrough, the same passthrough making only the
# output SPEC requires of every proxied request (`bare_proxy_required`: the
# floor under gatehouse's public route), and gatehouse (public route, EdDSA
# bearer, session cookie on the memory store). Unlike CPU time this count
# does not move with the machine's speed or its neighbours, so it judges a
# code change on this shared machine where µs/req drift by ±15 % (see
# bench/README.md, "Instructions per request"). Kernel work (the loopback
# TCP path, about half of each request's CPU) is not in it.
#
# The HTTP/2 rows (TLS, `examples/bench_h2` with 8 streams on one
# connection, counted over two runs of different length so the connection's
# TLS handshake cancels out) compare gatehouse's bearer path with the
# passthrough sent the same request.
#
# Knobs: REQUESTS=2000 (counted, per target) WARMUP_REQUESTS=200
#   H2_SECONDS=4 (the longer HTTP/2 run; the shorter is 1 s; 0: no HTTP/2 rows)
#   BIN=target/release (where gatehouse and the examples are; SKIP_BUILD=1
#   to use them as they are) GATEHOUSE=path (another gatehouse binary, e.g.
#   an earlier build, for a before/after) KEEP=1 (keep the callgrind dumps:
#   `callgrind_annotate FILE` shows where the instructions go).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
REQUESTS=${REQUESTS:-2000}
H2_SECONDS=${H2_SECONDS:-4}
WARMUP_REQUESTS=${WARMUP_REQUESTS:-200}
BIN=${BIN:-$ROOT/target/release}
log() { printf '%s\n' "$*" >&2; }
die() { log "instructions: $*"; exit 1; }
[[ $REQUESTS =~ ^[0-9]+$ && $WARMUP_REQUESTS =~ ^[0-9]+$ && $H2_SECONDS =~ ^[0-9]+$ ]] && ((REQUESTS > 0)) &&
    ((H2_SECONDS == 0 || H2_SECONDS > 1)) ||
    die "REQUESTS, WARMUP_REQUESTS and H2_SECONDS must be whole numbers, REQUESTS > 0, H2_SECONDS 0 or > 1"
for tool in valgrind callgrind_control curl; do
    command -v "$tool" >/dev/null || die "missing $tool (Debian: apt-get install -y valgrind curl)"
done
if [ -z "${SKIP_BUILD:-}" ]; then
    log "instructions: cargo build --release --bin gatehouse --example bare_proxy_tuned --example bare_proxy_required --example bench_upstream --example bench_h2"
    cargo build --release --bin gatehouse --example bare_proxy_tuned --example bare_proxy_required --example bench_upstream --example bench_h2 >&2
fi
GH=${GATEHOUSE:-$BIN/gatehouse}
[ -x "$GH" ] || die "$GH is not an executable"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-instructions.XXXXXX")
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    if [ -n "${KEEP:-}" ]; then log "instructions: kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
free_port() {
    local p
    for _ in $(seq 100); do
        p=$((20000 + RANDOM % 30000))
        ss -Htln "sport = :$p" | grep -q . || { echo "$p"; return; }
    done
    die "no free port"
}
start() { # NAME CMD...: start in the background, log to $WORK/NAME.log
    local name=$1
    shift
    "$@" >"$WORK/$name.log" 2>&1 &
    PIDS+=("$!")
    LAST_PID=$!
}
wait_port() { # NAME PID PORT: bounded, 60 s (valgrind starts slowly)
    for _ in $(seq 600); do
        ss -Htln "sport = :$3" | grep -q . && return
        kill -0 "$2" 2>/dev/null || { tail -n 20 "$WORK/$1.log" >&2; die "$1 exited at start"; }
        sleep 0.1
    done
    die "$1 is not listening on port $3 after 60 s"
}
under_callgrind() { # NAME CMD...: the command under callgrind, dumps in $WORK
    start "$1" valgrind --tool=callgrind --callgrind-out-file="$WORK/$1.%p.out" "${@:2}"
}

P_UP=$(free_port) P_TUNED=$(free_port) P_GH=$(free_port) P_TUNED_TLS=$(free_port) P_GH_TLS=$(free_port)
P_REQ=$(free_port) P_REQ_TLS=$(free_port)
UP=127.0.0.1:$P_UP
"$BIN/examples/bench_h2" certs "$WORK" || die "bench_h2 could not write certificates"
start upstream "$BIN/examples/bench_upstream" "$UP" 1
wait_port upstream "$LAST_PID" "$P_UP"
under_callgrind tuned "$BIN/examples/bare_proxy_tuned" "127.0.0.1:$P_TUNED" "$UP" 1 \
    "127.0.0.1:$P_TUNED_TLS" "$WORK/cert.pem" "$WORK/key.pem"
PID_TUNED=$LAST_PID
# The floor: the passthrough plus only the output SPEC requires of every
# proxied request (examples/bare_proxy_required.rs).
under_callgrind required "$BIN/examples/bare_proxy_required" "127.0.0.1:$P_REQ" "$UP" 1 \
    "127.0.0.1:$P_REQ_TLS" "$WORK/cert.pem" "$WORK/key.pem"
PID_REQ=$LAST_PID

# gatehouse with the bench's configuration (bench/gateway.toml.tmpl), on one
# thread, memory store, EdDSA tokens.
# shellcheck source=bench/bench_user.sh
source "$ROOT/bench/bench_user.sh"
bench_user "$GH" "$WORK"
text=$(<"$ROOT/bench/gateway.toml.tmpl")
for kv in "LISTEN=127.0.0.1:$P_GH" THREADS=1 WORK_STEALING=false 'STORE=backend = "memory"' \
    "SERVER_EXTRA=tls_listen = \"127.0.0.1:$P_GH_TLS\"
tls_cert = \"cert.pem\"
tls_key = \"key.pem\"" \
    'TOKENS=algorithm = "EdDSA"
signing_key_file = "keys/signing.pem"' ISSUER=gatehouse-bench AUDIENCE=bench-apps EXTRA= "UPSTREAM=$UP"; do
    text=${text//@@${kv%%=*}@@/${kv#*=}}
done
printf '%s\n' "$text" >"$WORK/gateway.toml"
"$GH" check --config "$WORK/gateway.toml" >"$WORK/check.log" 2>&1 || { cat "$WORK/check.log" >&2; die "gatehouse check refused the configuration"; }
under_callgrind gatehouse "$GH" run --config "$WORK/gateway.toml"
PID_GH=$LAST_PID
wait_port tuned "$PID_TUNED" "$P_TUNED"
wait_port required "$PID_REQ" "$P_REQ"
wait_port gatehouse "$PID_GH" "$P_GH"

out=$(curl -sS -m 60 -D "$WORK/login.hdr" -H 'content-type: application/json' \
    -d "{\"username\":\"bench\",\"password\":\"$PASSWORD\"}" "http://127.0.0.1:$P_GH/auth/login") || die "login failed"
TOKEN=$(sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p' <<<"$out")
COOKIE=$(tr -d '\r' <"$WORK/login.hdr" | sed -n 's/^[Ss]et-[Cc]ookie: \(__Host-gatehouse=[^;]*\).*/\1/p' | head -n 1)
[ -n "$TOKEN" ] && [ -n "$COOKIE" ] || die "login: no token or cookie in the answer: $out"

# requests URL HEADER N: N requests on one keep-alive connection; every one must be a 200.
requests() {
    local cfg=$WORK/curl.cfg codes
    : >"$cfg"
    for _ in $(seq "$3"); do printf 'url = "%s"\noutput = "/dev/null"\n' "$1" >>"$cfg"; done
    codes=$(curl -sS -m 600 -K "$cfg" ${2:+-H "$2"} -w '%{http_code}\n')
    [ "$(grep -cx 200 <<<"$codes")" = "$3" ] || die "not every request to $1 answered 200: $(sort <<<"$codes" | uniq -c | tr '\n' ' ')"
}
# measured NAME PID CMD...: zero PID's counters, run CMD (its output is
# kept in $WORK/NAME.cmd-out), dump them; prints the dump's total.
measured() {
    local name=$1 pid=$2 before after dump
    shift 2
    before=$(ls "$WORK"/*.out* 2>/dev/null | wc -l)
    callgrind_control -z "$pid" >/dev/null 2>&1
    "$@" >"$WORK/$name.cmd-out"
    callgrind_control --dump="$name" "$pid" >/dev/null 2>&1
    for _ in $(seq 100); do
        after=$(ls "$WORK"/*.out* 2>/dev/null | wc -l)
        ((after > before)) && break
        sleep 0.1
    done
    dump=$(ls -t "$WORK"/*.out* | head -n 1)
    mv "$dump" "$WORK/$name.callgrind"
    awk '/^summary:/ { print $2 }' "$WORK/$name.callgrind" | grep . || die "no summary in the dump of $name"
}
# count NAME PID URL HEADER: warm up, then REQUESTS counted; prints
# instructions per request.
count() {
    local total
    requests "$3" "$4" "$WARMUP_REQUESTS"
    total=$(measured "$1" "$2" requests "$3" "$4" "$REQUESTS")
    awk -v t="$total" -v n="$REQUESTS" -v name="$1" 'BEGIN { printf "| %s | %.0f |\n", name, t / n }'
}

log "instructions: $REQUESTS requests per target after $WARMUP_REQUESTS to warm up"
echo "Instructions per request (user space, callgrind; $REQUESTS keep-alive requests on one connection, $(date -u '+%Y-%m-%d %H:%M UTC'))"
echo "gatehouse: $GH"
echo
echo "| target | instructions/req |"
echo "|---|---:|"
count tuned-passthrough "$PID_TUNED" "http://127.0.0.1:$P_TUNED/public/x" ""
count spec-output-only "$PID_REQ" "http://127.0.0.1:$P_REQ/public/x" ""
count gatehouse-public "$PID_GH" "http://127.0.0.1:$P_GH/public/x" ""
count gatehouse-bearer-eddsa "$PID_GH" "http://127.0.0.1:$P_GH/api/x" "Authorization: Bearer $TOKEN"
count gatehouse-cookie-memory "$PID_GH" "http://127.0.0.1:$P_GH/api/x" "Cookie: $COOKIE"

# h2_run NAME PID URL HEADER SECONDS: one bench_h2 run, counted; prints
# "instructions requests".
h2_run() {
    local total out
    total=$(measured "$1-${5}s" "$2" "$BIN/examples/bench_h2" load "$3" "$WORK/ca.pem" 1 8 "$5" ${4:+"$4"}) ||
        die "bench_h2 failed on $3"
    out=$(<"$WORK/$1-${5}s.cmd-out")
    grep -q 'Non-2xx' <<<"$out" && die "not every HTTP/2 request to $3 answered 2xx"
    echo "$total $(awk '/requests in/ { print $1 }' <<<"$out")"
}
# count_h2 NAME PID URL HEADER: (long - short) instructions / (long - short) requests.
count_h2() {
    local short long
    short=$(h2_run "$1" "$2" "$3" "$4" 1)
    long=$(h2_run "$1" "$2" "$3" "$4" "$H2_SECONDS")
    awk -v s="$short" -v l="$long" -v name="$1" 'BEGIN {
        split(s, a, " "); split(l, b, " ")
        if (b[2] - a[2] <= 0) { printf "| %s | too few requests |\n", name; exit }
        printf "| %s | %.0f |\n", name, (b[1] - a[1]) / (b[2] - a[2]) }'
}
if ((H2_SECONDS > 0)); then
    wait_port tuned-tls "$PID_TUNED" "$P_TUNED_TLS"
    wait_port gatehouse-tls "$PID_GH" "$P_GH_TLS"
    wait_port required-tls "$PID_REQ" "$P_REQ_TLS"
    count_h2 tuned-passthrough-h2-same-token "$PID_TUNED" "https://127.0.0.1:$P_TUNED_TLS/public/x" "Authorization: Bearer $TOKEN"
    count_h2 spec-output-only-h2-same-token "$PID_REQ" "https://127.0.0.1:$P_REQ_TLS/public/x" "Authorization: Bearer $TOKEN"
    count_h2 gatehouse-bearer-eddsa-h2 "$PID_GH" "https://127.0.0.1:$P_GH_TLS/api/x" "Authorization: Bearer $TOKEN"
fi
