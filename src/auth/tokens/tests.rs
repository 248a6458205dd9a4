//! Minting and, above all, refusing: every way a token can lie about itself
//! (SPEC §5). Fixtures are throw-away test keys (see `testdata/README.md`).

use jsonwebtoken::EncodingKey;
use p256::pkcs8::EncodePrivateKey;
use serde_json::json;

use super::*;
use crate::config::TokenAlgorithm;

const ED25519: &[u8] = include_bytes!("../testdata/test-ed25519.pem");
const ED25519_PUBLIC: &[u8] = include_bytes!("../testdata/test-ed25519-public.pem");
const P256: &[u8] = include_bytes!("../testdata/test-p256-pkcs8.pem");
const RSA2048: &[u8] = include_bytes!("../testdata/test-rsa2048-pkcs1.pem");
const HS_SECRET: &[u8] = b"an HS256 test secret of 32+ bytes, tests only";

const NOW: i64 = 1_700_000_000;
const TTL: i64 = 900;

fn keys(alg: TokenAlgorithm) -> KeySet {
    match alg {
        TokenAlgorithm::EdDSA => KeySet::from_pem(alg, ED25519),
        TokenAlgorithm::ES256 => KeySet::from_pem(alg, P256),
        TokenAlgorithm::RS256 => KeySet::from_pem(alg, RSA2048),
        TokenAlgorithm::HS256 => KeySet::from_hmac_secret(HS_SECRET),
    }
    .unwrap()
}

fn service_with(alg: TokenAlgorithm, iss: &str, aud: &str) -> TokenService {
    TokenService::new(keys(alg), iss.into(), aud.into(), TTL)
}

fn service(alg: TokenAlgorithm) -> TokenService {
    service_with(alg, "gatehouse", "apps")
}

fn session() -> SessionRecord {
    SessionRecord {
        sid: "0123456789abcdef0123456789abcdef".into(),
        user_id: "u-alice".into(),
        username: "alice".into(),
        email: "alice@example.com".into(),
        roles: vec!["admin".into(), "dev".into()],
        created: NOW,
        last_seen: NOW,
        expires_at: NOW + 43_200,
        ip: "127.0.0.1".into(),
        user_agent: "test".into(),
        oidc: None,
    }
}

fn b64(json: &Value) -> String {
    URL_SAFE_NO_PAD.encode(json.to_string())
}

/// Claims as `mint` would write them, for hand-built tokens.
fn claims(svc: &TokenService) -> Value {
    json!({
        "iss": svc.issuer, "aud": svc.audience, "sub": "u-alice",
        "email": "alice@example.com", "roles": ["admin"],
        "sid": "0123456789abcdef0123456789abcdef", "jti": "j",
        "iat": NOW, "exp": NOW + TTL,
    })
}

fn header(alg: &str, kid: &str) -> Value {
    json!({"alg": alg, "typ": "JWT", "kid": kid})
}

/// A token with exactly this header and payload text, signed with `key` as
/// `alg`: lets a test forge anything while keeping the signature valid.
fn sign_raw(header_json: &str, payload_json: &str, key: &EncodingKey, alg: Algorithm) -> String {
    let msg = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header_json),
        URL_SAFE_NO_PAD.encode(payload_json)
    );
    let sig = jsonwebtoken::crypto::sign(msg.as_bytes(), key, alg).unwrap();
    format!("{msg}.{sig}")
}

fn sign_json(header: &Value, claims: &Value, svc: &TokenService) -> String {
    sign_raw(
        &header.to_string(),
        &claims.to_string(),
        &svc.keys().encoding,
        svc.keys().algorithm,
    )
}

#[test]
fn round_trip_every_algorithm() {
    for alg in [
        TokenAlgorithm::EdDSA,
        TokenAlgorithm::ES256,
        TokenAlgorithm::RS256,
        TokenAlgorithm::HS256,
    ] {
        let svc = service(alg);
        let (token, exp) = svc.mint(&session(), NOW).unwrap();
        assert_eq!(exp, NOW + TTL);
        let c = svc.verify(&token, NOW).unwrap();
        let want = AccessClaims {
            iss: "gatehouse".into(),
            aud: "apps".into(),
            sub: "u-alice".into(),
            email: "alice@example.com".into(),
            roles: vec!["admin".into(), "dev".into()],
            sid: "0123456789abcdef0123456789abcdef".into(),
            jti: c.jti.clone(),
            iat: NOW,
            exp: NOW + TTL,
            nbf: None,
        };
        assert_eq!(c, want, "{alg:?}");
        // 128-bit jti, fresh each time.
        assert_eq!(URL_SAFE_NO_PAD.decode(&c.jti).unwrap().len(), 16);
        let again = svc
            .verify(&svc.mint(&session(), NOW).unwrap().0, NOW)
            .unwrap();
        assert_ne!(c.jti, again.jti);
        // Header: our alg, our kid, typ JWT.
        let h = decode_header(token.split('.').next().unwrap()).unwrap();
        assert_eq!(h["kid"], svc.keys().kid.as_str());
        assert_eq!(h["typ"], "JWT");
        assert_eq!(
            Algorithm::from_str(h["alg"].as_str().unwrap()).unwrap(),
            svc.keys().algorithm
        );
    }
}

#[test]
fn time_window_with_small_leeway() {
    let svc = service(TokenAlgorithm::EdDSA);
    let (token, exp) = svc.mint(&session(), NOW).unwrap();
    assert!(svc.verify(&token, exp - 1).is_ok());
    assert!(svc.verify(&token, exp + LEEWAY_SECS - 1).is_ok());
    assert_eq!(
        svc.verify(&token, exp + LEEWAY_SECS),
        Err(TokenError::Expired)
    );
    assert_eq!(svc.verify(&token, exp + 86_400), Err(TokenError::Expired));

    let h = header("EdDSA", &svc.keys().kid);
    let mut c = claims(&svc);
    c["nbf"] = json!(NOW + 60);
    assert_eq!(
        svc.verify(&sign_json(&h, &c, &svc), NOW),
        Err(TokenError::NotYetValid)
    );
    assert!(svc.verify(&sign_json(&h, &c, &svc), NOW + 60).is_ok());
    c["nbf"] = json!(NOW + LEEWAY_SECS);
    assert!(
        svc.verify(&sign_json(&h, &c, &svc), NOW).is_ok(),
        "skew within leeway"
    );
}

#[test]
fn wrong_issuer_or_audience() {
    let minted = service(TokenAlgorithm::EdDSA)
        .mint(&session(), NOW)
        .unwrap()
        .0;
    let other_iss = service_with(TokenAlgorithm::EdDSA, "someone-else", "apps");
    assert_eq!(other_iss.verify(&minted, NOW), Err(TokenError::Issuer));
    let other_aud = service_with(TokenAlgorithm::EdDSA, "gatehouse", "other-apps");
    assert_eq!(other_aud.verify(&minted, NOW), Err(TokenError::Audience));
}

#[test]
fn required_claims() {
    let svc = service(TokenAlgorithm::EdDSA);
    let h = header("EdDSA", &svc.keys().kid);
    for missing in ["exp", "iss", "aud", "sub", "sid"] {
        let mut c = claims(&svc);
        c.as_object_mut().unwrap().remove(missing);
        assert!(
            svc.verify(&sign_json(&h, &c, &svc), NOW).is_err(),
            "without {missing}"
        );
    }
    let mut c = claims(&svc);
    c["exp"] = json!("never");
    assert_eq!(
        svc.verify(&sign_json(&h, &c, &svc), NOW),
        Err(TokenError::Malformed)
    );
    assert!(
        svc.verify(&sign_json(&h, &claims(&svc), &svc), NOW).is_ok(),
        "control"
    );
}

#[test]
fn tampered_payload_and_foreign_signature() {
    let svc = service(TokenAlgorithm::EdDSA);
    let (token, _) = svc.mint(&session(), NOW).unwrap();
    let parts: Vec<&str> = token.split('.').collect();

    // Escalate roles, keep the signature.
    let mut c: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    c["roles"] = json!(["superuser"]);
    let tampered = format!("{}.{}.{}", parts[0], b64(&c), parts[2]);
    assert_eq!(svc.verify(&tampered, NOW), Err(TokenError::Signature));

    // Signed by another Ed25519 key that claims our kid.
    let other = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let other_key = EncodingKey::from_ed_der(other.to_pkcs8_der().unwrap().as_bytes());
    let h = header("EdDSA", &svc.keys().kid).to_string();
    let forged = sign_raw(&h, &claims(&svc).to_string(), &other_key, Algorithm::EdDSA);
    assert_eq!(svc.verify(&forged, NOW), Err(TokenError::Signature));

    // Our header and payload with a truncated or empty signature.
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig.pop();
    let short = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(&sig));
    assert_eq!(svc.verify(&short, NOW), Err(TokenError::Signature));
    let unsigned = format!("{}.{}.", parts[0], parts[1]);
    assert_eq!(svc.verify(&unsigned, NOW), Err(TokenError::Signature));
}

#[test]
fn algorithm_confusion_is_refused() {
    let ed = service(TokenAlgorithm::EdDSA);
    let kid = ed.keys().kid.clone();
    let payload = b64(&claims(&ed));

    // alg none, hand-built, empty signature; also its case variants.
    for alg in ["none", "None", "NONE", "nOnE", ""] {
        let t = format!("{}.{payload}.", b64(&header(alg, &kid)));
        assert_eq!(
            ed.verify(&t, NOW),
            Err(TokenError::Algorithm),
            "alg {alg:?}"
        );
    }
    // alg missing, or not a string.
    for h in [
        json!({"kid": kid}),
        json!({"alg": ["EdDSA"], "kid": kid}),
        json!({"alg": null}),
    ] {
        let t = format!("{}.{payload}.AAAA", b64(&h));
        assert_eq!(ed.verify(&t, NOW), Err(TokenError::Algorithm), "{h}");
    }
    // Our algorithm's name in another case is not our algorithm.
    let t = format!("{}.{payload}.AAAA", b64(&header("eddsa", &kid)));
    assert_eq!(ed.verify(&t, NOW), Err(TokenError::Algorithm));

    // The classic: HS256 keyed with the public key PEM the attacker can read.
    let h = header("HS256", &kid).to_string();
    let hmac = EncodingKey::from_secret(ED25519_PUBLIC);
    let t = sign_raw(&h, &claims(&ed).to_string(), &hmac, Algorithm::HS256);
    assert_eq!(ed.verify(&t, NOW), Err(TokenError::Algorithm));
    // Same with the JWKS document and the raw x as the secret.
    for secret in [
        ed.keys().jwks_json.as_bytes().to_vec(),
        ed.keys().kid.as_bytes().to_vec(),
    ] {
        let t = sign_raw(
            &h,
            &claims(&ed).to_string(),
            &EncodingKey::from_secret(&secret),
            Algorithm::HS256,
        );
        assert_eq!(ed.verify(&t, NOW), Err(TokenError::Algorithm));
    }

    // An RS256 service handed an HS256 token (keyed with its public modulus).
    let rs = service(TokenAlgorithm::RS256);
    let h = header("HS256", &rs.keys().kid).to_string();
    let t = sign_raw(
        &h,
        &claims(&rs).to_string(),
        &EncodingKey::from_secret(rs.keys().jwks_json.as_bytes()),
        Algorithm::HS256,
    );
    assert_eq!(rs.verify(&t, NOW), Err(TokenError::Algorithm));

    // Tokens of one asymmetric service are foreign to the others, and an
    // HS256 service does not take an EdDSA token.
    let es = service(TokenAlgorithm::ES256);
    let hs = service(TokenAlgorithm::HS256);
    let ed_token = ed.mint(&session(), NOW).unwrap().0;
    for other in [&es, &rs, &hs] {
        assert_eq!(other.verify(&ed_token, NOW), Err(TokenError::Algorithm));
    }
    assert_eq!(
        ed.verify(&es.mint(&session(), NOW).unwrap().0, NOW),
        Err(TokenError::Algorithm)
    );
    assert_eq!(
        ed.verify(&hs.mint(&session(), NOW).unwrap().0, NOW),
        Err(TokenError::Algorithm)
    );
}

#[test]
fn kid_must_be_ours() {
    let svc = service(TokenAlgorithm::EdDSA);
    let c = claims(&svc);
    let cases = [
        json!({"alg": "EdDSA", "typ": "JWT"}),
        json!({"alg": "EdDSA", "kid": "someone-elses-key"}),
        json!({"alg": "EdDSA", "kid": ""}),
        json!({"alg": "EdDSA", "kid": null}),
        json!({"alg": "EdDSA", "kid": [svc.keys().kid]}),
        json!({"alg": "EdDSA", "kid": svc.keys().kid.to_uppercase()}),
    ];
    for h in cases {
        assert_eq!(
            svc.verify(&sign_json(&h, &c, &svc), NOW),
            Err(TokenError::UnknownKid),
            "{h}"
        );
    }
}

#[test]
fn crit_and_odd_headers_are_refused() {
    let svc = service(TokenAlgorithm::EdDSA);
    let kid = svc.keys().kid.clone();
    let c = claims(&svc).to_string();
    let sign = |h: &str| sign_raw(h, &c, &svc.keys().encoding, Algorithm::EdDSA);
    let crit = [
        format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{kid}","crit":["exp"],"exp":1}}"#),
        format!(r#"{{"alg":"EdDSA","kid":"{kid}","crit":[]}}"#),
        format!(r#"{{"alg":"EdDSA","kid":"{kid}","crit":null}}"#),
        // The same member name spelt with a JSON escape.
        format!(r#"{{"alg":"EdDSA","kid":"{kid}","\u0063rit":["b64"],"b64":false}}"#),
    ];
    for h in &crit {
        assert_eq!(svc.verify(&sign(h), NOW), Err(TokenError::Crit), "{h}");
    }
    let malformed = [
        // Duplicate members: one parser's `alg` must not be another's.
        format!(r#"{{"alg":"EdDSA","kid":"{kid}","alg":"none"}}"#),
        format!(r#"{{"alg":"EdDSA","kid":"{kid}","kid":"{kid}"}}"#),
        format!(r#"{{"alg":"EdDSA","kid":"{kid}","typ":"JWT","typ":"JWT"}}"#),
        format!(r#"{{"alg":"EdDSA","kid":"{kid}","typ":"at+jwt"}}"#),
        format!(r#"{{"alg":"EdDSA","kid":"{kid}"}} trailing"#),
        format!(r#"[{{"alg":"EdDSA","kid":"{kid}"}}]"#),
        r#""EdDSA""#.to_string(),
    ];
    for h in &malformed {
        assert_eq!(svc.verify(&sign(h), NOW), Err(TokenError::Malformed), "{h}");
    }
    // Control: the same construction with a clean header passes.
    assert!(svc
        .verify(&sign(&format!(r#"{{"alg":"EdDSA","kid":"{kid}"}}"#)), NOW)
        .is_ok());
}

#[test]
fn garbage_never_panics() {
    let svc = service(TokenAlgorithm::EdDSA);
    let (token, _) = svc.mint(&session(), NOW).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let huge = "A".repeat(MAX_TOKEN_LEN * 20);
    let long_valid_shape = format!("{}.{}.{}", parts[0], "A".repeat(MAX_TOKEN_LEN), parts[2]);
    let cases = [
        String::new(),
        ".".into(),
        "..".into(),
        "...".into(),
        "a".into(),
        "a.b".into(),
        "a.b.c".into(),
        "a.b.c.d".into(),
        format!("{token}.extra"),
        format!("{token}."),
        format!(".{token}"),
        huge,
        long_valid_shape,
        "!!!.###.$$$".into(),
        "\u{0}.\u{0}.\u{0}".into(),
        "é.ü.ß".into(),
        format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
        format!("{}.{}=.{}", parts[0], parts[1], parts[2]),
        format!("{}.{}.{}==", parts[0], parts[1], parts[2]),
        format!(
            "{}.{}.{}",
            parts[0].replace('-', "+").replace('_', "/") + "+",
            parts[1],
            parts[2]
        ),
        format!("{}.%%%.{}", parts[0], parts[2]),
        format!("{}..{}", parts[0], parts[2]),
        format!("{}.{}.!!", parts[0], parts[1]),
        format!("{}.{}.{}", b64(&json!({})), parts[1], parts[2]),
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode("not json"),
            parts[1],
            parts[2]
        ),
        format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode("not json"),
            parts[2]
        ),
        format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode([0xff, 0xfe]),
            parts[2]
        ),
        format!("{} .{}.{}", parts[0], parts[1], parts[2]),
        format!("Bearer {token}"),
    ];
    for t in &cases {
        assert!(svc.verify(t, NOW).is_err(), "{t:.60}");
    }
    // Which of those is refused before any crypto runs.
    for t in [
        "",
        ".",
        "a.b",
        "a.b.c.d",
        "!!!.###.$$$",
        &"A".repeat(MAX_TOKEN_LEN + 1),
    ] {
        assert_eq!(svc.verify(t, NOW), Err(TokenError::Malformed), "{t:.60}");
    }
    assert!(svc.verify(&token, NOW).is_ok(), "control");
}

/// Our own header gate, without jsonwebtoken's checks behind it: the
/// algorithm pin must hold even if the library's did not.
#[test]
fn header_gate_alone_pins_the_algorithm() {
    let svc = service(TokenAlgorithm::RS256);
    let kid = svc.keys().kid.clone();
    let keys = svc.keys();
    let gate = |h: Value| check_header(&keys, &decode_header(&b64(&h)).unwrap()).map(drop);
    assert_eq!(gate(header("RS256", &kid)), Ok(()));
    for alg in [
        "none", "HS256", "RS384", "PS256", "ES256", "EdDSA", "rs256", "RS256 ",
    ] {
        assert_eq!(
            gate(header(alg, &kid)),
            Err(TokenError::Algorithm),
            "{alg:?}"
        );
    }
    assert_eq!(gate(json!({"kid": kid})), Err(TokenError::Algorithm));
    assert_eq!(gate(json!({"alg": "RS256"})), Err(TokenError::UnknownKid));
    assert_eq!(
        gate(json!({"alg": "RS256", "kid": kid, "crit": ["x"]})),
        Err(TokenError::Crit)
    );
    assert_eq!(
        gate(json!({"alg": "RS256", "kid": kid, "typ": "jwt"})),
        Ok(())
    );
}
