//! Forward-auth (SPEC §10) as Traefik and Envoy ask it (neither is in
//! Debian, so a Rust client sends their exact requests to a real gatehouse),
//! and the bypass classes of the verify path, each with its positive
//! control: descriptions from an untrusted peer, malformed or contradictory
//! descriptions, a missing Host, a health-check User-Agent, the verify
//! request's own query, open-redirect `rd` values, the endpoints switched
//! off, and a route that is decided for but has no upstream.

mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::http::{hidden_inputs, login, plain_client, send, Reply};
use common::raw;
use common::snippet::snippet;
use common::users::q;
use common::{Gateway, GatewayBuilder, BOB_PW, ERIN_PW};
use reqwest::Client;

/// The host the described requests were sent to (never resolved).
const APP_HOST: &str = "app.example.test";

/// Forward-auth on, 127.0.0.1 trusted, the front-proxy tests' policy.
fn base_builder() -> GatewayBuilder {
    common::fauth::builder()
}

/// Plus a route that is decided for, never proxied: no upstream.
fn builder() -> GatewayBuilder {
    base_builder().routes_first("[[routes]]\npath = \"/decided/**\"\n")
}

async fn gateway() -> Gateway {
    builder().spawn().await
}

/// Exactly what Traefik's ForwardAuth sends for `method uri` (it copies the
/// client's headers, then sets its own X-Forwarded-*).
fn traefik(client: &Client, gw: &Gateway, method: &str, uri: &str) -> reqwest::RequestBuilder {
    client
        .get(format!("{}/auth/verify", gw.http_url()))
        .header("X-Forwarded-Method", method)
        .header("X-Forwarded-Proto", "https")
        .header("X-Forwarded-Host", APP_HOST)
        .header("X-Forwarded-Port", "443")
        .header("X-Forwarded-Uri", uri)
        .header("X-Forwarded-For", "203.0.113.7")
        .header("User-Agent", "Mozilla/5.0")
}

/// Envoy's ext_authz HTTP check: the original method and Host, the path
/// after the prefix, no body.
fn envoy(client: &Client, gw: &Gateway, method: &str, path: &str) -> reqwest::RequestBuilder {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    client
        .request(m, format!("{}/auth/ext-authz{path}", gw.http_url()))
        .header("Host", APP_HOST)
        .header("X-Forwarded-Proto", "https")
        .header("X-Forwarded-For", "203.0.113.7")
        .header("Content-Length", "0")
}

/// 200, empty, all three identity headers present with these values.
fn assert_allowed(r: &Reply, user: &str, email: &str, roles: &str) {
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, "");
    assert_eq!(r.header("x-auth-user"), Some(user), "{r:?}");
    assert_eq!(r.header("x-auth-email"), Some(email), "{r:?}");
    assert_eq!(r.header("x-auth-roles"), Some(roles), "{r:?}");
}

fn login_location(gw: &Gateway, original: &str) -> String {
    let rd: String = url_encoded(original);
    format!("{}/auth/login?rd={rd}", gw.http_url())
}

fn url_encoded(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn traefik_shaped_requests_allowed_and_refused() {
    let gw = gateway().await;
    let c = plain_client(None);
    let bob = login(&c, &gw.http_url(), "bob", BOB_PW).await;
    let erin = login(&c, &gw.http_url(), "erin", ERIN_PW).await;

    // Allowed: cookie and bearer; erin's empty email is still a header.
    let r = send(traefik(&c, &gw, "GET", "/app/x?q=1").header("Cookie", bob.cookie_header())).await;
    assert_allowed(&r, "bob", "bob@example.com", "user");
    let r = send(traefik(&c, &gw, "POST", "/app/x").bearer_auth(&bob.access_token)).await;
    assert_allowed(&r, "bob", "bob@example.com", "user");
    let r = send(traefik(&c, &gw, "GET", "/app/x").header("Cookie", erin.cookie_header())).await;
    assert_allowed(&r, "erin", "", "user");
    // A public route: allowed for anyone, all three present and empty.
    let r = send(traefik(&c, &gw, "GET", "/public/x")).await;
    assert_allowed(&r, "", "", "");

    // Refused: SPEC §6 answers as they are.
    send(traefik(&c, &gw, "GET", "/app/x"))
        .await
        .assert_error(401, "unauthorized");
    let r = send(traefik(&c, &gw, "GET", "/admin/x").header("Cookie", bob.cookie_header())).await;
    r.assert_error(403, "forbidden");
    let r = send(traefik(&c, &gw, "GET", "/nothing").header("Cookie", bob.cookie_header())).await;
    r.assert_error(404, "not_found");
    let first = send(traefik(&c, &gw, "GET", "/limited/x").bearer_auth(&bob.access_token)).await;
    assert_eq!(first.status, 200, "{first:?}");
    let second = send(traefik(&c, &gw, "GET", "/limited/x").bearer_auth(&bob.access_token)).await;
    second.assert_error(429, "rate_limited");
    assert!(second.header("retry-after").is_some(), "{second:?}");

    // An anonymous browser: 302 to the login page, rd the absolute URL.
    let r = send(traefik(&c, &gw, "GET", "/app/x?q=1").header("Accept", "text/html")).await;
    assert_eq!(r.status, 302, "{r:?}");
    let want = login_location(&gw, &format!("https://{APP_HOST}/app/x?q=1"));
    assert_eq!(r.header("location"), Some(want.as_str()));
    // HEAD is a navigation too.
    let head = traefik(&c, &gw, "HEAD", "/app/x").header("Accept", "text/html");
    assert_eq!(send(head).await.status, 302);
    // Not for a POST (a form resubmitted after login would be lost).
    let r = send(traefik(&c, &gw, "POST", "/app/x").header("Accept", "text/html")).await;
    r.assert_error(401, "unauthorized");
    // X-Forwarded-Proto http is believed (the rd says http).
    let r = send(
        c.get(format!("{}/auth/verify", gw.http_url()))
            .header("X-Forwarded-Method", "GET")
            .header("X-Forwarded-Proto", "http")
            .header("X-Forwarded-Host", APP_HOST)
            .header("X-Forwarded-Uri", "/app/x")
            .header("Accept", "text/html"),
    )
    .await;
    let want = login_location(&gw, &format!("http://{APP_HOST}/app/x"));
    assert_eq!(r.header("location"), Some(want.as_str()), "{r:?}");
}

#[tokio::test]
async fn nginx_shaped_browser_gets_401_with_location() {
    let gw = gateway().await;
    let c = plain_client(None);
    let original = format!("https://{APP_HOST}/app/x?q=1");
    let nginx = |rb: reqwest::RequestBuilder| {
        rb.header("X-Original-Method", "GET")
            .header("X-Original-URL", &original)
            .header("X-Forwarded-For", "203.0.113.7")
    };
    let verify = format!("{}/auth/verify", gw.http_url());
    let r = send(nginx(c.get(&verify)).header("Accept", "text/html")).await;
    r.assert_error(401, "unauthorized");
    assert_eq!(
        r.header("location"),
        Some(login_location(&gw, &original).as_str())
    );
    // Not a browser: no Location.
    let r = send(nginx(c.get(&verify))).await;
    r.assert_error(401, "unauthorized");
    assert_eq!(r.header("location"), None);
    // Positive control.
    let bob = login(&c, &gw.http_url(), "bob", BOB_PW).await;
    let r = send(nginx(c.get(&verify)).header("Cookie", bob.cookie_header())).await;
    assert_allowed(&r, "bob", "bob@example.com", "user");
}

#[tokio::test]
async fn envoy_shaped_requests_allowed_and_refused() {
    let gw = gateway().await;
    let c = plain_client(None);
    let bob = login(&c, &gw.http_url(), "bob", BOB_PW).await;

    let r = send(envoy(&c, &gw, "GET", "/app/x?q=1").bearer_auth(&bob.access_token)).await;
    assert_allowed(&r, "bob", "bob@example.com", "user");
    let r = send(envoy(&c, &gw, "DELETE", "/app/x").bearer_auth(&bob.access_token)).await;
    assert_allowed(&r, "bob", "bob@example.com", "user");
    let r = send(envoy(&c, &gw, "GET", "/public/x")).await;
    assert_allowed(&r, "", "", "");

    send(envoy(&c, &gw, "GET", "/app/x"))
        .await
        .assert_error(401, "unauthorized");
    let r = send(envoy(&c, &gw, "GET", "/admin/x").bearer_auth(&bob.access_token)).await;
    r.assert_error(403, "forbidden");
    let r = send(envoy(&c, &gw, "GET", "/nothing").bearer_auth(&bob.access_token)).await;
    r.assert_error(404, "not_found");

    // A cookie POST is CSRF-checked against the described origin.
    let cross = envoy(&c, &gw, "POST", "/app/x")
        .header("Cookie", bob.cookie_header())
        .header("Origin", "https://evil.test");
    send(cross).await.assert_error(403, "forbidden");
    let same = envoy(&c, &gw, "POST", "/app/x")
        .header("Cookie", bob.cookie_header())
        .header("Origin", format!("https://{APP_HOST}"));
    assert_allowed(&send(same).await, "bob", "bob@example.com", "user");

    // Browser: 302 (Envoy passes it on), rd the absolute original URL.
    let r = send(envoy(&c, &gw, "GET", "/app/x?q=1").header("Accept", "text/html")).await;
    assert_eq!(r.status, 302, "{r:?}");
    let want = login_location(&gw, &format!("https://{APP_HOST}/app/x?q=1"));
    assert_eq!(r.header("location"), Some(want.as_str()));

    // `..` after the prefix: normalised, decided for where it lands.
    let dots = |target: &str, auth: &str| {
        format!(
            "GET {target} HTTP/1.1\r\nHost: {APP_HOST}\r\nAuthorization: {auth}\r\n\
             Connection: close\r\n\r\n"
        )
    };
    let r = raw::send(
        gw.http_addr(),
        dots("/auth/ext-authz/public/../admin/x", &bob.bearer()).as_bytes(),
    )
    .await;
    assert_eq!(r.status, 403, "{r:?}");
    let r = raw::send(
        gw.http_addr(),
        dots("/auth/ext-authz/../admin/x", &bob.bearer()).as_bytes(),
    )
    .await;
    assert!(matches!(r.status, 400 | 403 | 404), "{r:?}");
    let r = raw::send(
        gw.http_addr(),
        dots("/auth/ext-authz/%2e%2e/admin/x", &bob.bearer()).as_bytes(),
    )
    .await;
    assert!(matches!(r.status, 400 | 403), "{r:?}");
    let r = raw::send(
        gw.http_addr(),
        dots("/auth/ext-authz/app/%2e%2e/app/x", &bob.bearer()).as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "positive control: {r:?}");
    // A missing Host.
    let no_host = format!(
        "GET /auth/ext-authz/public/x HTTP/1.0\r\nAuthorization: {}\r\n\r\n",
        bob.bearer()
    );
    let r = raw::send(gw.http_addr(), no_host.as_bytes()).await;
    assert_eq!(r.status, 400, "{r:?}");
}

/// The README's Traefik and Envoy snippets ask in the shape tested above.
#[test]
fn traefik_and_envoy_snippets_send_the_tested_shape() {
    let t = snippet("traefik");
    assert!(
        t.contains("address: \"http://{gatehouse}/auth/verify\""),
        "{t}"
    );
    assert!(t.contains("trustForwardHeader: false"), "{t}");
    for h in [
        "X-Auth-User",
        "X-Auth-Email",
        "X-Auth-Roles",
        "X_Auth_User",
        "X_Auth_Email",
        "X_Auth_Roles",
    ] {
        assert!(t.contains(h), "traefik snippet lacks {h}");
    }
    let e = snippet("envoy");
    assert!(e.contains("path_prefix: /auth/ext-authz\n"), "{e}");
    assert!(
        e.contains("headers_with_underscores_action: DROP_HEADER"),
        "{e}"
    );
    for h in [
        "cookie",
        "authorization",
        "x-api-key",
        "x-forwarded-proto",
        "x-auth-user",
        "x-auth-email",
        "x-auth-roles",
        "location",
        "retry-after",
    ] {
        assert!(
            e.contains(&format!("exact: {h}\n")),
            "envoy snippet lacks {h}"
        );
    }
    let h = snippet("haproxy");
    for line in [
        "del-header X_Auth_User",
        "del-header X-Auth-User",
        "set-header X-Original-URL",
    ] {
        assert!(h.contains(line), "haproxy snippet lacks {line}");
    }
}

/// A client at 127.0.0.2 (not in trusted_proxies).
fn untrusted_client() -> Client {
    Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
        .build()
        .expect("client")
}

#[tokio::test]
async fn description_from_an_untrusted_peer_is_not_decided() {
    let gw = gateway().await;
    let c = plain_client(None);
    let bob = login(&c, &gw.http_url(), "bob", BOB_PW).await;
    let u = untrusted_client();
    // Positive control: the same requests from the trusted proxy.
    let r = send(traefik(&c, &gw, "GET", "/app/x").header("Cookie", bob.cookie_header())).await;
    assert_allowed(&r, "bob", "bob@example.com", "user");
    assert_eq!(send(traefik(&c, &gw, "GET", "/public/x")).await.status, 200);

    // A valid cookie does not make it a decision; nor does a public path.
    let r = send(traefik(&u, &gw, "GET", "/app/x").header("Cookie", bob.cookie_header())).await;
    r.assert_error(403, "forbidden");
    assert_eq!(r.header("x-auth-user"), None);
    send(traefik(&u, &gw, "GET", "/public/x"))
        .await
        .assert_error(403, "forbidden");
    let r = send(envoy(&u, &gw, "GET", "/app/x").bearer_auth(&bob.access_token)).await;
    r.assert_error(403, "forbidden");
    let r = send(
        u.get(format!("{}/auth/verify", gw.http_url()))
            .header("X-Original-Method", "GET")
            .header("X-Original-URL", format!("https://{APP_HOST}/app/x"))
            .header("Cookie", bob.cookie_header()),
    )
    .await;
    r.assert_error(403, "forbidden");
    // No browser redirect either.
    let r = send(traefik(&u, &gw, "GET", "/app/x").header("Accept", "text/html")).await;
    r.assert_error(403, "forbidden");
}

#[tokio::test]
async fn malformed_and_contradictory_descriptions_are_400() {
    let gw = gateway().await;
    let c = plain_client(None);
    let bob = login(&c, &gw.http_url(), "bob", BOB_PW).await;
    let ck = bob.cookie_header();
    let verify = format!("{}/auth/verify", gw.http_url());

    // X-Forwarded-Uri: #, encoded /, absolute form, bad escapes.
    for uri in [
        "/public/x#/../../admin/x",
        "/public%2f..%2fadmin/x",
        "/public%2F..%2Fadmin/x",
        "http://evil.test/admin/x",
        "//evil.test/admin/x",
        "admin/x",
        "/public/%zz",
        "",
    ] {
        let r = send(traefik(&c, &gw, "GET", uri).header("Cookie", &ck)).await;
        r.assert_error(400, "bad_request");
        assert_eq!(r.header("x-auth-user"), None, "{uri}");
    }
    // `..` climbing above / : never allowed.
    for uri in ["/../admin/x", "/public/../../admin/x", "/%2e%2e/admin/x"] {
        let r = send(traefik(&c, &gw, "GET", uri).header("Cookie", &ck)).await;
        assert!(matches!(r.status, 400 | 403), "{uri}: {r:?}");
    }
    // `..` that stays below /: decided for where it lands (bob: not admin).
    let r = send(traefik(&c, &gw, "GET", "/public/../admin/x").header("Cookie", &ck)).await;
    r.assert_error(403, "forbidden");
    // Positive control.
    let r = send(traefik(&c, &gw, "GET", "/app/./x").header("Cookie", &ck)).await;
    assert_allowed(&r, "bob", "bob@example.com", "user");

    // Partial: each required part missing in turn.
    let fwd = [
        ("X-Forwarded-Method", "GET"),
        ("X-Forwarded-Host", APP_HOST),
        ("X-Forwarded-Uri", "/app/x"),
    ];
    for skip in 0..fwd.len() {
        let mut rb = c.get(&verify).header("Cookie", &ck);
        for (i, (n, v)) in fwd.iter().enumerate() {
            if i != skip {
                rb = rb.header(*n, *v);
            }
        }
        send(rb).await.assert_error(400, "bad_request");
    }
    // Nothing at all.
    send(c.get(&verify).header("Cookie", &ck))
        .await
        .assert_error(400, "bad_request");
    let r = send(
        c.get(&verify)
            .header("X-Original-URL", format!("https://{APP_HOST}/app/x")),
    )
    .await;
    r.assert_error(400, "bad_request");
    // A description header twice.
    let r = send(traefik(&c, &gw, "GET", "/app/x").header("X-Forwarded-Uri", "/public/x")).await;
    r.assert_error(400, "bad_request");
    // Bad method, bad proto, bad host.
    send(traefik(&c, &gw, "G T", "/app/x").header("Cookie", &ck))
        .await
        .assert_error(400, "bad_request");
    let r = send(
        c.get(&verify)
            .header("Cookie", &ck)
            .header("X-Forwarded-Method", "GET")
            .header("X-Forwarded-Proto", "ftp")
            .header("X-Forwarded-Host", APP_HOST)
            .header("X-Forwarded-Uri", "/app/x"),
    )
    .await;
    r.assert_error(400, "bad_request");
    let r = send(
        c.get(&verify)
            .header("Cookie", &ck)
            .header("X-Forwarded-Method", "GET")
            .header("X-Forwarded-Host", "evil.test@app.example.test")
            .header("X-Forwarded-Uri", "/app/x"),
    )
    .await;
    r.assert_error(400, "bad_request");
    // X-Original-URL: userinfo, not http(s), not absolute.
    for url in [
        format!("https://user@{APP_HOST}/app/x"),
        format!("ftp://{APP_HOST}/app/x"),
        "/app/x".to_string(),
        format!("https://{APP_HOST}/app/x#frag"),
    ] {
        let r = send(
            c.get(&verify)
                .header("Cookie", &ck)
                .header("X-Original-Method", "GET")
                .header("X-Original-URL", &url),
        )
        .await;
        assert_eq!(r.status, 400, "{url}: {r:?}");
    }

    // Both sets: agreeing is fine, disagreeing is 400.
    let both = |uri: &str, url: String, host: &str| {
        c.get(&verify)
            .header("Cookie", &ck)
            .header("X-Forwarded-Method", "GET")
            .header("X-Forwarded-Proto", "https")
            .header("X-Forwarded-Host", host)
            .header("X-Forwarded-Uri", uri)
            .header("X-Original-Method", "GET")
            .header("X-Original-URL", url)
    };
    let agree = both("/app/x", format!("https://{APP_HOST}/app/x"), APP_HOST);
    assert_allowed(&send(agree).await, "bob", "bob@example.com", "user");
    let path = both("/public/x", format!("https://{APP_HOST}/admin/x"), APP_HOST);
    send(path).await.assert_error(400, "bad_request");
    let host = both("/app/x", format!("https://{APP_HOST}/app/x"), "other.test");
    send(host).await.assert_error(400, "bad_request");
    let proto = both("/app/x", format!("http://{APP_HOST}/app/x"), APP_HOST);
    send(proto).await.assert_error(400, "bad_request");
    // nginx's set with a generic X-Forwarded-Host that disagrees.
    let r = send(
        c.get(&verify)
            .header("Cookie", &ck)
            .header("X-Original-Method", "GET")
            .header("X-Original-URL", format!("https://{APP_HOST}/app/x"))
            .header("X-Forwarded-Host", "other.test"),
    )
    .await;
    r.assert_error(400, "bad_request");
}

#[tokio::test]
async fn verify_query_health_checks_and_switches() {
    let gw = gateway().await;
    let c = plain_client(None);
    let bob = login(&c, &gw.http_url(), "bob", BOB_PW).await;
    let described = |rb: reqwest::RequestBuilder, uri: &str| {
        rb.header("X-Forwarded-Method", "GET")
            .header("X-Forwarded-Host", APP_HOST)
            .header("X-Forwarded-Uri", uri)
    };

    // The verify request's own query is ignored, whatever it says.
    for q in [
        "?uri=/public/x",
        "?X-Forwarded-Uri=/public/x",
        "?rd=/public/x&public=1",
    ] {
        let url = format!("{}/auth/verify{q}", gw.http_url());
        send(described(c.get(&url), "/app/x"))
            .await
            .assert_error(401, "unauthorized");
        let r = send(described(c.get(&url), "/public/x")).await;
        assert_allowed(&r, "", "", "");
    }

    // A health checker's User-Agent opens nothing.
    for ua in [
        "kube-probe/1.29",
        "ELB-HealthChecker/2.0",
        "GoogleHC/1.0",
        "Consul Health Check",
        "Traefik",
    ] {
        let r = send(traefik(&c, &gw, "GET", "/app/x").header("User-Agent", ua)).await;
        r.assert_error(401, "unauthorized");
        let r = send(traefik(&c, &gw, "GET", "/public/x").header("User-Agent", ua)).await;
        assert_allowed(&r, "", "", "");
    }

    // A route without upstream: decided by verify, 404 on the proxy path.
    let r = send(traefik(&c, &gw, "GET", "/decided/x").header("Cookie", bob.cookie_header())).await;
    assert_allowed(&r, "bob", "bob@example.com", "user");
    send(traefik(&c, &gw, "GET", "/decided/x"))
        .await
        .assert_error(401, "unauthorized");
    let r = send(
        c.get(format!("{}/decided/x", gw.http_url()))
            .header("Cookie", bob.cookie_header()),
    )
    .await;
    r.assert_error(404, "not_found");
}

#[tokio::test]
async fn forward_auth_off_is_404() {
    let gw = base_builder()
        .set("forward_auth", "enabled", "false")
        .spawn()
        .await;
    let c = plain_client(None);
    let bob = login(&c, &gw.http_url(), "bob", BOB_PW).await;
    let r = send(traefik(&c, &gw, "GET", "/public/x").header("Cookie", bob.cookie_header())).await;
    r.assert_error(404, "not_found");
    let r = send(envoy(&c, &gw, "GET", "/public/x").bearer_auth(&bob.access_token)).await;
    r.assert_error(404, "not_found");
    // The proxy path is unaffected (positive control: the route exists).
    let r = send(c.get(format!("{}/public/x", gw.http_url()))).await;
    assert_eq!(r.status, 502, "{r:?}");
}

/// The login page's hidden `rd` for `rd`.
async fn page_rd(c: &Client, base: &str, rd: &str) -> String {
    let url =
        reqwest::Url::parse_with_params(&format!("{base}/auth/login"), &[("rd", rd)]).expect("url");
    let page = send(c.get(url).header("Accept", "text/html")).await;
    assert_eq!(page.status, 200, "{page:?}");
    hidden_inputs(&page.body)
        .into_iter()
        .find(|(n, _)| n == "rd")
        .map(|(_, v)| v)
        .expect("rd input")
}

/// A form login posting `rd` (cookies carried by hand: the CSRF cookie's
/// name may be `__Secure-`, which a jar keeps off plain http); returns
/// where it sends the browser.
async fn form_login_to(c: &Client, base: &str, rd: &str) -> String {
    let page = send(
        c.get(format!("{base}/auth/login"))
            .header("Accept", "text/html"),
    )
    .await;
    let cookies: Vec<String> = page
        .set_cookies()
        .iter()
        .map(|s| s.split(';').next().unwrap_or("").to_string())
        .collect();
    let mut fields: Vec<(String, String)> = hidden_inputs(&page.body)
        .into_iter()
        .filter(|(n, _)| n != "rd")
        .collect();
    fields.push(("username".into(), "bob".into()));
    fields.push(("password".into(), BOB_PW.into()));
    fields.push(("rd".into(), rd.into()));
    let r = send(
        c.post(format!("{base}/auth/login"))
            .header("Origin", base)
            .header("Cookie", cookies.join("; "))
            .form(&fields),
    )
    .await;
    assert!(matches!(r.status, 302 | 303), "{r:?}");
    r.header("location").expect("Location").to_string()
}

#[tokio::test]
async fn absolute_rd_only_to_public_url_host() {
    let gw = gateway().await;
    let c = plain_client(None);
    let base = gw.http_url();
    let host = base.trim_start_matches("http://");
    let ok = [
        format!("{base}/app/x?q=1"),
        "https://127.0.0.1/app/x".to_string(),
        "/app/x".to_string(),
    ];
    for rd in &ok {
        assert_eq!(&page_rd(&c, &base, rd).await, rd, "positive control");
        assert_eq!(&form_login_to(&c, &base, rd).await, rd, "positive control");
    }
    let evil = [
        format!("http://{host}.evil.test/x"),
        format!("http://{host}@evil.test/x"),
        format!("http://evil.test/{host}"),
        "http://127.0.0.1.evil.test/x".to_string(),
        "http://127.0.0.1:1/x".to_string(),
        format!("{base}//evil.test/x"),
        "https://example.com.evil.test".to_string(),
        "https://evil.test/.example.com".to_string(),
        "https://example.com@evil.test".to_string(),
        "//evil.test/x".to_string(),
        "javascript:alert(1)".to_string(),
        format!("{base}\\@evil.test"),
    ];
    for rd in &evil {
        assert_eq!(page_rd(&c, &base, rd).await, "/", "{rd}");
        assert_eq!(form_login_to(&c, &base, rd).await, "/", "{rd}");
    }
}

#[tokio::test]
async fn absolute_rd_under_cookie_domain() {
    let gw = builder()
        .set("session", "cookie_domain", &q("example.com"))
        .set("session", "cookie_name", &q("__Secure-gatehouse"))
        .set("server", "public_url", &q("https://auth.example.com"))
        .spawn()
        .await;
    let c = plain_client(None);
    let base = gw.http_url();
    for rd in [
        "https://app1.example.com/x?q=1",
        "https://example.com/",
        "https://auth.example.com/app",
        "https://a.b.example.com/",
    ] {
        assert_eq!(page_rd(&c, &base, rd).await, rd, "positive control");
        assert_eq!(form_login_to(&c, &base, rd).await, rd, "positive control");
    }
    for rd in [
        "https://example.com.evil.test",
        "https://example.com.evil.test/x",
        "https://evil.test/.example.com",
        "https://example.com@evil.test",
        "https://app.example.com@evil.test/",
        "https://evilexample.com/",
        "https://example.com:8443/",
        "http://app1.example.com/",
        "https://app1.example.com//evil.test",
        "https://app1.example.com/%5c%5cevil.test",
    ] {
        assert_eq!(page_rd(&c, &base, rd).await, "/", "{rd}");
        assert_eq!(form_login_to(&c, &base, rd).await, "/", "{rd}");
    }
}

/// A `..` after the ext-authz prefix must not normalise the check out of
/// the endpoint onto a proxied route: the app's 200 would read to Envoy as
/// an allow for the path Envoy then forwards (`/%2e%2e/admin/x`, which
/// the app takes for `/admin/x`). Found by this test; fixed in
/// `endpoints::route_raw`.
#[tokio::test]
async fn ext_authz_dots_never_reach_a_proxied_route() {
    let echo = common::EchoUpstream::spawn();
    let gw = base_builder()
        .upstream(&echo)
        .extra("[[routes]]\npath = \"/**\"\nupstream = \"app\"\nauth = \"public\"\n")
        .spawn()
        .await;
    let c = plain_client(None);
    let bob = login(&c, &gw.http_url(), "bob", BOB_PW).await;
    // Positive control: the catch-all is proxied, and decided for.
    let r = send(c.get(format!("{}/anything", gw.http_url()))).await;
    assert_eq!(r.echo().path, "/anything");
    let r = send(envoy(&c, &gw, "GET", "/anything")).await;
    assert_allowed(&r, "", "", "");
    for target in [
        "/auth/ext-authz/%2e%2e/admin/x",
        "/auth/ext-authz/%2E%2E/admin/x",
        "/auth/ext-authz/../admin/x",
        "/auth/ext-authz/.%2e/admin/x",
    ] {
        let req = format!(
            "GET {target} HTTP/1.1\r\nHost: {APP_HOST}\r\nAuthorization: {}\r\n\
             Connection: close\r\n\r\n",
            bob.bearer()
        );
        let hits = echo.hits();
        let r = raw::send(gw.http_addr(), req.as_bytes()).await;
        assert!(matches!(r.status, 400 | 403), "{target}: {r:?}");
        assert_eq!(echo.hits(), hits, "{target} was proxied");
    }
}
