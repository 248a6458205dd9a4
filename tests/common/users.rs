//! Test users and their argon2id hashes (SPEC §3).

use argon2::password_hash::{PasswordHasher as _, SaltString};

/// One `[[users]]` entry, with its clear-text password for logging in.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub username: String,
    pub password: String,
    pub email: String,
    pub roles: Vec<String>,
    pub disabled: bool,
    /// None: the gateway's default (the username).
    pub id: Option<String>,
}

impl TestUser {
    pub fn new(username: &str, password: &str, roles: &[&str]) -> TestUser {
        TestUser {
            username: username.to_string(),
            password: password.to_string(),
            email: format!("{username}@example.com"),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            disabled: false,
            id: None,
        }
    }

    pub fn disabled(mut self) -> TestUser {
        self.disabled = true;
        self
    }

    pub fn with_id(mut self, id: &str) -> TestUser {
        self.id = Some(id.to_string());
        self
    }
}

pub const ALICE_PW: &str = "alice-pass-123";
pub const BOB_PW: &str = "bob-pass-123";
pub const CAROL_PW: &str = "carol-pass-123";
pub const DAVE_PW: &str = "dave-pass-123";

/// alice (admin), bob (user), carol (user, disabled), dave (editor + user).
/// No explicit ids, so `id` == username everywhere the gateway shows one.
pub fn default_users() -> Vec<TestUser> {
    vec![
        TestUser::new("alice", ALICE_PW, &["admin"]),
        TestUser::new("bob", BOB_PW, &["user"]),
        TestUser::new("carol", CAROL_PW, &["user"]).disabled(),
        TestUser::new("dave", DAVE_PW, &["editor", "user"]),
    ]
}

/// Hashes of the default passwords, made once with the parameters below:
/// hashing costs ~0.4 s in a debug build, too much to repeat per gateway.
const PRECOMPUTED: &[(&str, &str)] = &[
    (ALICE_PW, "$argon2id$v=19$m=19456,t=2,p=1$1WT1t1ipw25vhqT2ytRn2w$9oMbfokcH4xHHXSPbRchMvXPuHcaVVcnFTw+9FZTaNo"),
    (BOB_PW, "$argon2id$v=19$m=19456,t=2,p=1$z8HkLGCnfJeKezrPS1LSog$AMeWGQUeDIBp/uBNPLsDsjgZ9xFgrUqaIb6t/kHC+Uo"),
    (CAROL_PW, "$argon2id$v=19$m=19456,t=2,p=1$sAs1rHrKMlFE10Z4Qh+i/A$zUxtbgbUKmc/xTPyaWKV59cqxBkVJLu6FnYU2QY/AoE"),
    (DAVE_PW, "$argon2id$v=19$m=19456,t=2,p=1$pHrs5eqezeODJumKvnPDOg$zGe0yLeBkOBrDbexwrQFBpAosMI01Ub9iRp3fS/zVK8"),
];

/// argon2id PHC string (m=19456, t=2, p=1: OWASP's minimum) for `password`.
pub fn hash_password(password: &str) -> String {
    if let Some((_, hash)) = PRECOMPUTED.iter().find(|(pw, _)| *pw == password) {
        return hash.to_string();
    }
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).expect("salt");
    argon2_params()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hash")
        .to_string()
}

pub fn argon2_params() -> argon2::Argon2<'static> {
    argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(19456, 2, 1, None).expect("argon2 params"),
    )
}

/// Whether `phc` is a valid hash of `password`.
pub fn verify_password(phc: &str, password: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier as _};
    PasswordHash::new(phc)
        .map(|h| {
            argon2_params()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// users.toml text for `users`.
pub fn render_users(users: &[TestUser]) -> String {
    let mut out = String::new();
    for u in users {
        out.push_str("[[users]]\n");
        out.push_str(&format!("username = {}\n", q(&u.username)));
        if let Some(id) = &u.id {
            out.push_str(&format!("id = {}\n", q(id)));
        }
        out.push_str(&format!("email = {}\n", q(&u.email)));
        out.push_str(&format!(
            "password_hash = {}\n",
            q(&hash_password(&u.password))
        ));
        out.push_str(&format!("roles = {}\n", list(&u.roles)));
        out.push_str(&format!("disabled = {}\n\n", u.disabled));
    }
    out
}

/// A TOML basic string. JSON string escapes are a subset of TOML's.
pub fn q(s: &str) -> String {
    serde_json::to_string(s).expect("string to JSON")
}

/// A TOML array of strings.
pub fn list<S: AsRef<str>>(items: &[S]) -> String {
    let parts: Vec<String> = items.iter().map(|s| q(s.as_ref())).collect();
    format!("[{}]", parts.join(", "))
}

pub const ERIN_PW: &str = "erin-pass-123";

/// erin (user) has no email: her `X-Auth-Email` is empty, and a front
/// proxy must still overwrite a client's own (SPEC §10).
pub fn erin() -> TestUser {
    let mut u = TestUser::new("erin", ERIN_PW, &["user"]);
    u.email = String::new();
    u
}
