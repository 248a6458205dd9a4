//! Trusted issuer claims (issue 10, point 8): a token from a trusted
//! external issuer whose identity claims are of the wrong type, or hold a
//! value that cannot go into an identity header as it is, is invalid (401,
//! nothing reaches the upstream), never a partial identity with a header
//! left out: sub, username and email × {wrong JSON type, non-ASCII,
//! control characters, CR/LF, empty, over-long, number, array, null},
//! email_verified that is not a boolean (`"false"` used to forward the
//! email), and a roles claim that is not strings. Valid tokens (the
//! positive controls) reach the upstream with every identity header.

mod common;

use common::http::{bearer_get, plain_client};
use common::idp::{self, Idp};
use common::{Rig, StoreKind};
use serde_json::{json, Value};

const ROLE_MAP: &str = r#"{ "idp-admins" = "admin", "idp-staff" = "user", "Ärzte" = "user" }"#;

fn with(v: &Value, key: &str, value: Value) -> Value {
    let mut v = v.clone();
    v[key] = value;
    v
}

fn without(v: &Value, key: &str) -> Value {
    let mut v = v.clone();
    v.as_object_mut().expect("object").remove(key);
    v
}

#[tokio::test]
async fn trusted_issuer_claims_must_fit_identity_headers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let idp = Idp::new(dir.path());
    let rig = Rig::with(StoreKind::Memory, |b| {
        b.extra(&idp.config("groups", Some(ROLE_MAP)))
    })
    .await;
    let c = plain_client(None);
    let good = idp::claims(&["idp-admins", "idp-staff"]);

    // Positive controls: every identity header present.
    let accepted: Vec<(&str, Value, Option<&str>, Vec<&str>)> = vec![
        (
            "all claims",
            good.clone(),
            Some("ann@idp.test"),
            vec!["admin", "user"],
        ),
        (
            "no email_verified",
            without(&good, "email_verified"),
            Some("ann@idp.test"),
            vec!["admin", "user"],
        ),
        (
            "a group in another script maps",
            with(&good, "groups", json!(["Ärzte"])),
            Some("ann@idp.test"),
            vec!["user"],
        ),
        (
            "groups as one string",
            with(&good, "groups", json!("idp-staff idp-admins")),
            Some("ann@idp.test"),
            vec!["admin", "user"],
        ),
        // The one case where a header is left out on purpose: an address the
        // IdP says it has not verified.
        (
            "email_verified false",
            with(&good, "email_verified", json!(false)),
            None,
            vec!["admin", "user"],
        ),
    ];
    for (what, claims, email, roles) in accepted {
        let r = bearer_get(&c, &rig.url("/app/x"), &idp.token(&claims)).await;
        assert_eq!(r.status, 200, "{what}: {}", r.body);
        let e = r.echo();
        assert_eq!(e.one("x-auth-user"), Some("ann"), "{what}");
        assert_eq!(e.one("x-auth-email"), email, "{what}");
        assert_eq!(e.roles("x-auth-roles"), roles, "{what}");
    }

    let long = "x".repeat(513);
    let bad_text: Vec<(&str, Value)> = vec![
        ("non-ASCII", json!("jos\u{e9}")),
        ("a Cyrillic lookalike", json!("\u{430}nn")),
        ("NUL", json!("a\u{0}b")),
        ("CR LF", json!("ann\r\nX-Auth-Roles: admin")),
        ("LF", json!("ann\n")),
        ("tab", json!("a\tb")),
        ("space", json!("ann smith")),
        ("empty", json!("")),
        ("over-long", json!(long)),
        ("number", json!(42)),
        ("bool", json!(true)),
        ("array", json!(["ann"])),
        ("object", json!({"v": "ann"})),
        ("null", json!(null)),
    ];
    let mut refused: Vec<(String, Value)> = Vec::new();
    for (what, v) in &bad_text {
        for claim in ["sub", "preferred_username", "email"] {
            refused.push((format!("{claim}: {what}"), with(&good, claim, v.clone())));
        }
    }
    refused.push((
        "email without @".into(),
        with(&good, "email", json!("ann.idp.test")),
    ));
    for (what, v) in [
        ("\"false\"", json!("false")),
        ("\"true\"", json!("true")),
        ("0", json!(0)),
        ("null", json!(null)),
        ("[false]", json!([false])),
    ] {
        refused.push((
            format!("email_verified {what}"),
            with(&good, "email_verified", v),
        ));
    }
    for (what, v) in [
        ("number", json!(7)),
        ("bool", json!(true)),
        ("object", json!({"idp-admins": true})),
        ("null", json!(null)),
        ("number item", json!(["idp-staff", 7])),
        ("null item", json!(["idp-staff", null])),
        ("nested array", json!([["idp-admins"]])),
        ("empty item", json!(["idp-staff", ""])),
        ("empty string", json!("")),
        ("CR LF item", json!(["idp-staff\r\nX-Auth-User: root"])),
        ("NUL string", json!("idp-staff\u{0}idp-admins")),
        ("over-long item", json!([long.clone()])),
    ] {
        refused.push((format!("groups: {what}"), with(&good, "groups", v)));
    }
    refused.push(("no sub".into(), without(&good, "sub")));
    refused.push(("no username".into(), without(&good, "preferred_username")));

    let hits = rig.echo.hits();
    for (what, claims) in &refused {
        for path in ["/admin/x", "/app/x"] {
            let r = bearer_get(&c, &rig.url(path), &idp.token(claims)).await;
            assert_eq!(r.status, 401, "{what} on {path}: {}", r.body);
            r.assert_error(401, "unauthorized");
            assert_eq!(r.header("www-authenticate"), Some("Bearer"), "{what}");
        }
        let me = bearer_get(&c, &format!("{}/auth/me", rig.base()), &idp.token(claims)).await;
        assert_eq!(me.status, 401, "{what} on /auth/me: {}", me.body);
    }
    assert_eq!(
        rig.echo.hits(),
        hits,
        "a refused token reached the upstream"
    );
}
