//! Login (SPEC §4 POST /auth/login, §5 sessions, §6 bad login), run on both
//! the memory and the redis store.

mod common;

use common::http::{hidden_inputs, location, plain_client};
use common::{jwt, login, login_form, login_json, send, Rig, StoreKind, AUDIENCE, ISSUER};
use common::{ALICE_PW, BOB_PW, CAROL_PW, COOKIE, REFRESH_COOKIE};
use serde_json::json;

// Login behaviour on the embedded memory store.
#[tokio::test]
async fn login_memory() {
    suite(StoreKind::Memory).await;
}

// Login behaviour on the redis store.
#[tokio::test]
async fn login_redis() {
    suite(StoreKind::Redis).await;
}

// SPEC §14: the login form is judged by its CSRF token; the origin can only
// refuse. The rule does not depend on the store.
#[tokio::test]
async fn login_form_csrf_rule_table() {
    let rig = Rig::start(StoreKind::Memory).await;
    let base = rig.base();
    let rd = "/app/after-login";
    #[derive(Debug, Clone, Copy)]
    enum Token {
        /// The page's token, with the page's cookie.
        Valid,
        /// No token field (the cookie is there).
        Missing,
        /// A token of the attacker's own (the cookie is the page's).
        Wrong,
        /// The page's token without its cookie (a cross-site form that
        /// read a token somewhere cannot set the cookie).
        NoCookie,
    }
    /// (case, request headers with `OWN` for our origin, token, status)
    type Row = (
        &'static str,
        &'static [(&'static str, &'static str)],
        Token,
        u16,
    );
    const OWN: &str = "<our origin>";
    const EVIL: &str = "http://evil.test";
    const EVIL_PAGE: &str = "http://evil.test/login";
    let table: &[Row] = &[
        ("same Origin", &[("Origin", OWN)], Token::Valid, 303),
        ("Origin: null", &[("Origin", "null")], Token::Valid, 303),
        ("no Origin, no Referer", &[], Token::Valid, 303),
        (
            "our Referer, no Origin",
            &[("Referer", OWN)],
            Token::Valid,
            303,
        ),
        ("foreign Origin", &[("Origin", EVIL)], Token::Valid, 403),
        (
            "foreign Referer, no Origin",
            &[("Referer", EVIL_PAGE)],
            Token::Valid,
            403,
        ),
        (
            "null Origin, foreign Referer",
            &[("Origin", "null"), ("Referer", EVIL_PAGE)],
            Token::Valid,
            403,
        ),
        (
            "foreign Origin, our Referer",
            &[("Origin", EVIL), ("Referer", OWN)],
            Token::Valid,
            403,
        ),
        ("missing token", &[("Origin", OWN)], Token::Missing, 403),
        ("wrong token", &[("Origin", OWN)], Token::Wrong, 403),
        (
            "token without its cookie",
            &[("Origin", OWN)],
            Token::NoCookie,
            403,
        ),
        (
            "null Origin, missing token",
            &[("Origin", "null")],
            Token::Missing,
            403,
        ),
        ("no Origin, wrong token", &[], Token::Wrong, 403),
    ];
    for &(case, headers, token, status) in table {
        let client = match token {
            Token::NoCookie => plain_client(None),
            _ => rig.gw.client(),
        };
        let page = send(client.get(rig.url("/auth/login"))).await;
        assert_eq!(page.status, 200, "{case}: login page {}", page.body);
        let page_token = hidden_inputs(&page.body)
            .into_iter()
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v)
            .expect("csrf field on the login page");
        let mut fields = vec![
            ("username", "alice".to_string()),
            ("password", ALICE_PW.to_string()),
            ("rd", rd.to_string()),
        ];
        match token {
            Token::Valid | Token::NoCookie => fields.push(("csrf", page_token)),
            Token::Wrong => fields.push(("csrf", "attacker-chosen-token".to_string())),
            Token::Missing => {}
        }
        let mut post = client.post(rig.url("/auth/login")).form(&fields);
        for &(name, value) in headers {
            let value = match (name, value) {
                ("Origin", OWN) => base.clone(),
                (_, OWN) => format!("{base}/auth/login?rd=/"),
                _ => value.to_string(),
            };
            post = post.header(name, value);
        }
        let r = send(post).await;
        assert_eq!(r.status, status, "{case}: {}", r.body);
        // Only the page sets its own policy; every other answer keeps ours.
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"), "{case}");
        if status == 303 {
            assert_eq!(r.header("location"), Some(rd), "{case}");
            // Signed in for real: the session reaches the upstream.
            let landed = send(client.get(rig.url(rd))).await;
            assert_eq!(landed.echo().one("x-auth-user"), Some("alice"), "{case}");
        } else {
            r.assert_error(403, "forbidden");
            assert!(
                r.set_cookie(COOKIE).is_none(),
                "{case}: no session on a refusal"
            );
        }
    }
    // JSON login keeps its rules (SPEC §6): no token, `Origin: null` or not.
    let r = send(
        plain_client(None)
            .post(rig.url("/auth/login"))
            .header("Origin", "null")
            .json(&json!({ "username": "alice", "password": ALICE_PW })),
    )
    .await;
    assert_eq!(r.status, 200, "JSON login: {}", r.body);
    // Other gateway answers keep `no-referrer`.
    for path in ["/healthz", "/auth/me", "/app/x"] {
        let r = send(plain_client(None).get(rig.url(path))).await;
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"), "{path}");
    }
}

async fn suite(store: StoreKind) {
    let rig = Rig::start(store).await;
    json_login_hands_out_tokens_and_session_cookies(&rig).await;
    login_page_is_a_framing_proof_form(&rig).await;
    form_login_redirects_only_to_same_origin_rd(&rig).await;
    bad_logins_are_indistinguishable(&rig).await;
    every_login_gets_a_fresh_session_id(&rig).await;
    login_csrf_is_refused(&rig).await;
}

/// Login CSRF (SPEC §6): the form needs its token and cookie to match, a
/// cross-site Origin is refused, and JSON must be sent as JSON.
async fn login_csrf_is_refused(rig: &Rig) {
    let base = rig.base();
    let form = |c: &reqwest::Client, csrf: &str| {
        c.post(format!("{base}/auth/login")).form(&[
            ("username", "alice"),
            ("password", ALICE_PW),
            ("rd", "/"),
            ("csrf", csrf),
        ])
    };
    // No token and no cookie: a forged cross-site form.
    let c = plain_client(None);
    send(form(&c, "")).await.assert_error(403, "forbidden");
    // A token of the attacker's own, without the matching cookie.
    send(form(&c, "attacker-chosen"))
        .await
        .assert_error(403, "forbidden");
    // The real page's token, but posted from another origin.
    let browser = rig.gw.client();
    let page = send(browser.get(format!("{base}/auth/login"))).await;
    let token = hidden_inputs(&page.body)
        .into_iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v)
        .expect("csrf field on the login page");
    let r = send(form(&browser, &token).header("Origin", "https://evil.example")).await;
    r.assert_error(403, "forbidden");
    // The same token from our own origin signs in.
    let r = send(form(&browser, &token).header("Origin", base.as_str())).await;
    assert_eq!(r.status, 303, "{}", r.body);
    // JSON smuggled as text/plain (what a cross-site form can send).
    let r = send(
        c.post(format!("{base}/auth/login"))
            .header("content-type", "text/plain")
            .body(format!(
                "{{\"username\":\"alice\",\"password\":\"{ALICE_PW}\"}}"
            )),
    )
    .await;
    r.assert_error(400, "bad_request");
}

/// JSON login: SPEC §4 body, §5 token claims, cookie attributes, §6 headers.
async fn json_login_hands_out_tokens_and_session_cookies(rig: &Rig) {
    let base = rig.base();
    let r = login_json(&plain_client(None), &base, "alice", ALICE_PW).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.header("cache-control")
            .unwrap_or_default()
            .contains("no-store"),
        "{r:?}"
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));

    let body = r.json();
    assert_eq!(body["token_type"], "Bearer");
    let expires_in = body["expires_in"].as_i64().expect("expires_in is a number");
    assert!(
        (1..=900).contains(&expires_in),
        "access_ttl is 15m: {expires_in}"
    );
    let access = body["access_token"].as_str().expect("access_token");
    let refresh = body["refresh_token"].as_str().expect("refresh_token");
    assert!(!refresh.is_empty() && refresh != access);
    assert_eq!(body["user"]["id"], "alice");
    assert_eq!(body["user"]["email"], "alice@example.com");
    assert_eq!(body["user"]["roles"], json!(["admin"]));

    // The access token (SPEC §5): our kid and algorithm, all the claims.
    let header = jwt::header(access);
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["kid"].as_str(), Some(rig.gw.kid().await.as_str()));
    let claims = jwt::claims(access);
    assert_eq!(claims["iss"], ISSUER);
    let aud_ok = claims["aud"] == AUDIENCE
        || claims["aud"]
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v == AUDIENCE));
    assert!(aud_ok, "aud: {}", claims["aud"]);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["roles"], json!(["admin"]));
    for claim in ["sid", "jti"] {
        assert!(
            claims[claim].as_str().is_some_and(|s| !s.is_empty()),
            "{claim}: {claims}"
        );
    }
    let (iat, exp) = (
        claims["iat"].as_i64().expect("iat"),
        claims["exp"].as_i64().expect("exp"),
    );
    assert!((iat - jwt::now()).abs() < 60, "iat is now: {iat}");
    assert_eq!(exp - iat, 900, "exp = iat + access_ttl");

    // Session cookie (SPEC §5): HttpOnly; Secure; SameSite; Path=/; no
    // Domain (the __Host- prefix requires it); >= 256 bits of id.
    let set = r.set_cookie(COOKIE).expect("session cookie set");
    let attrs = set.to_ascii_lowercase();
    for needed in ["httponly", "secure", "samesite=lax", "path=/"] {
        assert!(attrs.contains(needed), "{needed} missing: {set}");
    }
    assert!(
        !attrs.contains("domain="),
        "__Host- cookies carry no Domain: {set}"
    );
    let value = r.cookie_value(COOKIE).expect("cookie value");
    assert!(
        value.len() >= 43,
        "session id shorter than 256 bits: {value}"
    );
    let refresh_cookie = r.set_cookie(REFRESH_COOKIE).expect("refresh cookie set");
    assert!(
        refresh_cookie.to_ascii_lowercase().contains("httponly"),
        "{refresh_cookie}"
    );

    // Usernames are case-insensitive (SPEC §3).
    let upper = login(&plain_client(None), &base, "ALICE", ALICE_PW).await;
    assert_eq!(upper.body["user"]["id"], "alice");
}

/// GET /auth/login: HTML form, never framed, never cached (SPEC §4, §6).
async fn login_page_is_a_framing_proof_form(rig: &Rig) {
    let r = send(
        plain_client(None)
            .get(rig.url("/auth/login"))
            .header("Accept", "text/html"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.header("content-type")
            .unwrap_or_default()
            .starts_with("text/html"),
        "{r:?}"
    );
    assert!(r.body.to_ascii_lowercase().contains("<form"), "{}", r.body);
    assert!(r.body.contains("password"), "{}", r.body);
    let xfo = r
        .header("x-frame-options")
        .unwrap_or_default()
        .eq_ignore_ascii_case("deny");
    let csp = r
        .header("content-security-policy")
        .unwrap_or_default()
        .contains("frame-ancestors 'none'");
    assert!(xfo || csp, "login page can be framed: {:?}", r.headers);
    assert!(r
        .header("cache-control")
        .unwrap_or_default()
        .contains("no-store"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    // SPEC §14: so the browser's form post carries our real Origin.
    assert_eq!(r.header("referrer-policy"), Some("same-origin"));
    assert!(
        !hidden_inputs(&r.body).is_empty(),
        "the form carries a CSRF token: {}",
        r.body
    );
}

/// Form login answers 303 to `rd` when same-origin, else to `/`, and the
/// browser is then signed in.
async fn form_login_redirects_only_to_same_origin_rd(rig: &Rig) {
    let base = rig.base();
    let client = rig.gw.client();
    let r = login_form(&client, &base, "bob", BOB_PW, "/dashboard?tab=1").await;
    assert_eq!(r.status, 303, "{r:?}");
    let to = location(&r, &base);
    assert_eq!(to.as_str(), format!("{base}/dashboard?tab=1"));
    let e = send(client.get(rig.url("/dashboard"))).await.echo();
    assert_eq!(
        e.one("x-auth-user"),
        Some("bob"),
        "form login signed the browser in"
    );

    // Open-redirect attempts all land on `/` of the gateway itself.
    for evil in [
        "https://evil.example/x",
        "//evil.example/x",
        "/\\evil.example/x",
    ] {
        let r = login_form(&rig.gw.client(), &base, "bob", BOB_PW, evil).await;
        assert_eq!(r.status, 303, "rd={evil}: {r:?}");
        let to = location(&r, &base);
        assert_eq!(
            to.as_str(),
            format!("{base}/"),
            "rd={evil} must not leave the origin"
        );
    }
}

/// Wrong password, unknown user, disabled user: one answer (SPEC §6), no
/// session.
async fn bad_logins_are_indistinguishable(rig: &Rig) {
    let base = rig.base();
    let client = plain_client(None);
    let mut answers = Vec::new();
    for (user, pw) in [
        ("alice", "wrong-password"),
        ("mallory", "whatever-123"),
        ("carol", CAROL_PW),
    ] {
        let r = login_json(&client, &base, user, pw).await;
        assert_eq!(r.status, 401, "{user}: {}", r.body);
        assert!(
            r.set_cookie(COOKIE)
                .is_none_or(|c| common::http::clears_cookie(&c)),
            "{user}"
        );
        let v = r.json();
        assert!(v.get("access_token").is_none(), "{user}");
        assert!(v["error"].is_string(), "{user}: {}", r.body);
        answers.push((r.body.clone(), r.header("content-type").map(str::to_string)));
    }
    assert!(
        answers.windows(2).all(|w| w[0] == w[1]),
        "bad logins differ: {answers:#?}"
    );
}

/// A new session id at every login, even when the client brings one
/// (session fixation).
async fn every_login_gets_a_fresh_session_id(rig: &Rig) {
    let base = rig.base();
    let client = rig.gw.client();
    let first = login(&client, &base, "bob", BOB_PW).await;
    // The jar now sends the first session's cookie with the second login.
    let second = login(&client, &base, "bob", BOB_PW).await;
    assert!(!first.cookie.is_empty() && !second.cookie.is_empty());
    assert_ne!(
        first.cookie, second.cookie,
        "second login reused the session id"
    );
    assert_ne!(
        jwt::claims(&first.access_token)["sid"],
        jwt::claims(&second.access_token)["sid"]
    );

    let planted = "a".repeat(64);
    let r = send(
        plain_client(None)
            .post(format!("{base}/auth/login"))
            .header("Origin", &base)
            .header("Cookie", format!("{COOKIE}={planted}"))
            .json(&json!({"username": "bob", "password": BOB_PW})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let issued = r.cookie_value(COOKIE).expect("cookie");
    assert_ne!(issued, planted, "login adopted a client-chosen session id");
}
