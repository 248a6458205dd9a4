//! `[[oidc]]` (SPEC §13): defaults, the `[users]`-less gateway, and each
//! mistake by line and key.

use super::{assert_one, with_base, Fixture, BASE};

const ROLES: &str = "[roles]\nuser = [\"posts:read\"]\nadmin = [\"*\"]\n";

#[test]
fn a_provider_compiles_with_defaults() {
    let fx = Fixture::new();
    let text = with_base(&format!(
        "{ROLES}[[oidc]]\nid = \"corp\"\nissuer = \"https://idp.example.com\"\nclient_id = \"gh\"\n\
         role_map = {{ \"staff\" = \"user\" }}\n\n\
         [[oidc]]\nid = \"dev\"\nname = \"Dev IdP\"\nissuer = \"http://127.0.0.1:5556/dex\"\nclient_id = \"gh\"\n\
         scopes = [\"openid\", \"groups\"]\ndefault_roles = [\"user\"]\n\
         allowed_email_domains = [\"Example.com\", \".corp.test\"]\nlink_local = true\n"
    ));
    let cfg = fx.load(&text).expect("compiles");
    assert_eq!(cfg.oidc.len(), 2);
    let corp = &cfg.oidc[0];
    assert_eq!(corp.name, "corp", "name defaults to the id");
    assert_eq!(corp.scopes, ["openid", "email", "profile"]);
    assert_eq!(corp.username_claim, "preferred_username");
    assert_eq!(corp.roles_claim, "groups");
    assert_eq!(corp.role_map.get("staff").map(String::as_str), Some("user"));
    assert_eq!(corp.post_logout_redirect, "/");
    assert!(corp.client_secret.is_none() && !corp.link_local);
    let dev = &cfg.oidc[1];
    assert_eq!(
        dev.issuer, "http://127.0.0.1:5556/dex",
        "loopback http is allowed"
    );
    assert_eq!(dev.allowed_email_domains, ["example.com", ".corp.test"]);
    assert_eq!(dev.default_roles, ["user"]);
    assert!(dev.link_local);
}

#[test]
fn users_section_is_optional_only_with_providers() {
    let fx = Fixture::new();
    let mut text = String::from(
        "[[oidc]]\nid = \"corp\"\nissuer = \"https://idp.example.com\"\nclient_id = \"gh\"\n",
    );
    for (header, part) in BASE {
        if *header != "[users]\n" {
            text.push('\n');
            text.push_str(part);
        }
    }
    let cfg = fx.load(&text).expect("compiles without [users]");
    assert_eq!(cfg.users_file, None);
    let without = text.replacen(
        "[[oidc]]\nid = \"corp\"\nissuer = \"https://idp.example.com\"\nclient_id = \"gh\"\n",
        "",
        1,
    );
    let err = fx.load(&without).expect_err("no login at all");
    assert!(err.to_string().contains("users.file"), "{err}");
}

#[test]
fn mistakes_are_named_by_line_and_key() {
    let fx = Fixture::new();
    let p = |rest: &str| format!("[[oidc]]\nid = \"corp\"\nclient_id = \"gh\"\n{rest}");
    let good_issuer = "issuer = \"https://idp.example.com\"\n";
    let cases: Vec<(String, usize, &str, &str)> = vec![
        (p(""), 1, "oidc[0].issuer", "missing"),
        (
            p("issuer = \"http://idp.example.com\"\n"),
            4,
            "oidc[0].issuer",
            "https",
        ),
        (
            p("issuer = \"idp.example.com\"\n"),
            4,
            "oidc[0].issuer",
            "not a URL",
        ),
        (
            format!("[[oidc]]\nid = \"a_b\"\nclient_id = \"gh\"\n{good_issuer}"),
            2,
            "oidc[0].id",
            "a-z, 0-9 and -",
        ),
        (
            format!("{}\n{}", p(good_issuer), p(good_issuer)),
            7,
            "oidc[1].id",
            "already a provider at line 2",
        ),
        (
            p(&format!("{good_issuer}scopes = [\"email\"]\n")),
            5,
            "oidc[0].scopes",
            "must include \"openid\"",
        ),
        (
            p(&format!("{good_issuer}default_roles = [\"nope\"]\n")),
            5,
            "oidc[0].default_roles[0]",
            "unknown role",
        ),
        (
            p(&format!(
                "{good_issuer}allowed_email_domains = [\"a..b\"]\n"
            )),
            5,
            "oidc[0].allowed_email_domains[0]",
            "not a domain",
        ),
        (
            p(&format!(
                "{good_issuer}client_secret_env = \"GH_COMPILE_TEST_NO_SUCH_VAR\"\n"
            )),
            5,
            "oidc[0].client_secret_env",
            "is not set",
        ),
        (
            p(&format!("{good_issuer}ca_file = \"missing.pem\"\n")),
            5,
            "oidc[0].ca_file",
            "cannot be read",
        ),
        (
            p(&format!("{good_issuer}scope = []\n")),
            5,
            "oidc[0].scope",
            "unknown field `scope`",
        ),
    ];
    for (snippet, line, key, msg) in cases {
        assert_one(&fx, &snippet, line, key, msg);
    }
}
