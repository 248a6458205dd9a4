# Sourced by bench/run.sh and bench/instructions.sh.
# bench_user GATEHOUSE DIR: signing keys in DIR/keys and a users file
# DIR/users.toml with the one bench user (role "user") and a fresh random
# password, which is left in PASSWORD.
bench_user() {
    local hash
    "$1" keys generate --out "$2/keys" >/dev/null
    PASSWORD=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    hash=$(printf '%s' "$PASSWORD" | "$1" hash-password)
    cat >"$2/users.toml" <<USERS
[[users]]
username = "bench"
email = "bench@example.com"
password_hash = "$hash"
roles = ["user"]
USERS
}
