//! The users of the users file (SPEC §3), as authentication looks them up
//! on every request. `config::users` loads and validates the file.

use std::collections::HashMap;

/// One user, as loaded.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    pub username: String,
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub roles: Vec<String>,
    pub disabled: bool,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("username", &self.username)
            .field("id", &self.id)
            .field("roles", &self.roles)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// All users, looked up by lower-cased username.
#[derive(Debug, Clone, Default)]
pub struct UserDirectory {
    by_name: HashMap<String, User>,
}

impl UserDirectory {
    pub fn new(users: Vec<User>) -> Self {
        let by_name = users
            .into_iter()
            .map(|u| (u.username.to_ascii_lowercase(), u))
            .collect();
        UserDirectory { by_name }
    }
    /// Case-insensitive lookup. Usernames are ASCII (checked at load), so
    /// ASCII case folding is exact, and no other character (the Kelvin sign
    /// `K` lower-cases to `k` in Unicode) can stand in for a letter. Most
    /// names arrive lower-case already: no allocation then (every request
    /// looks its user up).
    pub fn get(&self, username: &str) -> Option<&User> {
        if username.bytes().any(|b| b.is_ascii_uppercase()) {
            self.by_name.get(&username.to_ascii_lowercase())
        } else {
            self.by_name.get(username)
        }
    }
    pub fn len(&self) -> usize {
        self.by_name.len()
    }
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}
