//! A cache of access tokens whose signature and claims have been verified.
//!
//! A signature over an exact token string never stops being valid, so a
//! token seen before need not be verified again (an Ed25519 or RSA check
//! costs tens of microseconds, more than the rest of the request). Only the
//! time checks (`exp`, `nbf`) are repeated on every use, and the session the
//! token names is still looked up in the store on every request, so logout
//! and revocation keep taking effect at once. Keyed by the whole token, so no
//! other string can hit an entry. The cached `roles` and `email` claims are
//! never used for the identity: it is described by the users file in force
//! (see `auth::check::identity_of`), so a reload cannot be outlived here.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};

use crate::auth::tokens::AccessClaims;

/// Shards, so the proxy's threads rarely wait on one another.
const SHARDS: usize = 16;
/// Entries per shard before it is emptied (a crude but bounded eviction).
const SHARD_CAPACITY: usize = 1024;

/// Entries by the token's hash; the token is kept to confirm a hit, so a
/// hash collision is a miss, never another token's claims. The token is
/// hashed once per lookup (it is several hundred bytes).
type Shard = Mutex<HashMap<u64, (Box<str>, Arc<AccessClaims>)>>;

pub struct VerifiedTokens {
    shards: Vec<Shard>,
    hasher: RandomState,
}

impl Default for VerifiedTokens {
    fn default() -> Self {
        VerifiedTokens {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
        }
    }
}

impl VerifiedTokens {
    fn slot(&self, token: &str) -> (&Shard, u64) {
        let hash = self.hasher.hash_one(token);
        (&self.shards[hash as usize % SHARDS], hash)
    }

    /// The claims of a token verified before, if any.
    pub fn get(&self, token: &str) -> Option<Arc<AccessClaims>> {
        let (shard, hash) = self.slot(token);
        let shard = shard.lock().ok()?;
        let (seen, claims) = shard.get(&hash)?;
        (**seen == *token).then(|| claims.clone())
    }

    /// Remember a token that has just passed full verification.
    pub fn insert(&self, token: &str, claims: Arc<AccessClaims>) {
        let (shard, hash) = self.slot(token);
        if let Ok(mut shard) = shard.lock() {
            if shard.len() >= SHARD_CAPACITY {
                shard.clear();
            }
            shard.insert(hash, (token.into(), claims));
        }
    }

    /// Forget a token (expired).
    pub fn remove(&self, token: &str) {
        let (shard, hash) = self.slot(token);
        if let Ok(mut shard) = shard.lock() {
            if shard.get(&hash).is_some_and(|(seen, _)| **seen == *token) {
                shard.remove(&hash);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(sid: &str) -> Arc<AccessClaims> {
        Arc::new(AccessClaims {
            iss: "i".into(),
            aud: "a".into(),
            sub: "s".into(),
            email: String::new(),
            roles: vec![],
            sid: sid.into(),
            jti: "j".into(),
            iat: 0,
            exp: 10,
            nbf: None,
        })
    }

    #[test]
    fn exact_token_only_and_bounded() {
        let c = VerifiedTokens::default();
        c.insert("a.b.c", claims("1"));
        assert_eq!(c.get("a.b.c").map(|x| x.sid.clone()), Some("1".into()));
        assert!(c.get("a.b.c ").is_none());
        assert!(c.get("a.b.C").is_none());
        c.remove("a.b.c");
        assert!(c.get("a.b.c").is_none());
        for i in 0..(SHARDS * SHARD_CAPACITY * 2) {
            c.insert(&format!("t{i}"), claims("x"));
        }
        let total: usize = c.shards.iter().map(|s| s.lock().unwrap().len()).sum();
        assert!(total <= SHARDS * SHARD_CAPACITY);
    }

    #[test]
    fn a_hash_collision_is_a_miss() {
        let c = VerifiedTokens::default();
        // Plant token a's entry under token b's hash, as a collision would.
        let (shard, hash_b) = c.slot("b.b.b");
        shard
            .lock()
            .unwrap()
            .insert(hash_b, ("a.a.a".into(), claims("1")));
        assert!(c.get("b.b.b").is_none());
        c.remove("b.b.b");
        assert_eq!(shard.lock().unwrap().len(), 1, "not b's entry to remove");
    }
}
