//! Operator features end to end (SPEC §1 admin commands, §4 TOTP, §5 API
//! keys): the real `gatehouse` binary as gateway and as CLI, against a real
//! redis-server, with codes computed here from the enrolled secret.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::gateway::BIN;
use common::http::{bearer_get, cookie_get, plain_client};
use common::{login, login_json, send, Gateway, Reply, Rig, StoreKind};
use common::{ALICE_PW, BOB_PW, DAVE_PW};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};

/// `gatehouse ARGS --config <the gateway's config>`, run in its directory.
fn cli(gw: &Gateway, args: &[&str]) -> Output {
    cli_with(&gw.config_path(), gw.dir(), args)
}

fn cli_with(config: &Path, cwd: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--config")
        .arg(config)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .expect("run gatehouse")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn show(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        stdout(o),
        stderr(o)
    )
}

/// Run and require exit code `code`.
fn expect_exit(gw: &Gateway, args: &[&str], code: i32) -> Output {
    let o = cli(gw, args);
    assert_eq!(
        o.status.code(),
        Some(code),
        "gatehouse {args:?}: {}",
        show(&o)
    );
    o
}

/// The row of a CLI table whose first cell is `first`, split on runs of
/// two or more spaces.
fn row(table: &str, first: &str) -> Option<Vec<String>> {
    table
        .lines()
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .find(|cells| cells.first().map(String::as_str) == Some(first))
}

// ------------------------------------------------------------ API keys

/// SPEC §1, §5: created by the CLI, shown once, accepted in both header
/// forms with the key's roles, listed with its last use, refused at once
/// after revocation.
#[tokio::test]
async fn api_key_lifecycle_via_cli() {
    let rig = Rig::start(StoreKind::Redis).await;
    let gw = &rig.gw;
    let api = plain_client(None);

    let args = ["apikey", "create", "--name", "ci", "--roles", "user"];
    let out = expect_exit(gw, &args, 0);
    let key = stdout(&out).trim().to_string();
    assert!(
        key.starts_with("gh_") && key.len() > 40 && !key.contains(char::is_whitespace),
        "{}",
        show(&out)
    );
    assert!(
        !stderr(&out).contains(&key),
        "the key was logged: {}",
        show(&out)
    );
    assert!(
        stderr(&out).contains("apikey_created"),
        "no audit event: {}",
        show(&out)
    );

    let never = expect_exit(gw, &["apikey", "list"], 0);
    let cells = row(&stdout(&never), "ci").unwrap_or_else(|| panic!("{}", show(&never)));
    assert_eq!(cells[1], "user");
    assert_eq!(cells[3], "never", "{cells:?}");
    assert!(!stdout(&never).contains(&key));

    // X-API-Key reaches the upstream with the key's identity, never the key.
    let r = send(api.get(rig.url("/api/posts")).header("X-API-Key", &key)).await;
    let echo = r.echo();
    assert_eq!(echo.one("x-auth-user"), Some("apikey:ci"));
    assert_eq!(echo.roles("x-auth-roles"), ["user"]);
    assert_eq!(echo.one("x-auth-email"), None);
    assert!(
        echo.all("x-api-key").is_empty(),
        "key forwarded: {:?}",
        echo.headers
    );
    // So does `Authorization: ApiKey`.
    let r = send(
        api.get(rig.url("/api/posts"))
            .header("Authorization", format!("ApiKey {key}")),
    )
    .await;
    assert_eq!(r.echo().one("x-auth-user"), Some("apikey:ci"));
    // Roles apply: no admin route for a `user` key.
    send(api.get(rig.url("/admin/x")).header("X-API-Key", &key))
        .await
        .assert_error(403, "forbidden");
    // A key is a service, not a user: no user self-service.
    let r = send(api.get(rig.url("/auth/sessions")).header("X-API-Key", &key)).await;
    assert_eq!(r.status, 403, "{}", r.body);
    // A wrong key is refused and never falls back to anything else.
    let wrong = format!("gh_{}", "A".repeat(43));
    send(api.get(rig.url("/api/posts")).header("X-API-Key", &wrong))
        .await
        .assert_error(401, "unauthorized");
    let bob = login(&api, &rig.base(), "bob", BOB_PW).await;
    let r = send(
        api.get(rig.url("/api/posts"))
            .header("X-API-Key", &wrong)
            .header("Cookie", bob.cookie_header()),
    )
    .await;
    assert_eq!(
        r.status, 401,
        "bad API key fell back to the cookie: {}",
        r.body
    );

    let used = expect_exit(gw, &["apikey", "list"], 0);
    let cells = row(&stdout(&used), "ci").unwrap_or_else(|| panic!("{}", show(&used)));
    assert_ne!(cells[3], "never", "last use not recorded: {cells:?}");
    assert_eq!(cells[4], "never", "no expiry by default: {cells:?}");

    // Names are unique; roles must exist; names are checked.
    expect_exit(gw, &args, 1);
    expect_exit(
        gw,
        &["apikey", "create", "--name", "x", "--roles", "nosuchrole"],
        2,
    );
    expect_exit(
        gw,
        &["apikey", "create", "--name", "bad name", "--roles", "user"],
        2,
    );

    let out = expect_exit(gw, &["apikey", "revoke", "--name", "ci"], 0);
    assert!(stderr(&out).contains("apikey_revoked"), "{}", show(&out));
    send(api.get(rig.url("/api/posts")).header("X-API-Key", &key))
        .await
        .assert_error(401, "unauthorized");
    let after = expect_exit(gw, &["apikey", "list"], 0);
    assert!(row(&stdout(&after), "ci").is_none(), "{}", show(&after));
    expect_exit(gw, &["apikey", "revoke", "--name", "ci"], 1);
}

/// With the memory backend the store is inside the gateway process: the
/// CLI says so and exits 2 instead of writing keys nobody reads.
#[test]
fn admin_commands_refuse_the_memory_backend() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Gateway::builder()
        .memory()
        .write_files(dir.path(), 18081, None);
    for args in [
        &["apikey", "create", "--name", "ci", "--roles", "user"][..],
        &["apikey", "list"][..],
        &["sessions", "revoke", "--user", "alice"][..],
        &["user", "lock", "--user", "alice"][..],
    ] {
        let o = cli_with(&config, dir.path(), args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", show(&o));
        assert!(
            stderr(&o).contains("memory"),
            "{args:?} does not say why: {}",
            show(&o)
        );
        assert!(
            stdout(&o).is_empty(),
            "{args:?} printed something: {}",
            show(&o)
        );
    }
}

// ------------------------------------------------------------ sessions, locks

/// SPEC §1: `sessions revoke` (by user, by id) and `user lock` end live
/// sessions at once, cookie and JWT alike; a locked user's login looks like
/// a wrong password until unlocked.
#[tokio::test]
async fn sessions_and_locks_via_cli() {
    let rig = Rig::start(StoreKind::Redis).await;
    let gw = &rig.gw;
    let api = plain_client(None);
    let base = rig.base();
    let url = rig.url("/app/x");

    // Revoke all of a user's sessions.
    let bob = login(&api, &base, "bob", BOB_PW).await;
    let r = cookie_get(&api, &url, &bob.cookie).await;
    assert_eq!(r.echo().one("x-auth-user"), Some("bob"));
    let listed = expect_exit(gw, &["sessions", "list", "--user", "bob"], 0);
    assert_eq!(
        stdout(&listed).lines().count(),
        2,
        "header + 1: {}",
        show(&listed)
    );
    let out = expect_exit(gw, &["sessions", "revoke", "--user", "bob"], 0);
    assert!(stderr(&out).contains("session_revoked"), "{}", show(&out));
    cookie_get(&api, &url, &bob.cookie)
        .await
        .assert_error(401, "unauthorized");
    bearer_get(&api, &url, &bob.access_token)
        .await
        .assert_error(401, "unauthorized");

    // Revoke one session by id; the other one lives on.
    let one = login(&api, &base, "bob", BOB_PW).await;
    let two = login(&api, &base, "bob", BOB_PW).await;
    let mine = bearer_get(&api, &rig.url("/auth/sessions"), &one.access_token).await;
    let sid = mine.json()["sessions"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["current"] == json!(true)))
        .and_then(|s| s["id"].as_str())
        .unwrap_or_else(|| panic!("{}", mine.body))
        .to_string();
    let listed = expect_exit(gw, &["sessions", "list", "--user", "bob"], 0);
    assert!(row(&stdout(&listed), &sid).is_some(), "{}", show(&listed));
    expect_exit(gw, &["sessions", "revoke", "--id", &sid], 0);
    cookie_get(&api, &url, &one.cookie)
        .await
        .assert_error(401, "unauthorized");
    let r = cookie_get(&api, &url, &two.cookie).await;
    assert_eq!(r.echo().one("x-auth-user"), Some("bob"));
    expect_exit(gw, &["sessions", "revoke", "--id", &sid], 1);
    expect_exit(gw, &["sessions", "revoke", "--user", "nobody"], 2);
    expect_exit(gw, &["sessions", "revoke"], 2);

    // Lock: sessions end now, the right password answers like a wrong one.
    let dave = login(&api, &base, "dave", DAVE_PW).await;
    let out = expect_exit(gw, &["user", "lock", "--user", "dave"], 0);
    assert!(stdout(&out).contains("ended 1"), "{}", show(&out));
    cookie_get(&api, &url, &dave.cookie)
        .await
        .assert_error(401, "unauthorized");
    let locked = login_json(&api, &base, "dave", DAVE_PW).await;
    let wrong = login_json(&api, &base, "dave", "not-the-password").await;
    assert_eq!((locked.status, &locked.body), (wrong.status, &wrong.body));
    assert_eq!(locked.status, 401);
    assert!(
        locked.set_cookies().is_empty(),
        "{:?}",
        locked.set_cookies()
    );
    let body = json!({ "refresh_token": dave.refresh_token });
    let refreshed = send(api.post(rig.url("/auth/refresh")).json(&body)).await;
    assert_eq!(
        refreshed.status, 401,
        "refresh after lock: {}",
        refreshed.body
    );
    expect_exit(gw, &["user", "unlock", "--user", "dave"], 0);
    login(&api, &base, "dave", DAVE_PW).await;
}

// ------------------------------------------------------------ TOTP

/// RFC 6238 (HMAC-SHA-1, 6 digits, 30 s), written here independently of
/// the gateway's code.
fn totp(secret_b32: &str, step: i64) -> String {
    let key = data_encoding::BASE32_NOPAD
        .decode(secret_b32.as_bytes())
        .expect("base32 secret");
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(&key).expect("hmac key");
    mac.update(&(step as u64).to_be_bytes());
    let h = mac.finalize().into_bytes();
    let o = (h[19] & 0x0f) as usize;
    let bin = u32::from_be_bytes([h[o] & 0x7f, h[o + 1], h[o + 2], h[o + 3]]);
    format!("{:06}", bin % 1_000_000)
}

fn step_now() -> i64 {
    common::jwt::now().div_euclid(30)
}

async fn login_totp(rig: &Rig, user: &str, pw: &str, code: Option<&str>) -> Reply {
    let mut body = json!({ "username": user, "password": pw });
    if let Some(c) = code {
        body["totp"] = json!(c);
    }
    send(plain_client(None).post(rig.url("/auth/login")).json(&body)).await
}

async fn post_bearer(rig: &Rig, path: &str, token: &str, body: Value) -> Reply {
    send(
        plain_client(None)
            .post(rig.url(path))
            .bearer_auth(token)
            .json(&body),
    )
    .await
}

/// Enrol and confirm TOTP for a signed-in user; returns (secret, step used
/// to confirm, backup codes).
async fn enrol(rig: &Rig, token: &str) -> (String, i64, Vec<String>) {
    let r = post_bearer(rig, "/auth/totp/enroll", token, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let secret = r.json()["secret"].as_str().expect("secret").to_string();
    let step = step_now();
    let code = totp(&secret, step);
    let r = post_bearer(rig, "/auth/totp/confirm", token, json!({ "code": code })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let backups = r.json()["backup_codes"]
        .as_array()
        .expect("backup_codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_string())
        .collect();
    (secret, step, backups)
}

/// SPEC §4: enrol, confirm, then login needs a fresh code (each usable
/// once) or an unused backup code; without one, 401 mfa_required and no
/// session. An operator can reset it.
#[tokio::test]
async fn totp_enrolment_and_login() {
    let rig = Rig::start(StoreKind::Redis).await;
    let api = plain_client(None);
    let alice = login(&api, &rig.base(), "alice", ALICE_PW).await;
    let token = alice.access_token.as_str();

    // Enrolment needs a signed-in user.
    send(api.post(rig.url("/auth/totp/enroll")))
        .await
        .assert_error(401, "unauthorized");

    let r = post_bearer(&rig, "/auth/totp/enroll", token, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let first_secret = r.json()["secret"].as_str().expect("secret").to_string();
    let uri = r.json()["otpauth_uri"].as_str().expect("uri").to_string();
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    for part in [
        format!("secret={first_secret}"),
        "digits=6".into(),
        "period=30".into(),
        "algorithm=SHA1".into(),
    ] {
        assert!(uri.contains(&part), "{part} not in {uri}");
    }
    // Pending: the password alone still logs in; a wrong code does not confirm.
    assert_eq!(login_totp(&rig, "alice", ALICE_PW, None).await.status, 200);
    let wrong = totp(&first_secret, step_now() - 5);
    post_bearer(&rig, "/auth/totp/confirm", token, json!({ "code": wrong }))
        .await
        .assert_error(400, "bad_request");

    // Enrolling again replaces the pending secret; confirm that one.
    let (secret, confirm_step, backups) = enrol(&rig, token).await;
    assert_ne!(secret, first_secret);
    assert_eq!(backups.len(), 10);
    // Once only: nothing pending now, and active TOTP is not replaced.
    let code = totp(&secret, step_now());
    post_bearer(&rig, "/auth/totp/confirm", token, json!({ "code": code }))
        .await
        .assert_error(400, "bad_request");
    post_bearer(&rig, "/auth/totp/enroll", token, json!({}))
        .await
        .assert_error(400, "bad_request");

    // Password alone: 401 mfa_required, and no session.
    let r = login_totp(&rig, "alice", ALICE_PW, None).await;
    r.assert_error(401, "mfa_required");
    assert!(r.set_cookies().is_empty(), "{:?}", r.set_cookies());
    // A wrong password with a good code is a bad login; a wrong code, mfa_required.
    let next = totp(&secret, confirm_step + 1);
    login_totp(&rig, "alice", "wrong-password", Some(&next))
        .await
        .assert_error(401, "unauthorized");
    let wrong = totp(&secret, confirm_step - 5);
    login_totp(&rig, "alice", ALICE_PW, Some(&wrong))
        .await
        .assert_error(401, "mfa_required");

    // A fresh code (after the confirming step, within ±1) works once.
    let code = totp(&secret, (confirm_step + 1).max(step_now()));
    let ok = login_totp(&rig, "alice", ALICE_PW, Some(&code)).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(ok.json()["access_token"].is_string());
    login_totp(&rig, "alice", ALICE_PW, Some(&code))
        .await
        .assert_error(401, "mfa_required");
    let spent = totp(&secret, confirm_step);
    login_totp(&rig, "alice", ALICE_PW, Some(&spent))
        .await
        .assert_error(401, "mfa_required");

    // A backup code works once, whatever its case and dashes.
    let typed = backups[0].to_uppercase().replace('-', "");
    let r = login_totp(&rig, "alice", ALICE_PW, Some(&typed)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    login_totp(&rig, "alice", ALICE_PW, Some(&backups[0]))
        .await
        .assert_error(401, "mfa_required");
    let r = login_totp(&rig, "alice", ALICE_PW, Some(&backups[1])).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // The form login asks for the code once the password was given
    // (SPEC §14: the first page has no code field, the 401 page has).
    let page = send(
        api.get(rig.url("/auth/login"))
            .header("Accept", "text/html"),
    )
    .await;
    assert!(!page.body.contains("name=\"totp\""), "{}", page.body);
    let (jar, _) = rig.gw.jar_client();
    let r = common::login_form(&jar, &rig.base(), "alice", ALICE_PW, "/").await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.body.contains("name=\"totp\""), "{}", r.body);

    // Operator reset: the password is enough again.
    let out = expect_exit(&rig.gw, &["user", "totp-reset", "--user", "alice"], 0);
    assert!(stdout(&out).contains("removed"), "{}", show(&out));
    assert!(!stderr(&out).contains(&secret));
    assert!(!rig.gw.stderr_log().contains(&secret), "TOTP secret logged");
    assert_eq!(login_totp(&rig, "alice", ALICE_PW, None).await.status, 200);
}

/// Wrong codes count towards the lockout (SPEC §8), so the password alone
/// does not buy unlimited guesses at the code.
#[tokio::test]
async fn wrong_totp_codes_lock_the_username_out() {
    let rig = Rig::start(StoreKind::Memory).await;
    let api = plain_client(None);
    let bob = login(&api, &rig.base(), "bob", BOB_PW).await;
    let (secret, step, _) = enrol(&rig, &bob.access_token).await;
    let bad = totp(&secret, step - 10);
    for _ in 0..5 {
        login_totp(&rig, "bob", BOB_PW, Some(&bad))
            .await
            .assert_error(401, "mfa_required");
    }
    let good = totp(&secret, step + 1);
    let r = login_totp(&rig, "bob", BOB_PW, Some(&good)).await;
    assert_eq!(r.status, 429, "{}", r.body);
}
