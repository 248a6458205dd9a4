#!/usr/bin/env bash
# gatehouse benchmark: the same wrk load against an upstream answering a small
# 200, directly and behind bare Pingora, nginx, HAProxy (plain and verifying an
# HS256 JWT) and gatehouse (public route, EdDSA and HS256 bearer tokens,
# session cookie on the memory store and on Redis), interleaved over several
# rounds; then argon2 login throughput, a few real logins, and memory use.
# See bench/README.md for what each number means and a sample run.
#
# Knobs (environment): ROUNDS=3 DURATION=10 (seconds per run) CONNECTIONS=32
#   WARMUP=1 (seconds before each run) WRK_THREADS=2 THREADS=2 (proxy threads /
#   nginx workers) WORK_STEALING=false (gatehouse's runtime, see bench/README.md)
#   UPSTREAM_THREADS=1 LOGINS=5 LOGIN_SECONDS=5 SESSIONS=100000
#   ONLY=regex (run only targets whose name matches, plus bare Pingora)
#   BUSY_MAX=15 (% of CPU busy between runs that counts as another job on the
#   machine) QUIET_WAIT=60 (seconds, in all, to wait for such a job to stop)
#   SKIP_BUILD=1 KEEP=1 (keep the temporary directory with configs and logs).
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
ISSUER=gatehouse-bench
AUDIENCE=bench-apps
COOKIE_NAME=__Host-gatehouse

log() { printf '%s\n' "$*" >&2; }
die() { log "bench: $*"; exit 1; }

for knob in ROUNDS DURATION CONNECTIONS WARMUP WRK_THREADS THREADS UPSTREAM_THREADS LOGINS LOGIN_SECONDS SESSIONS QUIET_WAIT BUSY_MAX; do
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
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "bench: cargo build --release --bin gatehouse --examples"
    cargo build --release --bin gatehouse --examples >&2
fi
BIN=$ROOT/target/release
for b in gatehouse examples/bare_proxy examples/bare_proxy_tuned examples/bench_upstream examples/bench_login examples/bench_sessions; do
    [ -x "$BIN/$b" ] || die "$BIN/$b is not built"
done

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
UP=127.0.0.1:$P_UP

log "bench: starting the upstream, bare Pingora, nginx, HAProxy, redis-server (work dir $WORK)"
start upstream "$BIN/examples/bench_upstream" "$UP" "$UPSTREAM_THREADS"
PID_UP=$LAST_PID
wait_port upstream "$PID_UP" "$P_UP"

start bare "$BIN/examples/bare_proxy" "127.0.0.1:$P_BARE" "$UP" "$THREADS"
PID_BARE=$LAST_PID
start bare-tuned "$BIN/examples/bare_proxy_tuned" "127.0.0.1:$P_TUNED" "$UP" "$THREADS"
PID_TUNED=$LAST_PID

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

# --- gatehouse -------------------------------------------------------------------
GH=$BIN/gatehouse
PASSWORD=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
"$GH" keys generate --out "$WORK/keys" >/dev/null
HASH=$(printf '%s' "$PASSWORD" | "$GH" hash-password)
cat >"$WORK/users.toml" <<EOF
[[users]]
username = "bench"
email = "bench@example.com"
password_hash = "$HASH"
roles = ["user"]
EOF
EDDSA_TOKENS='algorithm = "EdDSA"
signing_key_file = "keys/signing.pem"'
HS256_TOKENS='algorithm = "HS256"
secret_env = "GH_BENCH_SECRET"'
gh_config() { # NAME PORT STORE TOKENS
    render "$BENCH/gateway.toml.tmpl" "$WORK/$1.toml" LISTEN="127.0.0.1:$2" THREADS="$THREADS" WORK_STEALING="$WORK_STEALING" STORE="$3" \
        TOKENS="$4" ISSUER="$ISSUER" AUDIENCE="$AUDIENCE" UPSTREAM="$UP"
    GH_BENCH_SECRET=$GH_BENCH_SECRET "$GH" check --config "$WORK/$1.toml" >"$WORK/$1-check.log" 2>&1 ||
        { cat "$WORK/$1-check.log" >&2; die "gatehouse check refused $1.toml"; }
}
gh_config gh-eddsa "$P_GH" 'backend = "memory"' "$EDDSA_TOKENS"
gh_config gh-hs256 "$P_GH_HS" 'backend = "memory"' "$HS256_TOKENS"
gh_config gh-redis "$P_GH_REDIS" "backend = \"redis\"
url = \"redis://127.0.0.1:$P_REDIS/0\"" "$EDDSA_TOKENS"
gh_config gh-cache "$P_GH_CACHE" "backend = \"redis\"
url = \"redis://127.0.0.1:$P_REDIS/0\"
local_cache = \"1s\"" "$EDDSA_TOKENS"
start gh-eddsa "$GH" run --config "$WORK/gh-eddsa.toml"
PID_GH=$LAST_PID
start gh-hs256 env GH_BENCH_SECRET="$GH_BENCH_SECRET" "$GH" run --config "$WORK/gh-hs256.toml"
PID_GH_HS=$LAST_PID
wait_port redis "$PID_REDIS" "$P_REDIS"
start gh-redis "$GH" run --config "$WORK/gh-redis.toml"
PID_GH_REDIS=$LAST_PID
start gh-cache "$GH" run --config "$WORK/gh-cache.toml"
PID_GH_CACHE=$LAST_PID
wait_port bare "$PID_BARE" "$P_BARE"
wait_port bare-tuned "$PID_TUNED" "$P_TUNED"
wait_port nginx "$PID_NGINX" "$P_NGINX"
wait_port haproxy "$PID_HA" "$P_HA_JWT"
wait_port gh-eddsa "$PID_GH" "$P_GH"
wait_port gh-hs256 "$PID_GH_HS" "$P_GH_HS"
wait_port gh-redis "$PID_GH_REDIS" "$P_GH_REDIS"
wait_port gh-cache "$PID_GH_CACHE" "$P_GH_CACHE"
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
login "$P_GH_REDIS" redis
REDIS_COOKIE=$COOKIE

# --- targets ---------------------------------------------------------------------
# name|url|header|auth (1: must answer 401 without credentials and forward X-Auth-User)
TARGETS=(
    "upstream direct|http://$UP/public/x||0"
    "bare Pingora|http://127.0.0.1:$P_BARE/public/x||0"
    "bare Pingora, tuned|http://127.0.0.1:$P_TUNED/public/x||0"
    "nginx|http://127.0.0.1:$P_NGINX/public/x||0"
    "HAProxy|http://127.0.0.1:$P_HA/public/x||0"
    "HAProxy JWT HS256|http://127.0.0.1:$P_HA_JWT/api/x|Authorization: Bearer $HS_TOKEN|1"
    "gatehouse public route|http://127.0.0.1:$P_GH/public/x||0"
    "gatehouse JWT EdDSA|http://127.0.0.1:$P_GH/api/x|Authorization: Bearer $ED_TOKEN|1"
    "gatehouse JWT HS256|http://127.0.0.1:$P_GH_HS/api/x|Authorization: Bearer $HS_TOKEN|1"
    "gatehouse cookie, memory|http://127.0.0.1:$P_GH/api/x|Cookie: $COOKIE_NAME=$MEM_COOKIE|1"
    "gatehouse cookie, Redis|http://127.0.0.1:$P_GH_REDIS/api/x|Cookie: $COOKIE_NAME=$REDIS_COOKIE|1"
    "gatehouse cookie, Redis, local_cache 1s|http://127.0.0.1:$P_GH_CACHE/api/x|Cookie: $COOKIE_NAME=$REDIS_COOKIE|1"
)
SELECTED=()
for t in "${TARGETS[@]}"; do
    name=${t%%|*}
    [[ $name =~ $ONLY || $name == "bare Pingora"* ]] && SELECTED+=("$t")
done

# Before measuring, each target must answer 200 (and the auth ones must
# forward the identity and refuse a request without credentials).
for t in "${SELECTED[@]}"; do
    IFS='|' read -r name url header auth <<<"$t"
    args=(-sS -m 5 -o /dev/null -D -)
    [ -n "$header" ] && args+=(-H "$header")
    head=$(curl "${args[@]}" "$url" | tr -d '\r') || die "$name: request failed"
    [[ $head == "HTTP/1.1 200"* ]] || die "$name: expected 200, got: ${head%%$'\n'*}"
    if [ "$auth" = 1 ]; then
        grep -qi '^x-seen-user: bench$' <<<"$head" || die "$name: the upstream did not receive X-Auth-User: bench"
        code=$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "$url") || die "$name: request failed"
        [ "$code" = 401 ] || die "$name: expected 401 without credentials, got $code"
        # One character changed inside the signature / cookie secret.
        pos=$((${#header} - 10)) ch=${header:$((${#header} - 10)):1}
        if [ "$ch" = A ]; then ch=B; else ch=A; fi
        code=$(curl -sS -m 5 -o /dev/null -w '%{http_code}' -H "${header:0:pos}$ch${header:pos+1}" "$url") ||
            die "$name: request failed"
        [ "$code" = 401 ] || die "$name: expected 401 with a forged credential, got $code"
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
: >"$RESULTS"
run_wrk() { # URL HEADER SECONDS OUT
    local args=(-t"$WRK_THREADS" -c"$CONNECTIONS" -d"${3}s" --latency --timeout 5s)
    [ -n "$2" ] && args+=(-H "$2")
    timeout $(($3 + 30)) wrk "${args[@]}" "$1" >"$4" 2>&1 || { cat "$4" >&2; die "wrk failed on $1"; }
}
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
runs=$((ROUNDS * ${#SELECTED[@]}))
log "bench: $ROUNDS rounds x ${#SELECTED[@]} targets x ${DURATION}s (+${WARMUP}s warm-up) = about $((runs * (DURATION + WARMUP + 1)))s"
for round in $(seq "$ROUNDS"); do
    for i in "${!SELECTED[@]}"; do
        IFS='|' read -r name url header auth <<<"${SELECTED[$i]}"
        quiet
        busy=$BUSY
        if ((WARMUP > 0)); then run_wrk "$url" "$header" "$WARMUP" "$WORK/warmup.txt"; fi
        out=$WORK/wrk-$round-$i.txt
        run_wrk "$url" "$header" "$DURATION" "$out"
        rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
        p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
        p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
        # Any non-2xx answer or socket error spoils the row: flag it.
        bad=$(grep -cE 'Non-2xx|Socket errors' "$out" || true)
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$i" "$round" "${rps:-0}" "$p50" "$p99" "$bad" "$busy" >>"$RESULTS"
        flag=
        if ((bad)); then flag="  ERRORS, see $out"; fi
        if ((busy > BUSY_MAX)); then flag="$flag  (machine ${busy}% busy before this run)"; fi
        log "  round $round  $(printf '%-26s' "$name") $(printf '%10.0f' "${rps:-0}") req/s  p50 ${p50} ms  p99 ${p99} ms$flag"
    done
done
declare -A RSS_END=(
    [bare]=$(rss_kib "$PID_BARE") [nginx]=$(nginx_rss) [haproxy]=$(rss_kib "$PID_HA")
    [gh]=$(rss_kib "$PID_GH") [gh-hs256]=$(rss_kib "$PID_GH_HS") [gh-redis]=$(rss_kib "$PID_GH_REDIS")
)

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { awk -F'\t' -v i="$1" -v c="$2" '$1 == i { print $c }' "$RESULTS"; }
bare_i=
for i in "${!SELECTED[@]}"; do [ "${SELECTED[$i]%%|*}" = "bare Pingora" ] && bare_i=$i; done
bare_rps=$(col "$bare_i" 3 | median)
tuned_i=
for i in "${!SELECTED[@]}"; do [ "${SELECTED[$i]%%|*}" = "bare Pingora, tuned" ] && tuned_i=$i; done
tuned_rps=$(col "$tuned_i" 3 | median)

# --- password checks and memory ------------------------------------------------------
log "bench: argon2 verification throughput (2 x ${LOGIN_SECONDS}s), then $SESSIONS sessions in the memory store"
quiet
LOGIN_BUSY=$BUSY
LOGIN_LINE1=$("$BIN/examples/bench_login" 1 "$LOGIN_SECONDS")
LOGIN_LINEN=$("$BIN/examples/bench_login" "$(nproc)" "$LOGIN_SECONDS")
SESSIONS_OUT=$("$BIN/examples/bench_sessions" "$SESSIONS")

# --- report ------------------------------------------------------------------------------
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
echo "gatehouse benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores (${cpu:-unknown CPU}), Linux $(uname -r)"
echo "wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s --latency, $ROUNDS interleaved rounds (median shown), ${WARMUP}s warm-up each;"
echo "proxies: $THREADS threads/workers; upstream: bench_upstream, $UPSTREAM_THREADS thread; all on 127.0.0.1, load generator on the same cores."
echo "$(nginx -v 2>&1 | sed 's/^nginx version: //'), $(haproxy -v | head -n 1 | awk '{print "HAProxy " $3}'), $(redis-server --version | awk '{print "Redis " $3}' | tr -d 'v='), $(wrk -v 2>&1 | head -n 1 | awk '{print "wrk " $2}')"
echo
echo "| target | req/s | p50 ms | p99 ms | vs bare Pingora | vs bare, tuned | req/s per round |"
echo "|---|---:|---:|---:|---:|---:|---|"
for i in "${!SELECTED[@]}"; do
    name=${SELECTED[$i]%%|*}
    rps=$(col "$i" 3 | median)
    p50=$(col "$i" 4 | median)
    p99=$(col "$i" 5 | median)
    bad=$(col "$i" 6 | awk '{ s += $1 } END { print s + 0 }')
    per=$(col "$i" 3 | awk '{ printf "%s%.0f", (NR > 1 ? " " : ""), $1 }')
    busy=$(col "$i" 7 | awk -v m="$BUSY_MAX" '$1 > m { n++ } END { print n + 0 }')
    if ((busy)); then per="$per ($busy on a busy machine)"; fi
    ratio=$(awk -v a="$rps" -v b="$bare_rps" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
    tuned=$(awk -v a="$rps" -v b="$tuned_rps" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
    flag=
    if ((bad)); then flag=' (ERRORS)'; fi
    printf '| %s%s | %.0f | %.2f | %.2f | %s | %s | %s |\n' "$name" "$flag" "$rps" "$p50" "$p99" "$ratio" "$tuned" "$per"
done
echo
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
