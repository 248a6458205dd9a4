//! API keys (SPEC §1, §5): `gh_` + 256 random bits, shown once at creation
//! and stored only as their SHA-256. A request presents one with
//! `X-API-Key: KEY` or `Authorization: ApiKey KEY`; every request looks it up
//! in the store (one round trip, which also records `last_used` at most once
//! a minute), so a revoked key is refused at once.
//!
//! An API key stands for a service, not a user: its identity is
//! `apikey:<name>` with the key's roles, and no session (`sid: None`).

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::auth::identity::{AuthMethod, Identity};
use crate::store::{ApiKeyRecord, Store, StoreError};

/// Every key starts with this, so leaked keys are easy to grep for (secret
/// scanners) and easy to tell from session tokens.
pub const KEY_PREFIX: &str = "gh_";
/// Base64url length of the 32 random bytes.
const KEY_BODY_LEN: usize = 43;
/// `last_used` is written at most this often per key.
pub const TOUCH_EVERY: Duration = Duration::from_secs(60);
/// Identities of API keys are named `apikey:<name>`.
pub const IDENTITY_PREFIX: &str = "apikey:";
/// Longest key name.
const MAX_NAME: usize = 64;

/// A new API key (OS RNG).
pub fn new_key() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The store key of an API key: hex SHA-256. The key has 256 bits of
/// entropy, so a plain hash is as strong as a slow one here.
pub fn key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Whether `key` has the shape of a gatehouse key. Anything else is refused
/// without a store lookup (and without hashing attacker-sized input).
pub fn well_formed(key: &str) -> bool {
    key.strip_prefix(KEY_PREFIX).is_some_and(|body| {
        body.len() == KEY_BODY_LEN
            && body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// Key names: 1–64 of `A-Z a-z 0-9 . _ -`, so they are safe in the identity
/// header, in logs and in the store's name index.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if name.is_empty() || name.len() > MAX_NAME || !ok_chars {
        return Err(format!(
            "invalid API key name {name:?}: use 1 to {MAX_NAME} of A-Z a-z 0-9 . _ -"
        ));
    }
    Ok(())
}

/// The identity an API key stands for.
pub fn identity_of(rec: ApiKeyRecord) -> Identity {
    let name = format!("{IDENTITY_PREFIX}{}", rec.name);
    Identity::new(
        name.clone(),
        name,
        String::new(),
        rec.roles,
        None,
        AuthMethod::ApiKey,
    )
}

/// Look a presented key up (recording its use). None: not a live key.
pub async fn lookup(
    key: &str,
    store: &dyn Store,
    now: i64,
) -> Result<Option<Identity>, StoreError> {
    if !well_formed(key) {
        return Ok(None);
    }
    let rec = store.use_api_key(&key_hash(key), now, TOUCH_EVERY).await?;
    Ok(rec.map(identity_of))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ApiKeyStore;
    use crate::store::MemoryStore;

    #[test]
    fn new_keys_are_well_formed_and_distinct() {
        let (a, b) = (new_key(), new_key());
        assert!(well_formed(&a) && well_formed(&b), "{a} {b}");
        assert_ne!(a, b);
        assert_eq!(a.len(), KEY_PREFIX.len() + KEY_BODY_LEN);
        assert_ne!(key_hash(&a), key_hash(&b));
        assert_eq!(key_hash(&a).len(), 64);
    }

    #[test]
    fn shape_check_table() {
        let body = "A".repeat(KEY_BODY_LEN);
        let cases = [
            (format!("gh_{body}"), true),
            (format!("gh_{}", "-_9z".repeat(10) + "abc"), true),
            (format!("GH_{body}"), false),
            (format!("gh_{body}A"), false),
            (format!("gh_{}", &body[1..]), false),
            (format!("gh_{}+", &body[1..]), false),
            (format!("gh_{}=", &body[1..]), false),
            (body.clone(), false),
            (String::new(), false),
        ];
        for (key, want) in cases {
            assert_eq!(well_formed(&key), want, "{key:?}");
        }
    }

    #[test]
    fn name_check_table() {
        let cases = [
            ("ci", true),
            ("deploy-bot_2.prod", true),
            (&"a".repeat(64), true),
            (&"a".repeat(65), false),
            ("", false),
            ("with space", false),
            ("comma,role", false),
            ("colon:x", false),
            ("ünï", false),
        ];
        for (name, want) in cases {
            assert_eq!(check_name(name).is_ok(), want, "{name:?}");
        }
    }

    #[tokio::test]
    async fn lookup_finds_live_keys_only() {
        let store = MemoryStore::new();
        let key = new_key();
        let rec = ApiKeyRecord {
            name: "ci".into(),
            roles: vec!["service".into()],
            created: 100,
            last_used: None,
            expires_at: None,
        };
        assert!(store
            .create_api_key(&key_hash(&key), &rec)
            .await
            .expect("create"));
        let id = lookup(&key, &store, 200)
            .await
            .expect("lookup")
            .expect("live");
        assert_eq!(
            (
                id.username.as_str(),
                id.user_id.as_str(),
                id.method,
                id.sid.clone()
            ),
            ("apikey:ci", "apikey:ci", AuthMethod::ApiKey, None)
        );
        assert_eq!(id.roles, ["service"]);
        assert_eq!(lookup(&new_key(), &store, 200).await.expect("lookup"), None);
        assert_eq!(lookup("gh_short", &store, 200).await.expect("lookup"), None);
        assert!(store.revoke_api_key("ci").await.expect("revoke"));
        assert_eq!(lookup(&key, &store, 201).await.expect("lookup"), None);
    }
}
