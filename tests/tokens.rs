//! Access-token verification (SPEC §5): only our algorithm, our `kid`, our
//! key, valid `iss`/`aud`/`exp`/`nbf`, no `crit`, a live `sid`. Each
//! refusal is paired with a control: the same forgery path with nothing
//! changed is accepted, so a refusal is never an accident of the forger.

mod common;

use common::http::{bearer_get, plain_client};
use common::jwt::{self, forge, Sign};
use common::{login, Rig, StoreKind, ALICE_PW, BOB_PW};
use ed25519_dalek::pkcs8::EncodePublicKey as _;
use serde_json::{json, Value};

fn with(v: &Value, key: &str, value: Value) -> Value {
    let mut v = v.clone();
    v[key] = value;
    v
}

// Forged, tampered and mis-scoped EdDSA tokens are all refused with 401.
#[tokio::test]
async fn forged_and_invalid_jwts_are_refused() {
    let rig = Rig::start(StoreKind::Memory).await;
    let c = plain_client(None);
    let url = rig.url("/app/secret");
    let tok = login(&c, &rig.base(), "alice", ALICE_PW).await;
    let kid = rig.gw.kid().await;
    let key = jwt::load_signing_key(rig.gw.signing_key_file().expect("EdDSA key file"));
    let header = jwt::header(&tok.access_token);
    let claims = jwt::claims(&tok.access_token);
    assert_eq!(header["kid"].as_str(), Some(kid.as_str()));

    // Controls: the real token, and the same header and claims re-signed
    // with the gateway's key, both pass.
    for token in [
        tok.access_token.clone(),
        forge(&header, &claims, Sign::Ed25519(&key)),
    ] {
        let e = bearer_get(&c, &url, &token).await.echo();
        assert_eq!(e.one("x-auth-user"), Some("alice"));
    }

    let now = jwt::now();
    let stranger = jwt::stranger_key();
    let public_pem = key
        .verifying_key()
        .to_public_key_pem(Default::default())
        .expect("public key PEM");
    let pub_file = rig
        .gw
        .signing_key_file()
        .map(|p| p.with_file_name("signing.pub.pem"));
    let pub_file_bytes = pub_file.and_then(|p| std::fs::read(p).ok());
    let hs_header = json!({"alg": "HS256", "typ": "JWT", "kid": kid});
    let mut bob_claims = claims.clone();
    bob_claims["sub"] = json!("bob");
    let (h64, _c64, sig) = {
        let mut parts = tok.access_token.split('.');
        (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        )
    };

    let mut cases: Vec<(&str, String)> = vec![
        (
            "signed by a stranger's key with our kid",
            forge(&header, &claims, Sign::Ed25519(&stranger)),
        ),
        (
            "alg none",
            forge(
                &json!({"alg": "none", "typ": "JWT", "kid": kid}),
                &claims,
                Sign::Nothing,
            ),
        ),
        (
            "alg None",
            forge(&json!({"alg": "None", "kid": kid}), &claims, Sign::Nothing),
        ),
        (
            "alg none keeping a valid signature",
            format!(
                "{}.{}",
                forge(&with(&header, "alg", json!("none")), &claims, Sign::Nothing)
                    .trim_end_matches('.'),
                sig
            ),
        ),
        (
            "expired",
            forge(
                &header,
                &with(
                    &with(&claims, "exp", json!(now - 3600)),
                    "iat",
                    json!(now - 7200),
                ),
                Sign::Ed25519(&key),
            ),
        ),
        (
            "not yet valid (nbf)",
            forge(
                &header,
                &with(&claims, "nbf", json!(now + 3600)),
                Sign::Ed25519(&key),
            ),
        ),
        (
            "wrong aud",
            forge(
                &header,
                &with(&claims, "aud", json!("someone-else")),
                Sign::Ed25519(&key),
            ),
        ),
        (
            "wrong iss",
            forge(
                &header,
                &with(&claims, "iss", json!("evil-issuer")),
                Sign::Ed25519(&key),
            ),
        ),
        (
            "no exp",
            forge(
                &header,
                &{
                    let mut c = claims.clone();
                    c.as_object_mut().map(|o| o.remove("exp"));
                    c
                },
                Sign::Ed25519(&key),
            ),
        ),
        (
            "HS256 keyed with the public key PEM",
            forge(&hs_header, &claims, Sign::Hs256(public_pem.as_bytes())),
        ),
        (
            "HS256 keyed with the raw public key",
            forge(
                &hs_header,
                &claims,
                Sign::Hs256(key.verifying_key().as_bytes()),
            ),
        ),
        (
            "HS256 keyed with the JWK x",
            forge(
                &hs_header,
                &claims,
                Sign::Hs256(jwt::b64(key.verifying_key().as_bytes()).as_bytes()),
            ),
        ),
        (
            "crit header",
            forge(
                &with(&with(&header, "crit", json!(["x-gh"])), "x-gh", json!(true)),
                &claims,
                Sign::Ed25519(&key),
            ),
        ),
        (
            "unknown kid",
            forge(
                &with(&header, "kid", json!(format!("{kid}-other"))),
                &claims,
                Sign::Ed25519(&key),
            ),
        ),
        (
            "no kid",
            forge(
                &json!({"alg": "EdDSA", "typ": "JWT"}),
                &claims,
                Sign::Ed25519(&key),
            ),
        ),
        (
            "claims changed after signing",
            format!(
                "{h64}.{}.{sig}",
                jwt::b64(bob_claims.to_string().as_bytes())
            ),
        ),
        (
            "sid of no session",
            forge(
                &header,
                &with(&claims, "sid", json!("x".repeat(43))),
                Sign::Ed25519(&key),
            ),
        ),
        (
            "truncated signature",
            tok.access_token[..tok.access_token.len() - 4].to_string(),
        ),
    ];
    if let Some(bytes) = pub_file_bytes {
        cases.push((
            "HS256 keyed with signing.pub.pem",
            forge(&hs_header, &claims, Sign::Hs256(&bytes)),
        ));
    }

    let before = rig.echo.hits();
    for (name, token) in &cases {
        let r = bearer_get(&c, &url, token).await;
        assert_eq!(r.status, 401, "{name} was not refused: {}", r.body);
        assert!(
            r.header("www-authenticate")
                .unwrap_or_default()
                .starts_with("Bearer"),
            "{name}"
        );
    }
    assert_eq!(
        rig.echo.hits(),
        before,
        "a refused token reached the upstream"
    );

    // Control after the refusals: the real token still works (refusals
    // neither crashed nor revoked anything).
    let e = bearer_get(&c, &url, &tok.access_token).await.echo();
    assert_eq!(e.one("x-auth-user"), Some("alice"));
}

// An HS256 gateway accepts tokens under its own secret only, and publishes
// no key material in its JWKS.
#[tokio::test]
async fn hs256_gateway_accepts_only_its_own_secret() {
    let secret = format!("t3st-{}", hex::encode(rand::random::<[u8; 32]>()));
    let rig = Rig::with(StoreKind::Memory, |b| {
        b.hs256("GH_TEST_JWT_SECRET", &secret)
    })
    .await;
    let c = plain_client(None);
    let url = rig.url("/app/x");
    let tok = login(&c, &rig.base(), "bob", BOB_PW).await;
    let header = jwt::header(&tok.access_token);
    let claims = jwt::claims(&tok.access_token);
    assert_eq!(header["alg"], "HS256");
    assert!(
        header["kid"].as_str().is_some_and(|k| !k.is_empty()),
        "{header}"
    );
    assert!(
        !header["kid"]
            .as_str()
            .unwrap_or_default()
            .contains(&secret[5..]),
        "kid leaks the secret"
    );

    // Controls: the real token and a re-signed copy under the real secret.
    for token in [
        tok.access_token.clone(),
        forge(&header, &claims, Sign::Hs256(secret.as_bytes())),
    ] {
        assert_eq!(
            bearer_get(&c, &url, &token).await.echo().one("x-auth-user"),
            Some("bob")
        );
    }

    let jwks = send_jwks(&rig).await;
    if let Some(v) = jwks {
        assert!(
            !v.to_string().contains(&secret),
            "JWKS leaks the HS256 secret"
        );
        assert!(
            v["keys"]
                .as_array()
                .is_none_or(|k| k.iter().all(|k| k.get("k").is_none())),
            "{v}"
        );
    }

    let stranger = jwt::stranger_key();
    let kid = header["kid"].clone();
    let cases = [
        (
            "wrong secret",
            forge(
                &header,
                &claims,
                Sign::Hs256(b"another-secret-of-at-least-32-bytes!!"),
            ),
        ),
        (
            "alg none",
            forge(&json!({"alg": "none", "kid": kid}), &claims, Sign::Nothing),
        ),
        (
            "EdDSA instead of HS256",
            forge(
                &json!({"alg": "EdDSA", "kid": kid}),
                &claims,
                Sign::Ed25519(&stranger),
            ),
        ),
        (
            "HS512 alg",
            forge(
                &with(&header, "alg", json!("HS512")),
                &claims,
                Sign::Hs256(secret.as_bytes()),
            ),
        ),
    ];
    for (name, token) in &cases {
        let r = bearer_get(&c, &url, token).await;
        assert_eq!(r.status, 401, "{name} was not refused: {}", r.body);
    }
}

/// The JWKS of an HS256 gateway, if it serves one (SPEC: asymmetric only).
async fn send_jwks(rig: &Rig) -> Option<Value> {
    let r = common::send(plain_client(None).get(rig.url("/.well-known/jwks.json"))).await;
    (r.status == 200).then(|| r.json())
}
