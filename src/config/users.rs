//! The users file (SPEC §3): argon2id hashes only, usernames unique
//! case-insensitively, problems reported with file and line.

use std::collections::HashMap;
use std::path::Path;

use crate::config::diag::ConfigError;

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
        let by_name = users.into_iter().map(|u| (u.username.to_lowercase(), u)).collect();
        UserDirectory { by_name }
    }
    /// Case-insensitive lookup.
    pub fn get(&self, username: &str) -> Option<&User> {
        self.by_name.get(&username.to_lowercase())
    }
    pub fn len(&self) -> usize {
        self.by_name.len()
    }
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

/// Load and validate a users file. `known_roles` checks each user's roles
/// exist in `[roles]`.
pub fn load_users(_path: &Path, _known_roles: &dyn Fn(&str) -> bool) -> Result<UserDirectory, ConfigError> {
    todo!("config: load_users")
}
