//! argon2id password hashing and verification. Verification of an unknown or
//! disabled user runs against a dummy hash so timing does not tell them apart.

use std::sync::LazyLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;
use rand::RngCore;

/// OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane.
const M_COST_KIB: u32 = 19_456;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

fn hasher() -> Result<Argon2<'static>, String> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None)
        .map_err(|e| format!("argon2 parameters: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hash a password as an argon2id PHC string (default cost: m=19456, t=2, p=1).
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    let hash = hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| format!("cannot hash password: {e}"))?;
    Ok(hash.to_string())
}

/// Check that a string is an argon2id PHC hash (`$argon2id$...`); other
/// algorithms and argon2i/argon2d are refused.
pub fn validate_phc(phc: &str) -> Result<(), String> {
    parse_argon2id(phc).map(|_| ())
}

/// Parse a PHC string, accepting only a complete argon2id hash: the users
/// file must not be able to downgrade to argon2i/argon2d or another scheme.
fn parse_argon2id(phc: &str) -> Result<PasswordHash<'_>, String> {
    let hash = PasswordHash::new(phc).map_err(|e| format!("not a PHC password hash: {e}"))?;
    if hash.algorithm != argon2::ARGON2ID_IDENT {
        return Err(format!(
            "password hash uses {}, only argon2id is accepted (use `gatehouse hash-password`)",
            hash.algorithm
        ));
    }
    Params::try_from(&hash).map_err(|e| format!("invalid argon2id parameters: {e}"))?;
    if hash.salt.is_none() || hash.hash.is_none() {
        return Err("argon2id hash is missing its salt or output".into());
    }
    Ok(hash)
}

/// Verify a password against a PHC string. Constant-time comparison.
pub fn verify_password(phc: &str, password: &str) -> bool {
    let Ok(hash) = parse_argon2id(phc) else {
        return false;
    };
    // `verify_password` recomputes with the hash's own parameters and compares
    // the outputs with `subtle` (password_hash::Output is constant-time Eq).
    Argon2::default()
        .verify_password(password.as_bytes(), &hash)
        .is_ok()
}

/// A throw-away argon2id hash of a random password with the same cost as
/// real ones, so an unknown user costs one full verification (no user
/// enumeration by timing).
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let mut secret = [0u8; 32];
    OsRng.fill_bytes(&mut secret);
    // Hashing with constant parameters only fails if memory cannot be had;
    // then an empty string makes dummy_verify cheap, which is logged below.
    hash_password(&hex::encode(secret)).unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot build the dummy password hash");
        String::new()
    })
});

/// Build the dummy hash now (at start-up), so the first unknown-user login is
/// not slower than the rest.
pub fn warm_up() {
    LazyLock::force(&DUMMY_HASH);
}

/// Burn the same time as a real verification, for unknown/disabled users.
pub fn dummy_verify(password: &str) {
    let _ = verify_password(&DUMMY_HASH, password);
}

/// SHA-256 (hex) of a users-file hash: what a self-set password records as
/// the hash it replaced (SPEC §14).
pub fn file_hash_digest(phc: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(phc.as_bytes()))
}

/// The hash a login checks: the user's self-set one while the users file
/// still holds the hash it replaced; the file's once an operator changed it.
pub fn effective_hash<'a>(
    file_hash: &'a str,
    own: Option<&'a crate::store::PasswordRecord>,
) -> &'a str {
    match own {
        Some(rec) if rec.replaces == file_hash_digest(file_hash) => &rec.hash,
        _ => file_hash,
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn hash_then_verify() {
        let phc = hash_password("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(validate_phc(&phc).is_ok());
        assert!(verify_password(&phc, "correct horse"));
        assert!(!verify_password(&phc, "correct hors"));
        assert!(!verify_password(&phc, ""));
        // A fresh salt every time.
        assert_ne!(phc, hash_password("correct horse").unwrap());
    }

    #[test]
    fn other_schemes_are_refused_even_when_the_password_matches() {
        let salt = SaltString::generate(&mut OsRng);
        let params = Params::new(M_COST_KIB, T_COST, P_COST, None).unwrap();
        for alg in [Algorithm::Argon2i, Algorithm::Argon2d] {
            let phc = Argon2::new(alg, Version::V0x13, params.clone())
                .hash_password(b"pw", &salt)
                .unwrap()
                .to_string();
            assert!(validate_phc(&phc).is_err(), "{phc}");
            assert!(!verify_password(&phc, "pw"), "{phc}");
        }
    }

    #[test]
    fn validate_phc_table() {
        let good = hash_password("pw").unwrap();
        let no_output = good.rsplit_once('$').unwrap().0.to_string();
        let cases: &[(&str, bool)] = &[
            (&good, true),
            ("", false),
            ("pw", false),
            (
                "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
                false,
            ),
            ("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ", false),
            (&no_output, false),
            (
                "$argon2id$v=19$m=oops,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
                false,
            ),
            (
                "$argon2id$v=19$m=1,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
                false,
            ),
            ("$scrypt$ln=16,r=8,p=1$c2FsdA$aGFzaA", false),
        ];
        for (phc, ok) in cases {
            assert_eq!(validate_phc(phc).is_ok(), *ok, "{phc:?}");
            assert!(!verify_password(phc, "pw") || *ok, "{phc:?}");
        }
    }

    fn min_time(runs: usize, f: impl Fn()) -> Duration {
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .min()
            .unwrap()
    }

    /// An unknown user must cost about as much as a wrong password
    /// (SPEC §4 login: no user enumeration). Minimum of several runs, so a
    /// busy machine only ever makes one side look slower, not faster.
    #[test]
    fn dummy_verify_costs_like_a_real_failure() {
        let phc = hash_password("real password").unwrap();
        warm_up();
        let real = min_time(3, || assert!(!verify_password(&phc, "guess")));
        let dummy = min_time(3, || dummy_verify("guess"));
        let ratio = real.as_secs_f64() / dummy.as_secs_f64();
        assert!(
            (1.0 / 3.0..3.0).contains(&ratio),
            "real {real:?} vs dummy {dummy:?}"
        );
        // And it is a real argon2 run, not a no-op.
        assert!(dummy > Duration::from_millis(2), "dummy took {dummy:?}");
    }
}
