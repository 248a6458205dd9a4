//! Reload reaches live sessions (issue 10, point 5; SPEC §3, §5): after a
//! SIGHUP, the users file in force describes every request, whatever the
//! session was given at login. A demoted user's existing cookie and bearer
//! lose admin at once and `/auth/me` shows the new roles; a promoted one
//! gains them; a new email reaches `X-Auth-Email`; a disabled, removed or
//! re-identified user's cookie, bearer and refresh token are refused, and
//! re-enabling the user does not revive them; `/auth/refresh` mints tokens
//! with the current roles and email. A users file that does not load
//! changes nothing. Tokens of a trusted external issuer follow a reload of
//! its claim mapping and of `[roles]`, and stop working when it is removed.
//!
//! Reload is asynchronous: every SIGHUP that should apply is followed by a
//! poll (to a deadline) until a marker in the same file change, dave's
//! email, shows upstream.

mod common;

use std::time::{Duration, Instant};

use common::http::{bearer_get, cookie_get, plain_client, refresh_with_token};
use common::idp::{self, Idp};
use common::users::{default_users, render_users};
use common::{jwt, login, Login, Reply, Rig, StoreKind, TestUser, DAVE_PW};
use common::{ALICE_PW, BOB_PW};
use reqwest::Client;
use serde_json::Value;

/// A rig, a client, and dave logged in to watch for reloads.
struct Reloading {
    rig: Rig,
    c: Client,
    dave: Login,
    generation: usize,
}

impl Reloading {
    async fn start(store: StoreKind) -> Reloading {
        let rig = Rig::start(store).await;
        let c = plain_client(None);
        let dave = login(&c, &rig.base(), "dave", DAVE_PW).await;
        Reloading {
            rig,
            c,
            dave,
            generation: 0,
        }
    }

    async fn login(&self, user: &str, pw: &str) -> Login {
        login(&self.c, &self.rig.base(), user, pw).await
    }

    /// Write `users` (dave's email marked with a new generation), SIGHUP,
    /// and wait until the gateway serves that generation.
    async fn reload(&mut self, mut users: Vec<TestUser>) {
        self.generation += 1;
        let marker = format!("dave+g{}@example.com", self.generation);
        for u in users.iter_mut().filter(|u| u.username == "dave") {
            u.email = marker.clone();
        }
        self.write_and_hup(&render_users(&users));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let r = bearer_get(&self.c, &self.rig.url("/api/x"), &self.dave.access_token).await;
            if r.status == 200 && r.echo().one("x-auth-email") == Some(marker.as_str()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "reload {} not applied: {}",
                self.generation,
                r.body
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn write_and_hup(&self, users_toml: &str) {
        std::fs::write(self.rig.gw.dir().join("users.toml"), users_toml).expect("users.toml");
        self.rig.gw.signal("HUP");
    }

    async fn cookie(&self, path: &str, l: &Login) -> Reply {
        cookie_get(&self.c, &self.rig.url(path), &l.cookie).await
    }

    async fn bearer(&self, path: &str, l: &Login) -> Reply {
        bearer_get(&self.c, &self.rig.url(path), &l.access_token).await
    }

    async fn refresh(&self, l: &Login) -> Reply {
        refresh_with_token(&self.c, &self.rig.base(), &l.refresh_token).await
    }

    /// `/auth/me` by cookie and by bearer agree; returns it.
    async fn me(&self, l: &Login) -> Value {
        let by_cookie = self.cookie("/auth/me", l).await;
        let by_bearer = self.bearer("/auth/me", l).await;
        assert_eq!(by_cookie.status, 200, "{}", by_cookie.body);
        assert_eq!(by_bearer.status, 200, "{}", by_bearer.body);
        let (a, b) = (by_cookie.json(), by_bearer.json());
        assert_eq!((&a["roles"], &a["email"]), (&b["roles"], &b["email"]));
        a
    }
}

/// The default users with `f` applied to the one named `name`.
fn users_with(name: &str, f: impl Fn(&mut TestUser)) -> Vec<TestUser> {
    let mut users = default_users();
    users.iter_mut().filter(|u| u.username == name).for_each(f);
    users
}

fn roles(v: &Value) -> Vec<String> {
    let mut r: Vec<String> = v
        .as_array()
        .expect("roles array")
        .iter()
        .map(|r| r.as_str().expect("role").to_string())
        .collect();
    r.sort();
    r
}

/// Demote alice (admin -> user), then promote bob (user -> admin): the
/// existing cookie and bearer follow at once, on every store; refresh mints
/// the current roles.
async fn demote_and_promote(store: StoreKind) {
    let mut t = Reloading::start(store).await;
    let alice = t.login("alice", ALICE_PW).await;
    let bob = t.login("bob", BOB_PW).await;
    // Positive control before the reload.
    assert_eq!(t.cookie("/admin/x", &alice).await.status, 200);
    assert_eq!(t.bearer("/admin/x", &alice).await.status, 200);
    assert_eq!(roles(&t.me(&alice).await["roles"]), ["admin"]);
    t.bearer("/admin/x", &bob)
        .await
        .assert_error(403, "forbidden");

    t.reload(users_with("alice", |u| u.roles = vec!["user".into()]))
        .await;
    t.cookie("/admin/x", &alice)
        .await
        .assert_error(403, "forbidden");
    t.bearer("/admin/x", &alice)
        .await
        .assert_error(403, "forbidden");
    assert_eq!(roles(&t.me(&alice).await["roles"]), ["user"]);
    let e = t.bearer("/api/x", &alice).await.echo();
    assert_eq!(
        e.roles("x-auth-roles"),
        ["user"],
        "the upstream sees the new roles"
    );
    let r = t.refresh(&alice).await;
    let fresh = Login::from_reply(&r);
    assert_eq!(roles(&jwt::claims(&fresh.access_token)["roles"]), ["user"]);
    t.bearer("/admin/x", &fresh)
        .await
        .assert_error(403, "forbidden");

    t.reload(users_with("bob", |u| u.roles = vec!["admin".into()]))
        .await;
    assert_eq!(t.cookie("/admin/x", &bob).await.status, 200);
    let e = t.bearer("/admin/x", &bob).await.echo();
    assert_eq!(e.roles("x-auth-roles"), ["admin"]);
    assert_eq!(roles(&t.me(&bob).await["roles"]), ["admin"]);
    let fresh = Login::from_reply(&t.refresh(&bob).await);
    assert_eq!(roles(&jwt::claims(&fresh.access_token)["roles"]), ["admin"]);
    // The same file restored alice as admin too.
    assert_eq!(t.cookie("/admin/x", &alice).await.status, 200);
}

#[tokio::test]
async fn reload_demotes_and_promotes_live_sessions_memory() {
    demote_and_promote(StoreKind::Memory).await;
}

#[tokio::test]
async fn reload_demotes_and_promotes_live_sessions_redis() {
    demote_and_promote(StoreKind::Redis).await;
}

/// Cookie, bearer and refresh of `l` are all refused (401).
async fn all_refused(t: &Reloading, l: &Login, what: &str) {
    for r in [
        t.cookie("/app/x", l).await,
        t.bearer("/app/x", l).await,
        t.cookie("/auth/me", l).await,
        t.refresh(l).await,
    ] {
        assert_eq!(r.status, 401, "{what}: {}", r.body);
        r.assert_error(401, "unauthorized");
    }
}

// Disabled, removed, or given another id: the user's cookie, bearer and
// refresh token are refused at once, and bringing the user back does not
// revive them (a new login works).
#[tokio::test]
async fn reload_ends_sessions_of_users_it_locks_out() {
    let mut t = Reloading::start(StoreKind::Memory).await;
    let cases: Vec<(&str, Vec<TestUser>)> = vec![
        ("disabled", users_with("bob", |u| u.disabled = true)),
        (
            "removed",
            default_users()
                .into_iter()
                .filter(|u| u.username != "bob")
                .collect(),
        ),
        (
            "id changed",
            users_with("bob", |u| u.id = Some("u-bob-2".into())),
        ),
    ];
    for (what, users) in cases {
        let bob = t.login("bob", BOB_PW).await;
        // A second session whose first use after the reload is a refresh:
        // refresh's own check of the user, not a session ended before.
        let bob_refresh_only = t.login("bob", BOB_PW).await;
        // Positive control: every credential works before the reload.
        assert_eq!(t.cookie("/app/x", &bob).await.status, 200, "{what}");
        assert_eq!(t.bearer("/app/x", &bob).await.status, 200, "{what}");
        t.reload(users).await;
        let hits = t.rig.echo.hits();
        t.refresh(&bob_refresh_only)
            .await
            .assert_error(401, "unauthorized");
        all_refused(&t, &bob, what).await;
        assert_eq!(
            t.rig.echo.hits(),
            hits,
            "{what}: refused requests reached the upstream"
        );

        // Back as before: the old credentials stay dead, a new login works.
        t.reload(default_users()).await;
        all_refused(&t, &bob, &format!("{what}, then restored")).await;
        all_refused(&t, &bob_refresh_only, &format!("{what}, then restored")).await;
        let again = t.login("bob", BOB_PW).await;
        assert_eq!(t.bearer("/app/x", &again).await.status, 200, "{what}");
        assert_eq!(t.refresh(&again).await.status, 200, "{what}");
    }
}

// A new email reaches X-Auth-Email, /auth/me and refreshed tokens at once.
#[tokio::test]
async fn reload_changes_the_forwarded_email() {
    let mut t = Reloading::start(StoreKind::Memory).await;
    let bob = t.login("bob", BOB_PW).await;
    let before = t.cookie("/app/x", &bob).await.echo();
    assert_eq!(before.one("x-auth-email"), Some("bob@example.com"));

    t.reload(users_with("bob", |u| u.email = "robert@example.org".into()))
        .await;
    for r in [
        t.cookie("/app/x", &bob).await,
        t.bearer("/app/x", &bob).await,
    ] {
        assert_eq!(r.echo().one("x-auth-email"), Some("robert@example.org"));
    }
    assert_eq!(t.me(&bob).await["email"], "robert@example.org");
    let fresh = Login::from_reply(&t.refresh(&bob).await);
    assert_eq!(
        jwt::claims(&fresh.access_token)["email"],
        "robert@example.org"
    );
}

// A users file that does not load is refused whole and logged: roles,
// emails and sessions stay as they were.
#[tokio::test]
async fn broken_users_file_changes_nothing() {
    let mut t = Reloading::start(StoreKind::Memory).await;
    let alice = t.login("alice", ALICE_PW).await;
    let bob = t.login("bob", BOB_PW).await;
    let mut bob_refresh = bob.refresh_token.clone();
    t.reload(default_users()).await;
    let marker = format!("dave+g{}@example.com", t.generation);

    let demote_alice_disable_bob = render_users(&demote_alice_disable_bob_users());
    let broken: Vec<(&str, String)> = vec![
        (
            "unknown role",
            demote_alice_disable_bob.replace("roles = [\"editor\"", "roles = [\"nosuchrole\""),
        ),
        (
            "syntax error",
            format!("{demote_alice_disable_bob}\n[[users]\n"),
        ),
        (
            "duplicate username",
            format!(
                "{demote_alice_disable_bob}{}",
                render_users(&[TestUser::new("Alice", "x", &["user"])])
            ),
        ),
        (
            "not argon2id",
            demote_alice_disable_bob.replace("$argon2id$", "$argon2i$"),
        ),
    ];
    for (what, text) in broken {
        assert_ne!(
            text, demote_alice_disable_bob,
            "{what}: the file must be broken"
        );
        let failures = t.rig.gw.stderr_log().matches("reload_failed").count();
        t.write_and_hup(&text);
        let deadline = Instant::now() + Duration::from_secs(10);
        while t.rig.gw.stderr_log().matches("reload_failed").count() == failures {
            assert!(Instant::now() < deadline, "{what}: no reload_failed logged");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(t.cookie("/admin/x", &alice).await.status, 200, "{what}");
        assert_eq!(t.bearer("/admin/x", &alice).await.status, 200, "{what}");
        assert_eq!(t.bearer("/app/x", &bob).await.status, 200, "{what}");
        let r = refresh_with_token(&t.c, &t.rig.base(), &bob_refresh).await;
        bob_refresh = Login::from_reply(&r).refresh_token;
        let e = t.bearer("/api/x", &t.dave).await.echo();
        assert_eq!(e.one("x-auth-email"), Some(marker.as_str()), "{what}");
    }
    // Positive control: the same change in a valid file applies.
    t.reload(demote_alice_disable_bob_users()).await;
    t.cookie("/admin/x", &alice)
        .await
        .assert_error(403, "forbidden");
    t.bearer("/app/x", &bob)
        .await
        .assert_error(401, "unauthorized");
    refresh_with_token(&t.c, &t.rig.base(), &bob_refresh)
        .await
        .assert_error(401, "unauthorized");
}

fn demote_alice_disable_bob_users() -> Vec<TestUser> {
    let mut users = users_with("alice", |u| u.roles = vec!["user".into()]);
    users
        .iter_mut()
        .filter(|u| u.username == "bob")
        .for_each(|u| u.disabled = true);
    users
}

/// Rewrite gateway.toml with `edit`, SIGHUP, and poll `check` to a deadline.
async fn reload_config(
    rig: &Rig,
    edit: impl Fn(&str) -> String,
    what: &str,
    mut check: impl AsyncFnMut() -> bool,
) {
    let path = rig.gw.config_path();
    let text = std::fs::read_to_string(&path).expect("gateway.toml");
    let edited = edit(&text);
    assert_ne!(edited, text, "{what}: the edit changed nothing");
    std::fs::write(&path, edited).expect("gateway.toml");
    rig.gw.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "{what}: not applied by the reload"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// A trusted issuer's token seen before is mapped anew after a reload: a
// role_map change, then a [roles] change, then removing the issuer.
#[tokio::test]
async fn reload_remaps_trusted_issuer_tokens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let idp = Idp::new(dir.path());
    let block = idp.config(
        "groups",
        Some(r#"{ "idp-admins" = "admin", "idp-staff" = "user" }"#),
    );
    let rig = Rig::with(StoreKind::Memory, |b| b.extra(&block)).await;
    let c = plain_client(None);
    let token = idp.token(&idp::claims(&["idp-admins"]));
    let get = async |path: &str| bearer_get(&c, &rig.url(path), &token).await;
    // Positive control, twice: the second use is a token seen before.
    for _ in 0..2 {
        let e = get("/admin/x").await.echo();
        assert_eq!(e.roles("x-auth-roles"), ["admin"]);
    }

    reload_config(
        &rig,
        |t| t.replace(r#""idp-admins" = "admin""#, r#""idp-admins" = "user""#),
        "role_map",
        async || get("/admin/x").await.status == 403,
    )
    .await;
    let e = get("/api/x").await.echo();
    assert_eq!(e.roles("x-auth-roles"), ["user"]);

    let bob = login(&c, &rig.base(), "bob", BOB_PW).await;
    reload_config(
        &rig,
        |t| t.replace(r#"user = ["posts:read"]"#, "user = []"),
        "[roles]",
        async || get("/api/x").await.status == 403,
    )
    .await;
    bearer_get(&c, &rig.url("/api/x"), &bob.access_token)
        .await
        .assert_error(403, "forbidden");
    assert_eq!(get("/app/x").await.status, 200, "still authenticated");

    reload_config(
        &rig,
        // The issuer block is the last thing in the file.
        |t| {
            let at = t.find("[[tokens.trusted_issuers]]").expect("issuer block");
            t[..at].to_string()
        },
        "issuer removed",
        async || get("/app/x").await.status == 401,
    )
    .await;
    get("/auth/me").await.assert_error(401, "unauthorized");
    assert_eq!(
        bearer_get(&c, &rig.url("/app/x"), &bob.access_token)
            .await
            .status,
        200,
        "gatehouse's own tokens are untouched"
    );
    assert!(
        rig.gw
            .stderr_log()
            .contains("trusted issuer removed by reload"),
        "the removal is logged"
    );
}

// API keys keep their roles in the store: a role a reload removes from
// [roles] stops granting anything and is no longer sent upstream.
#[tokio::test]
async fn reload_drops_removed_roles_from_api_keys() {
    let rig = Rig::start(StoreKind::Redis).await;
    let out = std::process::Command::new(common::gateway::BIN)
        .args(["apikey", "create", "--name", "ci", "--roles", "editor,user"])
        .arg("--config")
        .arg(rig.gw.config_path())
        .current_dir(rig.gw.dir())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run gatehouse apikey create");
    assert!(out.status.success(), "{out:?}");
    let key = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let c = plain_client(None);
    let get = async |path: &str| common::send(c.get(rig.url(path)).header("X-API-Key", &key)).await;
    let e = get("/api/x").await.echo();
    assert_eq!(e.roles("x-auth-roles"), ["editor", "user"]);

    // `editor` leaves [roles] (and dave, the users file's only editor).
    let users = users_with("dave", |u| u.roles = vec!["user".into()]);
    std::fs::write(rig.gw.dir().join("users.toml"), render_users(&users)).expect("users.toml");
    reload_config(
        &rig,
        |t| t.replace("editor = [\"posts:read\", \"posts:write\"]\n", ""),
        "editor removed",
        async || get("/api/x").await.echo().roles("x-auth-roles") == ["user"],
    )
    .await;
    // `user` goes too (and from every user): the key keeps authenticating,
    // with no roles and no permissions.
    let users: Vec<TestUser> = default_users()
        .into_iter()
        .map(|mut u| {
            u.roles.retain(|r| r == "admin");
            u
        })
        .collect();
    std::fs::write(rig.gw.dir().join("users.toml"), render_users(&users)).expect("users.toml");
    reload_config(
        &rig,
        |t| t.replace("user = [\"posts:read\"]\n", ""),
        "user removed",
        async || get("/api/x").await.status == 403,
    )
    .await;
    assert_eq!(get("/app/x").await.echo().one("x-auth-roles"), None);
}
