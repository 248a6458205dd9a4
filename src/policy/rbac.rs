//! Roles -> permissions (`*` = all), and the authorization decision that
//! turns a matched route and an identity into a `Permit`.

use std::collections::HashMap;
use std::sync::Arc;

use crate::auth::Identity;
use crate::error::GateError;
use crate::policy::routes::Route;

/// Compiled `[roles]`.
#[derive(Debug, Clone, Default)]
pub struct Roles {
    map: HashMap<String, Vec<String>>,
}

impl Roles {
    pub fn new(map: HashMap<String, Vec<String>>) -> Self {
        Roles { map }
    }
    /// Whether a role of this name is defined.
    pub fn contains(&self, role: &str) -> bool {
        self.map.contains_key(role)
    }
    /// Whether any of `user_roles` grants `permission`.
    pub fn grants(&self, _user_roles: &[String], _permission: &str) -> bool {
        todo!("policy: Roles::grants")
    }
}

/// Proof that a request may be forwarded: only `authorize` makes one.
#[derive(Debug, Clone)]
pub struct Permit {
    /// Index of the matched route in the route table.
    pub route: usize,
    /// The verified identity, if any (public routes may have none).
    pub identity: Option<Arc<Identity>>,
}

/// SPEC §6: 401 when credentials are needed and absent, 403 when present but
/// not enough.
pub fn authorize(
    _route: &Route,
    _roles: &Roles,
    _identity: Option<Arc<Identity>>,
) -> Result<Permit, GateError> {
    todo!("policy: authorize")
}
