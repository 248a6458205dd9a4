//! The pages of SPEC §14 over plain HTTP forms (no browser), for the exact
//! statuses: login errors (401, 429, TOTP asked), the account page and its
//! forms (303, CSRF 403), password change (422 per rule, sessions ended,
//! an operator's reset winning), sign-in history (JSON, CLI, new devices),
//! and an XSS table through every field a page shows.

mod common;

use std::time::{Duration, Instant};

use common::http::{hidden_inputs, send};
use common::users::hash_password;
use common::{login_json, Rig, StoreKind, TestUser, ALICE_PW, BOB_PW, COOKIE, DAVE_PW};
use reqwest::Client;

const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) TestBrowser/120.0.1";
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'";

/// GET a page as a browser does.
async fn page(c: &Client, base: &str, path: &str) -> common::Reply {
    send(
        c.get(format!("{base}{path}"))
            .header("Accept", "text/html")
            .header("User-Agent", UA),
    )
    .await
}

/// Post a page's form: its hidden fields (the CSRF token) plus `fields`.
async fn post_form(
    c: &Client,
    base: &str,
    action: &str,
    html: &str,
    fields: &[(&str, &str)],
) -> common::Reply {
    let mut all: Vec<(String, String)> = hidden_inputs(html)
        .into_iter()
        .filter(|(n, _)| n == "csrf" || n == "rd")
        .filter(|(n, _)| !fields.iter().any(|(k, _)| k == n))
        .collect();
    all.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    send(
        c.post(format!("{base}{action}"))
            .header("Origin", base)
            .header("User-Agent", UA)
            .form(&all),
    )
    .await
}

/// Form login through the page at `/auth/login?rd=...`.
async fn form_login(c: &Client, base: &str, rd: &str, fields: &[(&str, &str)]) -> common::Reply {
    let q: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("rd", rd)
        .finish();
    let p = page(c, base, &format!("/auth/login?{q}")).await;
    assert_eq!(p.status, 200, "{}", p.body);
    post_form(c, base, "/auth/login", &p.body, fields).await
}

/// The text of the element with `id`, up to the next tag.
fn by_id(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let start = at + html[at..].find('>')? + 1;
    let end = start + html[start..].find('<')?;
    Some(html[start..end].to_string())
}

fn rd_field(html: &str) -> Option<String> {
    hidden_inputs(html)
        .into_iter()
        .find(|(n, _)| n == "rd")
        .map(|(_, v)| v)
}

#[tokio::test]
async fn login_page_headers_and_stylesheet() {
    let rig = Rig::start(StoreKind::Memory).await;
    let base = rig.base();
    let c = rig.gw.client();
    let p = page(&c, &base, "/auth/login?rd=%2Fapp%2Fx").await;
    assert_eq!(p.status, 200);
    assert_eq!(p.header("content-security-policy"), Some(CSP));
    assert_eq!(p.header("referrer-policy"), Some("same-origin"));
    assert_eq!(p.header("cache-control"), Some("no-store"));
    assert!(p
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/html")));
    assert!(p.body.contains(r#"name="viewport""#));
    assert!(p.body.contains(r#"<label for="password">"#));
    assert!(!p.body.contains("<script"), "no JavaScript");
    assert_eq!(rd_field(&p.body).as_deref(), Some("/app/x"));
    let css = send(c.get(format!("{base}/auth/static/gatehouse.css"))).await;
    assert_eq!(css.status, 200);
    assert!(css
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/css")));
    assert!(css
        .header("cache-control")
        .is_some_and(|v| v.contains("max-age")));
    assert!(css.body.contains("@media"), "responsive rules");
}

#[tokio::test]
async fn login_errors_are_pages_with_the_right_status() {
    let rig = Rig::with(StoreKind::Memory, |b| {
        b.set("login", "max_failures", "3")
            .set("login", "lockout", "\"2m\"")
    })
    .await;
    let base = rig.base();
    let c = rig.gw.client();

    // Every cause, one answer: 401, the message, the username and rd kept.
    for (user, pw) in [
        ("alice", "wrong"),
        ("nobody", "whatever"),
        ("carol", common::CAROL_PW),
    ] {
        let r = form_login(
            &c,
            &base,
            "/app/x?y=1",
            &[("username", user), ("password", pw)],
        )
        .await;
        assert_eq!(r.status, 401, "{user}: {}", r.body);
        assert!(r
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/html")));
        assert_eq!(r.header("content-security-policy"), Some(CSP));
        assert_eq!(
            by_id(&r.body, "error").as_deref(),
            Some("Wrong username or password."),
            "{user}"
        );
        assert!(
            r.body.contains(&format!(r#"value="{user}""#)),
            "{user} kept: {}",
            r.body
        );
        assert_eq!(rd_field(&r.body).as_deref(), Some("/app/x?y=1"), "{user}");
        // The re-rendered page's form works: its token still matches.
        assert!(hidden_inputs(&r.body)
            .iter()
            .any(|(n, v)| n == "csrf" && !v.is_empty()));
    }

    // alice failed once above; two more lock her out (max_failures = 3).
    for _ in 0..2 {
        let r = form_login(&c, &base, "/", &[("username", "alice"), ("password", "x")]).await;
        assert_eq!(r.status, 401);
    }
    let r = form_login(
        &c,
        &base,
        "/app/z",
        &[("username", "alice"), ("password", ALICE_PW)],
    )
    .await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(
        by_id(&r.body, "error").as_deref(),
        Some("Too many failed sign-ins. Try again in 2 minutes.")
    );
    assert!(r.header("retry-after").is_some());
    assert_eq!(rd_field(&r.body).as_deref(), Some("/app/z"));
    // JSON clients keep their JSON.
    let j = login_json(&c, &base, "alice", ALICE_PW).await;
    assert_eq!(j.status, 429);
    assert_eq!(j.json()["error"], "rate_limited");

    // A good login: 303 to rd.
    let r = form_login(
        &c,
        &base,
        "/app/x?y=1",
        &[("username", "bob"), ("password", BOB_PW)],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/app/x?y=1"));
}

/// The account page's TOTP enrolment over forms, then a two-round login.
#[tokio::test]
async fn totp_enrolment_and_login_with_a_code_memory() {
    totp_enrolment_and_login_with_a_code(StoreKind::Memory).await;
}

#[tokio::test]
async fn totp_enrolment_and_login_with_a_code_redis() {
    totp_enrolment_and_login_with_a_code(StoreKind::Redis).await;
}

async fn totp_enrolment_and_login_with_a_code(store: StoreKind) {
    let rig = Rig::start(store).await;
    let base = rig.base();
    let c = rig.gw.client();
    let r = form_login(
        &c,
        &base,
        "/",
        &[("username", "dave"), ("password", DAVE_PW)],
    )
    .await;
    assert_eq!(r.status, 303);

    let acct = page(&c, &base, "/auth/account").await;
    assert_eq!(acct.status, 200, "{}", acct.body);
    assert_eq!(acct.header("content-security-policy"), Some(CSP));
    assert_eq!(by_id(&acct.body, "username").as_deref(), Some("dave"));
    assert!(acct.body.contains("editor") && acct.body.contains("user"));
    let r = post_form(&c, &base, "/auth/account/totp/enroll", &acct.body, &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/auth/account?msg=totp"));
    let acct = page(&c, &base, "/auth/account?msg=totp").await;
    assert!(acct.body.contains(r#"src="data:image/svg+xml;base64,"#));
    let secret = by_id(&acct.body, "totp-secret").expect("secret on the page");
    let now = common::jwt::now();
    let step = gatehouse::auth::totp::step_at(now);
    let code = gatehouse::auth::totp::code_at(&secret, step).expect("code");

    // A wrong code first: 422 and the page says so.
    let r = post_form(
        &c,
        &base,
        "/auth/account/totp/confirm",
        &acct.body,
        &[("code", "000000x")],
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = post_form(
        &c,
        &base,
        "/auth/account/totp/confirm",
        &acct.body,
        &[("code", &code)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let codes = r.body.matches("<li>").count();
    assert_eq!(codes, 10, "ten backup codes: {}", r.body);
    let again = page(&c, &base, "/auth/account").await;
    assert!(again.body.contains("id=\"totp-active\""));
    assert!(!again.body.contains("backup-codes"), "shown only once");

    // Login without the code: the page asks for it (401), rd kept.
    let fresh = rig.gw.client();
    let r = form_login(
        &fresh,
        &base,
        "/app/q",
        &[("username", "dave"), ("password", DAVE_PW)],
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.body.contains(r#"name="totp""#), "asks for the code");
    assert_eq!(rd_field(&r.body).as_deref(), Some("/app/q"));
    let next = gatehouse::auth::totp::code_at(&secret, step + 1).expect("code");
    let r = post_form(
        &fresh,
        &base,
        "/auth/login",
        &r.body,
        &[("username", "dave"), ("password", DAVE_PW), ("totp", &next)],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/app/q"));
}

#[tokio::test]
async fn account_sessions_revoke_and_sign_out_everywhere_memory() {
    account_sessions_revoke_and_sign_out_everywhere(StoreKind::Memory).await;
}

#[tokio::test]
async fn account_sessions_revoke_and_sign_out_everywhere_redis() {
    account_sessions_revoke_and_sign_out_everywhere(StoreKind::Redis).await;
}

async fn account_sessions_revoke_and_sign_out_everywhere(store: StoreKind) {
    let rig = Rig::start(store).await;
    let base = rig.base();

    // Anonymous: a browser goes to the login page, an API client gets 401.
    let anon = rig.gw.client();
    let r = page(&anon, &base, "/auth/account").await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location"),
        Some("/auth/login?rd=%2Fauth%2Faccount")
    );
    let r = send(anon.get(format!("{base}/auth/account"))).await;
    assert_eq!(r.status, 401);

    let a = rig.gw.client();
    let b = rig.gw.client();
    for c in [&a, &b] {
        let r = form_login(c, &base, "/", &[("username", "bob"), ("password", BOB_PW)]).await;
        assert_eq!(r.status, 303);
    }
    let b_sid = send(b.get(format!("{base}/auth/sessions"))).await.json()["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .find(|s| s["current"] == true)
        .expect("current")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let acct = page(&a, &base, "/auth/account").await;
    assert_eq!(acct.body.matches("class=\"session\"").count(), 2);
    assert_eq!(acct.body.matches("this session").count(), 1);
    assert!(acct.body.contains(UA), "device shown");

    // CSRF: a wrong token, or a foreign Origin, is 403.
    let r = send(
        a.post(format!("{base}/auth/account/sessions/revoke"))
            .header("Origin", &base)
            .form(&[("csrf", "forged"), ("sid", b_sid.as_str())]),
    )
    .await;
    assert_eq!(r.status, 403);
    let token = hidden_inputs(&acct.body)
        .into_iter()
        .find(|(n, _)| n == "csrf")
        .expect("csrf")
        .1;
    let r = send(
        a.post(format!("{base}/auth/account/sessions/revoke"))
            .header("Origin", "https://evil.example")
            .form(&[("csrf", token.as_str()), ("sid", b_sid.as_str())]),
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(page(&b, &base, "/app/x").await.status, 200, "b still in");

    let r = post_form(
        &a,
        &base,
        "/auth/account/sessions/revoke",
        &acct.body,
        &[("sid", &b_sid)],
    )
    .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/auth/account?msg=revoked"));
    let r = page(&b, &base, "/app/x").await;
    assert_eq!(r.status, 302, "b's next request goes to login");
    assert!(r
        .header("location")
        .is_some_and(|l| l.starts_with("/auth/login")));
    let acct = page(&a, &base, "/auth/account?msg=revoked").await;
    assert_eq!(
        by_id(&acct.body, "notice").as_deref(),
        Some("The session was signed out.")
    );
    assert_eq!(acct.body.matches("class=\"session\"").count(), 1);

    let r = post_form(&a, &base, "/auth/account/logout-all", &acct.body, &[]).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/auth/login"));
    assert_eq!(page(&a, &base, "/app/x").await.status, 302);
}

#[tokio::test]
async fn password_change_policy_sessions_and_operator_reset_memory() {
    password_change_policy_sessions_and_operator_reset(StoreKind::Memory).await;
}

#[tokio::test]
async fn password_change_policy_sessions_and_operator_reset_redis() {
    password_change_policy_sessions_and_operator_reset(StoreKind::Redis).await;
}

async fn password_change_policy_sessions_and_operator_reset(store: StoreKind) {
    let rig = Rig::start(store).await;
    let base = rig.base();
    let c = rig.gw.plain_client();
    let me = common::login(&c, &base, "dave", DAVE_PW).await;
    let other = common::login(&c, &base, "dave", DAVE_PW).await;
    let change = |current: &str, new: &str| {
        c.post(format!("{base}/auth/password"))
            .bearer_auth(&me.access_token)
            .json(&serde_json::json!({ "current": current, "new": new }))
    };
    let long = "x".repeat(129);
    for (new, rule) in [
        ("short", "min_length"),
        (long.as_str(), "max_length"),
        ("dave@example.com", "personal"),
        ("i-am-dave-and-proud", "personal"),
        ("password1234", "common"),
        ("aaaaaaaaaaaa", "score"),
    ] {
        let r = send(change(DAVE_PW, new)).await;
        assert_eq!(r.status, 422, "{new}: {}", r.body);
        let j = r.json();
        assert_eq!(j["error"], "weak_password", "{new}");
        assert_eq!(j["rule"], rule, "{new}");
        assert!(j["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let r = send(change("not-the-password", "violet kettle under the stairs")).await;
    assert_eq!(r.status, 401, "{}", r.body);
    let new_pw = "violet kettle under the stairs";
    let r = send(change(DAVE_PW, new_pw)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["sessions_ended"], 1);
    // This session goes on; the other one ended.
    let mine = common::http::bearer_get(&c, &format!("{base}/auth/me"), &me.access_token).await;
    assert_eq!(mine.status, 200);
    let theirs =
        common::http::bearer_get(&c, &format!("{base}/auth/me"), &other.access_token).await;
    assert_eq!(theirs.status, 401);
    assert!(rig.gw.logs().contains("\"password_changed\""));
    // The new password only.
    assert_eq!(login_json(&c, &base, "dave", DAVE_PW).await.status, 401);
    assert_eq!(login_json(&c, &base, "dave", new_pw).await.status, 200);

    // The form: a weak one re-renders the account page (422), a good one 303.
    let b = rig.gw.client();
    let r = form_login(&b, &base, "/", &[("username", "bob"), ("password", BOB_PW)]).await;
    assert_eq!(r.status, 303);
    let acct = page(&b, &base, "/auth/account").await;
    let r = post_form(
        &b,
        &base,
        "/auth/password",
        &acct.body,
        &[("current", BOB_PW), ("new", "short")],
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(by_id(&r.body, "error").is_some_and(|e| e.contains("12 characters")));
    let r = post_form(
        &b,
        &base,
        "/auth/password",
        &acct.body,
        &[("current", BOB_PW), ("new", "seven brass owls at dawn")],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/auth/account?msg=password"));

    // An operator resets dave in the users file: the file wins again.
    let users = rig.gw.dir().join("users.toml");
    let text = std::fs::read_to_string(&users).expect("users file");
    let reset_pw = "operator reset pass 42";
    let mut out = String::new();
    let mut in_dave = false;
    for line in text.lines() {
        if line.starts_with("username") {
            in_dave = line.contains("\"dave\"");
        }
        if in_dave && line.starts_with("password_hash") {
            out.push_str(&format!(
                "password_hash = \"{}\"\n",
                hash_password(reset_pw)
            ));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    std::fs::write(&users, out).expect("write users");
    rig.gw.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while login_json(&c, &base, "dave", reset_pw).await.status != 200 {
        assert!(Instant::now() < deadline, "reload did not take the reset");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(login_json(&c, &base, "dave", new_pw).await.status, 401);
}

#[tokio::test]
async fn history_json_cli_and_new_devices() {
    let rig = Rig::start(StoreKind::Redis).await;
    let base = rig.base();
    let c = rig.gw.plain_client();
    let login_as = |ua: &'static str, pw: &'static str| {
        c.post(format!("{base}/auth/login"))
            .header("User-Agent", ua)
            .json(&serde_json::json!({ "username": "alice", "password": pw }))
    };
    assert_eq!(send(login_as("curl/8.5.0", "nope")).await.status, 401);
    assert_eq!(send(login_as("curl/8.5.0", ALICE_PW)).await.status, 200);
    // A newer curl from the same network: the same device.
    assert_eq!(send(login_as("curl/8.6.1", ALICE_PW)).await.status, 200);
    let last = send(login_as("Firefox/121.0", ALICE_PW)).await;
    assert_eq!(last.status, 200);
    let token = last.json()["access_token"]
        .as_str()
        .expect("token")
        .to_string();

    let h = common::http::bearer_get(&c, &format!("{base}/auth/history"), &token).await;
    assert_eq!(h.status, 200, "{}", h.body);
    let items = h.json()["history"].as_array().expect("history").clone();
    let seen: Vec<(String, bool, String)> = items
        .iter()
        .map(|e| {
            (
                e["result"].as_str().unwrap_or("").to_string(),
                e["new_device"].as_bool().unwrap_or(false),
                e["user_agent"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("ok".to_string(), true, "Firefox/121.0".to_string()),
            ("ok".to_string(), false, "curl/8.6.1".to_string()),
            ("ok".to_string(), true, "curl/8.5.0".to_string()),
            ("failed".to_string(), false, "curl/8.5.0".to_string()),
        ]
    );
    for e in &items {
        assert_eq!(e["ip"], "127.0.0.1");
        assert_eq!(e["provider"], "local");
        assert!(e["time"].as_i64().is_some_and(|t| t > 0));
    }
    let logs = rig.gw.logs();
    assert_eq!(logs.matches("\"login_new_device\"").count(), 2, "{logs}");

    let out = rig.gw.cli(&["user", "history", "--user", "alice"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(text.lines().count(), 5, "header and 4 rows:\n{text}");
    assert!(
        text.contains("Firefox/121.0") && text.contains("failed"),
        "{text}"
    );
    let out = rig.gw.cli(&["user", "history", "--user", "nobody"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Hostile values through every field a page shows: the login page's
/// username and rd, the user agent in sessions and history. None may come
/// back unescaped.
#[tokio::test]
async fn no_page_reflects_unescaped_input() {
    let hostile = [
        "<script>alert(1)</script>",
        "\"><img src=x onerror=alert(1)>",
        "' autofocus onfocus='alert(1)",
        "</title><svg onload=alert(1)>",
    ];
    let rig = Rig::with(StoreKind::Memory, |b| {
        b.user(TestUser::new("erin", "erin-pass-123", &["user"]))
    })
    .await;
    let base = rig.base();
    for bad in hostile {
        let c = rig.gw.client();
        // rd: a same-origin path carrying the value.
        let rd = format!("/app/{bad}");
        let q: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("rd", &rd)
            .finish();
        let p = page(&c, &base, &format!("/auth/login?{q}")).await;
        assert!(!p.body.contains(bad), "rd reflected raw: {}", p.body);
        // username on the failure page.
        let r = post_form(
            &c,
            &base,
            "/auth/login",
            &p.body,
            &[("username", bad), ("password", "x")],
        )
        .await;
        assert_eq!(r.status, 401);
        assert!(!r.body.contains(bad), "username reflected raw: {}", r.body);
        // user agent: into the sessions and the history of the account page.
        let r = send(
            c.post(format!("{base}/auth/login"))
                .header("Origin", &base)
                .header("User-Agent", bad)
                .json(&serde_json::json!({ "username": "erin", "password": "erin-pass-123" })),
        )
        .await;
        assert_eq!(r.status, 200);
        let cookie = r.cookie_value(COOKIE).expect("cookie");
        let acct = send(
            c.get(format!("{base}/auth/account"))
                .header("Cookie", format!("{COOKIE}={cookie}"))
                .header("User-Agent", bad),
        )
        .await;
        assert_eq!(acct.status, 200, "{}", acct.body);
        assert!(acct.body.contains("class=\"session\""));
        assert!(acct.body.contains("class=\"attempt\""));
        assert!(
            !acct.body.contains(bad),
            "user agent reflected raw: {}",
            acct.body
        );
        // msg: only fixed texts.
        let m = send(
            c.get(format!("{base}/auth/account?msg={}", urlencode(bad)))
                .header("Cookie", format!("{COOKIE}={cookie}")),
        )
        .await;
        assert!(!m.body.contains(bad));
        assert!(!m.body.contains("id=\"notice\""));
    }
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
