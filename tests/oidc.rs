//! OpenID Connect login and back-channel logout (SPEC §13, issue 16),
//! end to end: the real gateway, panva's certified oidc-provider
//! (tests/oidc-provider) driven through its login and consent forms by a
//! real HTTP client, and, for ID and logout tokens a certified provider
//! will not send, a small real provider of the test's own (`FakeOp`).

mod common;

use std::time::{Duration, Instant};

use common::fake_op::{FakeOp, CLIENT_ID as FAKE_CLIENT};
use common::http::{cookie_get, location};
use common::jwt::{forge, now, stranger_key, Sign};
use common::op::{sign_in, OidcProvider};
use common::{send, EchoUpstream, Gateway, GatewayBuilder, Reply, COOKIE};
use reqwest::Client;
use serde_json::{json, Value};

const SECRET_ENV: &str = "GH_TEST_OIDC_SECRET";
const SECRET: &str = "op-client-secret-for-tests";

fn users() -> Value {
    json!({
        "alice": {"preferred_username": "alice.op", "email": "alice@corp.test", "email_verified": true, "groups": ["staff"]},
        "root": {"preferred_username": "root.op", "email": "root@corp.test", "email_verified": true, "groups": ["idp-admins", "staff"]},
        "plain": {"preferred_username": "plain.op", "email": "plain@corp.test", "email_verified": true, "groups": ["nothing-mapped"]},
        "eve": {"preferred_username": "eve.op", "email": "eve@evil.test", "email_verified": true, "groups": ["staff"]},
        "unver": {"preferred_username": "unver.op", "email": "unver@corp.test", "email_verified": false, "groups": ["staff"]},
        "bob": {"preferred_username": "bob", "email": "bob@corp.test", "email_verified": true, "groups": ["idp-admins"]},
    })
}

/// `[[oidc]]` blocks: `corp` and `strict` at the real provider, `fake` at
/// the test's own.
fn oidc_config(op_issuer: &str, fake_issuer: &str) -> String {
    format!(
        r#"
[[oidc]]
id = "corp"
name = "Corp SSO"
issuer = "{op_issuer}"
client_id = "gh"
client_secret_env = "{SECRET_ENV}"
role_map = {{ "idp-admins" = "admin", "staff" = "user" }}
default_roles = ["editor"]

[[oidc]]
id = "strict"
name = "Strict SSO"
issuer = "{op_issuer}"
client_id = "gh-strict"
client_secret_env = "{SECRET_ENV}"
allowed_email_domains = ["corp.test"]
role_map = {{ "staff" = "user" }}
link_local = true

[[oidc]]
id = "fake"
name = "Fake"
issuer = "{fake_issuer}"
client_id = "{FAKE_CLIENT}"
client_secret_env = "{SECRET_ENV}"
role_map = {{ "staff" = "user" }}
"#
    )
}

fn clients(gw: &str) -> Value {
    let client = |id: &str, provider: &str| {
        json!({
            "client_id": id,
            "client_secret": SECRET,
            "redirect_uris": [format!("{gw}/auth/oidc/{provider}/callback")],
            "post_logout_redirect_uris": [format!("{gw}/")],
            "backchannel_logout_uri": format!("{gw}/auth/oidc/{provider}/backchannel-logout"),
        })
    };
    json!([client("gh", "corp"), client("gh-strict", "strict")])
}

struct Setup {
    _echo: EchoUpstream,
    op: OidcProvider,
    fake: FakeOp,
    gw: Gateway,
}

impl Setup {
    /// Gateway first (the provider's port reserved), then the provider
    /// registered with the gateway's callback URLs, then SIGHUP so the
    /// gateway discovers it at once.
    async fn new(tweak: impl FnOnce(GatewayBuilder) -> GatewayBuilder) -> Setup {
        let echo = EchoUpstream::spawn();
        let fake = FakeOp::spawn();
        let port = OidcProvider::reserve_port();
        let b = Gateway::builder()
            .upstream(&echo)
            .env(SECRET_ENV, SECRET)
            .extra(&oidc_config(
                &OidcProvider::issuer_for(port),
                &fake.issuer(),
            ));
        let gw = tweak(b).spawn().await;
        let op = OidcProvider::spawn(port, clients(&gw.http_url()), users()).await;
        gw.signal("HUP");
        let s = Setup {
            _echo: echo,
            op,
            fake,
            gw,
        };
        s.wait_available("corp").await;
        s.wait_available("strict").await;
        s.wait_available("fake").await;
        s
    }

    fn base(&self) -> String {
        self.gw.http_url()
    }

    async fn login_page(&self) -> Reply {
        send(
            self.gw
                .plain_client()
                .get(format!("{}/auth/login?rd=/x", self.base()))
                .header("Accept", "text/html"),
        )
        .await
    }

    async fn wait_available(&self, id: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let link = format!("/auth/oidc/{id}/start?rd=");
        loop {
            if self.login_page().await.body.contains(&link) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "provider {id} never became available:\n{}\n{}",
                self.gw.logs(),
                self.op.logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn start_url(&self, provider: &str, rd: &str) -> String {
        format!(
            "{}/auth/oidc/{provider}/start?rd={}",
            self.base(),
            form_urlencoded::byte_serialize(rd.as_bytes()).collect::<String>()
        )
    }

    /// Sign in at the real provider as `account`: the callback URL it sends
    /// the browser to (not yet followed).
    async fn provider_callback(&self, client: &Client, provider: &str, account: &str) -> String {
        let back = format!("{}/auth/oidc/{provider}/callback", self.base());
        sign_in(
            client,
            &self.start_url(provider, "/landing?x=1"),
            account,
            &back,
        )
        .await
    }

    /// The whole browser round trip; the callback's answer.
    async fn round_trip(&self, client: &Client, provider: &str, account: &str) -> Reply {
        let cb = self.provider_callback(client, provider, account).await;
        send(client.get(cb)).await
    }

    /// Through the fake provider: start, its authorize redirect, callback.
    async fn fake_round_trip(&self, client: &Client) -> Reply {
        let start = send(client.get(self.start_url("fake", "/landing"))).await;
        assert_eq!(start.status, 302, "{}", start.body);
        let auth = send(client.get(location(&start, &self.base()))).await;
        assert_eq!(auth.status, 302, "{}", auth.body);
        send(client.get(location(&auth, &self.base()))).await
    }
}

/// The session cookie a callback answer set, if any.
fn session_cookie(r: &Reply) -> Option<String> {
    r.cookie_value(COOKIE).filter(|v| !v.is_empty())
}

/// A refusal: an HTML page with this status, no session cookie.
fn assert_refused(r: &Reply, status: u16) {
    assert_eq!(r.status, status, "{}", r.body);
    assert!(session_cookie(r).is_none(), "a session was created: {r:?}");
    assert!(
        r.header("content-type")
            .unwrap_or("")
            .starts_with("text/html"),
        "{r:?}"
    );
}

async fn me(client: &Client, base: &str) -> Reply {
    send(client.get(format!("{base}/auth/me"))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_lands_on_rd_with_mapped_roles() {
    let s = Setup::new(|b| b).await;
    let page = s.login_page().await;
    assert!(page.body.contains("Sign in with Corp SSO"), "{}", page.body);
    assert!(page.body.contains("name=\"password\""), "local form shown");

    // The authorization request: code flow, PKCE S256, state and nonce,
    // and a short-lived pre-login cookie.
    let (client, _jar) = s.gw.jar_client();
    let start = send(client.get(s.start_url("corp", "/"))).await;
    assert_eq!(start.status, 302, "{}", start.body);
    let auth = location(&start, &s.base());
    assert!(
        auth.as_str()
            .starts_with(&format!("{}/auth?", s.op.issuer())),
        "{auth}"
    );
    let q: std::collections::HashMap<String, String> = auth.query_pairs().into_owned().collect();
    assert_eq!(q.get("response_type").map(String::as_str), Some("code"));
    assert_eq!(
        q.get("code_challenge_method").map(String::as_str),
        Some("S256")
    );
    for k in ["code_challenge", "state", "nonce"] {
        assert!(q.get(k).is_some_and(|v| v.len() >= 22), "{k} in {auth}");
    }
    let pre = start
        .set_cookie(&format!("{COOKIE}-oidc"))
        .expect("pre-login cookie");
    assert!(
        pre.contains("Max-Age=600") && pre.contains("SameSite=Lax"),
        "{pre}"
    );
    assert!(pre.contains("HttpOnly") && pre.contains("Secure"), "{pre}");

    let (client, _jar) = s.gw.jar_client();
    let r = s.round_trip(&client, "corp", "root").await;
    assert_eq!(r.status, 303, "{}\n{}", r.body, s.gw.logs());
    assert_eq!(r.header("location"), Some("/landing?x=1"));
    assert!(session_cookie(&r).is_some());

    let up = send(client.get(format!("{}/landing?x=1", s.base()))).await;
    assert_eq!(up.status, 200, "{}", up.body);
    let echo = up.echo();
    assert_eq!(echo.one("x-auth-user"), Some("root.op"));
    assert_eq!(echo.one("x-auth-email"), Some("root@corp.test"));
    assert_eq!(echo.roles("x-auth-roles"), ["admin", "user"]);

    let m = me(&client, &s.base()).await;
    assert_eq!(m.status, 200, "{}", m.body);
    assert_eq!(m.json()["id"], "corp:root", "{}", m.body);
    let sessions = send(client.get(format!("{}/auth/sessions", s.base()))).await;
    assert_eq!(sessions.status, 200, "{}", sessions.body);
    assert_eq!(
        sessions.json()["sessions"].as_array().map(Vec::len),
        Some(1)
    );
    // The audit line names the provider.
    let logs = s.gw.logs();
    assert!(
        logs.lines()
            .any(|l| l.contains("\"login_ok\"") && l.contains("\"provider\":\"corp\"")),
        "{logs}"
    );
    // Refresh works like a local login's.
    let refresh = send(
        client
            .post(format!("{}/auth/refresh", s.base()))
            .header("Origin", s.base()),
    )
    .await;
    assert_eq!(refresh.status, 200, "{}", refresh.body);
    let token = refresh.json()["access_token"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let plain = s.gw.plain_client();
    let by_jwt = common::http::bearer_get(&plain, &format!("{}/api/x", s.base()), &token).await;
    assert_eq!(by_jwt.status, 200, "{}", by_jwt.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_mapping_default_roles_domains_and_local_names() {
    let s = Setup::new(|b| b).await;
    let roles_of = |r: &Reply| r.echo().roles("x-auth-roles");

    // staff -> user.
    let (c, _) = s.gw.jar_client();
    assert_eq!(s.round_trip(&c, "corp", "alice").await.status, 303);
    let up = send(c.get(format!("{}/landing", s.base()))).await;
    assert_eq!(roles_of(&up), ["user"]);

    // No group maps: default_roles.
    let (c, _) = s.gw.jar_client();
    assert_eq!(s.round_trip(&c, "corp", "plain").await.status, 303);
    let up = send(c.get(format!("{}/landing", s.base()))).await;
    assert_eq!(roles_of(&up), ["editor"]);

    // allowed_email_domains: another domain, and an unverified address.
    let (c, _) = s.gw.jar_client();
    assert_refused(&s.round_trip(&c, "strict", "eve").await, 403);
    assert_eq!(me(&c, &s.base()).await.status, 401);
    let (c, _) = s.gw.jar_client();
    assert_refused(&s.round_trip(&c, "strict", "unver").await, 403);
    let (c, _) = s.gw.jar_client();
    assert_eq!(s.round_trip(&c, "strict", "alice").await.status, 303);

    // "bob" is a local user: refused without link_local ...
    let (c, _) = s.gw.jar_client();
    let r = s.round_trip(&c, "corp", "bob").await;
    assert_refused(&r, 403);
    assert!(r.body.contains("local account"), "{}", r.body);
    assert_eq!(me(&c, &s.base()).await.status, 401);
    // ... and the local user's own session with it (local id and roles).
    let (c, _) = s.gw.jar_client();
    assert_eq!(s.round_trip(&c, "strict", "bob").await.status, 303);
    let up = send(c.get(format!("{}/landing", s.base()))).await;
    assert_eq!(up.echo().one("x-auth-user"), Some("bob"));
    assert_eq!(roles_of(&up), ["user"]);
    assert_eq!(me(&c, &s.base()).await.json()["id"], "bob");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_and_code_are_good_for_one_callback() {
    let s = Setup::new(|b| b).await;

    // Missing state.
    let (c, _) = s.gw.jar_client();
    let cb = s.provider_callback(&c, "corp", "alice").await;
    let mut no_state = reqwest::Url::parse(&cb).expect("url");
    let kept: Vec<(String, String)> = no_state
        .query_pairs()
        .filter(|(k, _)| k != "state")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    no_state.query_pairs_mut().clear().extend_pairs(&kept);
    assert_refused(&send(c.get(no_state)).await, 400);

    // Mismatched: the state of another browser's login (its pre-login
    // cookie is not ours).
    let (other, _) = s.gw.jar_client();
    let theirs = s.provider_callback(&other, "corp", "alice").await;
    let (c, _) = s.gw.jar_client();
    let _ours = send(c.get(s.start_url("corp", "/"))).await;
    assert_refused(&send(c.get(&theirs)).await, 400);
    assert_eq!(me(&c, &s.base()).await.status, 401);

    // Used: the first callback works, the same one again does not.
    let (c, _) = s.gw.jar_client();
    let cb = s.provider_callback(&c, "corp", "alice").await;
    assert_eq!(send(c.get(&cb)).await.status, 303);
    let (c2, _) = s.gw.jar_client();
    let _ = send(c2.get(s.start_url("corp", "/"))).await;
    assert_refused(&send(c2.get(&cb)).await, 400);

    // Code replay: the code of a finished login with a fresh state of ours.
    let (c, _) = s.gw.jar_client();
    let start = send(c.get(s.start_url("fake", "/"))).await;
    let auth = send(c.get(location(&start, &s.base()))).await;
    let cb = location(&auth, &s.base());
    assert_eq!(send(c.get(cb.clone())).await.status, 303);
    let code = cb
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code");
    let (c, _) = s.gw.jar_client();
    let start = send(c.get(s.start_url("fake", "/"))).await;
    let auth = send(c.get(location(&start, &s.base()))).await;
    let mut replay = location(&auth, &s.base());
    let state = replay
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("state");
    replay
        .query_pairs_mut()
        .clear()
        .append_pair("code", &code)
        .append_pair("state", &state);
    let exchanges = s.fake.exchanges();
    assert_refused(&send(c.get(replay)).await, 400);
    assert_eq!(
        s.fake.exchanges(),
        exchanges,
        "a replayed code is never exchanged"
    );

    // An error from the provider: shown escaped, never raw.
    let (c, _) = s.gw.jar_client();
    let start = send(c.get(s.start_url("corp", "/"))).await;
    let state = location(&start, &s.base())
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("state");
    let mut err = reqwest::Url::parse(&format!("{}/auth/oidc/corp/callback", s.base())).expect("u");
    err.query_pairs_mut()
        .append_pair("state", &state)
        .append_pair("error", "access_denied")
        .append_pair("error_description", "<script>alert(1)</script>");
    let r = send(c.get(err)).await;
    assert_refused(&r, 400);
    assert!(r.body.contains("access_denied"), "{}", r.body);
    assert!(!r.body.contains("<script>"), "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_id_tokens_are_refused() {
    let s = Setup::new(|b| b).await;
    // A good one first: the fake provider itself works.
    let (c, _) = s.gw.jar_client();
    assert_eq!(s.fake_round_trip(&c).await.status, 303);

    type Craft = fn(&common::fake_op::FakeOpKeys, &str, &str) -> String;
    let cases: Vec<(&str, Craft)> = vec![
        ("nonce mismatch", |k, iss, _| {
            k.id_token(iss, "not-the-nonce", json!({}))
        }),
        ("other audience", |k, iss, n| {
            k.id_token(iss, n, json!({"aud": "someone-else"}))
        }),
        ("azp of another client", |k, iss, n| {
            k.id_token(iss, n, json!({"aud": [FAKE_CLIENT, "x"], "azp": "x"}))
        }),
        ("other issuer (mix-up)", |k, _, n| {
            k.id_token("https://other-idp.test", n, json!({}))
        }),
        ("expired", |k, iss, n| {
            k.id_token(iss, n, json!({"iat": now() - 600, "exp": now() - 60}))
        }),
        ("issued in the future", |k, iss, n| {
            k.id_token(iss, n, json!({"iat": now() + 600, "exp": now() + 900}))
        }),
        ("unknown key", |_, iss, n| {
            forge(
                &json!({"alg": "EdDSA", "kid": "not-published"}),
                &json!({"iss": iss, "aud": FAKE_CLIENT, "sub": "x", "nonce": n, "iat": now(), "exp": now() + 300}),
                Sign::Ed25519(&stranger_key()),
            )
        }),
        ("right kid, stranger's key", |_, iss, n| {
            forge(
                &json!({"alg": "EdDSA", "kid": common::fake_op::KID}),
                &json!({"iss": iss, "aud": FAKE_CLIENT, "sub": "x", "nonce": n, "iat": now(), "exp": now() + 300}),
                Sign::Ed25519(&stranger_key()),
            )
        }),
        ("alg none", |_, iss, n| {
            forge(
                &json!({"alg": "none"}),
                &json!({"iss": iss, "aud": FAKE_CLIENT, "sub": "x", "nonce": n, "iat": now(), "exp": now() + 300}),
                Sign::Nothing,
            )
        }),
        ("HS256 with the client secret", |_, iss, n| {
            forge(
                &json!({"alg": "HS256", "kid": common::fake_op::KID}),
                &json!({"iss": iss, "aud": FAKE_CLIENT, "sub": "x", "nonce": n, "iat": now(), "exp": now() + 300}),
                Sign::Hs256(SECRET.as_bytes()),
            )
        }),
    ];
    for (what, craft) in cases {
        s.fake.craft(craft);
        let (c, _) = s.gw.jar_client();
        let r = s.fake_round_trip(&c).await;
        assert_eq!(r.status, 400, "{what}: {}", r.body);
        assert!(session_cookie(&r).is_none(), "{what}: session created");
        assert_eq!(me(&c, &s.base()).await.status, 401, "{what}");
    }
}

/// Post a logout token to a provider's back-channel endpoint.
async fn backchannel(s: &Setup, provider: &str, token: &str) -> Reply {
    send(
        s.gw.plain_client()
            .post(format!(
                "{}/auth/oidc/{provider}/backchannel-logout",
                s.base()
            ))
            .form(&[("logout_token", token)]),
    )
    .await
}

/// A fake-provider login: its cookie and an access token (by refresh).
async fn fake_session(s: &Setup, extra: Value) -> (String, String) {
    let extra2 = extra.clone();
    s.fake
        .craft(move |k, iss, n| k.id_token(iss, n, extra2.clone()));
    let (c, _) = s.gw.jar_client();
    let r = s.fake_round_trip(&c).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let cookie = session_cookie(&r).expect("cookie");
    let refresh = send(
        c.post(format!("{}/auth/refresh", s.base()))
            .header("Origin", s.base()),
    )
    .await;
    assert_eq!(refresh.status, 200, "{}", refresh.body);
    let jwt = refresh.json()["access_token"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    (cookie, jwt)
}

async fn alive(s: &Setup, cookie: &str, jwt: &str) -> (u16, u16) {
    let c = s.gw.plain_client();
    let url = format!("{}/api/x", s.base());
    let by_cookie = cookie_get(&c, &url, cookie).await.status;
    let by_jwt = common::http::bearer_get(&c, &url, jwt).await.status;
    (by_cookie, by_jwt)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backchannel_logout_by_sid_and_by_sub() {
    let s = Setup::new(|b| b).await;
    let iss = s.fake.issuer();

    // By sid: only that provider session's gatehouse sessions end.
    let (c1, j1) = fake_session(&s, json!({"sub": "u1", "sid": "op-s1"})).await;
    let (c2, j2) = fake_session(&s, json!({"sub": "u1", "sid": "op-s2"})).await;
    assert_eq!(alive(&s, &c1, &j1).await, (200, 200));
    let t = s
        .fake
        .keys()
        .logout_token(&iss, json!({"sid": "op-s1", "sub": "u1"}));
    let r = backchannel(&s, "fake", &t).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        alive(&s, &c1, &j1).await,
        (401, 401),
        "cookie and JWT refused at once"
    );
    assert_eq!(
        alive(&s, &c2, &j2).await,
        (200, 200),
        "other provider session kept"
    );

    // By sub alone: every session of that subject.
    let (c3, j3) = fake_session(&s, json!({"sub": "u1", "sid": "op-s3"})).await;
    let (c4, j4) = fake_session(&s, json!({"sub": "u2", "sid": "op-s4"})).await;
    let t = s.fake.keys().logout_token(&iss, json!({"sub": "u1"}));
    assert_eq!(backchannel(&s, "fake", &t).await.status, 200);
    assert_eq!(alive(&s, &c2, &j2).await, (401, 401));
    assert_eq!(alive(&s, &c3, &j3).await, (401, 401));
    assert_eq!(
        alive(&s, &c4, &j4).await,
        (200, 200),
        "another subject kept"
    );

    // sid with a sub that does not match: nothing ends.
    let t = s
        .fake
        .keys()
        .logout_token(&iss, json!({"sid": "op-s4", "sub": "u1"}));
    assert_eq!(backchannel(&s, "fake", &t).await.status, 200);
    assert_eq!(alive(&s, &c4, &j4).await, (200, 200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_logout_tokens_are_refused() {
    let s = Setup::new(|b| b).await;
    let iss = s.fake.issuer();
    let (c, j) = fake_session(&s, json!({"sub": "u9", "sid": "op-s9"})).await;
    let keys = s.fake.keys();
    let invalid = |r: &Reply| {
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(r.json(), json!({"error": "invalid_request"}));
    };
    let good_claims = json!({
        "iss": iss, "aud": FAKE_CLIENT, "iat": now(), "jti": "forged-1", "sid": "op-s9",
        "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
    });
    // Forged: signed by a stranger under the provider's kid.
    let forged = forge(
        &json!({"alg": "EdDSA", "kid": common::fake_op::KID, "typ": "logout+jwt"}),
        &good_claims,
        Sign::Ed25519(&stranger_key()),
    );
    invalid(&backchannel(&s, "fake", &forged).await);
    let none = forge(&json!({"alg": "none"}), &good_claims, Sign::Nothing);
    invalid(&backchannel(&s, "fake", &none).await);
    for extra in [
        json!({"sid": "op-s9", "nonce": "n"}),
        json!({"sid": "op-s9", "events": null}),
        json!({"sid": "op-s9", "iss": "https://other.test"}),
        json!({"sid": "op-s9", "aud": "other"}),
        json!({"sid": "op-s9", "exp": now() - 60}),
        json!({"sid": "op-s9", "jti": null}),
        json!({}),
    ] {
        invalid(&backchannel(&s, "fake", &keys.logout_token(&iss, extra.clone())).await);
    }
    // Wrong provider endpoint: not its keys.
    invalid(
        &backchannel(
            &s,
            "corp",
            &keys.logout_token(&iss, json!({"sid": "op-s9"})),
        )
        .await,
    );
    // No token at all.
    invalid(
        &send(
            s.gw.plain_client()
                .post(format!("{}/auth/oidc/fake/backchannel-logout", s.base()))
                .form(&[("other", "x")]),
        )
        .await,
    );
    assert_eq!(
        alive(&s, &c, &j).await,
        (200, 200),
        "no refused token ended anything"
    );

    // Replayed: accepted once, refused the second time.
    let t = keys.logout_token(&iss, json!({"sid": "op-unknown"}));
    assert_eq!(backchannel(&s, "fake", &t).await.status, 200);
    invalid(&backchannel(&s, "fake", &t).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_initiated_logout_and_the_providers_backchannel() {
    let s = Setup::new(|b| b).await;
    // Two gatehouse sessions from one provider session (same browser at the
    // provider, two gateway cookies).
    let (c, _) = s.gw.jar_client();
    assert_eq!(s.round_trip(&c, "corp", "alice").await.status, 303);
    let me1 = me(&c, &s.base()).await;
    assert_eq!(me1.status, 200);
    let second = {
        let cb = s.provider_callback(&c, "corp", "alice").await;
        let r = send(c.get(cb)).await;
        assert_eq!(r.status, 303, "{}", r.body);
        session_cookie(&r).expect("second cookie")
    };
    let first_jwt = {
        let r = send(
            c.post(format!("{}/auth/refresh", s.base()))
                .header("Origin", s.base()),
        )
        .await;
        r.json()["access_token"].as_str().unwrap_or("").to_owned()
    };
    // JSON logout names the provider's end-session URL ...
    let plain = s.gw.plain_client();
    let json_logout = send(
        plain
            .post(format!("{}/auth/logout", s.base()))
            .header("Cookie", format!("{COOKIE}={second}"))
            .header("Origin", s.base())
            .json(&json!({})),
    )
    .await;
    assert_eq!(json_logout.status, 200, "{}", json_logout.body);
    let url = json_logout.json()["end_session_url"]
        .as_str()
        .expect("end_session_url")
        .to_owned();
    assert!(
        url.starts_with(&format!("{}/session/end", s.op.issuer())),
        "{url}"
    );
    assert!(url.contains("id_token_hint="), "{url}");
    assert!(url.contains("post_logout_redirect_uri="), "{url}");

    // ... and a form logout redirects there; ending the provider session
    // makes it call the back-channel endpoint, which ends every gatehouse
    // session of it.
    let (c2, _) = s.gw.jar_client();
    assert_eq!(s.round_trip(&c2, "corp", "root").await.status, 303);
    let form = send(
        c2.post(format!("{}/auth/logout", s.base()))
            .header("Origin", s.base())
            .form(&[("x", "y")]),
    )
    .await;
    assert_eq!(form.status, 303, "{}", form.body);
    let end = location(&form, &s.base()).to_string();
    assert!(end.contains("id_token_hint="), "{end}");

    // The first browser ends its provider session (alice's): the provider
    // confirms and posts logout tokens to the gateway.
    let r = send(c.get(&url)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let action = {
        let i = r.body.find("action=\"").expect("logout form") + 8;
        let end = r.body[i..].find('"').expect("end") + i;
        r.body[i..end].replace("&amp;", "&")
    };
    let target = reqwest::Url::parse(&url)
        .and_then(|b| b.join(&action))
        .expect("action");
    let mut fields = common::http::hidden_inputs(&r.body);
    fields.push(("logout".into(), "yes".into()));
    let confirmed = send(c.post(target).form(&fields)).await;
    assert!(
        (300..400).contains(&confirmed.status),
        "{} {}\n{}",
        confirmed.status,
        confirmed.body,
        s.op.logs()
    );
    // The first cookie and its JWT are refused now (the second was logged out).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if me(&c, &s.base()).await.status == 401 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "back-channel logout did not end the session:\n{}\n{}",
            s.op.logs(),
            s.gw.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let by_jwt = common::http::bearer_get(&plain, &format!("{}/api/x", s.base()), &first_jwt).await;
    assert_eq!(by_jwt.status, 401, "{}", by_jwt.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_down_at_start_and_at_callback() {
    let echo = EchoUpstream::spawn();
    let fake = FakeOp::spawn();
    let port = OidcProvider::reserve_port();
    let gw = Gateway::builder()
        .upstream(&echo)
        .env(SECRET_ENV, SECRET)
        .extra(&oidc_config(
            &OidcProvider::issuer_for(port),
            &fake.issuer(),
        ))
        .spawn()
        .await;
    let base = gw.http_url();
    let plain = gw.plain_client();
    // Healthy and ready without the provider.
    assert_eq!(send(plain.get(format!("{base}/healthz"))).await.status, 200);
    assert_eq!(send(plain.get(format!("{base}/readyz"))).await.status, 200);
    let page = send(
        plain
            .get(format!("{base}/auth/login"))
            .header("Accept", "text/html"),
    )
    .await;
    assert!(
        page.body.contains("Corp SSO (unavailable)"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("/auth/oidc/corp/start"),
        "{}",
        page.body
    );
    let start = send(plain.get(format!("{base}/auth/oidc/corp/start?rd=/"))).await;
    assert_eq!(start.status, 503, "{}", start.body);
    assert!(start.body.contains("Corp SSO"), "{}", start.body);
    let cb = send(plain.get(format!("{base}/auth/oidc/corp/callback?state=x&code=y"))).await;
    assert_eq!(cb.status, 503, "{}", cb.body);
    // Local login keeps working.
    let (c, _) = gw.jar_client();
    common::login(&c, &base, "alice", common::ALICE_PW).await;
    // The provider comes up later: discovered in the background, no SIGHUP.
    let mut op = OidcProvider::spawn(port, clients(&base), users()).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let page = send(
            plain
                .get(format!("{base}/auth/login"))
                .header("Accept", "text/html"),
        )
        .await;
        if page.body.contains("/auth/oidc/corp/start") {
            break;
        }
        assert!(Instant::now() < deadline, "not discovered:\n{}", gw.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Down again between start and callback: the callback answers 503.
    let (c, _) = gw.jar_client();
    let back = format!("{base}/auth/oidc/corp/callback");
    let start = format!("{base}/auth/oidc/corp/start?rd=/");
    let cb = sign_in(&c, &start, "alice", &back).await;
    op.stop();
    let r = send(c.get(cb)).await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(session_cookie(&r).is_none());
    assert_eq!(send(plain.get(format!("{base}/healthz"))).await.status, 200);
    assert_eq!(send(plain.get(format!("{base}/readyz"))).await.status, 200);
    common::login(&c, &base, "bob", common::BOB_PW).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_only_gateway_hides_the_local_form() {
    let echo = EchoUpstream::spawn();
    let fake = FakeOp::spawn();
    let gw = Gateway::builder()
        .upstream(&echo)
        .env(SECRET_ENV, SECRET)
        .unset("users", "file")
        .extra(&oidc_config("http://127.0.0.1:1", &fake.issuer()))
        .spawn()
        .await;
    let page = send(
        gw.plain_client()
            .get(format!("{}/auth/login", gw.http_url()))
            .header("Accept", "text/html"),
    )
    .await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("name=\"password\""), "{}", page.body);
    assert!(page.body.contains("Fake"), "{}", page.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_on_one_redis_share_states_jtis_and_provider_sessions() {
    let redis = common::RedisServer::spawn();
    let s = Setup::new(|b| b.redis(&redis)).await;
    let gw2 = s.gw.sibling().await;
    let base2 = gw2.http_url();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let page = send(gw2.plain_client().get(format!("{base2}/auth/login"))).await;
        if page.body.contains("/auth/oidc/fake/start") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "gw2 never discovered:\n{}",
            gw2.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The real provider's round trip on the Redis store.
    let (c, _) = s.gw.jar_client();
    assert_eq!(s.round_trip(&c, "corp", "alice").await.status, 303);
    assert_eq!(me(&c, &s.base()).await.status, 200);

    // A state started at gw1 is used at gw2 (one jar: the same pre-login
    // cookie), and then refused at gw1.
    s.fake.craft(|k, iss, n| k.id_token(iss, n, json!({})));
    let (c, _) = s.gw.jar_client();
    let start = send(c.get(s.start_url("fake", "/"))).await;
    let auth = send(c.get(location(&start, &s.base()))).await;
    let at_gw1 = location(&auth, &s.base());
    let mut at_gw2 = at_gw1.clone();
    at_gw2.set_port(Some(gw2.http_addr().port())).expect("port");
    assert_eq!(send(c.get(at_gw2)).await.status, 303);
    assert_refused(&send(c.get(at_gw1)).await, 400);

    // A provider session made at gw1 ends by a logout token sent to gw2;
    // the same token again (to gw1) is a replay.
    let (cookie, jwt) = fake_session(&s, json!({"sub": "r1", "sid": "op-r1"})).await;
    assert_eq!(alive(&s, &cookie, &jwt).await, (200, 200));
    let t = s
        .fake
        .keys()
        .logout_token(&s.fake.issuer(), json!({"sid": "op-r1"}));
    let r = send(
        gw2.plain_client()
            .post(format!("{base2}/auth/oidc/fake/backchannel-logout"))
            .form(&[("logout_token", t.as_str())]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(alive(&s, &cookie, &jwt).await, (401, 401));
    assert_eq!(backchannel(&s, "fake", &t).await.status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_provider_key_is_fetched_on_its_unknown_kid() {
    let s = Setup::new(|b| b).await;
    let (c, _) = s.gw.jar_client();
    assert_eq!(s.fake_round_trip(&c).await.status, 303);
    let (cookie, jwt) = fake_session(&s, json!({"sub": "k1", "sid": "op-k1"})).await;
    // The provider rotates: ID and logout tokens name a kid the gateway
    // has not seen; it fetches the JWKS again and accepts them.
    s.fake.rotate("fake-2");
    s.fake.craft(|k, iss, n| k.id_token(iss, n, json!({})));
    let (c, _) = s.gw.jar_client();
    let r = s.fake_round_trip(&c).await;
    assert_eq!(r.status, 303, "{}\n{}", r.body, s.gw.logs());
    let t = s
        .fake
        .keys()
        .logout_token(&s.fake.issuer(), json!({"sid": "op-k1"}));
    assert_eq!(backchannel(&s, "fake", &t).await.status, 200);
    assert_eq!(alive(&s, &cookie, &jwt).await, (401, 401));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_discovers_the_providers_again() {
    let s = Setup::new(|b| b).await;
    let logout = |cookie: String| {
        let c = s.gw.plain_client();
        let base = s.base();
        async move {
            send(
                c.post(format!("{base}/auth/logout"))
                    .header("Cookie", format!("{COOKIE}={cookie}"))
                    .header("Origin", &base)
                    .json(&json!({})),
            )
            .await
        }
    };
    let (cookie, _) = fake_session(&s, json!({})).await;
    let r = logout(cookie).await;
    assert!(r.json()["end_session_url"].is_string(), "{}", r.body);
    // The provider stops offering RP-initiated logout; after SIGHUP the
    // gateway knows.
    s.fake.set_end_session(false);
    s.gw.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (cookie, _) = fake_session(&s, json!({})).await;
        let r = logout(cookie).await;
        assert_eq!(r.status, 200, "{}", r.body);
        if r.json().get("end_session_url").is_none() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not rediscovered:\n{}",
            s.gw.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
