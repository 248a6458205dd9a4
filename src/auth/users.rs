//! The users of the users file (SPEC §3), as authentication looks them up
//! on every request. `config::users` loads and validates the file.

use std::collections::HashMap;
use std::sync::Arc;

use crate::auth::identity::Person;

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

impl User {
    /// The person this user's requests describe (`Person`).
    pub fn person(&self) -> Person {
        Person::new(
            self.id.clone(),
            self.username.clone(),
            self.email.clone(),
            self.roles.clone(),
        )
    }
}

/// All users, looked up by lower-cased username, each with the `Person`
/// its requests share.
#[derive(Debug, Clone, Default)]
pub struct UserDirectory {
    by_name: HashMap<String, (User, Arc<Person>)>,
}

impl UserDirectory {
    pub fn new(users: Vec<User>) -> Self {
        let by_name = users
            .into_iter()
            .map(|u| {
                let person = Arc::new(u.person());
                (u.username.to_ascii_lowercase(), (u, person))
            })
            .collect();
        UserDirectory { by_name }
    }
    /// Case-insensitive lookup. Usernames are ASCII (checked at load), so
    /// ASCII case folding is exact, and no other character (the Kelvin sign
    /// `K` lower-cases to `k` in Unicode) can stand in for a letter. Most
    /// names arrive lower-case already: no allocation then (every request
    /// looks its user up).
    pub fn get(&self, username: &str) -> Option<&User> {
        self.entry(username).map(|(user, _)| user)
    }

    /// The user and the person its requests share.
    pub fn get_with_person(&self, username: &str) -> Option<(&User, &Arc<Person>)> {
        self.entry(username).map(|(user, person)| (user, person))
    }

    fn entry(&self, username: &str) -> Option<&(User, Arc<Person>)> {
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
