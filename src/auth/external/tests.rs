//! Every way an external token can lie about itself, checked against two
//! issuers that must never vouch for each other's tokens; then key rotation
//! through `jwks_url` against a real local HTTP server.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};

use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::EncodingKey;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::traits::PublicKeyParts;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::auth::keys::KeySet;
use crate::auth::tokens::LEEWAY_SECS;
use crate::config::TokenAlgorithm;

const RSA2048: &[u8] = include_bytes!("../testdata/test-rsa2048-pkcs1.pem");
const ED25519: &[u8] = include_bytes!("../testdata/test-ed25519.pem");
const NOW: i64 = 1_700_000_000;
const A: &str = "https://idp-a.example.com";
const B: &str = "https://idp-b.example.com";

fn roles() -> RoleNames {
    crate::policy::Roles::new(HashMap::from([
        ("admin".to_owned(), vec!["*".to_owned()]),
        ("user".to_owned(), vec!["posts:read".to_owned()]),
    ]))
    .names()
    .clone()
}

fn keys_of(set: &KeySet) -> Arc<IssuerKeys> {
    Arc::new(
        jwks::parse_jwks(
            set.jwks_json.as_bytes(),
            &[Algorithm::RS256, Algorithm::EdDSA],
        )
        .unwrap()
        .keys,
    )
}

fn issuer(iss: &str, algorithms: &[Algorithm], keys: Arc<IssuerKeys>) -> TrustedIssuerConfig {
    TrustedIssuerConfig {
        issuer: iss.into(),
        audience: "apps".into(),
        jwks: JwksSource::File {
            path: "jwks.json".into(),
            keys,
        },
        algorithms: algorithms.to_vec(),
        roles_claim: "groups".into(),
        role_map: None,
        username_claim: "preferred_username".into(),
        email_claim: "email".into(),
    }
}

/// A token with exactly this header and claims, signed as `alg`.
fn sign(header: &Value, claims: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).unwrap();
    format!("{input}.{sig}")
}

fn with(v: &Value, key: &str, value: Value) -> Value {
    let mut v = v.clone();
    v[key] = value;
    v
}

fn without(v: &Value, key: &str) -> Value {
    let mut v = v.clone();
    v.as_object_mut().unwrap().remove(key);
    v
}

/// What a token should come to.
#[derive(Debug, PartialEq)]
enum Want {
    /// Accepted with these roles.
    Roles(Vec<String>),
    Refused(TokenError),
    /// Not a trusted issuer's: left to gatehouse's own check.
    NotOurs,
}

struct Setup {
    ext: Arc<TrustedIssuers>,
    rsa: KeySet,
    ed: KeySet,
    stranger: EncodingKey,
}

fn setup() -> Setup {
    let rsa = KeySet::from_pem(TokenAlgorithm::RS256, RSA2048).unwrap();
    let ed = KeySet::from_pem(TokenAlgorithm::EdDSA, ED25519).unwrap();
    // Issuer A signs with RSA but also allows EdDSA, so that B's Ed25519
    // key would fit A's algorithms: only the separate key sets keep B's key
    // from vouching for A's tokens.
    let mut a = issuer(A, &[Algorithm::RS256, Algorithm::EdDSA], keys_of(&rsa));
    a.role_map = Some([("idp-admins".to_owned(), "admin".to_owned())].into());
    let b = issuer(B, &[Algorithm::EdDSA], keys_of(&ed));
    let ext = TrustedIssuers::new("gatehouse", &[a, b], roles()).unwrap();
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[42u8; 32]);
    let stranger = EncodingKey::from_ed_der(stranger.to_pkcs8_der().unwrap().as_bytes());
    Setup {
        ext,
        rsa,
        ed,
        stranger,
    }
}

fn accepted(roles: &[&str]) -> Want {
    Want::Roles(roles.iter().map(|r| r.to_string()).collect())
}

/// `alg` as given, no signature.
fn unsigned(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

async fn outcome(ext: &TrustedIssuers, token: &str) -> Want {
    let Some((issuer, cfg, parts)) = ext.route(token) else {
        return Want::NotOurs;
    };
    match ext.verify(issuer, &cfg, &parts, NOW).await {
        Ok(id) => Want::Roles(id.roles.clone()),
        Err(e) => Want::Refused(e),
    }
}

#[tokio::test]
async fn verification_table() {
    let s = setup();
    let a_claims = json!({
        "iss": A, "aud": "apps", "sub": "a-123", "preferred_username": "ann",
        "email": "ann@example.com", "groups": ["idp-admins", "admin", "other"],
        "iat": NOW, "exp": NOW + 300,
    });
    let b_claims = with(
        &with(&a_claims, "iss", json!(B)),
        "groups",
        json!("user admin root"),
    );
    let a_head = json!({"alg": "RS256", "typ": "JWT", "kid": s.rsa.kid});
    let b_head = json!({"alg": "EdDSA", "typ": "JWT", "kid": s.ed.kid});
    let rs = |h: &Value, c: &Value| sign(h, c, &s.rsa.encoding, Algorithm::RS256);
    let ed = |h: &Value, c: &Value| sign(h, c, &s.ed.encoding, Algorithm::EdDSA);

    // HS256 keyed with A's public key, in the forms an attacker would try.
    let rsa_public = rsa::RsaPrivateKey::from_pkcs1_pem(std::str::from_utf8(RSA2048).unwrap())
        .unwrap()
        .to_public_key();
    let public_pem = rsa_public.to_pkcs1_pem(Default::default()).unwrap();
    let hs_head = with(&a_head, "alg", json!("HS256"));
    let hs = |secret: &[u8]| {
        sign(
            &hs_head,
            &a_claims,
            &EncodingKey::from_secret(secret),
            Algorithm::HS256,
        )
    };
    let good = rs(&a_head, &a_claims);
    let tampered = {
        let mut parts: Vec<&str> = good.split('.').collect();
        let forged =
            URL_SAFE_NO_PAD.encode(with(&a_claims, "sub", json!("someone-else")).to_string());
        parts[1] = &forged;
        parts.join(".")
    };
    let dup_payload = {
        let head = URL_SAFE_NO_PAD.encode(a_head.to_string());
        let body = URL_SAFE_NO_PAD.encode(format!(r#"{{"iss":"{B}","iss":"{A}","aud":"apps"}}"#));
        let input = format!("{head}.{body}");
        let sig = jsonwebtoken::crypto::sign(input.as_bytes(), &s.rsa.encoding, Algorithm::RS256)
            .unwrap();
        format!("{input}.{sig}")
    };

    use TokenError as E;
    let cases: Vec<(&str, String, Want)> = vec![
        ("A: good, groups mapped", good.clone(), accepted(&["admin"])),
        (
            "B: good, string claim passed through",
            ed(&b_head, &b_claims),
            accepted(&["user", "admin"]),
        ),
        (
            "typ at+jwt",
            rs(&with(&a_head, "typ", json!("at+jwt")), &a_claims),
            accepted(&["admin"]),
        ),
        (
            "no typ",
            rs(&without(&a_head, "typ"), &a_claims),
            accepted(&["admin"]),
        ),
        (
            "aud array",
            rs(&a_head, &with(&a_claims, "aud", json!(["x", "apps"]))),
            accepted(&["admin"]),
        ),
        (
            "no roles claim",
            rs(&a_head, &without(&a_claims, "groups")),
            accepted(&[]),
        ),
        // The algorithm gate.
        (
            "RS384 not in A's list",
            sign(
                &with(&a_head, "alg", json!("RS384")),
                &a_claims,
                &s.rsa.encoding,
                Algorithm::RS384,
            ),
            Want::Refused(E::Algorithm),
        ),
        (
            "HS256 keyed with A's public PEM",
            hs(public_pem.as_bytes()),
            Want::Refused(E::Algorithm),
        ),
        (
            "HS256 keyed with A's modulus",
            hs(&rsa_public.n().to_bytes_be()),
            Want::Refused(E::Algorithm),
        ),
        (
            "alg none",
            unsigned(&with(&a_head, "alg", json!("none")), &a_claims),
            Want::Refused(E::Algorithm),
        ),
        (
            "alg missing",
            rs(&without(&a_head, "alg"), &a_claims),
            Want::Refused(E::Algorithm),
        ),
        (
            "A's iss and RSA kid, EdDSA by B's key",
            sign(
                &with(&a_head, "alg", json!("EdDSA")),
                &a_claims,
                &s.ed.encoding,
                Algorithm::EdDSA,
            ),
            Want::Refused(E::Algorithm),
        ),
        // Cross-issuer: A's token can never be verified by B's key.
        (
            "A's iss, B's kid and key",
            ed(&b_head, &a_claims),
            Want::Refused(E::UnknownKid),
        ),
        (
            "B's iss, A's kid and key",
            rs(&a_head, &b_claims),
            Want::Refused(E::Algorithm),
        ),
        (
            "B's iss and kid, a stranger's key",
            sign(&b_head, &b_claims, &s.stranger, Algorithm::EdDSA),
            Want::Refused(E::Signature),
        ),
        ("tampered payload", tampered, Want::Refused(E::Signature)),
        (
            "signature cut off",
            format!("{}.", good.rsplit_once('.').unwrap().0),
            Want::Refused(E::Signature),
        ),
        // Header rules.
        (
            "kid unknown",
            rs(&with(&a_head, "kid", json!("rotated-away")), &a_claims),
            Want::Refused(E::UnknownKid),
        ),
        (
            "kid missing",
            rs(&without(&a_head, "kid"), &a_claims),
            Want::Refused(E::UnknownKid),
        ),
        (
            "kid not a string",
            rs(&with(&a_head, "kid", json!(1)), &a_claims),
            Want::Refused(E::UnknownKid),
        ),
        (
            "crit",
            rs(&with(&a_head, "crit", json!(["exp"])), &a_claims),
            Want::Refused(E::Crit),
        ),
        (
            "typ JWE-ish",
            rs(&with(&a_head, "typ", json!("JOSE+JSON")), &a_claims),
            Want::Refused(E::Malformed),
        ),
        // Claims.
        (
            "expired",
            rs(&a_head, &with(&a_claims, "exp", json!(NOW - LEEWAY_SECS))),
            Want::Refused(E::Expired),
        ),
        (
            "not yet valid",
            rs(&a_head, &with(&a_claims, "nbf", json!(NOW + 60))),
            Want::Refused(E::NotYetValid),
        ),
        (
            "no exp",
            rs(&a_head, &without(&a_claims, "exp")),
            Want::Refused(E::Malformed),
        ),
        (
            "wrong aud",
            rs(&a_head, &with(&a_claims, "aud", json!("other-apps"))),
            Want::Refused(E::Audience),
        ),
        (
            "no sub",
            rs(&a_head, &without(&a_claims, "sub")),
            Want::Refused(E::Claim("sub")),
        ),
        (
            "no username claim",
            rs(&a_head, &without(&a_claims, "preferred_username")),
            Want::Refused(E::Claim("username")),
        ),
        // Routing: not a trusted issuer's token at all.
        (
            "unknown iss",
            rs(
                &a_head,
                &with(&a_claims, "iss", json!("https://idp-c.example.com")),
            ),
            Want::NotOurs,
        ),
        (
            "iss differs in case",
            rs(&a_head, &with(&a_claims, "iss", json!(A.to_uppercase()))),
            Want::NotOurs,
        ),
        (
            "gatehouse's own iss",
            rs(&a_head, &with(&a_claims, "iss", json!("gatehouse"))),
            Want::NotOurs,
        ),
        (
            "no iss",
            rs(&a_head, &without(&a_claims, "iss")),
            Want::NotOurs,
        ),
        ("iss named twice", dup_payload, Want::NotOurs),
        ("not a JWT", "abc".into(), Want::NotOurs),
        ("four parts", format!("{good}.x"), Want::NotOurs),
        (
            "too long",
            rs(
                &a_head,
                &with(&a_claims, "pad", json!("x".repeat(MAX_TOKEN_LEN))),
            ),
            Want::NotOurs,
        ),
    ];
    for (name, token, want) in cases {
        assert_eq!(outcome(&s.ext, &token).await, want, "{name}");
    }
}

#[tokio::test]
async fn outcome_labels_and_identity() {
    let s = setup();
    let claims = json!({"iss": B, "aud": "apps", "sub": "b-9", "preferred_username": "bo",
        "email": "bo@example.com", "groups": ["user"], "exp": NOW + 60});
    let head = json!({"alg": "EdDSA", "kid": s.ed.kid});
    let token = sign(&head, &claims, &s.ed.encoding, Algorithm::EdDSA);
    match s.ext.authenticate(&token, NOW).await {
        Some(AuthOutcome::Authenticated(id)) => {
            assert_eq!(id.user_id, "b-9");
            assert_eq!(id.username, "bo");
            assert_eq!(id.email, "bo@example.com");
            assert_eq!(id.roles, vec!["user".to_owned()]);
            assert_eq!(id.sid, None);
            assert_eq!(id.method, crate::auth::AuthMethod::Bearer);
        }
        other => panic!("{other:?}"),
    }
    let expired = sign(
        &head,
        &with(&claims, "exp", json!(NOW - 600)),
        &s.ed.encoding,
        Algorithm::EdDSA,
    );
    let unknown = sign(
        &with(&head, "kid", json!("nope")),
        &claims,
        &s.ed.encoding,
        Algorithm::EdDSA,
    );
    let forged = sign(&head, &claims, &s.stranger, Algorithm::EdDSA);
    for (token, label) in [
        (expired, "external_expired"),
        (unknown, "external_unknown_kid"),
        (forged, "external_bad_token"),
    ] {
        assert_eq!(
            s.ext.authenticate(&token, NOW).await,
            Some(AuthOutcome::Refused(label))
        );
    }
    // A reload that drops the "user" role drops it from external identities.
    s.ext.set_roles(RoleNames::new(["admin".to_owned()]));
    match s.ext.authenticate(&token, NOW).await {
        Some(AuthOutcome::Authenticated(id)) => assert!(id.roles.is_empty(), "{:?}", id.roles),
        other => panic!("{other:?}"),
    }
}

#[test]
fn no_issuers_means_no_external_check() {
    assert!(TrustedIssuers::new("gatehouse", &[], roles()).is_none());
}

/// A JWKS endpoint whose answer the test changes, counting requests.
struct JwksServer {
    url: String,
    body: Arc<StdMutex<(u16, String)>>,
    hits: Arc<AtomicUsize>,
}

impl JwksServer {
    async fn start() -> JwksServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let body = Arc::new(StdMutex::new((503, String::new())));
        let hits = Arc::new(AtomicUsize::new(0));
        let (b, h) = (body.clone(), hits.clone());
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                h.fetch_add(1, Ordering::SeqCst);
                let (status, text) = b.lock().unwrap().clone();
                let answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                    text.len()
                );
                let _ = sock.write_all(answer.as_bytes()).await;
                let _ = sock.shutdown().await;
            }
        });
        JwksServer { url, body, hits }
    }

    fn serve(&self, status: u16, body: &str) {
        *self.body.lock().unwrap() = (status, body.to_owned());
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// An Ed25519 key, its JWKS entry under `kid`, and a token-signing helper.
struct EdKey {
    kid: String,
    sk: ed25519_dalek::SigningKey,
}

impl EdKey {
    fn new(kid: &str, seed: u8) -> EdKey {
        EdKey {
            kid: kid.into(),
            sk: ed25519_dalek::SigningKey::from_bytes(&[seed; 32]),
        }
    }

    fn jwk(&self) -> Value {
        json!({"kty": "OKP", "crv": "Ed25519", "use": "sig", "kid": self.kid,
               "x": URL_SAFE_NO_PAD.encode(self.sk.verifying_key().as_bytes())})
    }

    fn token(&self, iss: &str) -> String {
        let key = EncodingKey::from_ed_der(self.sk.to_pkcs8_der().unwrap().as_bytes());
        let claims = json!({"iss": iss, "aud": "apps", "sub": "s", "preferred_username": "u", "exp": NOW + 60});
        sign(
            &json!({"alg": "EdDSA", "kid": self.kid}),
            &claims,
            &key,
            Algorithm::EdDSA,
        )
    }
}

fn jwks_doc(keys: &[&EdKey]) -> String {
    json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()}).to_string()
}

/// Pretend the last on-demand fetch was long ago.
async fn cooldown_over(ext: &TrustedIssuers) {
    let remote = ext.issuers[0].remote.as_ref().unwrap();
    *remote.fetching.lock().await = Instant::now().checked_sub(UNKNOWN_KID_COOLDOWN * 2);
}

#[tokio::test]
async fn unknown_kid_refetches_at_most_once_per_cooldown() {
    let server = JwksServer::start().await;
    let mut cfg = issuer(A, &[Algorithm::EdDSA], Arc::new(IssuerKeys::default()));
    cfg.jwks = JwksSource::Url {
        url: server.url.clone(),
        refresh: Duration::from_secs(600),
    };
    let ext = TrustedIssuers::new("gatehouse", &[cfg], roles()).unwrap();
    let (k1, k2, k3) = (
        EdKey::new("k1", 1),
        EdKey::new("k2", 2),
        EdKey::new("k3", 3),
    );
    let ok = |o: Option<AuthOutcome>| matches!(o, Some(AuthOutcome::Authenticated(_)));
    let unknown = Some(AuthOutcome::Refused("external_unknown_kid"));

    // The IdP is down at first: refused, and no second fetch for a while.
    assert_eq!(ext.authenticate(&k1.token(A), NOW).await, unknown);
    assert_eq!(server.hits(), 1);
    server.serve(200, &jwks_doc(&[&k1]));
    assert_eq!(ext.authenticate(&k1.token(A), NOW).await, unknown);
    assert_eq!(server.hits(), 1, "cooldown");

    cooldown_over(&ext).await;
    assert!(ok(ext.authenticate(&k1.token(A), NOW).await));
    assert_eq!(server.hits(), 2);
    // Known kids fetch nothing.
    assert!(ok(ext.authenticate(&k1.token(A), NOW).await));
    assert_eq!(server.hits(), 2);

    // Rotation: k2 appears, k1 goes. Many requests at once, one fetch.
    server.serve(200, &jwks_doc(&[&k2]));
    cooldown_over(&ext).await;
    let t2 = k2.token(A);
    let results = tokio::join!(
        ext.authenticate(&t2, NOW),
        ext.authenticate(&t2, NOW),
        ext.authenticate(&t2, NOW),
        ext.authenticate(&t2, NOW),
    );
    assert!(ok(results.0) && ok(results.1) && ok(results.2) && ok(results.3));
    assert_eq!(server.hits(), 3);
    assert_eq!(
        ext.authenticate(&k1.token(A), NOW).await,
        unknown,
        "k1 was withdrawn"
    );
    assert_eq!(server.hits(), 3, "cooldown");

    // A failed or unusable fetch keeps the keys we had.
    let issuer = &ext.issuers[0];
    let remote = issuer.remote.as_ref().unwrap();
    let client = ext.client.as_ref().unwrap();
    for (status, body) in [
        (500, String::new()),
        (200, "{}".to_owned()),
        (200, jwks_doc(&[])),
    ] {
        server.serve(status, &body);
        assert!(!issuer.fetch(remote, client).await);
        assert!(ok(ext.authenticate(&t2, NOW).await));
    }
    // A good scheduled fetch swaps them.
    server.serve(200, &jwks_doc(&[&k3]));
    assert!(issuer.fetch(remote, client).await);
    assert!(ok(ext.authenticate(&k3.token(A), NOW).await));
    assert_eq!(ext.authenticate(&t2, NOW).await, unknown);
}

#[tokio::test]
async fn refresh_forever_fetches_at_start() {
    let server = JwksServer::start().await;
    let k1 = EdKey::new("k1", 1);
    server.serve(200, &jwks_doc(&[&k1]));
    let mut cfg = issuer(A, &[Algorithm::EdDSA], Arc::new(IssuerKeys::default()));
    cfg.jwks = JwksSource::Url {
        url: server.url.clone(),
        refresh: Duration::from_secs(600),
    };
    let file = issuer(B, &[Algorithm::EdDSA], Arc::new(IssuerKeys::default()));
    let ext = TrustedIssuers::new("gatehouse", &[cfg, file], roles()).unwrap();
    assert!(ext.has_remote());
    let task = tokio::spawn(ext.clone().refresh_forever());
    let deadline = Instant::now() + Duration::from_secs(10);
    while ext.issuers[0].keys.load().is_empty() {
        assert!(Instant::now() < deadline, "no fetch at start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.hits(), 1);
    assert!(matches!(
        ext.authenticate(&k1.token(A), NOW).await,
        Some(AuthOutcome::Authenticated(_))
    ));
    task.abort();
}

/// Issue 10, point 5: a SIGHUP that changes an issuer's claim mapping or
/// `[roles]` applies to the very next request with a token seen before (no
/// verified-token cache keeps the old roles), and one that drops the issuer
/// stops trusting its tokens at once.
#[tokio::test]
async fn reload_remaps_and_removes_issuers() {
    let s = setup();
    let claims = json!({"iss": A, "aud": "apps", "sub": "a-1", "preferred_username": "al",
        "groups": ["idp-admins"], "exp": NOW + 60});
    let head = json!({"alg": "RS256", "kid": s.rsa.kid});
    let token = sign(&head, &claims, &s.rsa.encoding, Algorithm::RS256);
    assert_eq!(outcome(&s.ext, &token).await, accepted(&["admin"]));

    let mut a = issuer(A, &[Algorithm::RS256, Algorithm::EdDSA], keys_of(&s.rsa));
    a.role_map = Some([("idp-admins".to_owned(), "user".to_owned())].into());
    let b = issuer(B, &[Algorithm::EdDSA], keys_of(&s.ed));
    s.ext.reconfigure(&[a.clone(), b.clone()], roles());
    assert_eq!(
        outcome(&s.ext, &token).await,
        accepted(&["user"]),
        "remapped"
    );

    // Another roles claim, read on the next request.
    let mut by_roles = a.clone();
    by_roles.roles_claim = "realm".into();
    s.ext.reconfigure(&[by_roles, b.clone()], roles());
    assert_eq!(
        outcome(&s.ext, &token).await,
        accepted(&[]),
        "claim renamed"
    );

    // Issuer A removed: its tokens are no longer routed to it at all.
    s.ext.reconfigure(std::slice::from_ref(&b), roles());
    assert_eq!(
        outcome(&s.ext, &token).await,
        Want::NotOurs,
        "issuer removed"
    );
    assert_eq!(
        s.ext.authenticate(&token, NOW).await,
        None,
        "left to gatehouse's own check, which refuses it"
    );
    // Re-adding it needs a restart (its key fetching was set up at start).
    s.ext.reconfigure(&[a, b], roles());
    assert_eq!(outcome(&s.ext, &token).await, Want::NotOurs);
}
