//! A route's `owner = { capture = "id" | "username" | "email" }` and
//! `owner_bypass_roles` (SPEC §2 owner-bound routes), checked against the
//! route's own path pattern.

use std::collections::BTreeMap;

use super::Compiler;
use crate::config::raw;
use crate::policy::owner::{not_captured, OwnerField, OwnerRule};
use crate::policy::PathPattern;

impl Compiler<'_> {
    /// The route's owner rule, or None (with problems recorded when the keys
    /// are there but wrong). `pattern` is None when the path itself was bad.
    pub(super) fn route_owner(
        &mut self,
        r: &raw::RawRoute,
        pattern: Option<&PathPattern>,
        public: bool,
        roles: &BTreeMap<String, Vec<String>>,
        prefix: &str,
    ) -> Option<OwnerRule> {
        let Some(owner) = &r.owner else {
            if let Some(first) = r.owner_bypass_roles.as_ref().and_then(|l| l.first()) {
                let msg =
                    "owner_bypass_roles needs owner = { <capture> = \"id\" } on the same route";
                self.d
                    .at(first.span(), format!("{prefix}.owner_bypass_roles"), msg);
            }
            return None;
        };
        let key = format!("{prefix}.owner");
        if public {
            let msg =
                "a public route has no signed-in user to own it; remove owner or auth = \"public\"";
            self.d.at(owner.span(), key, msg);
            return None;
        }
        if owner.get_ref().is_empty() {
            let msg = "empty: name a capture of the path, e.g. owner = { uid = \"id\" }";
            self.d.at(owner.span(), key, msg);
            return None;
        }
        let mut checks = Vec::new();
        for (name, field) in owner.get_ref() {
            let at = format!("{key}.{}", name.get_ref());
            match OwnerField::parse(field.get_ref()) {
                Some(f) => checks.push((name.get_ref().clone(), f)),
                None => {
                    let msg = format!(
                        "unknown identity field {:?}; use \"id\", \"username\" or \"email\"",
                        field.get_ref()
                    );
                    self.d.at(field.span(), at.clone(), msg);
                }
            }
            if let Some(p) = pattern {
                if p.capture_position(name.get_ref()).is_none() {
                    self.d.at(name.span(), at, not_captured(name.get_ref(), p));
                }
            }
        }
        let bypass = self.route_names(
            r.owner_bypass_roles.as_deref(),
            &format!("{prefix}.owner_bypass_roles"),
            |n| {
                roles
                    .contains_key(n)
                    .then_some(())
                    .ok_or_else(|| format!("unknown role {n:?} (not in [roles])"))
            },
        );
        OwnerRule::new(pattern?, &checks, bypass).ok()
    }
}
