//! The store contract (STYLE §6): one set of behaviours, run on `MemoryStore`
//! and on `RedisStore` against a real `redis-server`, so both backends mean
//! the same thing. Plus Redis-only checks: key prefix and TTL on every key,
//! calls bounded while Redis is down or stalled, recovery when it returns.
//! And the contract again through `[store] sentinels` (sentinel.rs).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;

mod cluster_store;
mod sentinel;

// ---------------------------------------------------------------- harness

/// A `redis-server` on a free port, killed on drop.
pub(crate) struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
    /// `--replicaof 127.0.0.1 <port>`.
    replica_of: Option<u16>,
}

impl RedisServer {
    pub fn spawn() -> Self {
        Self::spawn_on(free_port())
    }

    pub fn spawn_on(port: u16) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = RedisServer {
            child: None,
            port,
            dir,
            replica_of: None,
        };
        s.start();
        s
    }

    /// A replica of the server on `master`.
    pub fn spawn_replica_of(master: u16) -> Self {
        let mut s = RedisServer {
            child: None,
            port: free_port(),
            dir: tempfile::tempdir().expect("tempdir"),
            replica_of: Some(master),
        };
        s.start();
        s
    }

    fn start(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            // A replica syncs at once (the default waits 5 s for others).
            .args(["--repl-diskless-sync-delay", "0"])
            .args(
                self.replica_of
                    .map(|m| vec!["--replicaof".to_string(), "127.0.0.1".into(), m.to_string()])
                    .unwrap_or_default(),
            )
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !raw_ping(self.port) {
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start again on the same port (after `kill`).
    pub fn restart(&mut self) {
        self.kill();
        self.start();
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub async fn store(&self, prefix: &str) -> RedisStore {
        RedisStore::connect(&self.url(), prefix, TIMEOUT, Duration::ZERO)
            .await
            .expect("connect")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn raw_ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    let mut buf = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

/// The store timeout of the contract's Redis stores: large enough that a
/// call on a machine saturated by other work (a benchmark, parallel builds)
/// still answers in time, small enough that the fail-fast checks stay quick.
const TIMEOUT: Duration = Duration::from_millis(1000);

/// Poll `f` until it returns true, or fail after `within`.
async fn eventually<F, Fut>(within: Duration, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A test session id: `name` behind `user`'s slot tag, as logins mint them
/// (`store::slot`), so the cluster runs see one slot per user.
fn sid(user: &str, name: &str) -> String {
    slot::tagged(user, name)
}

/// A refresh-token hash of `user`'s family, tagged like a real one.
fn rh(user: &str, name: &str) -> String {
    slot::tagged(user, name)
}

fn session(name: &str, user: &str, created: i64, expires_at: i64) -> SessionRecord {
    SessionRecord {
        sid: sid(user, name),
        user_id: user.into(),
        username: format!("name-{user}"),
        email: format!("{user}@example.test"),
        roles: vec!["user".into(), "editor".into()],
        created,
        last_seen: created,
        expires_at,
        ip: "192.0.2.7".into(),
        user_agent: "contract/1".into(),
        oidc: None,
    }
}

fn refresh(name: &str, user: &str, expires_at: i64) -> RefreshRecord {
    RefreshRecord {
        sid: sid(user, name),
        user_id: user.into(),
        expires_at,
    }
}

const HOUR: i64 = 3600;
const IDLE: Duration = Duration::from_secs(60);
const GRACE: Duration = Duration::from_secs(10);
const LONG: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------- contract

async fn sessions_crud(s: Arc<dyn Store>) {
    let now = unix_now();
    s.ping().await.expect("ping");
    let a = session("sa", "u1", now - 10, now + HOUR);
    let b = session("sb", "u1", now - 20, now + HOUR);
    let c = session("sc", "u1", now - 5, now + HOUR);
    let d = session("sd", "u2", now, now + HOUR);
    for r in [&a, &b, &c, &d] {
        s.create_session(r, IDLE).await.expect("create");
    }
    assert_eq!(
        s.get_session(&sid("u1", "sa")).await.expect("get"),
        Some(a.clone())
    );
    assert_eq!(s.get_session("nope").await.expect("get"), None);
    assert_eq!(
        s.touch_session("nope", now, IDLE).await.expect("touch"),
        None
    );

    let touched = s
        .touch_session(&sid("u1", "sa"), now + 7, IDLE)
        .await
        .expect("touch");
    let want = SessionRecord {
        last_seen: now + 7,
        ..a.clone()
    };
    assert_eq!(
        touched.as_deref(),
        Some(&want),
        "touch answers the slid record"
    );
    assert_eq!(
        s.get_session(&sid("u1", "sa")).await.expect("get"),
        Some(want.clone())
    );

    let list = s.list_sessions("u1").await.expect("list");
    assert_eq!(
        list,
        vec![b.clone(), want.clone(), c.clone()],
        "oldest first"
    );
    assert_eq!(s.list_sessions("nobody").await.expect("list"), vec![]);

    assert!(s.delete_session(&sid("u1", "sa")).await.expect("delete"));
    assert!(!s
        .delete_session(&sid("u1", "sa"))
        .await
        .expect("delete again"));
    assert_eq!(s.get_session(&sid("u1", "sa")).await.expect("get"), None);
    assert_eq!(s.list_sessions("u1").await.expect("list"), vec![b, c]);

    assert_eq!(s.delete_user_sessions("u1").await.expect("delete all"), 2);
    assert_eq!(s.list_sessions("u1").await.expect("list"), vec![]);
    assert_eq!(s.get_session(&sid("u1", "sc")).await.expect("get"), None);
    assert_eq!(
        s.delete_user_sessions("u1")
            .await
            .expect("delete all again"),
        0
    );
    assert_eq!(
        s.get_session(&sid("u2", "sd"))
            .await
            .expect("other user untouched"),
        Some(d)
    );

    // Past its absolute timeout: never stored.
    s.create_session(&session("old", "u3", now - HOUR, now - 1), IDLE)
        .await
        .expect("create");
    assert_eq!(s.get_session(&sid("u3", "old")).await.expect("get"), None);
    assert_eq!(s.list_sessions("u3").await.expect("list"), vec![]);
}

async fn session_idle_slides(s: Arc<dyn Store>) {
    let idle = Duration::from_millis(1000);
    let now = unix_now();
    let t0 = Instant::now();
    s.create_session(&session("idle", "u1", now, now + HOUR), idle)
        .await
        .expect("create");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(s
        .touch_session(&sid("u1", "idle"), unix_now(), idle)
        .await
        .expect("touch")
        .is_some());
    // Past the first deadline (1.0 s), before the slid one (1.6 s).
    tokio::time::sleep_until((t0 + Duration::from_millis(1300)).into()).await;
    assert!(
        s.get_session(&sid("u1", "idle"))
            .await
            .expect("get")
            .is_some(),
        "touch slid the idle timeout"
    );
    // get_session does not slide: polling it must not keep the session alive.
    eventually(Duration::from_secs(3), "idle session to expire", || async {
        s.get_session(&sid("u1", "idle"))
            .await
            .expect("get")
            .is_none()
    })
    .await;
    assert_eq!(
        s.touch_session(&sid("u1", "idle"), unix_now(), idle)
            .await
            .expect("touch"),
        None
    );
    assert_eq!(s.list_sessions("u1").await.expect("list"), vec![]);
}

async fn session_absolute_never_slides(s: Arc<dyn Store>) {
    let exp = unix_now() + 1;
    s.create_session(&session("abs", "u1", exp - 10, exp), LONG)
        .await
        .expect("create");
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let now = unix_now();
        let r = s
            .touch_session(&sid("u1", "abs"), now, LONG)
            .await
            .expect("touch");
        if now >= exp {
            assert_eq!(r, None, "touched past expires_at");
            break;
        }
        assert_eq!(
            r.map(|r| r.expires_at),
            Some(exp),
            "alive before expires_at, unchanged"
        );
        assert!(Instant::now() < deadline, "clock stuck?");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eventually(
        Duration::from_secs(2),
        "session gone after expires_at",
        || async {
            s.get_session(&sid("u1", "abs"))
                .await
                .expect("get")
                .is_none()
        },
    )
    .await;
}

async fn refresh_rotation(s: Arc<dyn Store>) {
    let t = unix_now();
    s.create_session(&session("fam", "u1", t, t + HOUR), IDLE)
        .await
        .expect("create");
    let live = refresh("fam", "u1", t + HOUR);
    s.put_refresh(&rh("u1", "h0"), &live, LONG)
        .await
        .expect("put");
    // Token hashes name their family's user by their first letter.
    let user_of = |name: &str| match name.as_bytes()[0] {
        b'g' => "u2",
        b'o' => "u3",
        b'q' => "u4",
        _ => "u1",
    };
    let rot =
        |old: &'static str, new: &'static str, sealed: &'static str, now: i64, g: Duration| {
            let s = s.clone();
            let (old, new) = (rh(user_of(old), old), rh(user_of(old), new));
            async move {
                s.rotate_refresh(&old, &new, LONG, sealed, now, g)
                    .await
                    .expect("rotate")
            }
        };
    let r1 = refresh("fam", "u1", t + 60); // now + new_ttl
    assert_eq!(
        rot("h0", "h1", "seal1", t, GRACE).await,
        RotateOutcome::Rotated(r1.clone())
    );
    // A second tab within the grace window gets the same successor.
    assert_eq!(
        rot("h0", "h2", "seal2", t + 3, GRACE).await,
        RotateOutcome::Grace {
            record: r1.clone(),
            sealed_successor: "seal1".into()
        }
    );
    assert_eq!(
        rot("h2", "hx", "x", t + 3, GRACE).await,
        RotateOutcome::Invalid,
        "grace stores nothing"
    );
    // The successor is live.
    let r3 = refresh("fam", "u1", t + 4 + 60);
    assert_eq!(
        rot("h1", "h3", "seal3", t + 4, GRACE).await,
        RotateOutcome::Rotated(r3)
    );
    // Reuse after the window revokes the family: session gone, successors dead.
    let reused = RotateOutcome::Reused {
        sid: sid("u1", "fam"),
        user_id: "u1".into(),
    };
    assert_eq!(rot("h0", "h4", "seal4", t + 30, GRACE).await, reused);
    assert_eq!(s.get_session(&sid("u1", "fam")).await.expect("get"), None);
    assert_eq!(s.list_sessions("u1").await.expect("list"), vec![]);
    assert_eq!(
        rot("h3", "h5", "seal5", t + 31, GRACE).await,
        RotateOutcome::Invalid
    );
    assert_eq!(
        rot("h0", "h6", "seal6", t + 40, GRACE).await,
        reused,
        "reuse seen until expiry"
    );
    assert_eq!(
        rot("unknown", "h7", "x", t, GRACE).await,
        RotateOutcome::Invalid
    );

    // Grace 0 turns the window off: the second use is reuse at once.
    s.create_session(&session("nog", "u2", t, t + HOUR), IDLE)
        .await
        .expect("create");
    s.put_refresh(&rh("u2", "g0"), &refresh("nog", "u2", t + HOUR), LONG)
        .await
        .expect("put");
    let zero = Duration::ZERO;
    assert!(matches!(
        rot("g0", "g1", "s", t, zero).await,
        RotateOutcome::Rotated(_)
    ));
    assert_eq!(
        rot("g0", "g2", "s", t, zero).await,
        RotateOutcome::Reused {
            sid: sid("u2", "nog"),
            user_id: "u2".into()
        }
    );

    // Logout ends the family: its refresh token no longer rotates.
    s.create_session(&session("out", "u3", t, t + HOUR), IDLE)
        .await
        .expect("create");
    s.put_refresh(&rh("u3", "o0"), &refresh("out", "u3", t + HOUR), LONG)
        .await
        .expect("put");
    assert!(s.delete_session(&sid("u3", "out")).await.expect("logout"));
    assert_eq!(rot("o0", "o1", "s", t, GRACE).await, RotateOutcome::Invalid);
    // ... and a grace answer needs the session too.
    s.create_session(&session("gr", "u4", t, t + HOUR), IDLE)
        .await
        .expect("create");
    s.put_refresh(&rh("u4", "q0"), &refresh("gr", "u4", t + HOUR), LONG)
        .await
        .expect("put");
    assert!(matches!(
        rot("q0", "q1", "s", t, GRACE).await,
        RotateOutcome::Rotated(_)
    ));
    assert_eq!(s.delete_user_sessions("u4").await.expect("revoke"), 1);
    assert_eq!(
        rot("q0", "q2", "s", t + 1, GRACE).await,
        RotateOutcome::Invalid
    );
}

async fn refresh_expires(s: Arc<dyn Store>) {
    let t = unix_now();
    let short = Duration::from_millis(300);
    s.create_session(&session("fx", "u1", t, t + HOUR), IDLE)
        .await
        .expect("create");
    s.put_refresh(&rh("u1", "e0"), &refresh("fx", "u1", t + HOUR), short)
        .await
        .expect("put");
    s.put_refresh(&rh("u1", "e1"), &refresh("fx", "u1", t + HOUR), LONG)
        .await
        .expect("put");
    let r = s
        .rotate_refresh(&rh("u1", "e1"), &rh("u1", "e2"), short, "s", t, GRACE)
        .await;
    assert!(matches!(r, Ok(RotateOutcome::Rotated(_))), "{r:?}");
    // Nothing can probe a token without rotating it: wait past both TTLs.
    tokio::time::sleep(Duration::from_millis(450)).await;
    for old in ["e0", "e2"] {
        let r = s
            .rotate_refresh(&rh("u1", old), &rh("u1", "n"), LONG, "s", t, GRACE)
            .await;
        assert_eq!(
            r.expect("rotate"),
            RotateOutcome::Invalid,
            "{old} outlived its TTL"
        );
    }
}

async fn concurrent_rotation(s: Arc<dyn Store>) {
    let t = unix_now();
    s.create_session(&session("race", "u1", t, t + HOUR), IDLE)
        .await
        .expect("create");
    s.put_refresh(&rh("u1", "c0"), &refresh("race", "u1", t + HOUR), LONG)
        .await
        .expect("put");
    let mut set = tokio::task::JoinSet::new();
    for i in 0..20 {
        let s = s.clone();
        set.spawn(async move {
            let new = rh("u1", &format!("c-new-{i}"));
            let sealed = format!("sealed-{i}");
            let r = s
                .rotate_refresh(&rh("u1", "c0"), &new, LONG, &sealed, t, GRACE)
                .await;
            (new, sealed, r.expect("rotate"))
        });
    }
    let mut winners = Vec::new();
    let mut graces = Vec::new();
    while let Some(res) = set.join_next().await {
        match res.expect("task") {
            (new, sealed, RotateOutcome::Rotated(rec)) => winners.push((new, sealed, rec)),
            (
                _,
                _,
                RotateOutcome::Grace {
                    record,
                    sealed_successor,
                },
            ) => graces.push((record, sealed_successor)),
            (_, _, other) => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one rotation");
    assert_eq!(graces.len(), 19);
    let (new, sealed, rec) = &winners[0];
    for (r, s) in &graces {
        assert_eq!(
            (r, s),
            (rec, sealed),
            "grace answers the winner's successor"
        );
    }
    // Only the winner's successor was stored.
    let r = s
        .rotate_refresh(new, &rh("u1", "c-next"), LONG, "s", t, GRACE)
        .await;
    assert!(matches!(r, Ok(RotateOutcome::Rotated(_))), "{r:?}");
    let loser = rh(
        "u1",
        if *new == rh("u1", "c-new-0") {
            "c-new-1"
        } else {
            "c-new-0"
        },
    );
    let r = s
        .rotate_refresh(&loser, &rh("u1", "c-x"), LONG, "s", t, GRACE)
        .await;
    assert_eq!(r.expect("rotate"), RotateOutcome::Invalid);
}

async fn gcra_limits(s: Arc<dyn Store>) {
    let rule = GcraRule {
        limit: 3,
        period: Duration::from_secs(1),
        burst: 2,
    };
    for want_remaining in (0..5).rev() {
        let d = s.rate_limit("ip:1", &rule).await.expect("limit");
        assert!(d.allowed, "within limit + burst");
        assert_eq!(
            (d.info.limit, d.info.remaining, d.info.retry_after),
            (5, want_remaining, 0)
        );
    }
    let refused = s.rate_limit("ip:1", &rule).await.expect("limit");
    assert!(!refused.allowed, "limit + burst + 1 refused");
    assert_eq!((refused.info.remaining, refused.info.retry_after), (0, 1));
    assert!((1..=2).contains(&refused.info.reset), "{:?}", refused.info);
    assert!(
        s.rate_limit("ip:2", &rule).await.expect("limit").allowed,
        "keys are separate"
    );
    // One interval (1/3 s) later one more passes.
    let t0 = Instant::now();
    eventually(Duration::from_secs(2), "refill of one unit", || async {
        s.rate_limit("ip:1", &rule).await.expect("limit").allowed
    })
    .await;
    assert!(
        t0.elapsed() >= Duration::from_millis(200),
        "refilled too soon: {:?}",
        t0.elapsed()
    );

    // burst 0: after `period` of silence the whole budget is back.
    let rule = GcraRule {
        limit: 2,
        period: Duration::from_millis(600),
        burst: 0,
    };
    for _ in 0..2 {
        assert!(s.rate_limit("user:a", &rule).await.expect("limit").allowed);
    }
    assert!(!s.rate_limit("user:a", &rule).await.expect("limit").allowed);
    tokio::time::sleep(Duration::from_millis(650)).await;
    let d = s.rate_limit("user:a", &rule).await.expect("limit");
    assert!(d.allowed && d.info.remaining == 1, "{d:?}");
    assert!(s.rate_limit("user:a", &rule).await.expect("limit").allowed);
    assert!(!s.rate_limit("user:a", &rule).await.expect("limit").allowed);
}

async fn login_failures(s: Arc<dyn Store>) {
    assert_eq!(s.login_failures("alice").await.expect("get"), 0);
    for n in 1..=3 {
        assert_eq!(
            s.record_login_failure("alice", LONG).await.expect("record"),
            n
        );
    }
    assert_eq!(s.login_failures("alice").await.expect("get"), 3);
    assert_eq!(s.login_failures("bob").await.expect("get"), 0);
    let left = s.login_failures_left("alice").await.expect("left");
    assert!(
        left.is_some_and(|d| d <= LONG && d > LONG - Duration::from_secs(5)),
        "{left:?}"
    );
    assert_eq!(s.login_failures_left("bob").await.expect("left"), None);
    s.clear_login_failures("alice").await.expect("clear");
    assert_eq!(s.login_failures_left("alice").await.expect("left"), None);
    assert_eq!(s.login_failures("alice").await.expect("get"), 0);
    s.clear_login_failures("alice").await.expect("clear twice");
    assert_eq!(
        s.record_login_failure("alice", LONG).await.expect("record"),
        1
    );

    // The window restarts at every failure.
    let window = Duration::from_millis(600);
    let t0 = Instant::now();
    assert_eq!(
        s.record_login_failure("carol", window)
            .await
            .expect("record"),
        1
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    let t1 = Instant::now();
    assert_eq!(
        s.record_login_failure("carol", window)
            .await
            .expect("record"),
        2
    );
    tokio::time::sleep_until((t0 + Duration::from_millis(750)).into()).await;
    assert_eq!(
        s.login_failures("carol").await.expect("get"),
        2,
        "window restarted"
    );
    eventually(Duration::from_secs(2), "failures to expire", || async {
        s.login_failures("carol").await.expect("get") == 0
    })
    .await;
    assert!(t1.elapsed() >= Duration::from_millis(550), "expired early");
}

fn api_key(name: &str, roles: &[&str], created: i64, expires_at: Option<i64>) -> ApiKeyRecord {
    ApiKeyRecord {
        name: name.into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        created,
        last_used: None,
        expires_at,
    }
}

async fn api_keys(s: Arc<dyn Store>) {
    let t = unix_now();
    let ci = api_key("ci", &["service"], t, None);
    assert!(s.create_api_key("h-ci", &ci).await.expect("create"));
    assert!(
        !s.create_api_key("h-other", &api_key("ci", &[], t, None))
            .await
            .expect("create"),
        "names are unique"
    );
    assert_eq!(
        s.use_api_key("h-other", t, LONG).await.expect("use"),
        None,
        "a refused create wrote nothing"
    );
    let bot = api_key("bot", &["a", "b"], t, None);
    assert!(s.create_api_key("h-bot", &bot).await.expect("create"));

    // First use records last_used; within `touch_every` it is not rewritten.
    let used = s.use_api_key("h-ci", t + 5, LONG).await.expect("use");
    assert_eq!(
        used,
        Some(ApiKeyRecord {
            last_used: Some(t + 5),
            ..ci.clone()
        })
    );
    let again = s.use_api_key("h-ci", t + 30, LONG).await.expect("use");
    assert_eq!(again.and_then(|r| r.last_used), Some(t + 5), "throttled");
    let later = s.use_api_key("h-ci", t + 65, LONG).await.expect("use");
    assert_eq!(
        later.and_then(|r| r.last_used),
        Some(t + 65),
        "written again after a minute"
    );
    assert_eq!(s.use_api_key("h-none", t, LONG).await.expect("use"), None);

    let list = s.list_api_keys().await.expect("list");
    assert_eq!(
        list,
        vec![
            bot.clone(),
            ApiKeyRecord {
                last_used: Some(t + 65),
                ..ci.clone()
            }
        ],
        "by name, with last_used"
    );

    assert!(s.revoke_api_key("ci").await.expect("revoke"));
    assert!(!s.revoke_api_key("ci").await.expect("revoke twice"));
    assert!(!s.revoke_api_key("nobody").await.expect("revoke unknown"));
    assert_eq!(
        s.use_api_key("h-ci", t + 70, LONG).await.expect("use"),
        None
    );
    assert_eq!(s.list_api_keys().await.expect("list"), vec![bot]);
    // A revoked name can be used again, with a new key.
    assert!(s.create_api_key("h-ci2", &ci).await.expect("recreate"));
    assert!(s
        .use_api_key("h-ci2", t, LONG)
        .await
        .expect("use")
        .is_some());
    assert_eq!(s.use_api_key("h-ci", t, LONG).await.expect("use"), None);
}

async fn api_key_expiry(s: Arc<dyn Store>) {
    let t = unix_now();
    let short = api_key("short", &["x"], t, Some(t + 1));
    assert!(s.create_api_key("h-short", &short).await.expect("create"));
    assert!(s
        .use_api_key("h-short", t, LONG)
        .await
        .expect("use")
        .is_some());
    eventually(Duration::from_secs(3), "key to expire", || async {
        s.use_api_key("h-short", unix_now(), LONG)
            .await
            .expect("use")
            .is_none()
    })
    .await;
    eventually(
        Duration::from_secs(2),
        "expired key to leave the list",
        || async { s.list_api_keys().await.expect("list").is_empty() },
    )
    .await;
    assert!(
        s.create_api_key("h-short2", &api_key("short", &[], t, None))
            .await
            .expect("create"),
        "an expired key's name is free"
    );
}

async fn user_locks(s: Arc<dyn Store>) {
    let t = unix_now();
    for (sid, user) in [("l1", "u1"), ("l2", "u1"), ("l3", "u2")] {
        s.create_session(&session(sid, user, t, t + HOUR), IDLE)
            .await
            .expect("create");
    }
    assert!(!s.user_locked("u1").await.expect("locked?"));
    assert_eq!(s.lock_user("u1").await.expect("lock"), 2, "sessions ended");
    assert!(s.user_locked("u1").await.expect("locked?"));
    assert_eq!(s.get_session(&sid("u1", "l1")).await.expect("get"), None);
    assert_eq!(s.list_sessions("u1").await.expect("list"), vec![]);
    assert!(
        s.get_session(&sid("u2", "l3"))
            .await
            .expect("get")
            .is_some(),
        "other users untouched"
    );
    assert!(!s.user_locked("u2").await.expect("locked?"));
    assert_eq!(s.lock_user("u1").await.expect("lock again"), 0);
    assert!(s.unlock_user("u1").await.expect("unlock"));
    assert!(!s.unlock_user("u1").await.expect("unlock again"));
    assert!(!s.user_locked("u1").await.expect("locked?"));
}

async fn totp_records(s: Arc<dyn Store>) {
    let ttl = LONG;
    assert_eq!(s.get_totp("u1").await.expect("get"), None);
    assert!(s.begin_totp("u1", "SECRET1", ttl).await.expect("begin"));
    assert!(s
        .begin_totp("u1", "SECRET2", ttl)
        .await
        .expect("begin again replaces"));
    let pending = TotpRecord {
        secret: "SECRET2".into(),
        active: false,
        last_step: 0,
        backup_codes_left: 0,
    };
    assert_eq!(s.get_totp("u1").await.expect("get"), Some(pending));
    assert!(
        !s.use_totp_step("u1", 5).await.expect("step"),
        "pending takes no codes"
    );
    let hashes: Vec<String> = (0..3).map(|i| format!("bk{i}")).collect();
    assert!(
        !s.activate_totp("u1", "SECRET1", 100, &hashes)
            .await
            .expect("activate"),
        "only the secret pending now"
    );
    assert!(!s
        .activate_totp("u2", "SECRET2", 100, &hashes)
        .await
        .expect("activate"));
    assert!(s
        .activate_totp("u1", "SECRET2", 100, &hashes)
        .await
        .expect("activate"));
    assert!(!s
        .activate_totp("u1", "SECRET2", 100, &hashes)
        .await
        .expect("activate twice"));
    let active = TotpRecord {
        secret: "SECRET2".into(),
        active: true,
        last_step: 100,
        backup_codes_left: 3,
    };
    assert_eq!(s.get_totp("u1").await.expect("get"), Some(active.clone()));
    assert!(
        !s.begin_totp("u1", "SECRET3", ttl).await.expect("begin"),
        "active is kept"
    );
    assert_eq!(s.get_totp("u1").await.expect("get"), Some(active));

    assert!(
        !s.use_totp_step("u1", 100).await.expect("step"),
        "the confirming step is used"
    );
    assert!(!s.use_totp_step("u1", 99).await.expect("step"));
    assert!(s.use_totp_step("u1", 101).await.expect("step"));
    assert!(
        !s.use_totp_step("u1", 101).await.expect("step"),
        "each code once"
    );
    assert!(s.use_totp_step("u1", 103).await.expect("step"));
    assert!(!s.use_totp_step("u1", 102).await.expect("step"));
    assert!(!s.use_totp_step("u2", 500).await.expect("step"));

    assert!(s.use_backup_code("u1", "bk1").await.expect("backup"));
    assert!(
        !s.use_backup_code("u1", "bk1").await.expect("backup"),
        "each backup code once"
    );
    assert!(!s.use_backup_code("u1", "nope").await.expect("backup"));
    assert!(!s.use_backup_code("u2", "bk0").await.expect("backup"));
    let left = s
        .get_totp("u1")
        .await
        .expect("get")
        .map(|r| (r.last_step, r.backup_codes_left));
    assert_eq!(left, Some((103, 2)));

    assert!(s.delete_totp("u1").await.expect("delete"));
    assert!(!s.delete_totp("u1").await.expect("delete twice"));
    assert_eq!(s.get_totp("u1").await.expect("get"), None);
    assert!(!s.use_backup_code("u1", "bk0").await.expect("backup"));
    assert!(s
        .begin_totp("u1", "SECRET4", ttl)
        .await
        .expect("enrol again after reset"));
}

async fn totp_pending_lapses(s: Arc<dyn Store>) {
    let ttl = Duration::from_millis(300);
    assert!(s.begin_totp("u1", "S", ttl).await.expect("begin"));
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(s.get_totp("u1").await.expect("get"), None);
    assert!(
        !s.activate_totp("u1", "S", 1, &[]).await.expect("activate"),
        "lapsed"
    );
    // An active one does not lapse.
    assert!(s.begin_totp("u2", "S", ttl).await.expect("begin"));
    assert!(s.activate_totp("u2", "S", 1, &[]).await.expect("activate"));
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert!(s
        .get_totp("u2")
        .await
        .expect("get")
        .is_some_and(|r| r.active));
}

async fn totp_concurrent_use(s: Arc<dyn Store>) {
    assert!(s.begin_totp("u1", "S", LONG).await.expect("begin"));
    let hashes = vec!["only".to_string()];
    assert!(s
        .activate_totp("u1", "S", 10, &hashes)
        .await
        .expect("activate"));
    let mut set = tokio::task::JoinSet::new();
    for i in 0..20 {
        let s = s.clone();
        set.spawn(async move {
            if i % 2 == 0 {
                s.use_totp_step("u1", 11).await.expect("step")
            } else {
                s.use_backup_code("u1", "only").await.expect("backup")
            }
        });
    }
    let mut wins = 0;
    while let Some(r) = set.join_next().await {
        wins += usize::from(r.expect("task"));
    }
    assert_eq!(
        wins, 2,
        "one step use and one backup use, whatever the interleaving"
    );
}

async fn oidc_pending_logins(s: Arc<dyn Store>) {
    s.put_pending_login("st1", "rec-1", LONG)
        .await
        .expect("put");
    s.put_pending_login("st2", "rec-2", Duration::from_millis(300))
        .await
        .expect("put");
    assert_eq!(s.take_pending_login("nope").await.expect("take"), None);
    assert_eq!(
        s.take_pending_login("st1").await.expect("take"),
        Some("rec-1".to_owned())
    );
    assert_eq!(
        s.take_pending_login("st1").await.expect("take again"),
        None,
        "a state is good for one callback only"
    );
    eventually(Duration::from_secs(3), "pending login to lapse", || async {
        s.take_pending_login("st2").await.expect("take").is_none()
    })
    .await;
}

async fn oidc_first_use(s: Arc<dyn Store>) {
    assert!(s.first_use("jti-1", LONG).await.expect("first"));
    assert!(!s.first_use("jti-1", LONG).await.expect("again"));
    assert!(s.first_use("jti-2", LONG).await.expect("other"));
    assert!(s
        .first_use("short", Duration::from_millis(300))
        .await
        .expect("first"));
    eventually(Duration::from_secs(3), "marker to lapse", || async {
        s.first_use("short", LONG).await.expect("after ttl")
    })
    .await;
}

async fn oidc_provider_index(s: Arc<dyn Store>) {
    let sid = ProviderKey::Sid("op-sid");
    let sub = ProviderKey::Sub("alice");
    s.index_provider_session("corp", sid, "g1", "corp:alice", LONG)
        .await
        .expect("index");
    s.index_provider_session("corp", sid, "g2", "corp:alice", LONG)
        .await
        .expect("index");
    s.index_provider_session("corp", sub, "g1", "corp:alice", LONG)
        .await
        .expect("index");
    s.index_provider_session("other", sid, "g3", "other:x", LONG)
        .await
        .expect("index");
    let mut got = s.provider_sessions("corp", sid).await.expect("read");
    got.sort();
    assert_eq!(
        got,
        vec![
            ("g1".to_owned(), "corp:alice".to_owned()),
            ("g2".to_owned(), "corp:alice".to_owned())
        ]
    );
    assert_eq!(
        s.provider_sessions("corp", sub).await.expect("read"),
        vec![("g1".to_owned(), "corp:alice".to_owned())]
    );
    assert_eq!(
        s.provider_sessions("corp", ProviderKey::Sub("op-sid"))
            .await
            .expect("sid and sub indexes are apart"),
        vec![]
    );
    assert_eq!(
        s.provider_sessions("other", sid).await.expect("read"),
        vec![("g3".to_owned(), "other:x".to_owned())]
    );
    s.unindex_provider_sessions("corp", sid, &["g1".to_owned(), "nope".to_owned()])
        .await
        .expect("unindex");
    assert_eq!(
        s.provider_sessions("corp", sid).await.expect("read"),
        vec![("g2".to_owned(), "corp:alice".to_owned())]
    );
    s.unindex_provider_sessions("corp", ProviderKey::Sid("absent"), &["x".to_owned()])
        .await
        .expect("unindex on no index");
    s.index_provider_session(
        "corp",
        ProviderKey::Sid("brief"),
        "g9",
        "u",
        Duration::from_millis(300),
    )
    .await
    .expect("index");
    eventually(Duration::from_secs(3), "index to lapse", || async {
        s.provider_sessions("corp", ProviderKey::Sid("brief"))
            .await
            .expect("read")
            .is_empty()
    })
    .await;
}

/// One `#[tokio::test]` per behaviour and backend.
macro_rules! contract_tests {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(std::sync::Arc::new(super::MemoryStore::new())).await;
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let server = super::RedisServer::spawn();
                    super::$case(std::sync::Arc::new(server.store("gh:").await)).await;
                }
            )*
        }
        mod sentinel_master {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let d = super::sentinel::SentinelDeployment::spawn();
                    super::$case(std::sync::Arc::new(d.store("gh:").await)).await;
                }
            )*
        }
        mod cluster {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let d = super::cluster_store::ClusterDeployment::spawn();
                    super::$case(std::sync::Arc::new(d.store("gh:").await)).await;
                }
            )*
        }
    };
}

contract_tests!(
    sessions_crud,
    session_idle_slides,
    session_absolute_never_slides,
    refresh_rotation,
    refresh_expires,
    concurrent_rotation,
    gcra_limits,
    login_failures,
    api_keys,
    api_key_expiry,
    user_locks,
    totp_records,
    totp_pending_lapses,
    totp_concurrent_use,
    oidc_pending_logins,
    oidc_first_use,
    oidc_provider_index,
    self_set_passwords,
    login_history_bounded,
    login_history_lapses,
);

fn login_event(time: i64, result: &str) -> LoginEvent {
    LoginEvent {
        time,
        ip: "192.0.2.7".into(),
        user_agent: "contract/1 <b>".into(),
        result: result.into(),
        provider: "local".into(),
        new_device: result == "ok",
        device: "192.0.2.0/24|contract/".into(),
    }
}

async fn self_set_passwords(s: Arc<dyn Store>) {
    assert_eq!(s.get_password("u1").await.expect("get"), None);
    let rec = PasswordRecord {
        hash: "$argon2id$new".into(),
        replaces: "abc".into(),
    };
    s.set_password("u1", &rec).await.expect("set");
    assert_eq!(s.get_password("u1").await.expect("get"), Some(rec));
    let again = PasswordRecord {
        hash: "$argon2id$newer".into(),
        replaces: "def".into(),
    };
    s.set_password("u1", &again).await.expect("set again");
    assert_eq!(s.get_password("u1").await.expect("get"), Some(again));
    assert_eq!(s.get_password("u2").await.expect("other user"), None);
}

async fn login_history_bounded(s: Arc<dyn Store>) {
    assert_eq!(s.login_history("u1", 50).await.expect("empty"), vec![]);
    for i in 0..60 {
        let result = if i % 2 == 0 { "ok" } else { "failed" };
        s.push_login("u1", &login_event(i, result), 50, LONG)
            .await
            .expect("push");
    }
    s.push_login("u2", &login_event(7, "lockout"), 50, LONG)
        .await
        .expect("push other");
    let all = s.login_history("u1", 100).await.expect("history");
    assert_eq!(all.len(), 50, "bounded to the last 50");
    assert_eq!(all[0], login_event(59, "failed"), "newest first");
    assert_eq!(all[49].time, 10, "the oldest kept");
    let some = s.login_history("u1", 20).await.expect("last 20");
    assert_eq!(some.len(), 20);
    assert_eq!(some[..], all[..20]);
    assert_eq!(
        s.login_history("u2", 50).await.expect("other"),
        vec![login_event(7, "lockout")]
    );
}

async fn login_history_lapses(s: Arc<dyn Store>) {
    s.push_login("u9", &login_event(1, "ok"), 50, Duration::from_millis(300))
        .await
        .expect("push");
    assert_eq!(s.login_history("u9", 5).await.expect("live").len(), 1);
    eventually(Duration::from_secs(5), "history lapses", || {
        let s = s.clone();
        async move { s.login_history("u9", 5).await.expect("read").is_empty() }
    })
    .await;
}

// ---------------------------------------------------------------- redis only

#[tokio::test]
async fn redis_every_key_is_prefixed_and_has_a_ttl() {
    let server = RedisServer::spawn();
    let s: Arc<dyn Store> = Arc::new(server.store("pfx:").await);
    let t = unix_now();
    s.create_session(&session("k1", "u1", t, t + HOUR), IDLE)
        .await
        .expect("create");
    s.touch_session(&sid("u1", "k1"), t, IDLE)
        .await
        .expect("touch");
    s.put_refresh(&rh("u1", "r0"), &refresh("k1", "u1", t + HOUR), LONG)
        .await
        .expect("put");
    s.rotate_refresh(&rh("u1", "r0"), &rh("u1", "r1"), LONG, "s", t, GRACE)
        .await
        .expect("rotate");
    let rule = GcraRule {
        limit: 5,
        period: LONG,
        burst: 0,
    };
    s.rate_limit("ip:9", &rule).await.expect("limit");
    s.record_login_failure("dave", LONG).await.expect("record");
    s.put_pending_login("st", "rec", LONG)
        .await
        .expect("pending");
    s.first_use("jti", LONG).await.expect("once");
    s.index_provider_session("corp", ProviderKey::Sid("x"), "k1", "u1", LONG)
        .await
        .expect("index");
    s.push_login("u1", &login_event(t, "ok"), 50, LONG)
        .await
        .expect("history");

    let client = ::redis::Client::open(server.url()).expect("client");
    let mut c = client
        .get_multiplexed_async_connection()
        .await
        .expect("conn");
    let keys: Vec<String> = ::redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut c)
        .await
        .expect("keys");
    // The kind follows the prefix, after the slot tag where there is one,
    // and user u1's records all carry u1's tag.
    let u1 = format!("{{{}}}:", slot::user_tag("u1"));
    let mut kinds: Vec<&str> = keys
        .iter()
        .map(|k| {
            let rest = k.strip_prefix("pfx:").expect("prefixed");
            let rest = rest.strip_prefix(u1.as_str()).unwrap_or(rest);
            rest.split(':').next().unwrap_or("")
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        ["lf", "lh", "ol", "once", "ps", "r", "r", "rl", "s", "u"],
        "{keys:?}"
    );
    for k in &keys {
        let ttl: i64 = ::redis::cmd("PTTL")
            .arg(k)
            .query_async(&mut c)
            .await
            .expect("pttl");
        assert!(ttl > 0, "{k} has no TTL ({ttl})");
    }
    // The session TTL is the idle timeout, the index TTL the absolute one.
    let ttl: i64 = ::redis::cmd("PTTL")
        .arg(format!("pfx:{u1}s:{}", sid("u1", "k1")))
        .query_async(&mut c)
        .await
        .expect("pttl");
    assert!(ttl <= 60_000 && ttl > 50_000, "{ttl}");
    let ttl: i64 = ::redis::cmd("PTTL")
        .arg(format!("pfx:{u1}u:u1"))
        .query_async(&mut c)
        .await
        .expect("pttl");
    assert!(ttl > 3_000_000, "{ttl}");
}

/// The long-lived records: prefixed, no TTL (API keys without one, locks,
/// active TOTP); a pending enrolment and an expiring key have one.
#[tokio::test]
async fn redis_long_lived_records_have_no_ttl() {
    let server = RedisServer::spawn();
    let s: Arc<dyn Store> = Arc::new(server.store("pfx:").await);
    let t = unix_now();
    s.create_api_key("hk", &api_key("ci", &["x"], t, None))
        .await
        .expect("create");
    s.create_api_key("hk2", &api_key("tmp", &["x"], t, Some(t + 3600)))
        .await
        .expect("create");
    s.use_api_key("hk", t, LONG).await.expect("use");
    s.lock_user("u1").await.expect("lock");
    s.begin_totp("u1", "S", LONG).await.expect("begin");
    s.begin_totp("u2", "S", LONG).await.expect("begin");
    s.activate_totp("u2", "S", 1, &["b".to_string()])
        .await
        .expect("activate");
    let pw = PasswordRecord {
        hash: "h".into(),
        replaces: "r".into(),
    };
    s.set_password("u1", &pw).await.expect("password");

    let client = ::redis::Client::open(server.url()).expect("client");
    let mut c = client
        .get_multiplexed_async_connection()
        .await
        .expect("conn");
    let mut keys: Vec<String> = ::redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut c)
        .await
        .expect("keys");
    keys.sort();
    let (t1, t2) = (slot::user_tag("u1"), slot::user_tag("u2"));
    let lock1 = format!("pfx:{{{t1}}}:lock:u1");
    let totp1 = format!("pfx:{{{t1}}}:totp:u1");
    let totp2 = format!("pfx:{{{t2}}}:totp:u2");
    let pw1 = format!("pfx:{{{t1}}}:pw:u1");
    let mut want = vec![
        "pfx:{ak}:ak:hk".to_string(),
        "pfx:{ak}:ak:hk2".to_string(),
        "pfx:{ak}:akn".to_string(),
        lock1.clone(),
        pw1.clone(),
        totp1.clone(),
        totp2.clone(),
    ];
    want.sort();
    assert_eq!(keys, want);
    for (key, has_ttl) in [
        ("pfx:{ak}:ak:hk", false),
        ("pfx:{ak}:ak:hk2", true),
        ("pfx:{ak}:akn", false),
        (lock1.as_str(), false),
        (pw1.as_str(), false),
        (totp1.as_str(), true),
        (totp2.as_str(), false),
    ] {
        let ttl: i64 = ::redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut c)
            .await
            .expect("pttl");
        assert_eq!(ttl > 0, has_ttl, "{key}: pttl {ttl}");
        if !has_ttl {
            assert_eq!(ttl, -1, "{key} exists without TTL");
        }
    }
    // Only hashes of keys and backup codes are stored.
    let fields: Vec<String> = ::redis::cmd("HKEYS")
        .arg(&totp2)
        .query_async(&mut c)
        .await
        .expect("hkeys");
    assert!(fields.contains(&"bk:b".to_string()), "{fields:?}");
}

#[tokio::test]
async fn redis_down_fails_fast_and_recovers_on_restart() {
    let mut server = RedisServer::spawn();
    let s = server.store("gh:").await;
    s.ping().await.expect("ping");
    server.kill();
    for _ in 0..3 {
        let t0 = Instant::now();
        assert!(s.ping().await.is_err(), "ping with redis down");
        assert!(s.get_session("x").await.is_err(), "get with redis down");
        assert!(
            t0.elapsed() < 2 * TIMEOUT + Duration::from_millis(200),
            "{:?}",
            t0.elapsed()
        );
    }
    server.restart();
    eventually(
        Duration::from_secs(5),
        "reconnect after restart",
        || async { s.ping().await.is_ok() },
    )
    .await;
    let t = unix_now();
    s.create_session(&session("back", "u1", t, t + HOUR), IDLE)
        .await
        .expect("create");
    assert!(s
        .get_session(&sid("u1", "back"))
        .await
        .expect("get")
        .is_some());
    // Scripts were flushed with the old process: EVALSHA must reload them.
    let rule = GcraRule {
        limit: 1,
        period: LONG,
        burst: 0,
    };
    assert!(s.rate_limit("k", &rule).await.expect("limit").allowed);
}

#[tokio::test]
async fn redis_absent_at_start_then_comes_up() {
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}/");
    let s = RedisStore::connect(&url, "gh:", TIMEOUT, Duration::ZERO)
        .await
        .expect("connect without redis");
    let t0 = Instant::now();
    assert!(s.ping().await.is_err());
    assert!(
        t0.elapsed() < TIMEOUT + Duration::from_millis(200),
        "{:?}",
        t0.elapsed()
    );
    let _server = RedisServer::spawn_on(port);
    eventually(Duration::from_secs(5), "first connection", || async {
        s.ping().await.is_ok()
    })
    .await;
}

#[tokio::test]
async fn redis_stalled_times_out() {
    // Accepts connections, never answers: the worst kind of dead Redis.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let _hold = std::thread::spawn(move || {
        let mut conns = Vec::new();
        for c in listener.incoming().take(8) {
            conns.push(c);
        }
        std::thread::sleep(Duration::from_secs(5));
    });
    let s = RedisStore::connect(
        &format!("redis://127.0.0.1:{port}/"),
        "gh:",
        TIMEOUT,
        Duration::ZERO,
    )
    .await
    .expect("connect");
    for _ in 0..2 {
        let t0 = Instant::now();
        let r = s.touch_session("x", unix_now(), IDLE).await;
        assert!(
            matches!(r, Err(StoreError::Timeout | StoreError::Unavailable(_))),
            "{r:?}"
        );
        assert!(
            t0.elapsed() < TIMEOUT + Duration::from_millis(200),
            "{:?}",
            t0.elapsed()
        );
    }
}

#[tokio::test]
async fn bad_url_is_refused() {
    assert!(
        RedisStore::connect("not a url", "gh:", TIMEOUT, Duration::ZERO)
            .await
            .is_err()
    );
}

/// `[store] local_cache`: a gateway's cached session dies at once when it
/// logs the session out itself, and within pub/sub delivery time when
/// another gateway (or the admin CLI) ends it.
#[tokio::test]
async fn redis_local_cache_is_invalidated_across_stores() {
    let server = RedisServer::spawn();
    let cached = RedisStore::connect(&server.url(), "gh:", TIMEOUT, Duration::from_secs(5))
        .await
        .expect("connect");
    let other = server.store("gh:").await;
    let now = unix_now();
    for sid in ["a1", "a2", "a3", "b1"] {
        let user = if sid.starts_with('a') { "alice" } else { "bob" };
        other
            .create_session(&session(sid, user, now, now + HOUR), IDLE)
            .await
            .expect("create");
    }
    // Wait for the subscription, then fill the cache.
    eventually(Duration::from_secs(5), "a cached hit", || async {
        let found = cached
            .touch_session(&sid("alice", "a1"), now, IDLE)
            .await
            .expect("touch")
            .is_some();
        found
            && cached
                .cache
                .as_ref()
                .is_some_and(|c| c.get(&sid("alice", "a1"), now).is_some())
    })
    .await;
    for (user, name) in [("alice", "a2"), ("alice", "a3"), ("bob", "b1")] {
        assert!(cached
            .touch_session(&sid(user, name), now, IDLE)
            .await
            .expect("touch")
            .is_some());
    }
    // Another store ends one session: the cached copy goes.
    assert!(other
        .delete_session(&sid("alice", "a1"))
        .await
        .expect("delete"));
    eventually(
        Duration::from_secs(2),
        "a1 refused after another store's logout",
        || async {
            cached
                .touch_session(&sid("alice", "a1"), now, IDLE)
                .await
                .expect("touch")
                .is_none()
        },
    )
    .await;
    // All of a user's sessions, from elsewhere.
    other
        .delete_user_sessions("alice")
        .await
        .expect("delete all");
    eventually(
        Duration::from_secs(2),
        "alice's sessions refused",
        || async {
            cached
                .touch_session(&sid("alice", "a2"), now, IDLE)
                .await
                .expect("touch")
                .is_none()
                && cached
                    .touch_session(&sid("alice", "a3"), now, IDLE)
                    .await
                    .expect("touch")
                    .is_none()
        },
    )
    .await;
    // Its own logout takes effect before the call returns.
    assert!(cached
        .touch_session(&sid("bob", "b1"), now, IDLE)
        .await
        .expect("touch")
        .is_some());
    assert!(cached
        .delete_session(&sid("bob", "b1"))
        .await
        .expect("delete"));
    assert!(cached
        .touch_session(&sid("bob", "b1"), now, IDLE)
        .await
        .expect("touch")
        .is_none());
}
