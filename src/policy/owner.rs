//! Owner-bound routes (SPEC §2): `owner = { uid = "id" }` requires the path
//! segment captured as `{uid}` to name the signed-in user. Compiled at load
//! to segment positions, so a check is a borrowed segment lookup and a byte
//! comparison: no regex, no allocation per request.

use crate::auth::Identity;
use crate::error::GateError;
use crate::policy::routes::PathPattern;

/// The identity field a capture must equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerField {
    /// Compared exactly (`U-1001` is not `u-1001`).
    Id,
    /// ASCII case-insensitively, as usernames are looked up.
    Username,
    /// ASCII case-insensitively.
    Email,
}

impl OwnerField {
    /// The config spelling: `id`, `username` or `email`.
    pub fn parse(name: &str) -> Option<OwnerField> {
        match name {
            "id" => Some(OwnerField::Id),
            "username" => Some(OwnerField::Username),
            "email" => Some(OwnerField::Email),
            _ => None,
        }
    }

    fn of(self, id: &Identity) -> &str {
        match self {
            OwnerField::Id => &id.user_id,
            OwnerField::Username => &id.username,
            OwnerField::Email => &id.email,
        }
    }
}

/// A route's `owner` and `owner_bypass_roles`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerRule {
    /// (segment position of the capture, field it must equal); all must hold.
    checks: Vec<(usize, OwnerField)>,
    /// Any of these roles skips the owner check (and only it).
    bypass_roles: Vec<String>,
}

impl OwnerRule {
    /// `checks` pairs a capture name of `pattern` with a field; a name the
    /// pattern does not capture is an error naming it.
    pub fn new(
        pattern: &PathPattern,
        checks: &[(String, OwnerField)],
        bypass_roles: Vec<String>,
    ) -> Result<OwnerRule, String> {
        let checks = checks
            .iter()
            .map(|(name, field)| {
                pattern
                    .capture_position(name)
                    .map(|pos| (pos, *field))
                    .ok_or_else(|| not_captured(name, pattern))
            })
            .collect::<Result<_, _>>()?;
        Ok(OwnerRule {
            checks,
            bypass_roles,
        })
    }

    /// 403 unless every capture of `path` (which the route's pattern
    /// matched) equals its identity field, or the identity holds a bypass role.
    pub fn check(&self, path: &str, id: &Identity) -> Result<(), GateError> {
        if id.roles.iter().any(|r| self.bypass_roles.contains(r)) {
            return Ok(());
        }
        let owns = self.checks.iter().all(|&(pos, field)| {
            PathPattern::capture(path, pos)
                .is_some_and(|seg| decoded_eq(seg, field.of(id), field != OwnerField::Id))
        });
        if owns {
            Ok(())
        } else {
            Err(GateError::Forbidden)
        }
    }
}

/// The problem with naming a capture the pattern does not have.
pub fn not_captured(name: &str, pattern: &PathPattern) -> String {
    format!(
        "{{{name}}} is not captured by path {:?}; add a `{{{name}}}` segment",
        pattern.as_str()
    )
}

/// Whether a normalised path segment, with the percent-escapes normalisation
/// kept (`%40` for `@`; SPEC §7 decodes only unreserved characters) decoded,
/// equals `want`. The upstream decodes them too, so `alice%40example.com` is
/// the address it will act on. An empty `want` (a user without an email)
/// never matches: a segment is never empty.
fn decoded_eq(segment: &str, want: &str, fold_case: bool) -> bool {
    let decoded = percent_encoding::percent_decode(segment.as_bytes());
    let same = |(a, b): (u8, &u8)| {
        if fold_case {
            a.eq_ignore_ascii_case(b)
        } else {
            a == *b
        }
    };
    !segment.is_empty()
        && decoded.clone().count() == want.len()
        && decoded.zip(want.as_bytes()).all(same)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthMethod;

    fn identity(id: &str, username: &str, email: &str, roles: &[&str]) -> Identity {
        Identity::new(
            id.into(),
            username.into(),
            email.into(),
            roles.iter().map(|r| r.to_string()).collect(),
            None,
            AuthMethod::Bearer,
        )
    }

    fn rule(path: &str, checks: &[(&str, OwnerField)], bypass: &[&str]) -> OwnerRule {
        let pattern = PathPattern::parse(path).unwrap();
        let checks: Vec<_> = checks.iter().map(|(n, f)| (n.to_string(), *f)).collect();
        OwnerRule::new(
            &pattern,
            &checks,
            bypass.iter().map(|r| r.to_string()).collect(),
        )
        .unwrap()
    }

    /// (pattern, checks, path, identity, allowed)
    type Case<'a> = (
        &'a str,
        &'a [(&'a str, OwnerField)],
        &'a str,
        &'a Identity,
        bool,
    );

    #[test]
    fn owner_table() {
        use OwnerField::*;
        let alice = identity("u-1001", "Alice", "alice@example.com", &["user"]);
        let admin = identity("u-9", "root", "root@example.com", &["admin"]);
        let no_email = identity("u-5", "erin", "", &["user"]);
        let cases: &[Case] = &[
            (
                "/users/{uid}/**",
                &[("uid", Id)],
                "/users/u-1001/x",
                &alice,
                true,
            ),
            (
                "/users/{uid}/**",
                &[("uid", Id)],
                "/users/u-1001",
                &alice,
                true,
            ),
            (
                "/users/{uid}/**",
                &[("uid", Id)],
                "/users/u-1001/",
                &alice,
                true,
            ),
            (
                "/users/{uid}/**",
                &[("uid", Id)],
                "/users/u-1002/x",
                &alice,
                false,
            ),
            (
                "/users/{uid}/**",
                &[("uid", Id)],
                "/users/U-1001/x",
                &alice,
                false,
            ),
            (
                "/users/{uid}/**",
                &[("uid", Id)],
                "/users/u-10011/x",
                &alice,
                false,
            ),
            (
                "/users/{uid}/**",
                &[("uid", Id)],
                "/users/u-100/x",
                &alice,
                false,
            ),
            (
                "/users/{uid}/**",
                &[("uid", Id)],
                "/users/u%2D1001/x",
                &alice,
                true,
            ),
            (
                "/users/{uid}/**",
                &[("uid", Id)],
                "/users/u-1002/x",
                &admin,
                true,
            ),
            (
                "/users/{name}/**",
                &[("name", Username)],
                "/users/alice/x",
                &alice,
                true,
            ),
            (
                "/users/{name}/**",
                &[("name", Username)],
                "/users/ALICE/x",
                &alice,
                true,
            ),
            (
                "/users/{name}/**",
                &[("name", Username)],
                "/users/alicE",
                &alice,
                true,
            ),
            (
                "/users/{name}/**",
                &[("name", Username)],
                "/users/bob",
                &alice,
                false,
            ),
            (
                "/m/{e}",
                &[("e", Email)],
                "/m/Alice@Example.com",
                &alice,
                true,
            ),
            (
                "/m/{e}",
                &[("e", Email)],
                "/m/alice%40example.com",
                &alice,
                true,
            ),
            ("/m/{e}", &[("e", Email)], "/m/alice%4", &alice, false),
            ("/m/{e}", &[("e", Email)], "/m/x", &no_email, false),
            (
                "/o/{org}/u/{uid}",
                &[("uid", Id), ("org", Username)],
                "/o/alice/u/u-1001",
                &alice,
                true,
            ),
            (
                "/o/{org}/u/{uid}",
                &[("uid", Id), ("org", Username)],
                "/o/bob/u/u-1001",
                &alice,
                false,
            ),
        ];
        for (pattern, checks, path, id, want) in cases {
            let p = PathPattern::parse(pattern).unwrap();
            assert!(p.matches(path), "{pattern} must match {path}");
            let got = rule(pattern, checks, &["admin"]).check(path, id).is_ok();
            assert_eq!(got, *want, "{pattern} {path} as {}", id.username);
        }
    }

    #[test]
    fn unknown_capture_is_named() {
        let p = PathPattern::parse("/users/{uid}/**").unwrap();
        let err = OwnerRule::new(&p, &[("id".into(), OwnerField::Id)], vec![]).unwrap_err();
        assert!(err.contains("{id} is not captured"), "{err}");
    }

    #[test]
    fn field_names() {
        assert_eq!(OwnerField::parse("id"), Some(OwnerField::Id));
        assert_eq!(OwnerField::parse("username"), Some(OwnerField::Username));
        assert_eq!(OwnerField::parse("email"), Some(OwnerField::Email));
        assert_eq!(OwnerField::parse("sub"), None);
        assert_eq!(OwnerField::parse("ID"), None);
    }
}
