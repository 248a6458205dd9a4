//! TOTP second factor (SPEC §4): RFC 6238 with HMAC-SHA-1, 6 digits, 30 s
//! steps, accepting one step either side for clock drift. Each code works
//! once: the store keeps the last used step per user and refuses any step at
//! or below it (RFC 6238 §5.2). Ten backup codes are handed out once at
//! confirmation and stored as salted SHA-256 hashes, each usable once.
//!
//! The TOTP secret itself is a shared secret the server must keep to compute
//! codes; the store holds it as issued (see the `store` module doc).

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::store::{Store, StoreError};

pub const DIGITS: u32 = 6;
pub const PERIOD: i64 = 30;
/// Steps accepted either side of the current one.
pub const SKEW: i64 = 1;
/// Secret length: 160 bits, the HMAC-SHA-1 block-size recommendation of
/// RFC 4226 §4.
const SECRET_BYTES: usize = 20;
pub const BACKUP_CODES: usize = 10;
/// Backup codes: 16 base32 characters = 80 bits, so their SHA-256 cannot be
/// brute-forced from a store dump.
const BACKUP_CHARS: usize = 16;
/// Longest second-factor input considered.
const MAX_INPUT: usize = 64;

/// A new base32 secret (no padding, as authenticator apps expect).
pub fn new_secret() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    OsRng.fill_bytes(&mut bytes);
    BASE32_NOPAD.encode(&bytes)
}

/// The HOTP value (RFC 4226 §5.3) of `key` at counter `step`, `digits` long.
fn hotp(key: &[u8], step: u64, digits: u32) -> Option<u32> {
    let mut mac = Hmac::<Sha1>::new_from_slice(key).ok()?;
    mac.update(&step.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = usize::from(h.get(19)? & 0x0f);
    let word = h.get(offset..offset + 4)?;
    let bin = u32::from_be_bytes([word[0] & 0x7f, word[1], word[2], word[3]]);
    Some(bin % 10u32.pow(digits))
}

/// The time step of Unix second `now`.
pub fn step_at(now: i64) -> i64 {
    now.div_euclid(PERIOD)
}

/// The 6-digit code of `secret` (base32) at time step `step`.
pub fn code_at(secret: &str, step: i64) -> Option<String> {
    let key = BASE32_NOPAD.decode(secret.as_bytes()).ok()?;
    let value = hotp(&key, u64::try_from(step).ok()?, DIGITS)?;
    Some(format!("{value:0width$}", width = DIGITS as usize))
}

/// The highest step within ±`SKEW` of `now` whose code is `code`, if any.
/// Compared in constant time.
pub fn matching_step(secret: &str, code: &str, now: i64) -> Option<i64> {
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = step_at(now);
    (current - SKEW..=current + SKEW).rev().find(|s| {
        code_at(secret, *s).is_some_and(|c| bool::from(c.as_bytes().ct_eq(code.as_bytes())))
    })
}

/// `otpauth://totp/...` for QR codes (Key Uri Format, as read by Google
/// Authenticator and its kin).
pub fn otpauth_uri(issuer: &str, account: &str, secret: &str) -> String {
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    let issuer = utf8_percent_encode(issuer, NON_ALPHANUMERIC).to_string();
    let account = utf8_percent_encode(account, NON_ALPHANUMERIC).to_string();
    format!(
        "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={PERIOD}"
    )
}

/// Fresh backup codes, shown as `xxxx-xxxx-xxxx-xxxx` (lower-case base32).
pub fn new_backup_codes() -> Vec<String> {
    (0..BACKUP_CODES)
        .map(|_| {
            let mut bytes = [0u8; BACKUP_CHARS * 5 / 8];
            OsRng.fill_bytes(&mut bytes);
            let raw = BASE32_NOPAD.encode(&bytes).to_ascii_lowercase();
            let groups: Vec<&str> = (0..BACKUP_CHARS / 4)
                .filter_map(|i| raw.get(i * 4..i * 4 + 4))
                .collect();
            groups.join("-")
        })
        .collect()
}

/// What a user typed as a backup code, normalised (case, dashes and spaces
/// ignored); None if it cannot be one.
fn normalise_backup(input: &str) -> Option<String> {
    let s: String = input
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let base32 = s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b));
    (s.len() == BACKUP_CHARS && base32).then_some(s)
}

/// Store hash of a backup code: SHA-256 salted with the user id, so equal
/// codes of two users differ in the store.
pub fn backup_hash(user_id: &str, code: &str) -> Option<String> {
    let code = normalise_backup(code)?;
    let digest = Sha256::new()
        .chain_update(b"gatehouse-backup\0")
        .chain_update(user_id.as_bytes())
        .chain_update(b"\0")
        .chain_update(code.as_bytes())
        .finalize();
    Some(hex::encode(digest))
}

/// The login's second-factor verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactor {
    /// No active TOTP: the password is enough.
    NotEnrolled,
    /// A fresh code or an unused backup code.
    Passed,
    /// Active TOTP and no code given.
    Missing,
    /// A wrong, stale or reused code (a login failure).
    Invalid,
}

/// Check the second factor of a login whose password was right.
pub async fn check_login(
    store: &dyn Store,
    user_id: &str,
    input: Option<&str>,
    now: i64,
) -> Result<SecondFactor, StoreError> {
    let Some(rec) = store.get_totp(user_id).await?.filter(|r| r.active) else {
        return Ok(SecondFactor::NotEnrolled);
    };
    let input = input.map(str::trim).unwrap_or_default();
    if input.is_empty() {
        return Ok(SecondFactor::Missing);
    }
    if input.len() > MAX_INPUT {
        return Ok(SecondFactor::Invalid);
    }
    let passed = if let Some(step) = matching_step(&rec.secret, input, now) {
        store.use_totp_step(user_id, step).await?
    } else if let Some(hash) = backup_hash(user_id, input) {
        store.use_backup_code(user_id, &hash).await?
    } else {
        false
    };
    Ok(if passed {
        SecondFactor::Passed
    } else {
        SecondFactor::Invalid
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AccountStore;
    use crate::store::MemoryStore;

    /// RFC 6238 appendix B, SHA-1 seed "12345678901234567890", 8 digits.
    #[test]
    fn rfc6238_sha1_vectors() {
        let key = b"12345678901234567890";
        let cases = [
            (59, 94287082),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ];
        for (t, want) in cases {
            let step = u64::try_from(step_at(t)).expect("positive");
            assert_eq!(hotp(key, step, 8), Some(want), "T={t}");
        }
        // The same vectors at 6 digits, through the base32 path.
        let secret = BASE32_NOPAD.encode(key);
        assert_eq!(code_at(&secret, step_at(59)).as_deref(), Some("287082"));
        assert_eq!(
            code_at(&secret, step_at(1111111109)).as_deref(),
            Some("081804")
        );
    }

    #[test]
    fn skew_window_is_one_step_each_side() {
        let secret = BASE32_NOPAD.encode(b"12345678901234567890");
        let now = 1_234_567_890;
        let cur = step_at(now);
        for (offset, want) in [
            (-2, None),
            (-1, Some(cur - 1)),
            (0, Some(cur)),
            (1, Some(cur + 1)),
            (2, None),
        ] {
            let code = code_at(&secret, cur + offset).expect("code");
            assert_eq!(matching_step(&secret, &code, now), want, "offset {offset}");
        }
        for bad in ["", "12345", "1234567", "abcdef", "08180 "] {
            assert_eq!(matching_step(&secret, bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn secrets_and_uris() {
        let s = new_secret();
        assert_eq!(s.len(), 32);
        assert_eq!(
            BASE32_NOPAD.decode(s.as_bytes()).map(|k| k.len()).ok(),
            Some(20)
        );
        assert_ne!(s, new_secret());
        let uri = otpauth_uri("gate house", "alice@x", "ABC");
        assert_eq!(
            uri,
            "otpauth://totp/gate%20house:alice%40x?secret=ABC&issuer=gate%20house&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn backup_codes_normalise_and_hash_per_user() {
        let codes = new_backup_codes();
        assert_eq!(codes.len(), BACKUP_CODES);
        let c = &codes[0];
        assert_eq!(c.len(), 19, "{c}");
        assert_eq!(
            backup_hash("u", c),
            backup_hash("u", &c.to_uppercase().replace('-', " "))
        );
        assert_ne!(backup_hash("u", c), backup_hash("v", c));
        assert!(backup_hash("u", "123456").is_none());
        assert!(
            backup_hash("u", "abcd-efgh-ijkl-mno1").is_none(),
            "1 is not base32"
        );
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), BACKUP_CODES);
    }

    #[tokio::test]
    async fn login_check_uses_each_code_once() {
        let store = MemoryStore::new();
        let secret = new_secret();
        let now = 1_700_000_000;
        assert_eq!(
            check_login(&store, "u1", Some("123456"), now).await.ok(),
            Some(SecondFactor::NotEnrolled)
        );
        assert!(store
            .begin_totp("u1", &secret, std::time::Duration::from_secs(60))
            .await
            .expect("begin"));
        assert_eq!(
            check_login(&store, "u1", None, now).await.ok(),
            Some(SecondFactor::NotEnrolled),
            "pending is not active"
        );
        let codes = new_backup_codes();
        let hashes: Vec<String> = codes.iter().filter_map(|c| backup_hash("u1", c)).collect();
        assert!(store
            .activate_totp("u1", &secret, step_at(now) - 2, &hashes)
            .await
            .expect("activate"));

        let code = code_at(&secret, step_at(now)).expect("code");
        let check = |input: Option<String>, at: i64| {
            let store = &store;
            async move {
                check_login(store, "u1", input.as_deref(), at)
                    .await
                    .expect("check")
            }
        };
        assert_eq!(check(None, now).await, SecondFactor::Missing);
        assert_eq!(check(Some("  ".into()), now).await, SecondFactor::Missing);
        assert_eq!(check(Some(code.clone()), now).await, SecondFactor::Passed);
        assert_eq!(
            check(Some(code.clone()), now).await,
            SecondFactor::Invalid,
            "replay"
        );
        let older = code_at(&secret, step_at(now) - 1).expect("code");
        assert_eq!(
            check(Some(older), now).await,
            SecondFactor::Invalid,
            "step below the last used"
        );
        assert_eq!(
            check(Some("x".repeat(100)), now).await,
            SecondFactor::Invalid
        );
        assert_eq!(
            check(Some(codes[3].clone()), now).await,
            SecondFactor::Passed
        );
        assert_eq!(
            check(Some(codes[3].clone()), now).await,
            SecondFactor::Invalid,
            "backup reuse"
        );
        let later = code_at(&secret, step_at(now) + 1).expect("code");
        assert_eq!(check(Some(later), now + 30).await, SecondFactor::Passed);
    }
}
