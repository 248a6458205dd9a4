//! A trusted external issuer for the tests (`[[tokens.trusted_issuers]]`
//! with a `jwks_file`): the throw-away RSA test key of src/auth/testdata,
//! its JWKS, tokens signed with it, and the config block naming it.

use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey};
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::traits::PublicKeyParts as _;
use serde_json::{json, Value};

use super::jwt;

/// A throw-away test key (src/auth/testdata/README.md): never real.
const RSA_PEM: &str = include_str!("../../src/auth/testdata/test-rsa2048-pkcs1.pem");
pub const IDP: &str = "https://idp.test/realms/main";
pub const IDP_AUD: &str = "apps-idp";
pub const RSA_KID: &str = "idp-rsa-1";

/// The IdP: its signing key, and its JWKS written to `dir/idp-jwks.json`.
pub struct Idp {
    key: EncodingKey,
    pub jwks_path: std::path::PathBuf,
}

impl Idp {
    pub fn new(dir: &Path) -> Idp {
        let sk = rsa::RsaPrivateKey::from_pkcs1_pem(RSA_PEM).expect("test RSA key");
        let jwks = json!({"keys": [{
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": RSA_KID,
            "n": URL_SAFE_NO_PAD.encode(sk.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(sk.e().to_bytes_be()),
        }]});
        let jwks_path = dir.join("idp-jwks.json");
        std::fs::write(&jwks_path, jwks.to_string()).expect("write jwks");
        let key = EncodingKey::from_rsa_pem(RSA_PEM.as_bytes()).expect("encoding key");
        Idp { key, jwks_path }
    }

    /// A token with exactly these claims (the JSON as given, members and
    /// types untouched), signed RS256 with the IdP's key.
    pub fn token(&self, claims: &Value) -> String {
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": RSA_KID});
        self.token_raw(&claims.to_string(), &header)
    }

    /// A token over this exact payload text.
    pub fn token_raw(&self, payload: &str, header: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let sig = jsonwebtoken::crypto::sign(input.as_bytes(), &self.key, Algorithm::RS256)
            .expect("sign");
        format!("{input}.{sig}")
    }

    /// `[[tokens.trusted_issuers]]` for this IdP: roles from `roles_claim`
    /// through `role_map` (TOML inline table text, or none).
    pub fn config(&self, roles_claim: &str, role_map: Option<&str>) -> String {
        let map = role_map
            .map(|m| format!("role_map = {m}\n"))
            .unwrap_or_default();
        format!(
            "\n[[tokens.trusted_issuers]]\nissuer = \"{IDP}\"\naudience = \"{IDP_AUD}\"\njwks_file = \"{}\"\nalgorithms = [\"RS256\"]\nroles_claim = \"{roles_claim}\"\n{map}username_claim = \"preferred_username\"\n",
            self.jwks_path.display()
        )
    }
}

/// Claims of a valid token for ann with these IdP roles in `groups`.
pub fn claims(groups: &[&str]) -> Value {
    let now = jwt::now();
    json!({
        "iss": IDP, "aud": [IDP_AUD, "account"], "sub": "f3a9c2-ann",
        "preferred_username": "ann", "email": "ann@idp.test", "email_verified": true,
        "groups": groups, "iat": now, "exp": now + 300,
    })
}
