#!/usr/bin/env bash
# gatehouse benchmark: the same wrk load against an upstream answering a small
# 200, directly and behind bare Pingora, nginx, HAProxy (plain and verifying an
# HS256 JWT) and gatehouse (public route, EdDSA and HS256 bearer tokens, an
# owner-bound route, session cookie on the memory store and on Redis), interleaved over several
# rounds; then argon2 login throughput, a few real logins, and memory use.
# Besides req/s and latency it reports what each request costs: CPU time of
# the proxy (and of redis-server, the upstream and wrk) per request from
# /proc/PID/stat, and, in a separate counting pass, syscalls per request
# (perf, the raw_syscalls:sys_enter tracepoint) and allocations per request
# (the `count-allocs` build of gatehouse and the bare Pingora examples).
# See bench/README.md for what each number means and a sample run.
#
# Knobs (environment): ROUNDS=3 DURATION=10 (seconds per run) CONNECTIONS=32
#   WARMUP=1 (seconds before each run) WRK_THREADS=2 THREADS=2 (proxy threads /
#   nginx workers) WORK_STEALING=false (gatehouse's runtime, see bench/README.md)
#   UPSTREAM_THREADS=1 LOGINS=5 LOGIN_SECONDS=5 SESSIONS=100000
#   COUNT_SECONDS=5 (seconds of the counting run per target; 0: no syscall and
#   allocation counts)
#   ONLY=regex (run only targets whose name matches, plus bare Pingora)
#   BUSY_MAX=15 (% of CPU busy between runs that counts as another job on the
#   machine) QUIET_WAIT=60 (seconds, in all, to wait for such a job to stop)
#   SKIP_BUILD=1 KEEP=1 (keep the temporary directory with configs and logs).
#   BASELINE_BIN=path (an earlier gatehouse build: a twin of the memory-store
#   EdDSA gateway runs on it, and its public, EdDSA and cookie rows run right
#   after this build's, for a before/after in one run).
# Everything listens on 127.0.0.1; every process started here is stopped at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BENCH=$ROOT/bench
export PATH="$PATH:/usr/sbin:/sbin"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
WARMUP=${WARMUP:-1}
WRK_THREADS=${WRK_THREADS:-2}
THREADS=${THREADS:-2}
# gatehouse's server tuning (and its default): "false" runs one
# single-threaded Pingora service per thread, each with its own SO_REUSEPORT
# listener and upstream pool (src/server/shards.rs).
WORK_STEALING=${WORK_STEALING:-false}
UPSTREAM_THREADS=${UPSTREAM_THREADS:-1}
LOGINS=${LOGINS:-5}
LOGIN_SECONDS=${LOGIN_SECONDS:-5}
SESSIONS=${SESSIONS:-100000}
QUIET_WAIT=${QUIET_WAIT:-60}
BUSY_MAX=${BUSY_MAX:-15}
ONLY=${ONLY:-.}
COUNT_SECONDS=${COUNT_SECONDS:-5}
ISSUER=gatehouse-bench
AUDIENCE=bench-apps
COOKIE_NAME=__Host-gatehouse

log() { printf '%s\n' "$*" >&2; }
die() { log "bench: $*"; exit 1; }

for knob in ROUNDS DURATION CONNECTIONS WARMUP WRK_THREADS THREADS UPSTREAM_THREADS LOGINS LOGIN_SECONDS SESSIONS QUIET_WAIT BUSY_MAX COUNT_SECONDS; do
    [[ ${!knob} =~ ^[0-9]+$ ]] || die "$knob must be a whole number, not '${!knob}'"
done
((ROUNDS >= 1 && DURATION >= 1 && CONNECTIONS >= WRK_THREADS)) || die "need ROUNDS>=1, DURATION>=1, CONNECTIONS>=WRK_THREADS"

# --- tools -------------------------------------------------------------------
missing=()
for pair in wrk:wrk nginx:nginx-light haproxy:haproxy redis-server:redis-server curl:curl; do
    command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if ((${#missing[@]})); then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        log "bench: installing ${missing[*]}"
        apt-get install -y "${missing[@]}" >&2 || { apt-get update >&2 && apt-get install -y "${missing[@]}" >&2; }
    else
        die "missing ${missing[*]}; install them with: sudo apt-get install -y ${missing[*]}"
    fi
fi
BIN=$ROOT/target/release
# The allocation-counting variants (cargo feature count-allocs, see
# src/count_allocs.rs) are built first and copied aside, because both builds
# write target/release/gatehouse; cargo keeps both feature sets' artifacts, so
# switching back and forth relinks without recompiling.
CBIN=$BIN/count-allocs
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    if ((COUNT_SECONDS > 0)); then
        log "bench: cargo build --release --features count-allocs --bin gatehouse --example bare_proxy --example bare_proxy_tuned --example bare_proxy_required"
        cargo build --release --features count-allocs --bin gatehouse --example bare_proxy --example bare_proxy_tuned --example bare_proxy_required >&2
        mkdir -p "$CBIN"
        for b in gatehouse examples/bare_proxy examples/bare_proxy_tuned examples/bare_proxy_required; do
            rm -f "$CBIN/${b#examples/}"
            cp "$BIN/$b" "$CBIN/${b#examples/}"
        done
    fi
    log "bench: cargo build --release --bin gatehouse --examples"
    cargo build --release --bin gatehouse --examples >&2
    if ((COUNT_SECONDS > 0)) && cmp -s "$BIN/gatehouse" "$CBIN/gatehouse"; then
        die "$BIN/gatehouse is still the count-allocs build; rebuild it without the feature"
    fi
fi
for b in gatehouse examples/bare_proxy examples/bare_proxy_tuned examples/bare_proxy_required examples/bench_upstream examples/bench_login examples/bench_sessions examples/bench_h2 examples/bench_ws; do
    [ -x "$BIN/$b" ] || die "$BIN/$b is not built"
done
if ((COUNT_SECONDS > 0)); then
    for b in gatehouse bare_proxy bare_proxy_tuned; do
        [ -x "$CBIN/$b" ] || die "$CBIN/$b is not built (run without SKIP_BUILD=1 once)"
    done
fi

# Syscall counts need perf and the raw_syscalls tracepoint (root, or
# kernel.perf_event_paranoid <= -1, and tracefs); without them the syscall
# columns read "—" and the report says why.
PERF_WHY=
if ((COUNT_SECONDS == 0)); then
    PERF_WHY="COUNT_SECONDS=0"
elif ! command -v perf >/dev/null; then
    PERF_WHY="perf is not installed (Debian: apt-get install linux-perf)"
elif ! grep -q '^[0-9]' <<<"$(perf stat -x, -e raw_syscalls:sys_enter true 2>&1 >/dev/null || true)"; then
    PERF_WHY="perf cannot count the raw_syscalls:sys_enter tracepoint here (needs root or perf_event_paranoid -1, and tracefs)"
fi

# Enough descriptors for CONNECTIONS through every hop (the soft limit is often 1024).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# --- processes -----------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-bench.XXXXXX")
PIDS=()
cleanup() {
    local rc=$? pid all=() alive
    trap - EXIT INT TERM
    # Children too (nginx workers), by id, in case a master dies first.
    for pid in "${PIDS[@]}"; do
        all+=("$pid")
        for child in $(pgrep -P "$pid" 2>/dev/null || true); do all+=("$child"); done
    done
    for pid in "${all[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for _ in $(seq 40); do
        alive=0
        for pid in "${all[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        ((alive)) || break
        sleep 0.1
    done
    for pid in "${all[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    if [ "${KEEP:-0}" = 1 ] || [ "$rc" != 0 ]; then log "bench: configs and logs kept in $WORK"; else rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
NEXT_PORT=$((20000 + RANDOM % 30000))
# alloc_port VAR: a free loopback port into VAR.
alloc_port() {
    local _
    for _ in $(seq 500); do
        NEXT_PORT=$((NEXT_PORT + 1))
        if ! listening "$NEXT_PORT" && ! ss -Htan "sport = :$NEXT_PORT" 2>/dev/null | grep -q .; then
            printf -v "$1" '%s' "$NEXT_PORT"
            return
        fi
    done
    die "no free port found"
}
# forget PID: a process of ours that has exited and been waited for, so that
# cleanup does not signal its (possibly reused) id.
forget() {
    local keep=() pid
    for pid in "${PIDS[@]}"; do [ "$pid" = "$1" ] || keep+=("$pid"); done
    PIDS=("${keep[@]}")
}
# start NAME CMD...: run in the background, log to $WORK/NAME.log.
start() {
    local name=$1
    shift
    "$@" >"$WORK/$name.log" 2>&1 &
    PIDS+=($!)
    LAST_PID=$!
}
# wait_port NAME PID PORT: until PORT accepts connections (at most 15 s).
wait_port() {
    local _
    for _ in $(seq 150); do
        listening "$3" && return
        kill -0 "$2" 2>/dev/null || { tail -n 20 "$WORK/$1.log" >&2; die "$1 exited at start (log above)"; }
        sleep 0.1
    done
    tail -n 20 "$WORK/$1.log" >&2
    die "$1 is not listening on $3 after 15 s"
}
# render TEMPLATE OUT NAME=VALUE...: replace @@NAME@@ in a template.
render() {
    local text kv
    text=$(<"$1")
    for kv in "${@:3}"; do text=${text//@@${kv%%=*}@@/${kv#*=}}; done
    if [[ $text =~ @@[A-Z_]+@@ ]]; then die "unfilled placeholder ${BASH_REMATCH[0]} in $2"; fi
    printf '%s\n' "$text" >"$2"
}
rss_kib() { # PID... -> summed VmRSS in KiB
    local pid sum=0 v
    for pid in "$@"; do
        v=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
        sum=$((sum + ${v:-0}))
    done
    echo "$sum"
}
# nginx's master and its workers, by their ids.
nginx_rss() {
    local ids
    read -ra ids <<<"$PID_NGINX $(pgrep -P "$PID_NGINX" 2>/dev/null | tr '\n' ' ')"
    rss_kib "${ids[@]}"
}

alloc_port P_UP; alloc_port P_BARE; alloc_port P_TUNED; alloc_port P_NGINX; alloc_port P_HA; alloc_port P_HA_JWT
alloc_port P_REDIS; alloc_port P_GH; alloc_port P_GH_HS; alloc_port P_GH_REDIS; alloc_port P_GH_CACHE
# The counting twins (count-allocs builds) and their counters' ports.
alloc_port P_BARE_C; alloc_port P_TUNED_C; alloc_port P_GH_C; alloc_port P_GH_HS_C; alloc_port P_GH_REDIS_C; alloc_port P_GH_CACHE_C
# ... and those of the floor, the HTTP/2 rows and the access-log-off row.
alloc_port P_REQ_C; alloc_port P_TUNED_C_TLS; alloc_port P_REQ_C_TLS; alloc_port P_GH_C_TLS; alloc_port P_GH_NOLOG_C
# HTTP/2 over TLS, the access-log-off twin, WebSocket (issue 13).
alloc_port P_TUNED_TLS; alloc_port P_REQ; alloc_port P_REQ_TLS; alloc_port P_GH_TLS; alloc_port P_GH_NOLOG; alloc_port P_WS; alloc_port P_GH_WS
# The baseline build's twin (BASELINE_BIN).
alloc_port P_GH_BASE
alloc_port A_BARE; alloc_port A_TUNED; alloc_port A_GH; alloc_port A_GH_HS; alloc_port A_GH_REDIS; alloc_port A_GH_CACHE
alloc_port A_REQ; alloc_port A_GH_NOLOG
# Redis beyond one node (issue 15): a sentinel on the same redis-server, and
# a 3-master cluster, whose nodes also need their bus port (+10000) free.
alloc_port P_SENT; alloc_port P_GH_SENT; alloc_port P_GH_CLU
cluster_port() {
    local v
    for _ in $(seq 50); do
        alloc_port v
        if ((v < 55000)) && ! listening $((v + 10000)); then
            printf -v "$1" '%s' "$v"
            return
        fi
    done
    die "no free port pair for a cluster node"
}
cluster_port P_CL1; cluster_port P_CL2; cluster_port P_CL3
UP=127.0.0.1:$P_UP

log "bench: starting the upstream, bare Pingora, nginx, HAProxy, redis-server (work dir $WORK)"
start upstream "$BIN/examples/bench_upstream" "$UP" "$UPSTREAM_THREADS"
PID_UP=$LAST_PID
wait_port upstream "$PID_UP" "$P_UP"

start bare "$BIN/examples/bare_proxy" "127.0.0.1:$P_BARE" "$UP" "$THREADS"
PID_BARE=$LAST_PID
# A CA and a certificate for 127.0.0.1, for the HTTP/2 rows.
"$BIN/examples/bench_h2" certs "$WORK" || die "bench_h2 could not write certificates"
start ws-upstream "$BIN/examples/bench_ws" serve "127.0.0.1:$P_WS"
PID_WS=$LAST_PID
start bare-tuned "$BIN/examples/bare_proxy_tuned" "127.0.0.1:$P_TUNED" "$UP" "$THREADS" "127.0.0.1:$P_TUNED_TLS" "$WORK/cert.pem" "$WORK/key.pem"
PID_TUNED=$LAST_PID
# The tuned passthrough plus only the output SPEC requires of every proxied
# request (examples/bare_proxy_required.rs): the floor under gatehouse's
# public route. Its access lines go to its log file, as gatehouse's do.
start bare-required "$BIN/examples/bare_proxy_required" "127.0.0.1:$P_REQ" "$UP" "$THREADS" "127.0.0.1:$P_REQ_TLS" "$WORK/cert.pem" "$WORK/key.pem"
PID_REQ=$LAST_PID
if ((COUNT_SECONDS > 0)); then
    start bare-count env GATEHOUSE_ALLOC_COUNTER="127.0.0.1:$A_BARE" "$CBIN/bare_proxy" "127.0.0.1:$P_BARE_C" "$UP" "$THREADS"
    PID_BARE_C=$LAST_PID
    start bare-tuned-count env GATEHOUSE_ALLOC_COUNTER="127.0.0.1:$A_TUNED" "$CBIN/bare_proxy_tuned" "127.0.0.1:$P_TUNED_C" "$UP" "$THREADS" "127.0.0.1:$P_TUNED_C_TLS" "$WORK/cert.pem" "$WORK/key.pem"
    PID_TUNED_C=$LAST_PID
    start bare-required-count env GATEHOUSE_ALLOC_COUNTER="127.0.0.1:$A_REQ" "$CBIN/bare_proxy_required" "127.0.0.1:$P_REQ_C" "$UP" "$THREADS" "127.0.0.1:$P_REQ_C_TLS" "$WORK/cert.pem" "$WORK/key.pem"
    PID_REQ_C=$LAST_PID
fi

mkdir -p "$WORK/nginx-prefix"
render "$BENCH/nginx.conf.tmpl" "$WORK/nginx.conf" WORK="$WORK" THREADS="$THREADS" UPSTREAM="$UP" LISTEN="127.0.0.1:$P_NGINX"
nginx -t -q -c "$WORK/nginx.conf" -p "$WORK/nginx-prefix/" -e "$WORK/nginx-error.log" 2>"$WORK/nginx-check.log" || { cat "$WORK/nginx-check.log" >&2; die "nginx config refused"; }
start nginx nginx -c "$WORK/nginx.conf" -p "$WORK/nginx-prefix/" -e "$WORK/nginx-error.log"
PID_NGINX=$LAST_PID

# The HS256 secret: 32 random bytes as 64 hex characters, shared by HAProxy
# and gatehouse through the environment only.
GH_BENCH_SECRET=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
render "$BENCH/haproxy.cfg.tmpl" "$WORK/haproxy.cfg" WORK="$WORK" THREADS="$THREADS" UPSTREAM="$UP" MAXCONN=$((CONNECTIONS * 2 + 256)) \
    LISTEN_PLAIN="127.0.0.1:$P_HA" LISTEN_JWT="127.0.0.1:$P_HA_JWT" ISSUER="$ISSUER" AUDIENCE="$AUDIENCE"
GH_BENCH_SECRET=$GH_BENCH_SECRET haproxy -c -q -f "$WORK/haproxy.cfg" >"$WORK/haproxy-check.log" 2>&1 || { cat "$WORK/haproxy-check.log" >&2; die "haproxy config refused"; }
start haproxy env GH_BENCH_SECRET="$GH_BENCH_SECRET" haproxy -db -f "$WORK/haproxy.cfg"
PID_HA=$LAST_PID

start redis redis-server --bind 127.0.0.1 --port "$P_REDIS" --save "" --appendonly no --dir "$WORK"
PID_REDIS=$LAST_PID
printf 'port %s\nbind 127.0.0.1\ndir %s\nsentinel monitor benchmaster 127.0.0.1 %s 1\n' "$P_SENT" "$WORK" "$P_REDIS" >"$WORK/sentinel.conf"
start sentinel redis-server "$WORK/sentinel.conf" --sentinel
PID_SENT=$LAST_PID
CLUSTER_PIDS=""
for n in 1 2 3; do
    port_var=P_CL$n
    mkdir -p "$WORK/cluster-$n"
    start "cluster-$n" redis-server --bind 127.0.0.1 --port "${!port_var}" --cluster-enabled yes \
        --cluster-config-file nodes.conf --save "" --appendonly no --dir "$WORK/cluster-$n"
    CLUSTER_PIDS+="$LAST_PID "
done

# --- gatehouse -------------------------------------------------------------------
GH=$BIN/gatehouse
# shellcheck source=bench/bench_user.sh
source "$ROOT/bench/bench_user.sh"
bench_user "$GH" "$WORK"
EDDSA_TOKENS='algorithm = "EdDSA"
signing_key_file = "keys/signing.pem"'
HS256_TOKENS='algorithm = "HS256"
secret_env = "GH_BENCH_SECRET"'
gh_config() { # NAME PORT STORE TOKENS [SERVER_EXTRA [EXTRA [UPSTREAM]]]
    render "$BENCH/gateway.toml.tmpl" "$WORK/$1.toml" LISTEN="127.0.0.1:$2" THREADS="$THREADS" WORK_STEALING="$WORK_STEALING" STORE="$3" \
        TOKENS="$4" ISSUER="$ISSUER" AUDIENCE="$AUDIENCE" UPSTREAM="${7:-$UP}" SERVER_EXTRA="${5:-}" EXTRA="${6:-}"
    GH_BENCH_SECRET=$GH_BENCH_SECRET "$GH" check --config "$WORK/$1.toml" >"$WORK/$1-check.log" 2>&1 ||
        { cat "$WORK/$1-check.log" >&2; die "gatehouse check refused $1.toml"; }
}
gh_config gh-eddsa "$P_GH" 'backend = "memory"' "$EDDSA_TOKENS" "tls_listen = \"127.0.0.1:$P_GH_TLS\"
tls_cert = \"cert.pem\"
tls_key = \"key.pem\""
gh_config gh-nolog "$P_GH_NOLOG" 'backend = "memory"' "$EDDSA_TOKENS" "" "[log]
access = false"
gh_config gh-ws "$P_GH_WS" 'backend = "memory"' "$EDDSA_TOKENS" "" "" "127.0.0.1:$P_WS"
BASELINE=${BASELINE_BIN:+ (baseline build)}
if [ -n "$BASELINE" ]; then
    [ -x "$BASELINE_BIN" ] || die "BASELINE_BIN=$BASELINE_BIN is not an executable"
    gh_config gh-base "$P_GH_BASE" 'backend = "memory"' "$EDDSA_TOKENS"
fi
gh_config gh-hs256 "$P_GH_HS" 'backend = "memory"' "$HS256_TOKENS"
gh_config gh-redis "$P_GH_REDIS" "backend = \"redis\"
url = \"redis://127.0.0.1:$P_REDIS/0\"" "$EDDSA_TOKENS"
gh_config gh-cache "$P_GH_CACHE" "backend = \"redis\"
url = \"redis://127.0.0.1:$P_REDIS/0\"
local_cache = \"1s\"" "$EDDSA_TOKENS"
gh_config gh-sentinel "$P_GH_SENT" "backend = \"redis\"
sentinels = [\"127.0.0.1:$P_SENT\"]
sentinel_master = \"benchmaster\"" "$EDDSA_TOKENS"
gh_config gh-cluster "$P_GH_CLU" "backend = \"redis\"
cluster = [\"127.0.0.1:$P_CL1\", \"127.0.0.1:$P_CL2\", \"127.0.0.1:$P_CL3\"]" "$EDDSA_TOKENS"
start gh-eddsa "$GH" run --config "$WORK/gh-eddsa.toml"
PID_GH=$LAST_PID
start gh-nolog "$GH" run --config "$WORK/gh-nolog.toml"
PID_GH_NOLOG=$LAST_PID
PID_GH_BASE=""
if [ -n "$BASELINE" ]; then
    start gh-base "$BASELINE_BIN" run --config "$WORK/gh-base.toml"
    PID_GH_BASE=$LAST_PID
fi
start gh-ws "$GH" run --config "$WORK/gh-ws.toml"
PID_GH_WS=$LAST_PID
start gh-hs256 env GH_BENCH_SECRET="$GH_BENCH_SECRET" "$GH" run --config "$WORK/gh-hs256.toml"
PID_GH_HS=$LAST_PID
wait_port redis "$PID_REDIS" "$P_REDIS"
start gh-redis "$GH" run --config "$WORK/gh-redis.toml"
PID_GH_REDIS=$LAST_PID
start gh-cache "$GH" run --config "$WORK/gh-cache.toml"
PID_GH_CACHE=$LAST_PID
wait_port sentinel "$PID_SENT" "$P_SENT"
start gh-sentinel "$GH" run --config "$WORK/gh-sentinel.toml"
PID_GH_SENT=$LAST_PID
read -ra cl_pids <<<"$CLUSTER_PIDS"
for n in 1 2 3; do port_var=P_CL$n; wait_port "cluster-$n" "${cl_pids[$((n - 1))]}" "${!port_var}"; done
redis-cli --cluster create "127.0.0.1:$P_CL1" "127.0.0.1:$P_CL2" "127.0.0.1:$P_CL3" --cluster-replicas 0 --cluster-yes \
    >"$WORK/cluster-create.log" 2>&1 || { cat "$WORK/cluster-create.log" >&2; die "redis-cli --cluster create failed"; }
for _ in $(seq 100); do
    redis-cli -p "$P_CL1" CLUSTER INFO | grep -q cluster_state:ok && break
    sleep 0.1
done
redis-cli -p "$P_CL1" CLUSTER INFO | grep -q cluster_state:ok || die "the bench cluster never reached state ok"
start gh-cluster "$GH" run --config "$WORK/gh-cluster.toml"
PID_GH_CLU=$LAST_PID
if ((COUNT_SECONDS > 0)); then
    gh_config gh-eddsa-count "$P_GH_C" 'backend = "memory"' "$EDDSA_TOKENS" "tls_listen = \"127.0.0.1:$P_GH_C_TLS\"
tls_cert = \"cert.pem\"
tls_key = \"key.pem\""
    gh_config gh-nolog-count "$P_GH_NOLOG_C" 'backend = "memory"' "$EDDSA_TOKENS" "" "[log]
access = false"
    gh_config gh-hs256-count "$P_GH_HS_C" 'backend = "memory"' "$HS256_TOKENS"
    gh_config gh-redis-count "$P_GH_REDIS_C" "backend = \"redis\"
url = \"redis://127.0.0.1:$P_REDIS/0\"" "$EDDSA_TOKENS"
    gh_config gh-cache-count "$P_GH_CACHE_C" "backend = \"redis\"
url = \"redis://127.0.0.1:$P_REDIS/0\"
local_cache = \"1s\"" "$EDDSA_TOKENS"
    start gh-eddsa-count env GATEHOUSE_ALLOC_COUNTER="127.0.0.1:$A_GH" "$CBIN/gatehouse" run --config "$WORK/gh-eddsa-count.toml"
    PID_GH_C=$LAST_PID
    start gh-nolog-count env GATEHOUSE_ALLOC_COUNTER="127.0.0.1:$A_GH_NOLOG" "$CBIN/gatehouse" run --config "$WORK/gh-nolog-count.toml"
    PID_GH_NOLOG_C=$LAST_PID
    start gh-hs256-count env GATEHOUSE_ALLOC_COUNTER="127.0.0.1:$A_GH_HS" GH_BENCH_SECRET="$GH_BENCH_SECRET" "$CBIN/gatehouse" run --config "$WORK/gh-hs256-count.toml"
    PID_GH_HS_C=$LAST_PID
    start gh-redis-count env GATEHOUSE_ALLOC_COUNTER="127.0.0.1:$A_GH_REDIS" "$CBIN/gatehouse" run --config "$WORK/gh-redis-count.toml"
    PID_GH_REDIS_C=$LAST_PID
    start gh-cache-count env GATEHOUSE_ALLOC_COUNTER="127.0.0.1:$A_GH_CACHE" "$CBIN/gatehouse" run --config "$WORK/gh-cache-count.toml"
    PID_GH_CACHE_C=$LAST_PID
fi
wait_port bare "$PID_BARE" "$P_BARE"
wait_port bare-tuned "$PID_TUNED" "$P_TUNED"
wait_port bare-required "$PID_REQ" "$P_REQ"
wait_port bare-required-tls "$PID_REQ" "$P_REQ_TLS"
wait_port nginx "$PID_NGINX" "$P_NGINX"
wait_port haproxy "$PID_HA" "$P_HA_JWT"
wait_port gh-eddsa "$PID_GH" "$P_GH"
wait_port gh-eddsa-tls "$PID_GH" "$P_GH_TLS"
wait_port gh-nolog "$PID_GH_NOLOG" "$P_GH_NOLOG"
[ -z "$BASELINE" ] || wait_port gh-base "$PID_GH_BASE" "$P_GH_BASE"
wait_port gh-ws "$PID_GH_WS" "$P_GH_WS"
wait_port ws-upstream "$PID_WS" "$P_WS"
wait_port bare-tuned-tls "$PID_TUNED" "$P_TUNED_TLS"
wait_port gh-hs256 "$PID_GH_HS" "$P_GH_HS"
wait_port gh-redis "$PID_GH_REDIS" "$P_GH_REDIS"
wait_port gh-cache "$PID_GH_CACHE" "$P_GH_CACHE"
wait_port gh-sentinel "$PID_GH_SENT" "$P_GH_SENT"
wait_port gh-cluster "$PID_GH_CLU" "$P_GH_CLU"
if ((COUNT_SECONDS > 0)); then
    wait_port bare-count "$PID_BARE_C" "$P_BARE_C"
    wait_port bare-tuned-count "$PID_TUNED_C" "$P_TUNED_C"
    wait_port bare-tuned-count-tls "$PID_TUNED_C" "$P_TUNED_C_TLS"
    wait_port bare-required-count "$PID_REQ_C" "$P_REQ_C"
    wait_port bare-required-count-tls "$PID_REQ_C" "$P_REQ_C_TLS"
    wait_port gh-eddsa-count "$PID_GH_C" "$P_GH_C"
    wait_port gh-eddsa-count-tls "$PID_GH_C" "$P_GH_C_TLS"
    wait_port gh-nolog-count "$PID_GH_NOLOG_C" "$P_GH_NOLOG_C"
    wait_port gh-hs256-count "$PID_GH_HS_C" "$P_GH_HS_C"
    wait_port gh-redis-count "$PID_GH_REDIS_C" "$P_GH_REDIS_C"
    wait_port gh-cache-count "$PID_GH_CACHE_C" "$P_GH_CACHE_C"
    for pair in bare-count:$PID_BARE_C:$A_BARE bare-tuned-count:$PID_TUNED_C:$A_TUNED bare-required-count:$PID_REQ_C:$A_REQ \
        gh-eddsa-count:$PID_GH_C:$A_GH gh-nolog-count:$PID_GH_NOLOG_C:$A_GH_NOLOG gh-hs256-count:$PID_GH_HS_C:$A_GH_HS gh-redis-count:$PID_GH_REDIS_C:$A_GH_REDIS gh-cache-count:$PID_GH_CACHE_C:$A_GH_CACHE; do
        IFS=: read -r n p a <<<"$pair"
        wait_port "$n" "$p" "$a"
    done
fi
sleep 0.5
declare -A RSS_IDLE=(
    [bare]=$(rss_kib "$PID_BARE") [nginx]=$(nginx_rss) [haproxy]=$(rss_kib "$PID_HA")
    [gh]=$(rss_kib "$PID_GH") [gh-hs256]=$(rss_kib "$PID_GH_HS") [gh-redis]=$(rss_kib "$PID_GH_REDIS")
)

# login PORT NAME: POST /auth/login; sets LOGIN_SECS, TOKEN, COOKIE.
login() {
    local out=$WORK/login-$2 status
    status=$(curl -sS -m 10 -o "$out.json" -D "$out.hdr" -w '%{http_code} %{time_total}' \
        -H 'content-type: application/json' -d "{\"username\":\"bench\",\"password\":\"$PASSWORD\"}" \
        "http://127.0.0.1:$1/auth/login") || die "login on $2 failed"
    [ "${status%% *}" = 200 ] || { cat "$out.json" >&2; die "login on $2 answered ${status%% *}"; }
    LOGIN_SECS=${status#* }
    TOKEN=$(sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p' "$out.json")
    COOKIE=$(tr -d '\r' <"$out.hdr" | sed -n "s/^[Ss]et-[Cc]ookie: $COOKIE_NAME=\([^;]*\).*/\1/p" | head -n 1)
    [ -n "$TOKEN" ] && [ -n "$COOKIE" ] || die "login on $2: no access token or session cookie in the answer"
}
log "bench: logging in ($LOGINS timed logins on the memory-store gateway, one each on the others)"
LOGIN_TIMES=()
for _ in $(seq "$LOGINS"); do
    login "$P_GH" eddsa
    LOGIN_TIMES+=("$LOGIN_SECS")
done
ED_TOKEN=$TOKEN MEM_COOKIE=$COOKIE
login "$P_GH_HS" hs256
HS_TOKEN=$TOKEN
login "$P_GH_NOLOG" nolog
NOLOG_TOKEN=$TOKEN
if [ -n "$BASELINE" ]; then
    login "$P_GH_BASE" base
    BASE_TOKEN=$TOKEN BASE_COOKIE=$COOKIE
fi
login "$P_GH_WS" ws
WS_TOKEN=$TOKEN
login "$P_GH_REDIS" redis
REDIS_COOKIE=$COOKIE
# The sentinel-backed gateway is on the same redis-server: the same cookie.
login "$P_GH_CLU" cluster
CLUSTER_COOKIE=$COOKIE
if ((COUNT_SECONDS > 0)); then
    # The memory-store twins have their own sessions; the Redis ones share
    # the store, so the cookie above works there.
    login "$P_GH_C" eddsa-count
    ED_TOKEN_C=$TOKEN MEM_COOKIE_C=$COOKIE
    login "$P_GH_HS_C" hs256-count
    HS_TOKEN_C=$TOKEN
    login "$P_GH_NOLOG_C" nolog-count
    NOLOG_TOKEN_C=$TOKEN
fi

# --- targets ---------------------------------------------------------------------
# Per target i: T_NAME, T_URL, T_HDR, T_AUTH (1: must answer 401 without
# credentials and forward X-Auth-User), T_PIDS (the processes whose CPU time
# is "the proxy"; empty for the upstream alone), T_REDIS (1: redis-server
# takes part); and for the counting pass T_CURL, T_CHDR, T_CPIDS (the
# count-allocs twin for the Rust proxies, the same process for the others)
# and T_CPORT (its allocation counter; empty: not counted).
NGINX_PIDS="$PID_NGINX $(pgrep -P "$PID_NGINX" | tr '\n' ' ')"
T_NAME=() T_URL=() T_HDR=() T_AUTH=() T_PIDS=() T_REDIS=() T_CURL=() T_CHDR=() T_CPIDS=() T_CPORT=()
# target NAME URL HEADER AUTH PIDS REDIS [COUNT_URL COUNT_HEADER COUNT_PID COUNTER_PORT]
target() {
    [[ $1 =~ $ONLY || $1 == "bare Pingora"* ]] || return 0
    T_NAME+=("$1") T_URL+=("$2") T_HDR+=("$3") T_AUTH+=("$4") T_PIDS+=("$5") T_REDIS+=("$6")
    if ((COUNT_SECONDS > 0)) && (($# > 6)); then
        T_CURL+=("$7") T_CHDR+=("$8") T_CPIDS+=("$9") T_CPORT+=("${10}")
    else
        T_CURL+=("$2") T_CHDR+=("$3") T_CPIDS+=("$5") T_CPORT+=("")
    fi
}
G=http://127.0.0.1
target "upstream direct" "http://$UP/public/x" "" 0 "" 0
target "bare Pingora" "$G:$P_BARE/public/x" "" 0 "$PID_BARE" 0 \
    "$G:$P_BARE_C/public/x" "" "${PID_BARE_C:-}" "$A_BARE"
target "bare Pingora, tuned" "$G:$P_TUNED/public/x" "" 0 "$PID_TUNED" 0 \
    "$G:$P_TUNED_C/public/x" "" "${PID_TUNED_C:-}" "$A_TUNED"
target "bare Pingora, tuned, SPEC output only" "$G:$P_REQ/public/x" "" 0 "$PID_REQ" 0 \
    "$G:$P_REQ_C/public/x" "" "${PID_REQ_C:-}" "$A_REQ"
target "nginx" "$G:$P_NGINX/public/x" "" 0 "$NGINX_PIDS" 0
target "HAProxy" "$G:$P_HA/public/x" "" 0 "$PID_HA" 0
target "HAProxy JWT HS256" "$G:$P_HA_JWT/api/x" "Authorization: Bearer $HS_TOKEN" 1 "$PID_HA" 0
target "gatehouse public route" "$G:$P_GH/public/x" "" 0 "$PID_GH" 0 \
    "$G:$P_GH_C/public/x" "" "${PID_GH_C:-}" "$A_GH"
[ -z "$BASELINE" ] || target "gatehouse public route$BASELINE" "$G:$P_GH_BASE/public/x" "" 0 "$PID_GH_BASE" 0
target "gatehouse JWT EdDSA" "$G:$P_GH/api/x" "Authorization: Bearer $ED_TOKEN" 1 "$PID_GH" 0 \
    "$G:$P_GH_C/api/x" "Authorization: Bearer ${ED_TOKEN_C:-}" "${PID_GH_C:-}" "$A_GH"
[ -z "$BASELINE" ] || target "gatehouse JWT EdDSA$BASELINE" "$G:$P_GH_BASE/api/x" "Authorization: Bearer $BASE_TOKEN" 1 "$PID_GH_BASE" 0
target "gatehouse JWT EdDSA, owner route" "$G:$P_GH/users/bench/x" "Authorization: Bearer $ED_TOKEN" 1 "$PID_GH" 0 \
    "$G:$P_GH_C/users/bench/x" "Authorization: Bearer ${ED_TOKEN_C:-}" "${PID_GH_C:-}" "$A_GH"
target "gatehouse JWT EdDSA, access log off" "$G:$P_GH_NOLOG/api/x" "Authorization: Bearer $NOLOG_TOKEN" 1 "$PID_GH_NOLOG" 0 \
    "$G:$P_GH_NOLOG_C/api/x" "Authorization: Bearer ${NOLOG_TOKEN_C:-}" "${PID_GH_NOLOG_C:-}" "$A_GH_NOLOG"
target "bare Pingora, tuned, h2" "https://127.0.0.1:$P_TUNED_TLS/public/x" "" 0 "$PID_TUNED" 0 \
    "https://127.0.0.1:$P_TUNED_C_TLS/public/x" "" "${PID_TUNED_C:-}" "$A_TUNED"
# The same request as the gatehouse h2 row, bearer token included: an HTTP/2
# client never indexes an Authorization value in HPACK (h2 and nghttp2 alike),
# so every request carries the ~460-byte token as a Huffman-coded literal that
# the proxy decodes; the plain row does not pay for that.
target "bare Pingora, tuned, h2, same token" "https://127.0.0.1:$P_TUNED_TLS/public/x" "Authorization: Bearer $ED_TOKEN" 0 "$PID_TUNED" 0 \
    "https://127.0.0.1:$P_TUNED_C_TLS/public/x" "Authorization: Bearer ${ED_TOKEN_C:-}" "${PID_TUNED_C:-}" "$A_TUNED"
target "bare Pingora, tuned, SPEC output only, h2, same token" "https://127.0.0.1:$P_REQ_TLS/public/x" "Authorization: Bearer $ED_TOKEN" 0 "$PID_REQ" 0 \
    "https://127.0.0.1:$P_REQ_C_TLS/public/x" "Authorization: Bearer ${ED_TOKEN_C:-}" "${PID_REQ_C:-}" "$A_REQ"
target "gatehouse JWT EdDSA, h2" "https://127.0.0.1:$P_GH_TLS/api/x" "Authorization: Bearer $ED_TOKEN" 1 "$PID_GH" 0 \
    "https://127.0.0.1:$P_GH_C_TLS/api/x" "Authorization: Bearer ${ED_TOKEN_C:-}" "${PID_GH_C:-}" "$A_GH"
target "WebSocket direct" "ws://127.0.0.1:$P_WS/" "" 0 "" 0
target "gatehouse WebSocket, JWT" "ws://127.0.0.1:$P_GH_WS/ws" "Authorization: Bearer $WS_TOKEN" 1 "$PID_GH_WS" 0
target "gatehouse JWT HS256" "$G:$P_GH_HS/api/x" "Authorization: Bearer $HS_TOKEN" 1 "$PID_GH_HS" 0 \
    "$G:$P_GH_HS_C/api/x" "Authorization: Bearer ${HS_TOKEN_C:-}" "${PID_GH_HS_C:-}" "$A_GH_HS"
target "gatehouse cookie, memory" "$G:$P_GH/api/x" "Cookie: $COOKIE_NAME=$MEM_COOKIE" 1 "$PID_GH" 0 \
    "$G:$P_GH_C/api/x" "Cookie: $COOKIE_NAME=${MEM_COOKIE_C:-}" "${PID_GH_C:-}" "$A_GH"
[ -z "$BASELINE" ] || target "gatehouse cookie, memory$BASELINE" "$G:$P_GH_BASE/api/x" "Cookie: $COOKIE_NAME=$BASE_COOKIE" 1 "$PID_GH_BASE" 0
target "gatehouse cookie, Redis" "$G:$P_GH_REDIS/api/x" "Cookie: $COOKIE_NAME=$REDIS_COOKIE" 1 "$PID_GH_REDIS" 1 \
    "$G:$P_GH_REDIS_C/api/x" "Cookie: $COOKIE_NAME=$REDIS_COOKIE" "${PID_GH_REDIS_C:-}" "$A_GH_REDIS"
target "gatehouse cookie, Redis, local_cache 1s" "$G:$P_GH_CACHE/api/x" "Cookie: $COOKIE_NAME=$REDIS_COOKIE" 1 "$PID_GH_CACHE" 1 \
    "$G:$P_GH_CACHE_C/api/x" "Cookie: $COOKIE_NAME=$REDIS_COOKIE" "${PID_GH_CACHE_C:-}" "$A_GH_CACHE"
target "gatehouse cookie, Redis Sentinel" "$G:$P_GH_SENT/api/x" "Cookie: $COOKIE_NAME=$REDIS_COOKIE" 1 "$PID_GH_SENT" 1
target "gatehouse cookie, Redis Cluster" "$G:$P_GH_CLU/api/x" "Cookie: $COOKIE_NAME=$CLUSTER_COOKIE" 1 "$PID_GH_CLU" 1
# Rows whose upstream is not bench_upstream (its CPU is the "upstream" column).
declare -A UP_OF=(["WebSocket direct"]=$PID_WS ["gatehouse WebSocket, JWT"]=$PID_WS)
# Rows whose Redis is not the one redis-server (its CPU and commands are the
# "redis-server" columns): the cluster's three nodes.
declare -A REDIS_PIDS_OF=(["gatehouse cookie, Redis Cluster"]=$CLUSTER_PIDS)
declare -A REDIS_PORTS_OF=(["gatehouse cookie, Redis Cluster"]="$P_CL1 $P_CL2 $P_CL3")
NT=${#T_NAME[@]}
# index NAME: the target's index, or nothing if it is not selected.
index() {
    local i
    for i in "${!T_NAME[@]}"; do [ "${T_NAME[$i]}" = "$1" ] && echo "$i" && return; done
    return 0
}

# Before measuring, each target (and its counting twin) must answer 200 (and
# the auth ones must forward the identity and refuse a request without
# credentials or with a forged one).
check_target() { # NAME URL HEADER AUTH
    local name=$1 url=$2 header=$3 auth=$4 args=(-sS -m 5 -o /dev/null -D -) head code pos ch tls=()
    if [[ $url == ws://* ]]; then
        check_ws "$@"
        return
    fi
    [[ $url == https://* ]] && tls=(--http2 --cacert "$WORK/ca.pem") && args+=("${tls[@]}")
    [ -n "$header" ] && args+=(-H "$header")
    head=$(curl "${args[@]}" "$url" | tr -d '\r') || die "$name: request failed"
    [[ $head == "HTTP/1.1 200"* || $head == "HTTP/2 200"* ]] || die "$name: expected 200, got: ${head%%$'\n'*}"
    [[ $url != https://* || $head == "HTTP/2 200"* ]] || die "$name: not answered over HTTP/2: ${head%%$'\n'*}"
    if [ "$auth" = 1 ]; then
        grep -qi '^x-seen-user: bench$' <<<"$head" || die "$name: the upstream did not receive X-Auth-User: bench"
        code=$(curl "${tls[@]}" -sS -m 5 -o /dev/null -w '%{http_code}' "$url") || die "$name: request failed"
        [ "$code" = 401 ] || die "$name: expected 401 without credentials, got $code"
        # One character changed inside the signature / cookie secret.
        pos=$((${#header} - 10)) ch=${header:$((${#header} - 10)):1}
        if [ "$ch" = A ]; then ch=B; else ch=A; fi
        code=$(curl "${tls[@]}" -sS -m 5 -o /dev/null -w '%{http_code}' -H "${header:0:pos}$ch${header:pos+1}" "$url") ||
            die "$name: request failed"
        [ "$code" = 401 ] || die "$name: expected 401 with a forged credential, got $code"
    fi
}
# check_ws NAME URL HEADER AUTH: round trips work (with the token), and the
# upgrade is refused without it.
check_ws() {
    local out token=()
    [ -n "$3" ] && token=("${3#Authorization: Bearer }")
    out=$("$BIN/examples/bench_ws" load "$2" 1 1 "${token[@]}") || die "$1: no WebSocket round trips"
    [[ $out =~ ([0-9]+)\ requests ]] && ((BASH_REMATCH[1] > 0)) || die "$1: no WebSocket round trips: $out"
    if [ "$4" = 1 ] && "$BIN/examples/bench_ws" load "$2" 1 1 >/dev/null 2>&1; then
        die "$1: the upgrade passed without credentials"
    fi
}
for i in "${!T_NAME[@]}"; do
    check_target "${T_NAME[$i]}" "${T_URL[$i]}" "${T_HDR[$i]}" "${T_AUTH[$i]}"
    if [ "${T_CURL[$i]}" != "${T_URL[$i]}" ]; then
        check_target "${T_NAME[$i]} (counting twin)" "${T_CURL[$i]}" "${T_CHDR[$i]}" "${T_AUTH[$i]}"
    fi
done

# --- load --------------------------------------------------------------------------
to_ms() { # wrk latency (850.00us, 1.20ms, 1.01s, 1.00m) -> milliseconds
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : -1
        if (f < 0) print "nan"; else printf "%.3f", n * f }'
}
RESULTS=$WORK/results.txt
COUNTS=$WORK/counts.txt
: >"$RESULTS"
: >"$COUNTS"
# run_wrk URL HEADER SECONDS OUT: wrk, or for https:// (HTTP/2) and ws://
# targets the Rust load generators that print wrk's summary lines (the same
# CONNECTIONS requests in flight: CONNECTIONS/8 connections x 8 streams for
# HTTP/2, CONNECTIONS sockets for WebSocket).
run_wrk() { # URL HEADER SECONDS OUT
    case $1 in
    https://*)
        local h2=("$1" "$WORK/ca.pem" $(((CONNECTIONS + 7) / 8)) 8 "$3")
        [ -n "$2" ] && h2+=("$2")
        timeout $(($3 + 30)) "$BIN/examples/bench_h2" load "${h2[@]}" >"$4" 2>&1 || { cat "$4" >&2; die "bench_h2 failed on $1"; }
        return
        ;;
    ws://*)
        local ws=("$1" "$CONNECTIONS" "$3")
        [ -n "$2" ] && ws+=("${2#Authorization: Bearer }")
        timeout $(($3 + 30)) "$BIN/examples/bench_ws" load "${ws[@]}" >"$4" 2>&1 || { cat "$4" >&2; die "bench_ws failed on $1"; }
        return
        ;;
    esac
    local args=(-t"$WRK_THREADS" -c"$CONNECTIONS" -d"${3}s" --latency --timeout 5s)
    [ -n "$2" ] && args+=(-H "$2")
    timeout $(($3 + 30)) wrk "${args[@]}" "$1" >"$4" 2>&1 || { cat "$4" >&2; die "wrk failed on $1"; }
}
wrk_requests() { awk '/ requests in / {print $1; exit}' "$1"; }
# Busy share of all cores over 0.5 s, in percent. Taken between runs, when
# nothing of ours is working: anything above a few percent is another job on
# the machine, which would skew that run.
busy_pct() {
    local a b
    a=$(head -n 1 /proc/stat)
    sleep 0.5
    b=$(head -n 1 /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN {
        n = split(a, x); split(b, y); t = 0
        for (i = 2; i <= n; i++) t += y[i] - x[i]
        idle = (y[5] - x[5]) + (y[6] - x[6])
        printf "%.0f", (t > 0 ? 100 * (t - idle) / t : 0) }'
}
# quiet: wait until the machine is idle, at most QUIET_WAIT seconds in the
# whole run; sets BUSY to the busy % measured last.
QUIET_LEFT=$QUIET_WAIT
quiet() {
    BUSY=$(busy_pct)
    while ((BUSY > BUSY_MAX && QUIET_LEFT > 0)); do
        sleep 1
        QUIET_LEFT=$((QUIET_LEFT - 1))
        BUSY=$(busy_pct)
    done
}

# CPU time, without forking (the samples sit right at the window's edges).
# ticks PID...: sets TICKS_U, TICKS_S to the summed utime and stime (clock
# ticks) of whole processes: /proc/PID/stat fields 14 and 15 cover every
# thread, exited ones included, and the kernel scales them so that their sum
# is the exact runtime (only truncated to a tick).
ticks() {
    local pid line f
    TICKS_U=0 TICKS_S=0
    for pid in "$@"; do
        read -r line <"/proc/$pid/stat" || die "process $pid is gone"
        read -ra f <<<"${line##*) }"
        TICKS_U=$((TICKS_U + f[11])) TICKS_S=$((TICKS_S + f[12]))
    done
}
# machine: sets MACH_BUSY, MACH_ALL (ticks of all cores; busy = all - idle -
# iowait - steal).
machine() {
    local cpu u n s idle io irq soft steal rest
    read -r cpu u n s idle io irq soft steal rest </proc/stat
    MACH_ALL=$((u + n + s + idle + io + irq + soft + steal))
    MACH_BUSY=$((u + n + s + irq + soft))
}
# children_ticks: sets CHILD_TICKS to the CPU time of this shell's waited-for
# children (wrk, through timeout), from the `times` builtin.
children_ticks() {
    local line
    times >"$WORK/times.txt"
    line=$(tail -n 1 "$WORK/times.txt")
    CHILD_TICKS=$(awk -v l="$line" -v hz="$HZ" 'BEGIN {
        n = split(l, t, " "); s = 0
        for (i = 1; i <= n; i++) { split(t[i], p, "m"); s += p[1] * 60 + p[2] }
        printf "%.0f", s * hz }')
}
HZ=$(getconf CLK_TCK)
# fmt VALUE DECIMALS: the value rounded, or "—" when not measured.
fmt() { awk -v v="$1" -v d="$2" 'BEGIN { if (v == "nan" || v == "") print "—"; else printf "%.*f", d, v }'; }
per_req_us() { # TICKS REQUESTS -> microseconds per request
    awk -v t="$1" -v r="$2" -v hz="$HZ" 'BEGIN { if (r > 0) printf "%.2f", t * 1e6 / hz / r; else print "nan" }'
}

# timed_run I ROUND: warm-up, then one timed wrk run with the CPU of every
# process involved read right before and after it; one line in $RESULTS.
timed_run() {
    local i=$1 round=$2 url=${T_URL[$1]} header=${T_HDR[$1]} out pids
    local pu0 ps0 up0 rd0 ch0 mb0 ma0 pu1 ps1 up1 rd1 ch1 mb1 ma1
    read -ra pids <<<"${T_PIDS[$i]}"
    local up_pid=${UP_OF[${T_NAME[$i]}]:-$PID_UP} redis_pids
    read -ra redis_pids <<<"${REDIS_PIDS_OF[${T_NAME[$i]}]:-$PID_REDIS}"
    quiet
    local busy=$BUSY
    if ((WARMUP > 0)); then run_wrk "$url" "$header" "$WARMUP" "$WORK/warmup.txt"; fi
    out=$WORK/wrk-$round-$i.txt
    ticks "${pids[@]}"; pu0=$TICKS_U ps0=$TICKS_S
    ticks "$up_pid"; up0=$((TICKS_U + TICKS_S))
    ticks "${redis_pids[@]}"; rd0=$((TICKS_U + TICKS_S))
    children_ticks; ch0=$CHILD_TICKS
    machine; mb0=$MACH_BUSY ma0=$MACH_ALL
    run_wrk "$url" "$header" "$DURATION" "$out"
    machine; mb1=$MACH_BUSY ma1=$MACH_ALL
    ticks "${pids[@]}"; pu1=$TICKS_U ps1=$TICKS_S
    ticks "$up_pid"; up1=$((TICKS_U + TICKS_S))
    ticks "${redis_pids[@]}"; rd1=$((TICKS_U + TICKS_S))
    children_ticks; ch1=$CHILD_TICKS
    local rps p50 p99 bad reqs proxy sys up redis wrk_us ours other
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
    p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
    p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
    reqs=$(wrk_requests "$out")
    # Any non-2xx answer or socket error spoils the row: flag it.
    bad=$(grep -cE 'Non-2xx|Socket errors' "$out" || true)
    local dp=$((pu1 - pu0 + ps1 - ps0))
    if ((${#pids[@]})); then
        proxy=$(per_req_us "$dp" "$reqs")
        sys=$(awk -v s=$((ps1 - ps0)) -v t="$dp" 'BEGIN { if (t > 0) printf "%.0f", 100 * s / t; else print "nan" }')
    else
        proxy=nan sys=nan
    fi
    up=$(per_req_us $((up1 - up0)) "$reqs")
    redis=$(per_req_us $((rd1 - rd0)) "$reqs")
    wrk_us=$(per_req_us $((ch1 - ch0)) "$reqs")
    # What the machine was busy with besides our processes, in % of all cores.
    ours=$((dp + up1 - up0 + rd1 - rd0 + ch1 - ch0))
    other=$(awk -v b=$((mb1 - mb0)) -v o="$ours" -v a=$((ma1 - ma0)) 'BEGIN { v = a > 0 ? 100 * (b - o) / a : 0; printf "%.0f", v < 0 ? 0 : v }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$i" "$round" "${rps:-0}" "$p50" "$p99" "$bad" "$busy" \
        "${reqs:-0}" "$proxy" "$sys" "$up" "$redis" "$wrk_us" "$other" >>"$RESULTS"
    local flag=
    if ((bad)); then flag="  ERRORS, see $out"; fi
    if ((busy > BUSY_MAX)); then flag="$flag  (machine ${busy}% busy before this run)"; fi
    if ((other > BUSY_MAX)); then flag="$flag  (others used ${other}% of the CPU during it)"; fi
    log "  round $round  $(printf '%-26s' "${T_NAME[$i]}") $(printf '%8.0f' "${rps:-0}") req/s  p50 ${p50} ms  p99 ${p99} ms  proxy $(fmt "$proxy" 2) µs/req$flag"
}

# Syscalls counted per kind (the rest is "other"); timers and clocks would
# show a per-request timer (clock_gettime is normally answered by the vDSO
# and never enters the kernel).
SYSCALL_KINDS=(
    "read/recv:read,readv,recvfrom,recvmsg"
    "write/send:write,writev,sendto,sendmsg"
    "epoll_wait:epoll_wait,epoll_pwait,epoll_pwait2"
    "epoll_ctl:epoll_ctl"
    "futex:futex"
    "getpeername:getpeername"
    "timers, clocks:clock_gettime,clock_nanosleep,nanosleep,timerfd_settime,timer_settime,setitimer"
)
PERF_EVENTS=raw_syscalls:sys_enter
for kind in "${SYSCALL_KINDS[@]}"; do
    IFS=, read -ra names <<<"${kind#*:}"
    for n in "${names[@]}"; do PERF_EVENTS+=",syscalls:sys_enter_$n"; done
done
# perf_count EVENT FILE: the count of EVENT in perf stat's CSV output (0 when
# "<not counted>": no such call happened).
perf_count() {
    awk -F, -v e="$1" '$3 == e { n = ($1 ~ /^[0-9]+$/) ? $1 : 0 } END { print n + 0 }' "$2"
}
# alloc_count PORT: the allocation total a count-allocs process serves there.
alloc_count() {
    local fd n=
    exec {fd}<>"/dev/tcp/127.0.0.1/$1" || die "no allocation counter on 127.0.0.1:$1"
    read -r -t 5 -u "$fd" n || true
    exec {fd}<&-
    [[ $n =~ ^[0-9]+$ ]] || die "no allocation count from 127.0.0.1:$1"
    echo "$n"
}
# redis_calls: "SCRIPTS ALL": the EVAL/EVALSHA calls redis-server has run
# (one round trip each) and all its commands, those the scripts call
# included (INFO itself left out).
redis_calls() { # PORTS...: summed over the nodes
    local p
    for p in "$@"; do redis-cli -h 127.0.0.1 -p "$p" INFO commandstats; done | tr -d '\r' |
        awk -F'[:=,]' '/^cmdstat_/ && $1 != "cmdstat_info" { a += $3; if ($1 ~ /^cmdstat_eval/) e += $3 } END { print e + 0, a + 0 }'
}
# count_run I: one wrk run of COUNT_SECONDS on the target's counting twin,
# with its syscalls (perf, enabled and disabled over a control fifo exactly
# around wrk), its allocations and Redis's commands counted; one line in
# $COUNTS: index, requests, allocations, Redis EVAL/EVALSHA calls, the
# syscall total, each kind (or "nan"), then all Redis commands.
count_run() {
    local i=$1 url=${T_CURL[$1]} header=${T_CHDR[$1]} port=${T_CPORT[$1]} pids out perf_pid= ctl ack a0= a1= r0 r1 reply
    read -ra pids <<<"${T_CPIDS[$i]}"
    quiet
    if ((WARMUP > 0)); then run_wrk "$url" "$header" "$WARMUP" "$WORK/warmup.txt"; fi
    out=$WORK/count-$i.txt
    if [ -z "$PERF_WHY" ]; then
        rm -f "$WORK/perf.ctl" "$WORK/perf.ack"
        mkfifo "$WORK/perf.ctl" "$WORK/perf.ack"
        exec {ctl}<>"$WORK/perf.ctl" {ack}<>"$WORK/perf.ack"
        perf stat -x, -o "$WORK/perf-$i.txt" -e "$PERF_EVENTS" -p "$(tr ' ' ',' <<<"${pids[*]}")" \
            --control "fifo:$WORK/perf.ctl,$WORK/perf.ack" -D -1 2>"$WORK/perf-$i.log" &
        perf_pid=$!
        PIDS+=("$perf_pid")
    fi
    if [ -n "$port" ]; then a0=$(alloc_count "$port"); fi
    local redis_ports
    read -ra redis_ports <<<"${REDIS_PORTS_OF[${T_NAME[$i]}]:-$P_REDIS}"
    r0=$(redis_calls "${redis_ports[@]}")
    if [ -n "$perf_pid" ]; then
        echo enable >&"$ctl"
        read -r -t 10 -u "$ack" reply || die "perf did not start counting (see $WORK/perf-$i.log)"
    fi
    run_wrk "$url" "$header" "$COUNT_SECONDS" "$out"
    if [ -n "$perf_pid" ]; then
        echo disable >&"$ctl"
        read -r -t 10 -u "$ack" reply || die "perf did not stop counting (see $WORK/perf-$i.log)"
        kill -INT "$perf_pid"
        wait "$perf_pid" || true
        forget "$perf_pid"
        exec {ctl}>&- {ack}>&-
    fi
    r1=$(redis_calls "${redis_ports[@]}")
    if [ -n "$port" ]; then a1=$(alloc_count "$port"); fi
    local reqs allocs sc
    reqs=$(wrk_requests "$out")
    allocs=nan
    if [ -n "$port" ]; then allocs=$((a1 - a0)); fi
    sc=nan
    if [ -n "$perf_pid" ]; then
        sc=$(perf_count raw_syscalls:sys_enter "$WORK/perf-$i.txt")
        local kind names n sum v
        for kind in "${SYSCALL_KINDS[@]}"; do
            IFS=, read -ra names <<<"${kind#*:}"
            sum=0
            for n in "${names[@]}"; do
                sum=$((sum + $(perf_count "syscalls:sys_enter_$n" "$WORK/perf-$i.txt")))
            done
            sc+=$'\t'$sum
        done
    else
        for _ in "${SYSCALL_KINDS[@]}"; do sc+=$'\tnan'; done
    fi
    local e0 e1 c0 c1
    read -r e0 c0 <<<"$r0"
    read -r e1 c1 <<<"$r1"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$i" "${reqs:-0}" "$allocs" $((e1 - e0)) "$sc" $((c1 - c0)) >>"$COUNTS"
    local bad
    bad=$(grep -cE 'Non-2xx|Socket errors' "$out" || true)
    ((bad == 0)) || die "${T_NAME[$i]}: errors in the counting run, see $out"
    log "  count  $(printf '%-26s' "${T_NAME[$i]}") ${reqs:-0} requests: $(awk -v a="$allocs" -v r="${reqs:-0}" 'BEGIN { if (a == "nan") print "n/a"; else printf "%.1f", a / r }') allocs/req, $(awk -v s="${sc%%$'\t'*}" -v r="${reqs:-0}" 'BEGIN { if (s == "nan") print "n/a"; else printf "%.1f", s / r }') syscalls/req"
}

runs=$((ROUNDS * NT))
counted=0
if ((COUNT_SECONDS > 0)); then
    for i in "${!T_NAME[@]}"; do [ -n "${T_CPIDS[$i]}" ] && counted=$((counted + 1)); done
fi
log "bench: $ROUNDS rounds x $NT targets x ${DURATION}s (+${WARMUP}s warm-up), then $counted counting runs x ${COUNT_SECONDS}s = about $((runs * (DURATION + WARMUP + 1) + counted * (COUNT_SECONDS + WARMUP + 2)))s"
[ -z "$PERF_WHY" ] || log "bench: no syscall counts: $PERF_WHY"
# Each round starts at another place in the list (round r at (r-1)·NT/ROUNDS):
# the machine's speed drifts over minutes (neighbours on the host, which the
# guest does not see as steal time), and a fixed order would charge the same
# rows the slow stretch every round.
for round in $(seq "$ROUNDS"); do
    offset=$(((round - 1) * NT / ROUNDS))
    for k in $(seq 0 $((NT - 1))); do timed_run "$(((k + offset) % NT))" "$round"; done
done
if ((COUNT_SECONDS > 0)); then
    for i in "${!T_NAME[@]}"; do
        [ -n "${T_CPIDS[$i]}" ] && count_run "$i"
    done
fi
declare -A RSS_END=(
    [bare]=$(rss_kib "$PID_BARE") [nginx]=$(nginx_rss) [haproxy]=$(rss_kib "$PID_HA")
    [gh]=$(rss_kib "$PID_GH") [gh-hs256]=$(rss_kib "$PID_GH_HS") [gh-redis]=$(rss_kib "$PID_GH_REDIS")
)

# --- figures -----------------------------------------------------------------------
median() { awk '$1 != "nan" && $1 != ""' | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { awk -F'\t' -v i="$1" -v c="$2" '$1 == i { print $c }' "$RESULTS"; }
ccol() { awk -F'\t' -v i="$1" -v c="$2" '$1 == i { print $c }' "$COUNTS"; }
per() { awk -v a="$1" -v r="$2" 'BEGIN { if (a == "nan" || a == "" || r + 0 == 0) print "nan"; else printf "%.3f", a / r }'; }
diff_of() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || a == "" || b == "") print "nan"; else printf "%.3f", a - b }'; }
declare -A M_RPS M_P50 M_P99 M_CPU M_REDIS M_ALLOC M_SYS M_CMDS
KIND_COUNT=${#SYSCALL_KINDS[@]}
for i in "${!T_NAME[@]}"; do
    M_RPS[$i]=$(col "$i" 3 | median)
    M_P50[$i]=$(col "$i" 4 | median)
    M_P99[$i]=$(col "$i" 5 | median)
    M_CPU[$i]=$(col "$i" 9 | median)
    M_REDIS[$i]=nan
    ((T_REDIS[i])) && M_REDIS[$i]=$(col "$i" 12 | median)
    reqs=$(ccol "$i" 2)
    M_ALLOC[$i]=$(per "$(ccol "$i" 3)" "$reqs")
    M_SYS[$i]=$(per "$(ccol "$i" 5)" "$reqs")
    M_CMDS[$i]=nan
    ((T_REDIS[i])) && M_CMDS[$i]=$(per "$(ccol "$i" 4)" "$reqs")
done
bare_i=$(index "bare Pingora")
tuned_i=$(index "bare Pingora, tuned")
min_reqs=$(awk -F'\t' 'NR == 1 || $8 < m { m = $8 } END { print m + 0 }' "$RESULTS")
cpu_res=$(awk -v r="$min_reqs" -v hz="$HZ" 'BEGIN { if (r > 0) printf "%.2f", 2e6 / hz / r; else print "nan" }')

# --- password checks and memory ------------------------------------------------------
log "bench: argon2 verification throughput (2 x ${LOGIN_SECONDS}s), then $SESSIONS sessions in the memory store"
quiet
LOGIN_BUSY=$BUSY
LOGIN_LINE1=$("$BIN/examples/bench_login" 1 "$LOGIN_SECONDS")
LOGIN_LINEN=$("$BIN/examples/bench_login" "$(nproc)" "$LOGIN_SECONDS")
SESSIONS_OUT=$("$BIN/examples/bench_sessions" "$SESSIONS")

# --- report ------------------------------------------------------------------------------
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
mem=$(awk '/^MemTotal:/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
echo "gatehouse benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores (${cpu:-unknown CPU}, $mem), Linux $(uname -r)"
echo "wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s --latency, $ROUNDS interleaved rounds (median shown), ${WARMUP}s warm-up each;"
echo "proxies: $THREADS threads/workers; upstream: bench_upstream, $UPSTREAM_THREADS thread; all on 127.0.0.1, load generator on the same cores."
echo "$(nginx -v 2>&1 | sed 's/^nginx version: //'), $(haproxy -v | head -n 1 | awk '{print "HAProxy " $3}'), $(redis-server --version | awk '{print "Redis " $3}' | tr -d 'v='), $(wrk -v 2>&1 | head -n 1 | awk '{print "wrk " $2}')"
echo "CPU µs/req: utime+stime of the whole process (every thread; nginx: master + workers) from /proc/PID/stat over each timed run,"
echo "  divided by the requests wrk completed; median over the rounds; resolution ±$cpu_res µs/req (one ${HZ} Hz tick at $min_reqs requests)."
if ((COUNT_SECONDS > 0)); then
    echo "allocs/req, syscalls/req: one separate ${COUNT_SECONDS}s counting run per target, on count-allocs builds for the Rust proxies;"
    if [ -z "$PERF_WHY" ]; then
        echo "  syscalls by perf stat -e raw_syscalls:sys_enter on the proxy's process(es), enabled just around wrk."
    else
        echo "  no syscall counts: $PERF_WHY."
    fi
fi
echo
starred=0
echo "| target | req/s | p50 ms | p99 ms | proxy CPU µs/req | Δ vs tuned passthrough µs | redis-server µs/req | allocs/req | syscalls/req |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for i in "${!T_NAME[@]}"; do
    bad=$(col "$i" 6 | awk '{ s += $1 } END { print s + 0 }')
    busy=$(col "$i" 7 | awk -v m="$BUSY_MAX" '$1 > m { n++ } END { print n + 0 }')
    other=$(col "$i" 14 | awk -v m="$BUSY_MAX" '$1 > m { n++ } END { print n + 0 }')
    flag=
    if ((bad)); then flag=' (ERRORS)'; fi
    if ((busy || other)); then flag="$flag *" starred=1; fi
    delta=nan
    [ -n "$tuned_i" ] && [ "$i" != "$tuned_i" ] && delta=$(diff_of "${M_CPU[$i]}" "${M_CPU[$tuned_i]}")
    d=$(fmt "$delta" 1)
    [[ $d == [0-9]* ]] && d=+$d
    printf '| %s%s | %.0f | %.2f | %.2f | %s | %s | %s | %s | %s |\n' "${T_NAME[$i]}" "$flag" "${M_RPS[$i]}" "${M_P50[$i]}" "${M_P99[$i]}" \
        "$(fmt "${M_CPU[$i]}" 1)" "$d" "$(fmt "${M_REDIS[$i]}" 1)" "$(fmt "${M_ALLOC[$i]}" 1)" "$(fmt "${M_SYS[$i]}" 1)"
done
echo
if ((starred)); then
    echo "\\* a round of this row ran on a busy machine (more than ${BUSY_MAX}% of the CPU busy right before it, or used by other processes during it)."
    echo
fi

# Targets (issue 14), on proxy CPU µs/req.
check_line() { # LABEL VALUE LIMIT LIMIT_TEXT [UNIT]
    awk -v l="$1" -v v="$2" -v m="$3" -v t="$4" -v u="${5- µs}" 'BEGIN {
        if (v == "nan" || m == "nan" || v == "" || m == "") { printf "  %s: not measured in this run\n", l; exit }
        printf "  %s: %.1f against %s = %.1f: %s (%+.1f%s)\n", l, v, t, m, (v <= m ? "met" : "NOT MET"), v - m, u }'
}
plus() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || a == "") print "nan"; else printf "%.3f", a + b }'; }
ha_i=$(index "HAProxy JWT HS256")
pub_i=$(index "gatehouse public route")
ed_i=$(index "gatehouse JWT EdDSA")
own_i=$(index "gatehouse JWT EdDSA, owner route")
hs_i=$(index "gatehouse JWT HS256")
mem_i=$(index "gatehouse cookie, memory")
red_i=$(index "gatehouse cookie, Redis")
m() { # ARRAY INDEX: the median in ARRAY for that target, nan if it did not run
    local -n arr=$1
    if [ -n "$2" ]; then echo "${arr[$2]}"; else echo nan; fi
}
echo "Targets (issue 14), proxy CPU µs/req (medians):"
check_line "bearer HS256 <= HAProxy-JWT" "$(m M_CPU "$hs_i")" "$(m M_CPU "$ha_i")" "HAProxy JWT HS256"
check_line "bearer EdDSA <= HAProxy-JWT" "$(m M_CPU "$ed_i")" "$(m M_CPU "$ha_i")" "HAProxy JWT HS256"
check_line "owner route <= JWT EdDSA + 0.5 (issue 12: within noise)" "$(m M_CPU "$own_i")" "$(plus "$(m M_CPU "$ed_i")" 0.5)" "JWT EdDSA + 0.5"
check_line "public route <= tuned + 1.5" "$(m M_CPU "$pub_i")" "$(plus "$(m M_CPU "$tuned_i")" 1.5)" "tuned passthrough + 1.5"
check_line "cookie, memory <= tuned + 4" "$(m M_CPU "$mem_i")" "$(plus "$(m M_CPU "$tuned_i")" 4)" "tuned passthrough + 4"
check_line "cookie, Redis <= cookie, memory + 8" "$(m M_CPU "$red_i")" "$(plus "$(m M_CPU "$mem_i")" 8)" "cookie, memory + 8"
# Issue 13, on req/s (the load generators differ between rows here).
ratio_line() { # LABEL VALUE BASE MIN
    awk -v l="$1" -v v="$2" -v b="$3" -v m="$4" 'BEGIN {
        if (v == "nan" || b == "nan" || v == "" || b == "" || b + 0 == 0) { printf "  %s: not measured in this run\n", l; exit }
        r = v / b; printf "  %s: %.0f / %.0f req/s = %.3fx against %.2fx: %s\n", l, v, b, r, m, (r >= m ? "met" : "NOT MET") }'
}
h2b_i=$(index "bare Pingora, tuned, h2")
h2g_i=$(index "gatehouse JWT EdDSA, h2")
nolog_i=$(index "gatehouse JWT EdDSA, access log off")
wsd_i=$(index "WebSocket direct")
wsg_i=$(index "gatehouse WebSocket, JWT")
ratio_line "HTTP/2 JWT >= 0.90x bare Pingora h2" "$(m M_RPS "$h2g_i")" "$(m M_RPS "$h2b_i")" 0.90
ratio_line "HTTP/2 JWT >= 0.90x bare Pingora h2 sent the same token" "$(m M_RPS "$h2g_i")" "$(m M_RPS "$(index "bare Pingora, tuned, h2, same token")")" 0.90
ratio_line "access log on >= 0.97x off (costs < 3 %)" "$(m M_RPS "$ed_i")" "$(m M_RPS "$nolog_i")" 0.97
check_line "access log CPU: on <= off + 3 %" "$(m M_CPU "$ed_i")" "$(awk -v v="$(m M_CPU "$nolog_i")" 'BEGIN { if (v == "nan" || v == "") print "nan"; else printf "%.3f", v * 1.03 }')" "access log off + 3 %"
ratio_line "WebSocket round trips through gatehouse / direct (reported)" "$(m M_RPS "$wsg_i")" "$(m M_RPS "$wsd_i")" 0
# Issue 15: Redis beyond one node, against the single-Redis cookie row.
sen_i=$(index "gatehouse cookie, Redis Sentinel")
clu_i=$(index "gatehouse cookie, Redis Cluster")
ratio_line "cookie, Redis Cluster >= 0.90x single Redis" "$(m M_RPS "$clu_i")" "$(m M_RPS "$red_i")" 0.90
check_line "cookie, Redis Cluster p99 < single Redis p99 + 1 ms" "$(m M_P99 "$clu_i")" "$(plus "$(m M_P99 "$red_i")" 1)" "single Redis p99 + 1 ms" " ms"
ratio_line "cookie, Redis Sentinel / single Redis (reported)" "$(m M_RPS "$sen_i")" "$(m M_RPS "$red_i")" 0
if ((COUNT_SECONDS > 0)); then
    timers_col=$((5 + KIND_COUNT)) # the last kind: timers, clocks
    kind_per() { if [ -n "$1" ]; then per "$(ccol "$1" "$2")" "$(ccol "$1" 2)"; else echo nan; fi; }
    awk -v c="$(m M_CMDS "$red_i")" -v tr="$(kind_per "$red_i" "$timers_col")" -v tm="$(kind_per "$mem_i" "$timers_col")" \
        -v sr="$(m M_SYS "$red_i")" -v sm="$(m M_SYS "$mem_i")" 'BEGIN {
        if (c == "nan") { print "  cookie, Redis round trips: not measured in this run"; exit }
        printf "  cookie, Redis: %.2f EVALSHA round trips/req (target 1); timer/clock syscalls/req %.2f against %.2f on the memory store; syscalls/req %.1f against %.1f\n", c, tr, tm, sr, sm }'
    check_line "allocations/req, bearer HS256 <= 90" "$(m M_ALLOC "$hs_i")" 90 "the target" ""
    check_line "allocations/req, bearer EdDSA <= 90" "$(m M_ALLOC "$ed_i")" 90 "the target" ""
    check_line "allocations/req, owner route <= JWT EdDSA (issue 12)" "$(m M_ALLOC "$own_i")" "$(m M_ALLOC "$ed_i")" "JWT EdDSA" ""
fi
# The same targets round by round: the median over rounds of each round's
# difference (or ratio). A round's rows run minutes apart at most, so this
# cancels most of the machine's slower speed drift that the medians of whole
# columns keep (bench/README.md, "What each request costs").
paired() { # COLUMN TARGET REF OP(-|/): per-round TARGET op REF, then the median
    if [ -z "$2" ] || [ -z "$3" ]; then echo nan; return; fi
    awk -F'\t' -v c="$1" -v a="$2" -v b="$3" -v op="$4" '
        $1 == a { x[$2] = $c } $1 == b { y[$2] = $c }
        END { for (r in x) if ((r in y) && x[r] != "nan" && y[r] != "nan" && (op == "-" || y[r] > 0)) print (op == "-" ? x[r] - y[r] : x[r] / y[r]) }' "$RESULTS" | median
}
paired_line() { # LABEL DIFFERENCE ALLOWED
    awk -v l="$1" -v d="$2" -v m="$3" 'BEGIN {
        if (d == "nan" || d == "") { printf "  %s: not measured in this run\n", l; exit }
        printf "  %s: %+.1f µs against %+.1f: %s\n", l, d, m, (d <= m ? "met" : "NOT MET") }'
}
paired_ratio() { # LABEL RATIO MIN
    awk -v l="$1" -v r="$2" -v m="$3" 'BEGIN {
        if (r == "nan" || r == "") { printf "  %s: not measured in this run\n", l; exit }
        printf "  %s: %.3fx against %.2fx: %s\n", l, r, m, (r >= m ? "met" : "NOT MET") }'
}
echo
echo "The same targets round by round (median over rounds of the difference, or ratio, within each round):"
paired_line "bearer HS256 - HAProxy-JWT" "$(paired 9 "$hs_i" "$ha_i" -)" 0
paired_line "bearer EdDSA - HAProxy-JWT" "$(paired 9 "$ed_i" "$ha_i" -)" 0
paired_line "public route - tuned passthrough" "$(paired 9 "$pub_i" "$tuned_i" -)" 1.5
paired_line "cookie, memory - tuned passthrough" "$(paired 9 "$mem_i" "$tuned_i" -)" 4
paired_line "cookie, Redis - cookie, memory" "$(paired 9 "$red_i" "$mem_i" -)" 8
paired_ratio "bearer HS256 req/s / HAProxy-JWT req/s" "$(paired 3 "$hs_i" "$ha_i" /)" 1
paired_ratio "bearer EdDSA req/s / HAProxy-JWT req/s" "$(paired 3 "$ed_i" "$ha_i" /)" 1
paired_ratio "HTTP/2 JWT / bare Pingora h2" "$(paired 3 "$h2g_i" "$h2b_i" /)" 0.90
paired_ratio "HTTP/2 JWT / bare Pingora h2, same token" "$(paired 3 "$h2g_i" "$(index "bare Pingora, tuned, h2, same token")" /)" 0.90
paired_ratio "access log on / off, req/s" "$(paired 3 "$ed_i" "$nolog_i" /)" 0.97
echo
# No targets: how much of gatehouse's cost is the output SPEC requires of
# every proxied request (timeouts armed, X-Forwarded-*, X-Request-Id, the
# security headers, a counter, an access line) when a bare Pingora makes it
# the cheapest way, and how much is gatehouse's own logic.
req_i=$(index "bare Pingora, tuned, SPEC output only")
req_h2_i=$(index "bare Pingora, tuned, SPEC output only, h2, same token")
reported() { # LABEL VALUE UNIT
    awk -v l="$1" -v v="$2" -v u="$3" 'BEGIN {
        if (v == "nan" || v == "") { printf "  %s: not measured in this run\n", l; exit }
        printf (u == "x" ? "  %s: %.3fx\n" : "  %s: %+.1f µs\n"), l, v }'
}
echo "The floor: SPEC's required output on a bare Pingora (round by round, reported):"
reported "SPEC output only - tuned passthrough" "$(paired 9 "$req_i" "$tuned_i" -)" us
reported "gatehouse public route - SPEC output only" "$(paired 9 "$pub_i" "$req_i" -)" us
reported "gatehouse JWT EdDSA - SPEC output only" "$(paired 9 "$ed_i" "$req_i" -)" us
reported "SPEC output only, h2 / bare Pingora h2, same token, req/s" "$(paired 3 "$req_h2_i" "$(index "bare Pingora, tuned, h2, same token")" /)" x
reported "HTTP/2 JWT / SPEC output only, h2, req/s" "$(paired 3 "$h2g_i" "$req_h2_i" /)" x
echo

# Before/after (BASELINE_BIN): each row's CPU against the same row on the
# earlier build, the two runs adjacent in every round.
if [ -n "$BASELINE" ]; then
    echo "This build against the baseline build (BASELINE_BIN), proxy CPU µs/req (medians):"
    for row in "gatehouse public route" "gatehouse JWT EdDSA" "gatehouse cookie, memory"; do
        now_i=$(index "$row") base_i=$(index "$row$BASELINE")
        check_line "$row <= baseline" "$(m M_CPU "$now_i")" "$(m M_CPU "$base_i")" "the baseline build's"
    done
    echo
fi
echo "Per round and context (CPU of the other processes per request of this row; \"others\": CPU used by processes not"
echo "ours during the run, in % of all cores, the highest round):"
echo
echo "| target | req/s per round | proxy µs/req per round | proxy sys % | upstream µs/req | wrk µs/req | others % | req/s vs bare Pingora |"
echo "|---|---|---|---:|---:|---:|---:|---:|"
for i in "${!T_NAME[@]}"; do
    rounds_rps=$(col "$i" 3 | awk '{ printf "%s%.0f", (NR > 1 ? " " : ""), $1 }')
    rounds_cpu=$(col "$i" 9 | awk '{ printf "%s%s", (NR > 1 ? " " : ""), ($1 == "nan" ? "—" : sprintf("%.1f", $1)) }')
    ratio=nan
    [ -n "$bare_i" ] && ratio=$(awk -v a="${M_RPS[$i]}" -v b="${M_RPS[$bare_i]}" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "nan" }')
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "${T_NAME[$i]}" "$rounds_rps" "$rounds_cpu" \
        "$(fmt "$(col "$i" 10 | median)" 0)" "$(fmt "$(col "$i" 11 | median)" 1)" "$(fmt "$(col "$i" 13 | median)" 1)" \
        "$(col "$i" 14 | sort -g | tail -n 1)" "$(fmt "$ratio" 2)"
done
echo
if ((COUNT_SECONDS > 0)); then
    labels=
    for kind in "${SYSCALL_KINDS[@]}"; do labels+=" ${kind%%:*} |"; done
    echo "Counting runs (${COUNT_SECONDS}s each; syscalls per request by kind, of the proxy's process(es); Redis round trips:"
    echo "EVAL/EVALSHA calls; Redis commands: all, those the scripts call included):"
    echo
    echo "| target | requests | allocs/req | syscalls/req |$labels other | Redis round trips/req | Redis commands/req |"
    echo "|---|---:|---:|---:|$(for _ in "${SYSCALL_KINDS[@]}"; do printf -- '---:|'; done)---:|---:|---:|"
    for i in "${!T_NAME[@]}"; do
        [ -n "$(ccol "$i" 2)" ] || continue
        reqs=$(ccol "$i" 2)
        line="| ${T_NAME[$i]} | $reqs | $(fmt "${M_ALLOC[$i]}" 1) | $(fmt "${M_SYS[$i]}" 2) |"
        rest=$(ccol "$i" 5)
        for k in $(seq "$KIND_COUNT"); do
            v=$(ccol "$i" $((5 + k)))
            line+=" $(fmt "$(per "$v" "$reqs")" 2) |"
            rest=$(awk -v a="$rest" -v b="$v" 'BEGIN { if (a == "nan" || b == "nan") print "nan"; else print a - b }')
        done
        all=nan
        ((T_REDIS[i])) && all=$(per "$(ccol "$i" $((6 + KIND_COUNT)))" "$reqs")
        line+=" $(fmt "$(per "$rest" "$reqs")" 2) | $(fmt "${M_CMDS[$i]}" 2) | $(fmt "$all" 2) |"
        echo "$line"
    done
    echo
fi
sorted=$(printf '%s\n' "${LOGIN_TIMES[@]}" | sort -g)
echo "Logins (POST /auth/login, end to end, one at a time, memory store): $LOGINS in" \
    "$(awk '{ v[NR] = $1 * 1000 } END { printf "min %.0f / median %.0f / max %.0f ms", v[1], v[int((NR + 1) / 2)], v[NR] }' <<<"$sorted")"
busy_note=
if ((LOGIN_BUSY > BUSY_MAX)); then busy_note=", machine ${LOGIN_BUSY}% busy before"; fi
echo "Password check alone (bench_login, ${LOGIN_SECONDS}s each$busy_note):"
echo "  $LOGIN_LINE1"
echo "  $LOGIN_LINEN"
echo
echo "Resident memory (VmRSS, MiB) at start, and at the end (gatehouse: after $LOGINS logins on the memory-store"
echo "instance, one on each other, and the load runs):"
echo
echo "| process | at start | at the end |"
echo "|---|---:|---:|"
for p in "bare Pingora:bare" "nginx (master + workers):nginx" "HAProxy:haproxy" "gatehouse, memory store, EdDSA:gh" \
    "gatehouse, memory store, HS256:gh-hs256" "gatehouse, Redis store, EdDSA:gh-redis"; do
    k=${p##*:}
    printf '| %s | %.1f | %.1f |\n' "${p%:*}" "$(awk -v k="${RSS_IDLE[$k]}" 'BEGIN { print k / 1024 }')" \
        "$(awk -v k="${RSS_END[$k]}" 'BEGIN { print k / 1024 }')"
done
echo
echo "$SESSIONS_OUT"
echo
echo "(bench/run.sh took ${SECONDS}s)"
