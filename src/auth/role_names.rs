//! The role names the policy defines (`[roles]`). Authentication keeps only
//! these on an identity: a role a reload removed, or an IdP group no
//! `role_map` names, grants nothing and never reaches a header. The policy
//! builds this set with its `Roles` (`policy::rbac`), so `auth` needs no
//! part of the policy itself.

use std::collections::HashSet;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleNames(HashSet<String>);

impl RoleNames {
    pub fn new(names: impl IntoIterator<Item = String>) -> Self {
        RoleNames(names.into_iter().collect())
    }

    pub fn contains(&self, role: &str) -> bool {
        self.0.contains(role)
    }
}
