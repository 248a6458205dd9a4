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

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::auth::tokens::AccessClaims;
use crate::store::ttl_map::TtlMap;

/// Entries per shard: `SHARDS` x this many tokens at most.
const SHARD_CAPACITY: usize = 1024;

/// Verified tokens by their hash; the token is kept to confirm a hit, so a
/// hash collision is a miss, never another token's claims. The token is
/// hashed once per lookup (it is several hundred bytes), with foldhash
/// seeded per process rather than SipHash: about a tenth of the
/// instructions, and what a collision could do is small, since only a
/// token that passed verification is ever inserted (an engineered
/// collision would at most evict another token's entry, costing it one
/// more verification). The map inside hashes the `u64` keys with SipHash
/// as before. An entry lives until its token's `exp` (at most an hour,
/// whatever the token says).
pub struct VerifiedTokens {
    map: TtlMap<u64, (Box<str>, Arc<AccessClaims>)>,
    hasher: foldhash::quality::RandomState,
}

/// Longest an entry is kept, whatever its `exp`.
const MAX_AGE: Duration = Duration::from_secs(3600);

impl Default for VerifiedTokens {
    fn default() -> Self {
        VerifiedTokens {
            map: TtlMap::with_capacity(Some(SHARD_CAPACITY)),
            hasher: foldhash::quality::RandomState::default(),
        }
    }
}

impl VerifiedTokens {
    fn key(&self, token: &str) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(token)
    }

    /// The claims of a token verified before, if any.
    pub fn get(&self, token: &str) -> Option<Arc<AccessClaims>> {
        let key = self.key(token);
        let mut shard = self.map.lock(&key);
        let entry = shard.live(&key, Instant::now())?;
        let (seen, claims) = &entry.value;
        (**seen == *token).then(|| claims.clone())
    }

    /// Remember a token that has just passed full verification, until its
    /// `exp` (`now` is the Unix time it was verified at).
    pub fn insert(&self, token: &str, claims: Arc<AccessClaims>, now: i64) {
        let key = self.key(token);
        let left = u64::try_from(claims.exp.saturating_sub(now)).unwrap_or(0);
        let at = Instant::now();
        let deadline = at + Duration::from_secs(left).min(MAX_AGE);
        self.map
            .lock(&key)
            .insert(key, (token.into(), claims), deadline, at);
    }

    /// Forget every token (the keys changed: each is verified again).
    pub fn clear(&self) {
        self.map.each_shard(|s| s.clear());
    }

    /// Forget a token (expired).
    pub fn remove(&self, token: &str) {
        let key = self.key(token);
        let mut shard = self.map.lock(&key);
        let now = Instant::now();
        if shard.live(&key, now).is_some_and(|e| *e.value.0 == *token) {
            shard.remove(&key, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ttl_map::SHARDS;

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
        c.insert("a.b.c", claims("1"), 0);
        assert_eq!(c.get("a.b.c").map(|x| x.sid.clone()), Some("1".into()));
        assert!(c.get("a.b.c ").is_none());
        assert!(c.get("a.b.C").is_none());
        c.remove("a.b.c");
        assert!(c.get("a.b.c").is_none());
        for i in 0..(SHARDS * SHARD_CAPACITY * 2) {
            c.insert(&format!("t{i}"), claims("x"), 0);
        }
        let mut total = 0;
        c.map.each_shard(|s| total += s.len());
        assert!(total <= SHARDS * SHARD_CAPACITY);
    }

    #[test]
    fn a_hash_collision_is_a_miss() {
        let c = VerifiedTokens::default();
        // Plant token a's entry under token b's hash, as a collision would.
        let hash_b = c.key("b.b.b");
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        c.map
            .lock(&hash_b)
            .insert(hash_b, ("a.a.a".into(), claims("1")), later, now);
        assert!(c.get("b.b.b").is_none());
        c.remove("b.b.b");
        assert_eq!(c.map.lock(&hash_b).len(), 1, "not b's entry to remove");
    }
}
