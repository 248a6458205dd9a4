//! Refresh tokens: opaque, 256 bits from the OS RNG, stored only as their
//! SHA-256. For the grace window (SPEC §5) the successor is kept sealed with
//! a key derived from the token it replaces, so the store never holds a
//! usable token in the clear.
//!
//! Sealing: ciphertext = successor XOR SHA-256 keystream keyed by the old
//! token, plus a 128-bit tag over both. The store holds SHA-256(old) as the
//! record's key, so every derivation here is domain-separated from that
//! plain hash: a store dump gives neither the old token nor the keystream.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::store::slot;

const SEAL_DOMAIN: &[u8] = b"gatehouse-refresh-seal\0";
const TAG_DOMAIN: &[u8] = b"gatehouse-refresh-tag\0";
/// Truncated tag: 128 bits is ample, and truncation also rules out
/// SHA-256 length extension.
const TAG_LEN: usize = 16;
/// Sealed values longer than this are garbage (tokens are 47 characters).
const MAX_SEALED_LEN: usize = 1024;

/// A new random token body (base64url, no padding).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A new refresh token for `user_id`: its store slot tag (`store::slot`),
/// then 256 random bits, so a rotation finds the family's Redis Cluster slot
/// from the token alone.
pub fn new_refresh_token(user_id: &str) -> String {
    slot::tagged(user_id, &new_token())
}

/// The successor of `old` in its family: same slot tag, new random bits.
pub fn successor_token(old: &str) -> String {
    let mut t = slot::tag_of(old).to_string();
    t.push_str(&new_token());
    t
}

/// The store key of a token: its slot tag, then hex SHA-256 of it all.
pub fn token_hash(token: &str) -> String {
    let mut h = slot::tag_of(token).to_string();
    h.push_str(&hex::encode(Sha256::digest(token.as_bytes())));
    h
}

/// XOR `data` in place with a keystream of SHA-256(domain || counter || old).
fn apply_keystream(data: &mut [u8], old: &str) {
    for (counter, chunk) in (0u32..).zip(data.chunks_mut(32)) {
        let block = Sha256::new()
            .chain_update(SEAL_DOMAIN)
            .chain_update(counter.to_be_bytes())
            .chain_update(old.as_bytes())
            .finalize();
        for (b, k) in chunk.iter_mut().zip(block.iter()) {
            *b ^= k;
        }
    }
}

/// Tag over (old, successor); `old`'s length is encoded so the split between
/// the two is unambiguous.
fn tag(old: &str, successor: &[u8]) -> [u8; TAG_LEN] {
    let digest = Sha256::new()
        .chain_update(TAG_DOMAIN)
        .chain_update((old.len() as u64).to_be_bytes())
        .chain_update(old.as_bytes())
        .chain_update(successor)
        .finalize();
    let mut out = [0u8; TAG_LEN];
    out.copy_from_slice(&digest[..TAG_LEN]);
    out
}

/// Seal `successor` so only the holder of `old` can open it.
pub fn seal(successor: &str, old: &str) -> String {
    let mut out = successor.as_bytes().to_vec();
    apply_keystream(&mut out, old);
    out.extend_from_slice(&tag(old, successor.as_bytes()));
    URL_SAFE_NO_PAD.encode(out)
}

/// Open a sealed successor with the old token; None if it does not open.
pub fn unseal(sealed: &str, old: &str) -> Option<String> {
    if sealed.len() > MAX_SEALED_LEN {
        return None;
    }
    let raw = URL_SAFE_NO_PAD.decode(sealed).ok()?;
    let split = raw.len().checked_sub(TAG_LEN)?;
    let (ciphertext, got_tag) = raw.split_at(split);
    let mut plain = ciphertext.to_vec();
    apply_keystream(&mut plain, old);
    if !bool::from(tag(old, &plain).ct_eq(got_tag)) {
        return None;
    }
    String::from_utf8(plain).ok()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn new_tokens_are_256_bit_and_distinct() {
        let tokens: HashSet<String> = (0..100).map(|_| new_token()).collect();
        assert_eq!(tokens.len(), 100);
        for t in &tokens {
            assert_eq!(t.len(), 43, "{t}");
            assert_eq!(URL_SAFE_NO_PAD.decode(t).unwrap().len(), 32);
        }
    }

    #[test]
    fn token_hash_is_the_tag_then_hex_sha256() {
        // SHA-256("abcd"): the whole token is hashed, its first four
        // characters (the slot tag) are kept in front.
        assert_eq!(
            token_hash("abcd"),
            "abcd88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589"
        );
        let t = new_token();
        assert_eq!(token_hash(&t), token_hash(&t));
        assert_ne!(token_hash(&t), token_hash(&new_token()));
    }

    #[test]
    fn refresh_tokens_carry_their_users_slot_tag_through_rotation() {
        let t = new_refresh_token("alice");
        assert_eq!(t.len(), 47, "{t}");
        assert_eq!(slot::tag_of(&t), slot::user_tag("alice"));
        let next = successor_token(&t);
        assert_ne!(next, t);
        assert_eq!(slot::tag_of(&next), slot::user_tag("alice"));
        assert_eq!(slot::tag_of(&token_hash(&next)), slot::user_tag("alice"));
    }

    #[test]
    fn seal_round_trip() {
        let (old, next) = (new_token(), new_token());
        let sealed = seal(&next, &old);
        assert!(!sealed.contains(&next));
        assert_eq!(unseal(&sealed, &old).as_deref(), Some(next.as_str()));
        // Longer than one keystream block still round-trips.
        let long = "x".repeat(100);
        assert_eq!(unseal(&seal(&long, &old), &old), Some(long));
    }

    #[test]
    fn seal_depends_on_the_old_token_only_through_its_holder() {
        let (old, next) = (new_token(), new_token());
        let sealed = seal(&next, &old);
        // The store's own key for `old` does not open it.
        assert_eq!(unseal(&sealed, &token_hash(&old)), None);
        assert_eq!(unseal(&sealed, &new_token()), None);
        // Different old tokens give different ciphertexts of the same successor.
        assert_ne!(seal(&next, &old), seal(&next, &new_token()));
    }

    #[test]
    fn unseal_refuses_tampering_and_garbage() {
        let (old, next) = (new_token(), new_token());
        let sealed = seal(&next, &old);
        let mut raw = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        for i in [0, 20, raw.len() - 1] {
            raw[i] ^= 1;
            assert_eq!(
                unseal(&URL_SAFE_NO_PAD.encode(&raw), &old),
                None,
                "flip at {i}"
            );
            raw[i] ^= 1;
        }
        let truncated = &sealed[..sealed.len() - 4];
        let huge = "A".repeat(100_000);
        for garbage in [
            "",
            "A",
            "!!!!",
            "====",
            truncated,
            &huge,
            &format!("{sealed}="),
        ] {
            assert_eq!(unseal(garbage, &old), None, "{garbage:.40}");
        }
    }
}
