//! Memory use of the embedded session store for `bench/run.sh`: builds a
//! `gatehouse::store::MemoryStore`, stores N realistic sessions through the
//! `Store` trait (as logins do), then each one's refresh token, and prints
//! this process's resident memory (VmRSS) before and after, per session.
//!
//! It measures the store, not a whole gateway: 100k real logins would take
//! hours at argon2 cost under the per-IP login limit. `bench/run.sh` reports
//! the idle gateway's RSS beside it.
//!
//! Usage: `bench_sessions [SESSIONS] [USERS]` (defaults: 100000, SESSIONS/5).

use std::time::{Duration, Instant};

use gatehouse::auth::refresh::{new_token, token_hash};
use gatehouse::auth::session::{new_secret, sid_of};
use gatehouse::store::{
    unix_now, MemoryStore, RefreshRecord, RefreshStore, SessionRecord, SessionStore,
};

/// A current desktop browser's User-Agent: the gateway keeps up to 256 bytes.
const USER_AGENT: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";

/// Resident set size of this process in KiB, from /proc/self/status.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn session(i: usize, users: usize, now: i64) -> SessionRecord {
    let u = i % users;
    let mut roles = vec!["user".to_string()];
    if u.is_multiple_of(10) {
        roles.push("editor".to_string());
    }
    SessionRecord {
        sid: sid_of(&new_secret()),
        user_id: format!("u-{:06}", u),
        username: format!("user{u:06}"),
        email: format!("user{u:06}@example.com"),
        roles,
        created: now,
        last_seen: now,
        expires_at: now + 12 * 3600,
        ip: format!("198.51.{}.{}", (i / 256) % 256, i % 256),
        user_agent: USER_AGENT.to_string(),
        oidc: None,
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

async fn run(n: usize, users: usize) -> Result<(), String> {
    let idle = Duration::from_secs(30 * 60);
    let refresh_ttl = Duration::from_secs(7 * 24 * 3600);
    let now = unix_now();
    // Build the records first so only what the store keeps is counted.
    let records: Vec<SessionRecord> = (0..n).map(|i| session(i, users, now)).collect();
    let refresh: Vec<String> = (0..n).map(|_| token_hash(&new_token())).collect();
    let store = MemoryStore::new();

    let base = rss_kib();
    let t = Instant::now();
    for r in &records {
        store
            .create_session(r, idle)
            .await
            .map_err(|e| e.to_string())?;
    }
    let took = t.elapsed().as_secs_f64();
    let after_sessions = rss_kib();
    for (r, hash) in records.iter().zip(&refresh) {
        let rec = RefreshRecord {
            sid: r.sid.clone(),
            user_id: r.user_id.clone(),
            expires_at: now + 7 * 24 * 3600,
        };
        store
            .put_refresh(hash, &rec, refresh_ttl)
            .await
            .map_err(|e| e.to_string())?;
    }
    let after_refresh = rss_kib();
    // Sanity: the store really holds them.
    let probe = records.last().map(|r| r.sid.clone()).unwrap_or_default();
    if store
        .get_session(&probe)
        .await
        .map_err(|e| e.to_string())?
        .is_none()
    {
        return Err("a stored session is missing".into());
    }
    let per = |kib: u64| kib as f64 * 1024.0 / n as f64;
    println!("memory store, {n} sessions of {users} users (VmRSS of this process):");
    println!(
        "  {:<28}{:8.1} MiB",
        "store empty, records built",
        mib(base)
    );
    println!(
        "  {:<28}{:8.1} MiB  (+{:.1} MiB, {:.0} bytes/session, {:.0} inserts/s)",
        format!("+ {n} sessions"),
        mib(after_sessions),
        mib(after_sessions.saturating_sub(base)),
        per(after_sessions.saturating_sub(base)),
        n as f64 / took
    );
    println!(
        "  {:<28}{:8.1} MiB  (+{:.1} MiB, {:.0} bytes/login in all)",
        "+ their refresh tokens",
        mib(after_refresh),
        mib(after_refresh.saturating_sub(after_sessions)),
        per(after_refresh.saturating_sub(base))
    );
    drop(store);
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000usize)
        .max(1);
    let users = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(n / 5)
        .clamp(1, n);
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|rt| rt.block_on(run(n, users)));
    if let Err(e) = result {
        eprintln!("bench_sessions: {e}");
        std::process::exit(1);
    }
}
