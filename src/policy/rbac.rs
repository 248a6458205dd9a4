//! Roles -> permissions (`*` = all), and the authorization decision that
//! turns a matched route and an identity into a `Permit`.

use std::collections::HashMap;
use std::sync::Arc;

use crate::auth::{Identity, RoleNames};
use crate::error::GateError;
use crate::policy::routes::{Access, Route};

/// The permission that grants every permission (SPEC §2 `admin = ["*"]`).
const ALL: &str = "*";

/// Compiled `[roles]`.
#[derive(Debug, Clone, Default)]
pub struct Roles {
    map: HashMap<String, Vec<String>>,
    /// The same names, for authentication (`auth::RoleNames`).
    names: RoleNames,
}

impl Roles {
    pub fn new(map: HashMap<String, Vec<String>>) -> Self {
        let names = RoleNames::new(map.keys().cloned());
        Roles { map, names }
    }
    /// Whether a role of this name is defined.
    pub fn contains(&self, role: &str) -> bool {
        self.map.contains_key(role)
    }
    /// The defined role names.
    pub fn names(&self) -> &RoleNames {
        &self.names
    }
    /// Whether any of `user_roles` grants `permission`. A role the policy
    /// does not define grants nothing (a stale users file gains no rights).
    pub fn grants(&self, user_roles: &[String], permission: &str) -> bool {
        user_roles
            .iter()
            .filter_map(|role| self.map.get(role))
            .flatten()
            .any(|p| p == ALL || p == permission)
    }
}

/// Proof that a request may be forwarded: only `authorize` makes one, so
/// its fields are private (no permit, no forwarding).
#[derive(Debug, Clone)]
pub struct Permit {
    /// Index of the matched route in the route table.
    route: usize,
    /// The verified identity, if any (public routes may have none).
    identity: Option<Arc<Identity>>,
}

impl Permit {
    /// Index of the route it was granted for.
    pub fn route(&self) -> usize {
        self.route
    }

    /// Who it was granted to (None on a public route).
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_deref()
    }
}

/// SPEC §6: 401 when credentials are needed and absent, 403 when present but
/// not enough: not the route's roles or permissions, or (on an owner-bound
/// route) not the user its `path` names.
pub fn authorize(
    route: &Route,
    roles: &Roles,
    identity: Option<Arc<Identity>>,
    path: &str,
) -> Result<Permit, GateError> {
    let permit = authorize_access(&route.access, route.index, roles, identity)?;
    if let (Some(owner), Some(id)) = (&route.owner, permit.identity()) {
        owner.check(path, id)?;
    }
    Ok(permit)
}

/// The decision behind [`authorize`], on the route's access rule and index.
///
/// Authenticated routes need an identity (else 401); then any one of the
/// route's `roles` (when listed) and every one of its `permissions` (when
/// listed), both checked — a route listing both needs both.
pub fn authorize_access(
    access: &Access,
    route_index: usize,
    roles: &Roles,
    identity: Option<Arc<Identity>>,
) -> Result<Permit, GateError> {
    let permit = |identity| Permit {
        route: route_index,
        identity,
    };
    let (required_roles, permissions) = match access {
        Access::Public => return Ok(permit(identity)),
        Access::Authenticated { roles, permissions } => (roles, permissions),
    };
    let Some(id) = identity else {
        return Err(GateError::Unauthenticated { browser: None });
    };
    let has_role = required_roles.is_empty() || required_roles.iter().any(|r| id.roles.contains(r));
    let has_permissions = permissions.iter().all(|p| roles.grants(&id.roles, p));
    if has_role && has_permissions {
        Ok(permit(Some(id)))
    } else {
        Err(GateError::Forbidden)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthMethod;

    fn roles() -> Roles {
        let mut map = HashMap::new();
        map.insert("admin".to_string(), vec!["*".to_string()]);
        map.insert(
            "editor".to_string(),
            vec!["posts:read".into(), "posts:write".into()],
        );
        map.insert("user".to_string(), vec!["posts:read".to_string()]);
        map.insert("nobody".to_string(), vec![]);
        Roles::new(map)
    }

    fn identity(user_roles: &[&str]) -> Arc<Identity> {
        Arc::new(Identity::new(
            "u1".into(),
            "alice".into(),
            "alice@example.com".into(),
            user_roles.iter().map(|r| r.to_string()).collect(),
            None,
            AuthMethod::Cookie,
        ))
    }

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn grants() {
        let r = roles();
        let cases: &[(&[&str], &str, bool)] = &[
            (&["admin"], "posts:read", true),
            (&["admin"], "anything:at-all", true),
            (&["editor"], "posts:write", true),
            (&["editor"], "posts:delete", false),
            (&["user"], "posts:read", true),
            (&["user"], "posts:write", false),
            (&["user", "editor"], "posts:write", true),
            (&["nobody"], "posts:read", false),
            (&[], "posts:read", false),
            // undefined roles grant nothing, even named like a permission
            (&["posts:read"], "posts:read", false),
            (&["ghost"], "*", false),
            // `*` is not a role name wildcard
            (&["*"], "posts:read", false),
            // case-sensitive
            (&["Admin"], "posts:read", false),
            (&["user"], "POSTS:READ", false),
        ];
        for (user_roles, perm, want) in cases {
            assert_eq!(
                r.grants(&strings(user_roles), perm),
                *want,
                "{user_roles:?} {perm}"
            );
        }
    }

    #[derive(Debug, PartialEq)]
    enum Outcome {
        Permit,
        Unauthenticated,
        Forbidden,
    }

    #[test]
    fn authorize_table() {
        use Outcome::*;
        let authn = |r: &[&str], p: &[&str]| Access::Authenticated {
            roles: strings(r),
            permissions: strings(p),
        };
        let r = roles();
        // (route access, user roles or None for anonymous, outcome)
        let cases: Vec<(Access, Option<&[&str]>, Outcome)> = vec![
            (Access::Public, None, Permit),
            (Access::Public, Some(&[]), Permit),
            (authn(&[], &[]), None, Unauthenticated),
            (authn(&[], &[]), Some(&[]), Permit),
            (authn(&["admin"], &[]), None, Unauthenticated),
            (authn(&["admin"], &[]), Some(&["admin"]), Permit),
            (authn(&["admin"], &[]), Some(&["editor"]), Forbidden),
            (authn(&["admin"], &[]), Some(&[]), Forbidden),
            (authn(&["admin", "editor"], &[]), Some(&["editor"]), Permit),
            (authn(&["admin"], &[]), Some(&["user", "admin"]), Permit),
            // an undefined role still counts as a role when the route names it
            (authn(&["auditor"], &[]), Some(&["auditor"]), Permit),
            (authn(&[], &["posts:read"]), None, Unauthenticated),
            (authn(&[], &["posts:read"]), Some(&["user"]), Permit),
            (authn(&[], &["posts:read"]), Some(&["admin"]), Permit),
            (authn(&[], &["posts:read"]), Some(&["nobody"]), Forbidden),
            (authn(&[], &["posts:read"]), Some(&[]), Forbidden),
            (
                authn(&[], &["posts:read", "posts:write"]),
                Some(&["user"]),
                Forbidden,
            ),
            (
                authn(&[], &["posts:read", "posts:write"]),
                Some(&["editor"]),
                Permit,
            ),
            // permissions may come from different roles
            (
                authn(&[], &["posts:read", "x:y"]),
                Some(&["user"]),
                Forbidden,
            ),
            (
                authn(&[], &["posts:write"]),
                Some(&["user", "editor"]),
                Permit,
            ),
            // roles and permissions together: both must hold
            (
                authn(&["editor"], &["posts:write"]),
                Some(&["editor"]),
                Permit,
            ),
            (
                authn(&["user"], &["posts:write"]),
                Some(&["user"]),
                Forbidden,
            ),
            (
                authn(&["user"], &["posts:write"]),
                Some(&["editor"]),
                Forbidden,
            ),
            (
                authn(&["user"], &["posts:write"]),
                Some(&["user", "editor"]),
                Permit,
            ),
        ];
        for (access, user_roles, want) in cases {
            let id = user_roles.map(identity);
            let got = match authorize_access(&access, 7, &r, id.clone()) {
                Ok(p) => {
                    assert_eq!(p.route, 7);
                    assert_eq!(p.identity, id, "identity passed through");
                    Permit
                }
                Err(GateError::Unauthenticated { browser: None }) => Unauthenticated,
                Err(GateError::Forbidden) => Forbidden,
                Err(e) => panic!("unexpected {e:?}"),
            };
            assert_eq!(got, want, "{access:?} user {user_roles:?}");
        }
    }
}
