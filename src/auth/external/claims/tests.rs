//! Claim checks and role mapping, table-driven.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::auth::external::jwks::IssuerKeys;
use crate::config::JwksSource;

fn roles() -> RoleNames {
    crate::policy::Roles::new(HashMap::from([
        ("admin".to_owned(), vec!["*".to_owned()]),
        ("editor".to_owned(), vec!["posts:write".to_owned()]),
        ("user".to_owned(), vec!["posts:read".to_owned()]),
    ]))
    .names()
    .clone()
}

fn cfg(roles_claim: &str, role_map: Option<&[(&str, &str)]>) -> TrustedIssuerConfig {
    TrustedIssuerConfig {
        issuer: "https://idp".into(),
        audience: "apps".into(),
        jwks: JwksSource::File {
            path: "jwks.json".into(),
            keys: Arc::new(IssuerKeys::default()),
        },
        algorithms: vec![jsonwebtoken::Algorithm::RS256],
        roles_claim: roles_claim.into(),
        role_map: role_map.map(|m| {
            m.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        }),
        username_claim: "preferred_username".into(),
        email_claim: "email".into(),
    }
}

fn claims(v: Value) -> Claims {
    serde_json::from_value(v).unwrap()
}

/// A role_map as written in a test case.
type Map<'a> = &'a [(&'a str, &'a str)];

#[test]
fn roles_from_claims_table() {
    let map: &[(&str, &str)] = &[
        ("idp-admins", "admin"),
        ("writers", "editor"),
        ("ghost", "nope"),
        ("Ärzte", "user"),
    ];
    let cases: Vec<(&str, Option<Map>, Value, Vec<&str>)> = vec![
        (
            "roles",
            None,
            json!({"roles": ["admin", "user"]}),
            vec!["admin", "user"],
        ),
        // Unknown names are dropped, duplicates kept once.
        (
            "roles",
            None,
            json!({"roles": ["user", "root", "user"]}),
            vec!["user"],
        ),
        (
            "roles",
            None,
            json!({"roles": "user admin"}),
            vec!["user", "admin"],
        ),
        (
            "roles",
            None,
            json!({"roles": "user,admin, editor"}),
            vec!["user", "admin", "editor"],
        ),
        ("roles", None, json!({}), vec![]),
        ("roles", None, json!({"roles": []}), vec![]),
        (
            "realm_access.roles",
            None,
            json!({"realm_access": {"roles": ["editor"]}}),
            vec!["editor"],
        ),
        (
            "realm_access.roles",
            None,
            json!({"realm_access": {}}),
            vec![],
        ),
        (
            "a.b.c",
            None,
            json!({"a": {"b": {"c": "admin"}}}),
            vec!["admin"],
        ),
        // A namespaced claim whose name has dots is found as a whole.
        (
            "https://example.com/roles",
            None,
            json!({"https://example.com/roles": ["user"]}),
            vec!["user"],
        ),
        // With a map, only mapped values count; a target that is not a
        // role (after a reload, say) is dropped too.
        (
            "groups",
            Some(map),
            json!({"groups": ["idp-admins", "admin", "ghost"]}),
            vec!["admin"],
        ),
        (
            "groups",
            Some(map),
            json!({"groups": "writers idp-admins"}),
            vec!["editor", "admin"],
        ),
        ("groups", Some(&[]), json!({"groups": ["admin"]}), vec![]),
        // Values are only looked up: an IdP group in another script maps,
        // and unmapped it is dropped like any unknown value.
        (
            "groups",
            Some(map),
            json!({"groups": ["Ärzte"]}),
            vec!["user"],
        ),
        ("roles", None, json!({"roles": ["аdmin"]}), vec![]),
    ];
    for (claim, map, c, want) in cases {
        let mut all = json!({"sub": "s", "preferred_username": "u"});
        for (k, v) in c.as_object().unwrap() {
            all[k] = v.clone();
        }
        let id = identity(&cfg(claim, map), &claims(all), &roles()).unwrap();
        assert_eq!(id.roles, want, "{claim} {c}");
    }
}

/// A base set of identity claims, every one present and valid.
fn full() -> Value {
    json!({
        "sub": "f3a9c2-ann", "preferred_username": "ann", "email": "ann@example.com",
        "email_verified": true, "roles": ["user"], "groups": ["idp-admins"],
    })
}

#[test]
fn identity_fields() {
    let c = cfg("roles", None);
    let id = identity(&c, &claims(full()), &roles()).unwrap();
    assert_eq!(
        (id.user_id.as_str(), id.username.as_str(), id.email.as_str()),
        ("f3a9c2-ann", "ann", "ann@example.com")
    );
    assert_eq!(id.roles, ["user"]);
    assert_eq!((id.sid, id.method), (None, AuthMethod::Bearer));

    let set = |k: &str, v: Value| {
        let mut c = full();
        c[k] = v;
        claims(c)
    };
    let drop = |k: &str| {
        let mut c = full();
        c.as_object_mut().unwrap().remove(k);
        claims(c)
    };
    // email_verified false (the boolean) withholds the email only.
    assert_eq!(
        identity(&c, &set("email_verified", json!(false)), &roles())
            .unwrap()
            .email,
        ""
    );
    // Optional claims may be absent.
    for absent in ["email", "email_verified", "roles"] {
        assert!(identity(&c, &drop(absent), &roles()).is_ok(), "{absent}");
    }
    assert_eq!(identity(&c, &drop("email"), &roles()).unwrap().email, "");
}

/// Issue 10, point 8: every identity claim × every way it can be wrong
/// makes the token invalid, never a partial identity.
#[test]
fn bad_identity_claims_refuse_the_token() {
    let long = "x".repeat(MAX_CLAIM_LEN + 1);
    // Values wrong for any string claim that goes into a header.
    let bad_text: Vec<(&str, Value)> = vec![
        ("wrong type (bool)", json!(true)),
        ("object", json!({"a": "b"})),
        ("non-ASCII", json!("jos\u{e9}")),
        ("non-ASCII lookalike", json!("\u{430}nn")),
        ("NUL", json!("a\u{0}b")),
        ("CR LF", json!("ann\r\nX-Auth-Roles: admin")),
        ("LF", json!("ann\n")),
        ("tab", json!("a\tb")),
        ("DEL", json!("a\u{7f}")),
        ("space", json!("ann smith")),
        ("empty", json!("")),
        ("over-long", json!(long)),
        ("number", json!(42)),
        ("array", json!(["ann"])),
        ("null", json!(null)),
    ];
    let mut cases: Vec<(String, &str, Value)> = Vec::new();
    for (what, v) in &bad_text {
        for claim in ["sub", "preferred_username", "email"] {
            cases.push((format!("{claim}: {what}"), claim, v.clone()));
        }
    }
    cases.push(("email without @".into(), "email", json!("ann.example.com")));
    for (what, v) in [
        ("string \"false\"", json!("false")),
        ("string \"true\"", json!("true")),
        ("number", json!(0)),
        ("null", json!(null)),
        ("array", json!([false])),
    ] {
        cases.push((format!("email_verified: {what}"), "email_verified", v));
    }
    for claim in ["roles", "groups"] {
        for (what, v) in [
            ("number", json!(7)),
            ("bool", json!(true)),
            ("object", json!({"admin": true})),
            ("null", json!(null)),
            ("number item", json!(["user", 7])),
            ("null item", json!(["user", null])),
            ("nested array", json!([["admin"]])),
            ("object item", json!([{"name": "admin"}])),
            ("empty item", json!(["user", ""])),
            ("empty string", json!("")),
            ("CR LF item", json!(["user\r\nX-Auth-User: root"])),
            ("control string", json!("user\u{0}admin")),
            ("over-long item", json!([long.clone()])),
        ] {
            cases.push((format!("{claim}: {what}"), claim, v));
        }
    }
    for (name, claim, v) in cases {
        let mut c = full();
        c[claim] = v;
        // `groups` is the roles claim of the mapped configuration.
        let config = if claim == "groups" {
            cfg("groups", Some(&[("idp-admins", "admin")]))
        } else {
            cfg("roles", None)
        };
        let got = identity(&config, &claims(c.clone()), &roles());
        assert!(
            matches!(got, Err(TokenError::Claim(_))),
            "{name}: {c} gave {got:?}"
        );
    }
    // Missing required claims, and a path that cannot be followed.
    for (name, c, config) in [
        (
            "no sub",
            json!({"preferred_username": "ann"}),
            cfg("roles", None),
        ),
        ("no username", json!({"sub": "s"}), cfg("roles", None)),
        (
            "roles path through an array",
            json!({"sub": "s", "preferred_username": "u", "realm_access": ["editor"]}),
            cfg("realm_access.roles", None),
        ),
        (
            "roles path through a string",
            json!({"sub": "s", "preferred_username": "u", "realm_access": "editor"}),
            cfg("realm_access.roles", None),
        ),
    ] {
        let got = identity(&config, &claims(c), &roles());
        assert!(matches!(got, Err(TokenError::Claim(_))), "{name}: {got:?}");
    }
    // The mapped positive control: groups map to roles.
    let id = identity(
        &cfg("groups", Some(&[("idp-admins", "admin")])),
        &claims(full()),
        &roles(),
    )
    .unwrap();
    assert_eq!(id.roles, ["admin"]);
}

#[test]
fn registered_claims_table() {
    let c = cfg("roles", None);
    let now = 1_700_000_000;
    let base = json!({"iss": "https://idp", "aud": "apps", "exp": now + 60});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        claims(b)
    };
    let without = |k: &str| {
        let mut b = base.clone();
        b.as_object_mut().unwrap().remove(k);
        claims(b)
    };
    let cases: Vec<(Claims, Result<(), TokenError>)> = vec![
        (claims(base.clone()), Ok(())),
        (with("aud", json!(["other", "apps"])), Ok(())),
        (with("exp", json!(now as f64 + 0.5)), Ok(())),
        (with("exp", json!(now - LEEWAY_SECS + 1)), Ok(())),
        (with("nbf", json!(now + LEEWAY_SECS)), Ok(())),
        (with("iss", json!("https://idp/")), Err(TokenError::Issuer)),
        (without("iss"), Err(TokenError::Issuer)),
        (with("aud", json!("other")), Err(TokenError::Audience)),
        (with("aud", json!(["other"])), Err(TokenError::Audience)),
        (without("aud"), Err(TokenError::Audience)),
        (
            with("exp", json!(now - LEEWAY_SECS)),
            Err(TokenError::Expired),
        ),
        (without("exp"), Err(TokenError::Malformed)),
        (with("exp", json!("tomorrow")), Err(TokenError::Malformed)),
        (
            with("nbf", json!(now + LEEWAY_SECS + 1)),
            Err(TokenError::NotYetValid),
        ),
        (with("nbf", json!(null)), Err(TokenError::Malformed)),
    ];
    for (claims, want) in cases {
        assert_eq!(check_registered(&c, &claims, now), want, "{claims:?}");
    }
}
