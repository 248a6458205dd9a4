//! The users file (SPEC §3): argon2id hashes only, usernames unique
//! case-insensitively, problems reported with file and line.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::path::Path;

use argon2::password_hash::PasswordHash;
use argon2::Params;

pub use crate::auth::users::{User, UserDirectory};
use crate::config::diag::{self, ConfigError, Diags};
use crate::config::raw::RawUsersFile;

/// Argon2 cost ceilings: a hash with larger parameters would make every
/// login attempt for that user allocate or spin enough to take the gateway
/// down (the login endpoint is unauthenticated).
const MAX_M_COST_KIB: u32 = 256 * 1024;
const MAX_T_COST: u32 = 16;
const MAX_P_COST: u32 = 16;

/// Load and validate a users file. `known_roles` checks each user's roles
/// exist in `[roles]`.
/// The users of `[users] file`, or none without a `[users]` section (an
/// OIDC-only gateway, SPEC §13: the login page then has no local form).
pub fn load_configured(
    path: Option<&Path>,
    known_roles: &dyn Fn(&str) -> bool,
) -> Result<UserDirectory, ConfigError> {
    match path {
        Some(p) => load_users(p, known_roles),
        None => Ok(UserDirectory::new(Vec::new())),
    }
}

pub fn load_users(
    path: &Path,
    known_roles: &dyn Fn(&str) -> bool,
) -> Result<UserDirectory, ConfigError> {
    let text = diag::read_file(path)?;
    parse_users(path, &text, known_roles)
}

/// Validate users file text as if read from `path`. Every problem is
/// reported, keyed `users[i].field` (0-based index).
pub fn parse_users(
    path: &Path,
    text: &str,
    known_roles: &dyn Fn(&str) -> bool,
) -> Result<UserDirectory, ConfigError> {
    let raw: RawUsersFile = diag::parse_toml(path, text)?;
    let mut d = Diags::new(path, text);
    // lower-cased username / id -> line of first use
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut ids: HashMap<String, usize> = HashMap::new();
    let mut users = Vec::new();
    for (i, entry) in raw.users.unwrap_or_default().into_iter().enumerate() {
        let span = entry.span();
        let u = entry.into_inner();
        let before = d.len();
        let key = |field: &str| format!("users[{i}].{field}");

        let username = match &u.username {
            None => {
                d.at(span.clone(), key("username"), "missing");
                String::new()
            }
            Some(v) => {
                let name = v.get_ref();
                if let Err(e) = check_identity_text(name, "username") {
                    d.at(v.span(), key("username"), e);
                } else {
                    let line = d.line_of(v.span().start);
                    match names.entry(name.to_lowercase()) {
                        Entry::Occupied(first) => {
                            let msg = format!(
                                "duplicate username {name:?} (already on line {}; usernames are case-insensitive)",
                                first.get()
                            );
                            d.at(v.span(), key("username"), msg);
                        }
                        Entry::Vacant(slot) => {
                            slot.insert(line);
                        }
                    }
                }
                name.clone()
            }
        };

        let (id, id_span) = match &u.id {
            Some(v) => (v.get_ref().clone(), v.span()),
            None => (
                username.clone(),
                u.username.as_ref().map_or(span.clone(), |v| v.span()),
            ),
        };
        if u.id.is_some() {
            if let Err(e) = check_identity_text(&id, "id") {
                d.at(id_span.clone(), key("id"), e);
            }
        }
        if !id.is_empty() {
            let line = d.line_of(id_span.start);
            match ids.entry(id.clone()) {
                Entry::Occupied(first) => {
                    let defaulted = if u.id.is_none() {
                        ", the default: the username"
                    } else {
                        ""
                    };
                    let msg = format!(
                        "duplicate id {id:?} (already on line {}{defaulted})",
                        first.get()
                    );
                    d.at(id_span, key("id"), msg);
                }
                Entry::Vacant(slot) => {
                    slot.insert(line);
                }
            }
        }

        let email = match &u.email {
            None => String::new(),
            Some(v) => {
                let e = v.get_ref();
                let bad = e.chars().any(|c| c.is_whitespace() || c.is_control())
                    || (!e.is_empty() && !e.contains('@'));
                if bad {
                    d.at(
                        v.span(),
                        key("email"),
                        format!("{e:?} is not an email address"),
                    );
                } else if !e.is_ascii() {
                    d.at(
                        v.span(),
                        key("email"),
                        format!("{e:?} is not ASCII; it is sent upstream in an identity header"),
                    );
                }
                e.clone()
            }
        };

        let password_hash = match &u.password_hash {
            None => {
                d.at(
                    span.clone(),
                    key("password_hash"),
                    "missing: make one with `gatehouse hash-password`",
                );
                String::new()
            }
            Some(v) => {
                if let Err(e) = check_argon2id(v.get_ref()) {
                    d.at(v.span(), key("password_hash"), e);
                }
                v.get_ref().clone()
            }
        };

        let mut roles = Vec::new();
        for (j, r) in u.roles.unwrap_or_default().into_iter().enumerate() {
            if known_roles(r.get_ref()) {
                roles.push(r.into_inner());
            } else {
                let msg = format!(
                    "unknown role {:?} (not in [roles] of the config)",
                    r.get_ref()
                );
                d.at(r.span(), format!("users[{i}].roles[{j}]"), msg);
            }
        }

        if d.len() == before {
            users.push(User {
                username,
                id,
                email,
                password_hash,
                roles,
                disabled: u.disabled.unwrap_or(false),
            });
        }
    }
    d.finish(UserDirectory::new(users))
}

/// Usernames, ids and emails go into identity headers (SPEC §7): no
/// control characters (header injection), no spaces, and ASCII only, since
/// a header value has no agreed encoding for anything else (a value that
/// could not be sent would leave the app without the user's identity).
fn check_identity_text(s: &str, what: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err(format!("empty {what}"));
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "{what} {s:?} contains spaces or control characters"
        ));
    }
    if !s.is_ascii() {
        return Err(format!(
            "{what} {s:?} is not ASCII; it is sent upstream in an identity header"
        ));
    }
    Ok(())
}

/// SPEC §3: only argon2id PHC strings, well-formed, with sane costs.
fn check_argon2id(phc: &str) -> Result<(), String> {
    let hint = "make one with `gatehouse hash-password`";
    let hash =
        PasswordHash::new(phc).map_err(|e| format!("not a PHC hash string ({e}); {hint}"))?;
    if hash.algorithm.as_str() != "argon2id" {
        return Err(format!(
            "only argon2id hashes are accepted, not {}; {hint}",
            hash.algorithm
        ));
    }
    if hash.salt.is_none() || hash.hash.is_none() {
        return Err(format!("argon2id hash without salt or hash output; {hint}"));
    }
    let params =
        Params::try_from(&hash).map_err(|e| format!("bad argon2id parameters ({e}); {hint}"))?;
    if params.m_cost() > MAX_M_COST_KIB
        || params.t_cost() > MAX_T_COST
        || params.p_cost() > MAX_P_COST
    {
        return Err(format!(
            "argon2id cost too high (at most m={MAX_M_COST_KIB}, t={MAX_T_COST}, p={MAX_P_COST}): each login would exhaust the gateway"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    // Real argon2id hashes (of "alice-demo-pass"); parsing never verifies them.
    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$debnRHg9n5SoxgSKYhfMIw$eRGNDm6aEsDpnzTF/umXtDKOyNgxucEHo+qTwEc1zWc";

    fn known(r: &str) -> bool {
        matches!(r, "admin" | "user")
    }

    fn user(name: &str, extra: &str) -> String {
        format!("[[users]]\nusername = \"{name}\"\npassword_hash = \"{HASH}\"\n{extra}")
    }

    fn load_text(text: &str) -> (PathBuf, Result<UserDirectory, ConfigError>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.toml");
        std::fs::write(&path, text).unwrap();
        let result = load_users(&path, &known);
        (path, result)
    }

    #[test]
    fn valid_users_load_with_defaults() {
        let text = format!(
            "{}\n{}",
            user(
                "Alice",
                "id = \"u-1\"\nemail = \"alice@example.com\"\nroles = [\"admin\", \"user\"]\n"
            ),
            user("bob", "disabled = true\n"),
        );
        let (_, result) = load_text(&text);
        let dir = result.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(dir.len(), 2);
        let alice = dir.get("ALICE").unwrap();
        assert_eq!(alice.username, "Alice");
        assert_eq!(alice.id, "u-1");
        assert_eq!(alice.email, "alice@example.com");
        assert_eq!(alice.roles, ["admin", "user"]);
        assert!(!alice.disabled);
        let bob = dir.get("bob").unwrap();
        assert_eq!(
            (bob.id.as_str(), bob.email.as_str(), bob.disabled),
            ("bob", "", true)
        );
        assert!(bob.roles.is_empty());
        assert!(dir.get("carol").is_none());
        let debug = format!("{alice:?}");
        assert!(!debug.contains("argon2id"), "hash in Debug: {debug}");
    }

    #[test]
    fn empty_file_is_no_users() {
        let (_, result) = load_text("# nobody yet\n");
        assert!(result.unwrap().is_empty());
    }

    #[test]
    fn bad_users_name_file_line_and_key() {
        let bcrypt = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";
        let argon2i = HASH.replace("argon2id", "argon2i");
        let costly = HASH.replace("m=19456", "m=4194304");
        // (file text, line, key, part of the message)
        let cases: Vec<(String, usize, &str, &str)> = vec![
            (format!("{}{}", user("alice", ""), user("ALICE", "")), 5, "users[1].username", "duplicate username \"ALICE\" (already on line 2"),
            (format!("{}{}", user("alice", "id = \"u-1\"\n"), user("bob", "id = \"u-1\"\n")), 8, "users[1].id", "duplicate id \"u-1\""),
            (format!("{}{}", user("alice", "id = \"bob\"\n"), user("bob", "")), 6, "users[1].id", "the default: the username"),
            (user("alice", "roles = [\"user\", \"root\"]\n"), 4, "users[0].roles[1]", "unknown role \"root\""),
            (user("alice", "email = \"alice\"\n"), 4, "users[0].email", "not an email address"),
            (user("alice", "email = \"a@b\\r\\nX-Auth-Roles: admin\"\n"), 4, "users[0].email", "not an email address"),
            (user("al ice", ""), 2, "users[0].username", "spaces or control characters"),
            (user("józef", ""), 2, "users[0].username", "is not ASCII"),
            (user("bob", "email = \"böb@example.com\"\n"), 4, "users[0].email", "is not ASCII"),
            (user("", ""), 2, "users[0].username", "empty username"),
            (user("alice", "id = \"\"\n"), 4, "users[0].id", "empty id"),
            (user("alice", "admin = true\n"), 4, "users[0].admin", "unknown field `admin`"),
            (user("alice", "disabled = \"no\"\n"), 4, "users[0].disabled", "invalid type"),
            ("[[users]]\nusername = \"alice\"\n".into(), 1, "users[0].password_hash", "missing"),
            (format!("[[users]]\npassword_hash = \"{HASH}\"\n"), 1, "users[0].username", "missing"),
            (format!("[[users]]\nusername = \"a\"\npassword_hash = \"{bcrypt}\"\n"), 3, "users[0].password_hash", "not a PHC hash string"),
            (format!("[[users]]\nusername = \"a\"\npassword_hash = \"{argon2i}\"\n"), 3, "users[0].password_hash", "only argon2id"),
            ("[[users]]\nusername = \"a\"\npassword_hash = \"hunter2\"\n".into(), 3, "users[0].password_hash", "not a PHC hash string"),
            ("[[users]]\nusername = \"a\"\npassword_hash = \"$argon2id$v=19$m=19456,t=2,p=1\"\n".into(), 3, "users[0].password_hash", "without salt or hash"),
            ("[[users]]\nusername = \"a\"\npassword_hash = \"$argon2id$v=19$m=1,t=2,p=1$debnRHg9n5SoxgSKYhfMIw$eRGNDm6aEsDpnzTF/umXtDKOyNgxucEHo+qTwEc1zWc\"\n".into(), 3, "users[0].password_hash", "bad argon2id parameters"),
            (format!("[[users]]\nusername = \"a\"\npassword_hash = \"{costly}\"\n"), 3, "users[0].password_hash", "cost too high"),
            ("[[user]]\nusername = \"a\"\n".into(), 1, "user", "unknown field `user`"),
            ("[[users]\n".into(), 1, "(syntax)", "unclosed array table"),
        ];
        for (text, line, key, msg) in &cases {
            let (path, result) = load_text(text);
            let err = match result {
                Ok(_) => panic!("accepted:\n{text}"),
                Err(e) => e,
            };
            let got = err.to_string();
            let want = format!("{}:{line}: {key}: ", path.display());
            assert_eq!(
                err.0.len(),
                1,
                "one problem expected for\n{text}\ngot:\n{got}"
            );
            assert!(
                got.starts_with(&want) && got.contains(msg),
                "for\n{text}\nwant {want}...{msg}\ngot  {got}"
            );
        }
    }

    #[test]
    fn all_user_problems_reported_together() {
        let text = format!(
            "{}{}{}",
            user("alice", "roles = [\"root\"]\n"),
            user("bob", "email = \"nope\"\n"),
            user("Alice", "")
        );
        let (_, result) = load_text(&text);
        let err = result.expect_err("accepted");
        let got: Vec<(usize, &str)> = err.0.iter().map(|d| (d.line, d.key.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (4, "users[0].roles[0]"),
                (8, "users[1].email"),
                (10, "users[2].username")
            ],
            "{err}"
        );
    }

    #[test]
    fn missing_users_file_is_line_zero() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.toml");
        let err = load_users(&path, &known).expect_err("loaded a missing file");
        assert_eq!(
            (err.0.len(), err.0[0].line, err.0[0].key.as_str()),
            (1, 0, "(file)")
        );
    }

    #[test]
    fn lookup_folds_ascii_case_only() {
        let kelvin = User {
            username: "Kelvin".into(),
            id: "u-k".into(),
            email: String::new(),
            password_hash: HASH.into(),
            roles: vec![],
            disabled: false,
        };
        let dir = UserDirectory::new(vec![kelvin]);
        for name in ["kelvin", "KELVIN", "Kelvin"] {
            assert_eq!(dir.get(name).map(|u| u.id.as_str()), Some("u-k"), "{name}");
        }
        // U+212A KELVIN SIGN lower-cases to `k` in Unicode: not a way in.
        assert!(dir.get("\u{212A}elvin").is_none());
        assert!(dir.get("kelvin ").is_none());
    }
}
