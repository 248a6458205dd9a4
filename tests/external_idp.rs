//! Trusted external issuers (`[[tokens.trusted_issuers]]`): bearer tokens
//! from an identity provider reach the upstream with their mapped roles;
//! forged, expired and mis-scoped ones get 401; gatehouse's own tokens keep
//! working beside them; a `jwks_url` issuer picks up rotated keys, fetches
//! at most once per cooldown on unknown kids, and survives an IdP that is
//! down at start.

mod common;

use std::convert::Infallible;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use ed25519_dalek::pkcs8::EncodePrivateKey as _;
use http_body_util::Full;
use hyper::Response;
use hyper_util::rt::TokioIo;
use jsonwebtoken::{Algorithm, EncodingKey};
use rsa::pkcs1::{DecodeRsaPrivateKey as _, EncodeRsaPublicKey as _};
use rsa::traits::PublicKeyParts as _;
use serde_json::{json, Value};

use common::gateway::BIN;
use common::http::{bearer_get, plain_client};
use common::jwt::{self, forge, Sign};
use common::net::free_port;
use common::{login, send, Gateway, Rig, StoreKind, ALICE_PW, AUDIENCE, ISSUER};

/// A throw-away test key (src/auth/testdata/README.md): never real.
const RSA_PEM: &str = include_str!("../src/auth/testdata/test-rsa2048-pkcs1.pem");
const IDP: &str = "https://idp.test/realms/main";
const IDP_AUD: &str = "apps-idp";
const RSA_KID: &str = "idp-rsa-1";

/// A token with exactly this header and claims, signed as `alg` with `key`.
fn sign(header: &Value, claims: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).expect("sign");
    format!("{input}.{sig}")
}

fn with(v: &Value, key: &str, value: Value) -> Value {
    let mut v = v.clone();
    v[key] = value;
    v
}

/// The IdP's RSA key as its JWKS publishes it, and its signing key.
fn rsa_idp() -> (Value, EncodingKey, String) {
    let sk = rsa::RsaPrivateKey::from_pkcs1_pem(RSA_PEM).expect("test RSA key");
    let jwks = json!({"keys": [{
        "kty": "RSA", "use": "sig", "alg": "RS256", "kid": RSA_KID,
        "n": URL_SAFE_NO_PAD.encode(sk.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(sk.e().to_bytes_be()),
    }]});
    let public_pem = sk
        .to_public_key()
        .to_pkcs1_pem(Default::default())
        .expect("public PEM");
    let key = EncodingKey::from_rsa_pem(RSA_PEM.as_bytes()).expect("encoding key");
    (jwks, key, public_pem)
}

fn file_issuer(jwks_path: &Path) -> String {
    format!(
        r#"
[[tokens.trusted_issuers]]
issuer = "{IDP}"
audience = "{IDP_AUD}"
jwks_file = "{}"
algorithms = ["RS256"]
roles_claim = "realm_access.roles"
role_map = {{ "idp-admins" = "admin", "idp-staff" = "user" }}
username_claim = "preferred_username"
"#,
        jwks_path.display()
    )
}

fn idp_claims(idp_roles: &[&str]) -> Value {
    let now = jwt::now();
    json!({
        "iss": IDP, "aud": [IDP_AUD, "account"], "sub": "f3a9c2-ann",
        "preferred_username": "ann", "email": "ann@idp.test", "email_verified": true,
        "realm_access": {"roles": idp_roles}, "iat": now, "exp": now + 300,
    })
}

// A jwks_file issuer's tokens reach the upstream with mapped roles, next to
// gatehouse's own; every forgery is a 401 that never reaches the upstream.
#[tokio::test]
async fn file_issuer_tokens_work_alongside_gatehouse_tokens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (jwks, idp_key, public_pem) = rsa_idp();
    let jwks_path = dir.path().join("idp-jwks.json");
    std::fs::write(&jwks_path, jwks.to_string()).expect("write jwks");
    let admin = free_port();
    let rig = Rig::with(StoreKind::Memory, |b| {
        b.extra(&file_issuer(&jwks_path))
            .set("admin", "listen", &format!("\"127.0.0.1:{admin}\""))
    })
    .await;
    let c = plain_client(None);
    let head = json!({"alg": "RS256", "typ": "JWT", "kid": RSA_KID});
    let idp_token = |roles: &[&str]| sign(&head, &idp_claims(roles), &idp_key, Algorithm::RS256);

    // Mapped roles reach the upstream; unmapped IdP roles do not.
    let admin_token = idp_token(&["idp-admins", "idp-staff", "offline_access"]);
    let e = bearer_get(&c, &rig.url("/admin/panel"), &admin_token)
        .await
        .echo();
    assert_eq!(e.one("x-auth-user"), Some("ann"));
    assert_eq!(e.one("x-auth-email"), Some("ann@idp.test"));
    assert_eq!(e.roles("x-auth-roles"), vec!["admin", "user"]);
    assert_eq!(
        e.one("authorization"),
        None,
        "not forwarded unless the route says so"
    );

    let staff = idp_token(&["idp-staff"]);
    assert_eq!(
        bearer_get(&c, &rig.url("/api/posts"), &staff)
            .await
            .echo()
            .roles("x-auth-roles"),
        vec!["user"]
    );
    bearer_get(&c, &rig.url("/admin/panel"), &staff)
        .await
        .assert_error(403, "forbidden");
    let nobody = idp_token(&["admin"]);
    assert_eq!(
        bearer_get(&c, &rig.url("/app/x"), &nobody)
            .await
            .echo()
            .one("x-auth-roles"),
        None
    );
    bearer_get(&c, &rig.url("/api/posts"), &nobody)
        .await
        .assert_error(403, "forbidden");

    // Gatehouse's own tokens still work, on the same gateway.
    let alice = login(&c, &rig.base(), "alice", ALICE_PW).await;
    let e = bearer_get(&c, &rig.url("/admin/panel"), &alice.access_token)
        .await
        .echo();
    assert_eq!(e.one("x-auth-user"), Some("alice"));

    // /auth/me describes the external identity; account endpoints are not
    // for it (there is no gatehouse session or user behind it).
    let me = bearer_get(&c, &format!("{}/auth/me", rig.base()), &admin_token).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(
        (me.json()["username"].as_str(), me.json()["sid"].is_null()),
        (Some("ann"), true),
        "{}",
        me.body
    );
    bearer_get(&c, &format!("{}/auth/sessions", rig.base()), &admin_token)
        .await
        .assert_error(403, "forbidden");

    // Forgeries and mis-scoped tokens.
    let now = jwt::now();
    let claims = idp_claims(&["idp-admins"]);
    let gw_key = jwt::load_signing_key(rig.gw.signing_key_file().expect("EdDSA gateway"));
    let gw_kid = rig.gw.kid().await;
    let stranger = jwt::stranger_key();
    let stranger_der = stranger.to_pkcs8_der().expect("pkcs8");
    let tampered = {
        let good = sign(&head, &claims, &idp_key, Algorithm::RS256);
        let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(with(&claims, "sub", json!("someone-else")).to_string());
        parts.join(".")
    };
    let cases: Vec<(&str, String)> = vec![
        (
            "signed by a stranger's key",
            sign(
                &with(&head, "alg", json!("EdDSA")),
                &claims,
                &EncodingKey::from_ed_der(stranger_der.as_bytes()),
                Algorithm::EdDSA,
            ),
        ),
        (
            "HS256 keyed with the IdP's public key",
            forge(
                &with(&head, "alg", json!("HS256")),
                &claims,
                Sign::Hs256(public_pem.as_bytes()),
            ),
        ),
        (
            "alg none",
            forge(&with(&head, "alg", json!("none")), &claims, Sign::Nothing),
        ),
        (
            "RS512 not allowed for this issuer",
            sign(
                &with(&head, "alg", json!("RS512")),
                &claims,
                &idp_key,
                Algorithm::RS512,
            ),
        ),
        ("tampered payload", tampered),
        (
            "expired",
            sign(
                &head,
                &with(&claims, "exp", json!(now - 60)),
                &idp_key,
                Algorithm::RS256,
            ),
        ),
        (
            "not yet valid",
            sign(
                &head,
                &with(&claims, "nbf", json!(now + 600)),
                &idp_key,
                Algorithm::RS256,
            ),
        ),
        (
            "another audience",
            sign(
                &head,
                &with(&claims, "aud", json!(AUDIENCE)),
                &idp_key,
                Algorithm::RS256,
            ),
        ),
        (
            "unknown issuer",
            sign(
                &head,
                &with(&claims, "iss", json!("https://evil.test")),
                &idp_key,
                Algorithm::RS256,
            ),
        ),
        (
            "unknown kid",
            sign(
                &with(&head, "kid", json!("idp-rsa-2")),
                &claims,
                &idp_key,
                Algorithm::RS256,
            ),
        ),
        (
            "no kid",
            sign(
                &json!({"alg": "RS256"}),
                &claims,
                &idp_key,
                Algorithm::RS256,
            ),
        ),
        (
            "crit",
            sign(
                &with(&head, "crit", json!(["exp"])),
                &claims,
                &idp_key,
                Algorithm::RS256,
            ),
        ),
        (
            "gatehouse's iss, signed by the IdP",
            sign(
                &head,
                &with(&with(&claims, "iss", json!(ISSUER)), "aud", json!(AUDIENCE)),
                &idp_key,
                Algorithm::RS256,
            ),
        ),
        (
            "the IdP's iss, signed by gatehouse's key",
            forge(
                &json!({"alg": "EdDSA", "typ": "JWT", "kid": gw_kid}),
                &claims,
                Sign::Ed25519(&gw_key),
            ),
        ),
    ];
    let hits = rig.echo.hits();
    for (name, token) in cases {
        let r = bearer_get(&c, &rig.url("/app/x"), &token).await;
        assert_eq!(r.status, 401, "{name}: {}", r.body);
        assert_eq!(r.header("www-authenticate"), Some("Bearer"), "{name}");
        r.assert_error(401, "unauthorized");
    }
    assert_eq!(
        rig.echo.hits(),
        hits,
        "a refused token reached the upstream"
    );

    let text = send(c.get(format!("http://127.0.0.1:{admin}/metrics")))
        .await
        .body;
    for series in [
        "gatehouse_auth_total{method=\"bearer\",result=\"external_bad_token\"}",
        "gatehouse_auth_total{method=\"bearer\",result=\"external_expired\"} 1",
        "gatehouse_auth_total{method=\"bearer\",result=\"external_unknown_kid\"} 2",
    ] {
        assert!(text.contains(series), "missing {series:?} in:\n{text}");
    }
}

/// A JWKS endpoint whose answer the test changes, counting requests. Runs
/// on the test's runtime (multi-threaded, so it answers whatever the test
/// is awaiting).
struct JwksServer {
    url: String,
    answer: Arc<Mutex<(u16, String)>>,
    hits: Arc<AtomicUsize>,
}

impl JwksServer {
    async fn start(status: u16, body: &str) -> JwksServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/jwks.json", listener.local_addr().expect("addr"));
        let answer = Arc::new(Mutex::new((status, body.to_string())));
        let hits = Arc::new(AtomicUsize::new(0));
        let (a, h) = (answer.clone(), hits.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (a, h) = (a.clone(), h.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |_req| {
                        h.fetch_add(1, Ordering::SeqCst);
                        let (status, body) = a.lock().expect("answer").clone();
                        let mut resp = Response::new(Full::new(Bytes::from(body)));
                        *resp.status_mut() = hyper::StatusCode::from_u16(status).expect("status");
                        async move { Ok::<_, Infallible>(resp) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        JwksServer { url, answer, hits }
    }

    fn serve(&self, status: u16, body: &str) {
        *self.answer.lock().expect("answer") = (status, body.to_string());
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// An Ed25519 IdP key made for this test, with its kid.
struct IdpKey {
    kid: String,
    sk: ed25519_dalek::SigningKey,
}

impl IdpKey {
    fn generate(kid: &str) -> IdpKey {
        IdpKey {
            kid: kid.to_string(),
            sk: ed25519_dalek::SigningKey::from_bytes(&rand::random::<[u8; 32]>()),
        }
    }

    fn jwk(&self) -> Value {
        json!({"kty": "OKP", "crv": "Ed25519", "use": "sig", "kid": self.kid,
               "x": URL_SAFE_NO_PAD.encode(self.sk.verifying_key().as_bytes())})
    }

    /// A token from the url issuer, roles as a space-separated string.
    fn token(&self) -> String {
        let now = jwt::now();
        let claims = json!({"iss": "https://login.test", "aud": IDP_AUD, "sub": format!("svc-{}", self.kid),
            "scope": "openid", "groups": "editor user", "iat": now, "exp": now + 300});
        forge(
            &json!({"alg": "EdDSA", "typ": "at+jwt", "kid": self.kid}),
            &claims,
            Sign::Ed25519(&self.sk),
        )
    }
}

fn jwks_of(keys: &[&IdpKey]) -> String {
    json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()}).to_string()
}

fn url_issuer(url: &str, refresh: &str) -> String {
    format!(
        r#"
[[tokens.trusted_issuers]]
issuer = "https://login.test"
audience = "{IDP_AUD}"
jwks_url = "{url}"
algorithms = ["EdDSA"]
roles_claim = "groups"
refresh = "{refresh}"
"#
    )
}

// Keys come from jwks_url; a rotated key is picked up on its first use, and
// unknown kids make at most one fetch per cooldown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_issuer_picks_up_rotated_keys() {
    let (k1, k2, k3) = (
        IdpKey::generate("k1"),
        IdpKey::generate("k2"),
        IdpKey::generate("k3"),
    );
    let server = JwksServer::start(200, &jwks_of(&[&k1])).await;
    let rig = Rig::with(StoreKind::Memory, |b| {
        b.extra(&url_issuer(&server.url, "10m"))
    })
    .await;
    let c = plain_client(None);
    // The fetch at start (polled for, so that no request races it).
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.hits() == 0 {
        assert!(Instant::now() < deadline, "no JWKS fetch at start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let e = bearer_get(&c, &rig.url("/api/posts"), &k1.token())
        .await
        .echo();
    assert_eq!(
        e.one("x-auth-user"),
        Some("svc-k1"),
        "username_claim defaults to sub"
    );
    assert_eq!(e.roles("x-auth-roles"), vec!["editor", "user"]);
    assert_eq!(server.hits(), 1);

    // The IdP rotates: k2 in, k1 out. The first k2 token triggers a fetch.
    server.serve(200, &jwks_of(&[&k2]));
    let e = bearer_get(&c, &rig.url("/api/posts"), &k2.token())
        .await
        .echo();
    assert_eq!(e.one("x-auth-user"), Some("svc-k2"));
    assert_eq!(server.hits(), 2);
    assert_eq!(
        bearer_get(&c, &rig.url("/api/posts"), &k1.token())
            .await
            .status,
        401,
        "k1 was withdrawn"
    );

    // Another unknown kid within the cooldown: refused without a fetch.
    server.serve(200, &jwks_of(&[&k2, &k3]));
    assert_eq!(
        bearer_get(&c, &rig.url("/api/posts"), &k3.token())
            .await
            .status,
        401
    );
    assert_eq!(
        bearer_get(&c, &rig.url("/api/posts"), &k3.token())
            .await
            .status,
        401
    );
    assert_eq!(
        server.hits(),
        2,
        "unknown kids fetched again within the cooldown"
    );
    // Known keys are unaffected.
    assert_eq!(
        bearer_get(&c, &rig.url("/api/posts"), &k2.token())
            .await
            .status,
        200
    );
}

// An IdP that is down at start does not stop the gateway: its tokens are
// refused until the periodic fetch succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_issuer_down_at_start_recovers_by_refresh() {
    let k1 = IdpKey::generate("k1");
    let server = JwksServer::start(503, "").await;
    let rig = Rig::with(StoreKind::Memory, |b| {
        b.extra(&url_issuer(&server.url, "1s"))
    })
    .await;
    let c = plain_client(None);
    let r = bearer_get(&c, &rig.url("/api/posts"), &k1.token()).await;
    r.assert_error(401, "unauthorized");
    // That request spent the on-demand fetch; recovery below is the
    // scheduled refresh's doing (well inside the 30 s cooldown).
    server.serve(200, &jwks_of(&[&k1]));
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = bearer_get(&c, &rig.url("/api/posts"), &k1.token()).await;
        if r.status == 200 {
            break;
        }
        assert_eq!(r.status, 401, "{}", r.body);
        assert!(
            Instant::now() < deadline,
            "keys never fetched after the IdP came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        rig.gw.stderr_log().contains("JWKS fetch failed"),
        "{}",
        rig.gw.stderr_log()
    );
}

// `check` refuses a symmetric algorithm for a trusted issuer, naming file,
// line and key, with exit code 2.
#[test]
fn check_refuses_hmac_for_a_trusted_issuer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Gateway::builder()
        .extra("[[tokens.trusted_issuers]]\nissuer = \"https://idp.test\"\naudience = \"a\"\njwks_url = \"https://idp.test/jwks\"\nalgorithms = [\"HS256\"]\n")
        .write_files(dir.path(), 18080, None);
    let text = std::fs::read_to_string(&config).expect("config");
    let line = text
        .lines()
        .position(|l| l.starts_with("algorithms = [\"HS256\"]"))
        .expect("line")
        + 1;
    let out = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&config)
        .stdin(Stdio::null())
        .output()
        .expect("run check");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(2), "{said}");
    let want = format!(
        "{}:{line}: tokens.trusted_issuers[0].algorithms[0]: \"HS256\" is symmetric",
        config.display()
    );
    assert!(said.contains(&want), "{said}\nlacks {want}");
}
