//! argon2id password hashing and verification. Verification of an unknown or
//! disabled user runs against a dummy hash so timing does not tell them apart.

/// Hash a password as an argon2id PHC string (default cost: m=19456, t=2, p=1).
pub fn hash_password(_password: &str) -> Result<String, String> {
    todo!("auth: hash_password")
}

/// Check that a string is an argon2id PHC hash (`$argon2id$...`); other
/// algorithms and argon2i/argon2d are refused.
pub fn validate_phc(_phc: &str) -> Result<(), String> {
    todo!("auth: validate_phc")
}

/// Verify a password against a PHC string. Constant-time comparison.
pub fn verify_password(_phc: &str, _password: &str) -> bool {
    todo!("auth: verify_password")
}

/// Burn the same time as a real verification, for unknown/disabled users.
pub fn dummy_verify(_password: &str) {
    todo!("auth: dummy_verify")
}
