//! A trusted issuer's JWKS document (RFC 7517), parsed once (at load, or
//! per fetch) into verification keys by `kid`. Only asymmetric signature keys
//! that fit one of the issuer's pinned algorithms are kept: a symmetric
//! (`oct`) key or an encryption key never verifies anything, and a document
//! that publishes private key material is refused whole.

use std::collections::HashMap;
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey};
use rsa::traits::PublicKeyParts;
use serde::Deserialize;
use serde_json::Value;

use crate::auth::keys::MIN_RSA_BITS;

/// Keys per document; real IdPs publish a handful (current, next, previous).
pub const MAX_KEYS: usize = 64;

/// What kind of public key a JWK holds, which decides the algorithms it may
/// verify (RFC 7518 §3): never the token's `alg` alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl KeyKind {
    /// Whether a key of this kind may verify `alg`.
    pub fn fits(self, alg: Algorithm) -> bool {
        use Algorithm::*;
        matches!(
            (self, alg),
            (KeyKind::Rsa, RS256 | RS384 | RS512 | PS256 | PS384 | PS512)
                | (KeyKind::P256, ES256)
                | (KeyKind::P384, ES384)
                | (KeyKind::Ed25519, EdDSA)
        )
    }
}

/// One verification key, ready for the hot path.
#[derive(Clone)]
pub struct VerifyKey {
    pub kind: KeyKind,
    /// The JWK's own `alg`, when it names one: then only that algorithm.
    pub alg: Option<Algorithm>,
    pub decoding: DecodingKey,
}

impl VerifyKey {
    /// Whether this key may verify a token signed with `alg`.
    pub fn allows(&self, alg: Algorithm) -> bool {
        self.kind.fits(alg) && self.alg.is_none_or(|a| a == alg)
    }
}

/// An issuer's keys by `kid`.
#[derive(Clone, Default)]
pub struct IssuerKeys {
    by_kid: HashMap<String, VerifyKey>,
}

impl IssuerKeys {
    pub fn get(&self, kid: &str) -> Option<&VerifyKey> {
        self.by_kid.get(kid)
    }

    pub fn len(&self) -> usize {
        self.by_kid.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_kid.is_empty()
    }

    /// The key ids, sorted (for logs).
    pub fn kids(&self) -> Vec<&str> {
        let mut kids: Vec<&str> = self.by_kid.keys().map(String::as_str).collect();
        kids.sort_unstable();
        kids
    }
}

impl std::fmt::Debug for IssuerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerKeys")
            .field("kids", &self.kids())
            .finish()
    }
}

/// A parsed document: the usable keys, and why any others were left out.
#[derive(Debug)]
pub struct ParsedJwks {
    pub keys: IssuerKeys,
    pub skipped: Vec<String>,
}

#[derive(Deserialize)]
struct Document {
    keys: Vec<Value>,
}

/// The members of a JWK we read; the rest (`x5c`, `x5t`, ...) are ignored.
#[derive(Deserialize)]
struct RawJwk {
    kty: Option<String>,
    kid: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    alg: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
    /// Private key material (RSA, EC, OKP) or a symmetric key (`oct`).
    d: Option<Value>,
    k: Option<Value>,
}

/// Parse a JWKS document, keeping the keys usable with `algorithms`. Fails
/// when the document is malformed, holds private keys, names a `kid` twice,
/// or leaves no usable key (the message then lists why each was skipped).
pub fn parse_jwks(bytes: &[u8], algorithms: &[Algorithm]) -> Result<ParsedJwks, String> {
    let doc: Document = serde_json::from_slice(bytes)
        .map_err(|e| format!("not a JWKS document ({{\"keys\": [...]}}): {e}"))?;
    if doc.keys.len() > MAX_KEYS {
        return Err(format!(
            "{} keys; at most {MAX_KEYS} are read",
            doc.keys.len()
        ));
    }
    let mut keys = IssuerKeys::default();
    let mut skipped = Vec::new();
    for (i, value) in doc.keys.iter().enumerate() {
        let jwk = match RawJwk::deserialize(value) {
            Ok(jwk) => jwk,
            Err(e) => {
                skipped.push(format!("keys[{i}]: not a JWK ({e})"));
                continue;
            }
        };
        // A published private key is a compromised key: trust nothing here.
        if jwk.d.is_some() {
            return Err(format!(
                "keys[{i}] holds private key material (\"d\"); a JWKS must publish public keys only"
            ));
        }
        let name = match &jwk.kid {
            Some(kid) => format!("key {kid:?}"),
            None => format!("keys[{i}]"),
        };
        match parse_key(&jwk, algorithms) {
            Ok(key) => {
                // Tokens must name their key, so a key without a kid could
                // never be chosen (SPEC §5 asks the same of our own tokens).
                let Some(kid) = jwk.kid.clone().filter(|k| !k.is_empty()) else {
                    skipped.push(format!("{name}: no kid"));
                    continue;
                };
                if keys.by_kid.insert(kid.clone(), key).is_some() {
                    return Err(format!("kid {kid:?} names two keys"));
                }
            }
            Err(why) => skipped.push(format!("{name}: {why}")),
        }
    }
    if keys.is_empty() {
        let why = if skipped.is_empty() {
            "the document lists no keys".to_owned()
        } else {
            skipped.join("; ")
        };
        return Err(format!("no usable signing key ({why})"));
    }
    Ok(ParsedJwks { keys, skipped })
}

/// One JWK as a verification key, or why it cannot be one.
fn parse_key(jwk: &RawJwk, algorithms: &[Algorithm]) -> Result<VerifyKey, String> {
    if let Some(u) = &jwk.use_ {
        if u != "sig" {
            return Err(format!("use {u:?} is not \"sig\""));
        }
    }
    if let Some(ops) = &jwk.key_ops {
        if !ops.iter().any(|o| o == "verify") {
            return Err("key_ops does not include \"verify\"".into());
        }
    }
    let alg = match &jwk.alg {
        None => None,
        Some(name) => match Algorithm::from_str(name) {
            Ok(a) if algorithms.contains(&a) => Some(a),
            _ => {
                return Err(format!(
                    "alg {name:?} is not one of the issuer's algorithms"
                ))
            }
        },
    };
    let (kind, decoding) = match jwk.kty.as_deref() {
        Some("RSA") => rsa_key(jwk)?,
        Some("EC") => ec_key(jwk)?,
        Some("OKP") => okp_key(jwk)?,
        // A shared secret published in a JWKS would let anyone sign.
        Some("oct") => return Err("symmetric (oct) keys are refused".into()),
        Some(other) => return Err(format!("unsupported kty {other:?}")),
        None => return Err("no kty".into()),
    };
    if jwk.k.is_some() {
        return Err("carries a symmetric key (\"k\")".into());
    }
    let key = VerifyKey {
        kind,
        alg,
        decoding,
    };
    if !algorithms.iter().any(|a| key.allows(*a)) {
        return Err(format!(
            "a {kind:?} key fits none of the issuer's algorithms"
        ));
    }
    Ok(key)
}

/// base64url, with or without padding (RFC 7515 says without; some IdPs pad).
fn b64(field: &str, value: Option<&String>) -> Result<Vec<u8>, String> {
    let value = value.ok_or_else(|| format!("no {field:?}"))?;
    URL_SAFE_NO_PAD
        .decode(value.trim_end_matches('='))
        .map_err(|_| format!("{field:?} is not base64url"))
}

fn rsa_key(jwk: &RawJwk) -> Result<(KeyKind, DecodingKey), String> {
    let n = b64("n", jwk.n.as_ref())?;
    let e = b64("e", jwk.e.as_ref())?;
    // Checks the exponent and modulus are sane, as a key we would load.
    let public = rsa::RsaPublicKey::new(
        rsa::BigUint::from_bytes_be(&n),
        rsa::BigUint::from_bytes_be(&e),
    )
    .map_err(|_| "not a valid RSA public key".to_string())?;
    let bits = public.n().bits();
    if bits < MIN_RSA_BITS {
        return Err(format!(
            "RSA key is {bits} bits; at least {MIN_RSA_BITS} are required"
        ));
    }
    Ok((KeyKind::Rsa, DecodingKey::from_rsa_raw_components(&n, &e)))
}

fn ec_key(jwk: &RawJwk) -> Result<(KeyKind, DecodingKey), String> {
    let x = b64("x", jwk.x.as_ref())?;
    let y = b64("y", jwk.y.as_ref())?;
    let (kind, size) = match jwk.crv.as_deref() {
        Some("P-256") => (KeyKind::P256, 32),
        Some("P-384") => (KeyKind::P384, 48),
        other => return Err(format!("unsupported EC curve {other:?}")),
    };
    if x.len() != size || y.len() != size {
        return Err(format!("EC coordinates are not {size} bytes"));
    }
    let mut point = Vec::with_capacity(1 + 2 * size);
    point.push(0x04);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    if kind == KeyKind::P256 && p256::PublicKey::from_sec1_bytes(&point).is_err() {
        return Err("the point is not on curve P-256".into());
    }
    Ok((kind, DecodingKey::from_ec_der(&point)))
}

fn okp_key(jwk: &RawJwk) -> Result<(KeyKind, DecodingKey), String> {
    if jwk.crv.as_deref() != Some("Ed25519") {
        return Err(format!("unsupported OKP curve {:?}", jwk.crv));
    }
    let x = b64("x", jwk.x.as_ref())?;
    let bytes: [u8; 32] = x
        .as_slice()
        .try_into()
        .map_err(|_| "an Ed25519 key is 32 bytes".to_string())?;
    let public = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
        .map_err(|_| "not a valid Ed25519 public key".to_string())?;
    // A small-order key makes signatures that verify for many messages.
    if public.is_weak() {
        return Err("weak (small-order) Ed25519 key".into());
    }
    Ok((KeyKind::Ed25519, DecodingKey::from_ed_der(&bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use Algorithm::*;

    fn ed_jwk(kid: &str) -> Value {
        let sk = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "use": "sig",
               "x": URL_SAFE_NO_PAD.encode(sk.verifying_key().as_bytes())})
    }

    fn rsa_jwk(kid: &str) -> Value {
        let keys = crate::auth::keys::KeySet::from_pem(
            crate::auth::settings::TokenAlgorithm::RS256,
            include_bytes!("../testdata/test-rsa2048-pkcs1.pem"),
        )
        .unwrap();
        let mut jwk: Value =
            serde_json::from_str::<Value>(&keys.jwks_json).unwrap()["keys"][0].clone();
        jwk["kid"] = json!(kid);
        jwk
    }

    fn doc(keys: Vec<Value>) -> Vec<u8> {
        json!({ "keys": keys }).to_string().into_bytes()
    }

    #[test]
    fn usable_keys_are_kept_by_kid() {
        let parsed = parse_jwks(&doc(vec![ed_jwk("e1"), rsa_jwk("r1")]), &[RS256, EdDSA]).unwrap();
        assert_eq!(parsed.keys.kids(), vec!["e1", "r1"]);
        assert!(parsed.skipped.is_empty());
        let r1 = parsed.keys.get("r1").unwrap();
        assert_eq!(r1.kind, KeyKind::Rsa);
        // The RSA JWK says alg RS256, so it verifies nothing else.
        assert!(r1.allows(RS256) && !r1.allows(PS256) && !r1.allows(EdDSA));
        let e1 = parsed.keys.get("e1").unwrap();
        assert!(e1.allows(EdDSA) && !e1.allows(RS256) && !e1.allows(HS256));
    }

    #[test]
    fn unusable_keys_are_skipped_with_a_reason() {
        let mut enc = rsa_jwk("enc");
        enc["use"] = json!("enc");
        let mut oaep = rsa_jwk("oaep");
        oaep["alg"] = json!("RSA-OAEP");
        let mut no_kid = ed_jwk("x");
        no_kid.as_object_mut().unwrap().remove("kid");
        let cases: Vec<(Value, &str)> = vec![
            (enc, "use \"enc\""),
            (oaep, "alg \"RSA-OAEP\""),
            (
                json!({"kty": "oct", "kid": "h", "k": "c2VjcmV0"}),
                "symmetric",
            ),
            (no_kid, "no kid"),
            (
                json!({"kty": "EC", "crv": "P-521", "kid": "p", "x": "AA", "y": "AA"}),
                "P-521",
            ),
            (
                json!({"kty": "EC", "crv": "P-256", "kid": "p", "x": URL_SAFE_NO_PAD.encode([1u8; 32]), "y": URL_SAFE_NO_PAD.encode([2u8; 32])}),
                "not on curve",
            ),
            (
                json!({"kty": "OKP", "crv": "Ed25519", "kid": "w", "x": URL_SAFE_NO_PAD.encode([0u8; 32])}),
                "weak",
            ),
            (
                json!({"kty": "OKP", "crv": "X25519", "kid": "w", "x": "AA"}),
                "unsupported OKP",
            ),
            (
                json!({"kty": "RSA", "kid": "r", "n": "!!", "e": "AQAB"}),
                "not base64url",
            ),
            (json!({"kid": "r"}), "no kty"),
            (json!("a string"), "not a JWK"),
            (rsa_jwk("r-for-eddsa"), "alg \"RS256\" is not one of"),
        ];
        for (bad, why) in cases {
            // Only EdDSA allowed, so an RS256 key does not fit either.
            let algs: &[Algorithm] = if why.starts_with("alg \"RS256\"") {
                &[EdDSA]
            } else {
                &[EdDSA, RS256]
            };
            let parsed = parse_jwks(&doc(vec![bad.clone(), ed_jwk("good")]), algs)
                .unwrap_or_else(|e| panic!("{bad}: {e}"));
            assert_eq!(parsed.keys.kids(), vec!["good"], "{bad}");
            assert!(
                parsed.skipped.iter().any(|s| s.contains(why)),
                "{bad}: {:?} lacks {why:?}",
                parsed.skipped
            );
        }
    }

    #[test]
    fn bad_documents_are_refused() {
        let mut private = ed_jwk("p");
        private["d"] = json!("AAAA");
        let small = json!({"kty": "RSA", "kid": "s", "e": "AQAB",
            "n": URL_SAFE_NO_PAD.encode([0xC3u8; 128])});
        let cases: Vec<(Vec<u8>, &[Algorithm], &str)> = vec![
            (b"not json".to_vec(), &[EdDSA], "not a JWKS"),
            (b"{\"keys\": {}}".to_vec(), &[EdDSA], "not a JWKS"),
            (doc(vec![]), &[EdDSA], "lists no keys"),
            (
                doc(vec![private, ed_jwk("ok")]),
                &[EdDSA],
                "private key material",
            ),
            (
                doc(vec![ed_jwk("a"), ed_jwk("a")]),
                &[EdDSA],
                "names two keys",
            ),
            (doc(vec![small]), &[RS256], "at least 2048"),
            (doc(vec![ed_jwk("a")]), &[RS256], "fits none"),
            (doc(vec![ed_jwk("a"); MAX_KEYS + 1]), &[EdDSA], "at most"),
        ];
        for (bytes, algs, why) in cases {
            let err = parse_jwks(&bytes, algs)
                .err()
                .unwrap_or_else(|| panic!("accepted: {}", String::from_utf8_lossy(&bytes)));
            assert!(err.contains(why), "{err} lacks {why:?}");
        }
    }
}
