//! Which Redis Cluster slot a user's records live in (SPEC §12).
//!
//! Every Lua script works on one user's keys at once (a session and its
//! user's index, a lock and the sessions it ends, a refresh token and its
//! session), and a cluster runs a script only when all of its keys hash to
//! one slot. So every such key carries the user's *tag* as its hash tag
//! (`{p}{<tag>}:s:<sid>`), and the tag is the first `TAG_LEN` characters of
//! every id the store is asked by: session ids and refresh-token hashes are
//! minted with their user's tag in front (`tagged`), so a lookup by sid or
//! token alone still finds the slot. The tag is a short hash of the user id:
//! it spreads users over the slots and says nothing usable about who they
//! are.

use sha2::{Digest, Sha256};

/// Hex characters of a tag: 65536 tags over 16384 slots.
pub const TAG_LEN: usize = 4;

/// The slot tag of a user's records.
pub fn user_tag(user_id: &str) -> String {
    let mut hex = hex::encode(&Sha256::digest(user_id.as_bytes())[..TAG_LEN / 2]);
    hex.truncate(TAG_LEN);
    hex
}

/// `rest` with `user_id`'s tag in front: how ids the store is later asked
/// by alone (session ids, refresh-token hashes) are minted.
pub fn tagged(user_id: &str, rest: &str) -> String {
    let mut out = user_tag(user_id);
    out.push_str(rest);
    out
}

/// The tag an id was minted with, or the whole id when it is too short to
/// carry one (such an id finds nothing a real login stored).
pub fn tag_of(id: &str) -> &str {
    id.get(..TAG_LEN).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_short_hex_stable_and_carried_by_tagged_ids() {
        let t = user_tag("alice");
        assert_eq!(t.len(), TAG_LEN);
        assert!(t.chars().all(|c| c.is_ascii_hexdigit()), "{t}");
        assert_eq!(t, user_tag("alice"));
        assert_ne!(user_tag("alice"), user_tag("bob"));
        let sid = tagged("alice", "0123abcd");
        assert_eq!(tag_of(&sid), t);
        assert_eq!(tag_of("ab"), "ab");
        assert_eq!(tag_of(""), "");
        // A multi-byte character at the cut is not a panic.
        assert_eq!(tag_of("abcé"), "abcé");
    }
}
