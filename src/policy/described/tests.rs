use super::*;
use crate::policy::tests::header_map;

/// (method, tls, host, path and query) of a description, or None for a 400.
type Want = Option<(&'static str, bool, &'static str, &'static str)>;

fn verify(pairs: &[(&'static str, &'static str)]) -> Option<(String, bool, String, String)> {
    let (d, _) = describe_verify(&header_map(pairs), &[]).ok()?;
    Some((
        d.method.to_string(),
        d.tls,
        d.host.authority().to_owned(),
        d.target.path_and_query(),
    ))
}

fn owned(w: Want) -> Option<(String, bool, String, String)> {
    w.map(|(m, t, h, p)| (m.to_string(), t, h.to_string(), p.to_string()))
}

#[test]
fn x_forwarded_descriptions() {
    let fwd = |m, h, u| vec![(FWD_METHOD, m), (FWD_HOST, h), (FWD_URI, u)];
    let cases: Vec<(Vec<(&'static str, &'static str)>, Want)> = vec![
        (
            fwd("GET", "app.example.com", "/x?y=1"),
            Some(("GET", true, "app.example.com", "/x?y=1")),
        ),
        (
            [
                fwd("POST", "App.Example.com.", "/a/../b"),
                vec![(FWD_PROTO, "http")],
            ]
            .concat(),
            Some(("POST", false, "app.example.com", "/b")),
        ),
        (
            [
                fwd("GET", "a.test:8443", "/%61dmin"),
                vec![(FWD_PROTO, "HTTPS")],
            ]
            .concat(),
            Some(("GET", true, "a.test:8443", "/admin")),
        ),
        // Partial, malformed, ambiguous.
        (vec![(FWD_METHOD, "GET"), (FWD_HOST, "a.test")], None),
        (vec![(FWD_URI, "/x"), (FWD_HOST, "a.test")], None),
        (vec![(FWD_METHOD, "GET"), (FWD_URI, "/x")], None),
        (vec![(FWD_HOST, "a.test")], None),
        (vec![], None),
        (fwd("get", "a.test", "/x"), None),
        (fwd("BREW", "a.test", "/x"), None),
        (fwd("GET", "a/b", "/x"), None),
        (fwd("GET", "a.test, b.test", "/x"), None),
        (fwd("GET", "a.test", "x"), None),
        (fwd("GET", "a.test", ""), None),
        (fwd("GET", "a.test", "http://evil.test/x"), None),
        (fwd("GET", "a.test", "//evil.test/x"), None),
        (fwd("GET", "a.test", "/x#frag"), None),
        (fwd("GET", "a.test", "/x%23y"), None),
        (fwd("GET", "a.test", "/public%2f..%2fadmin"), None),
        (fwd("GET", "a.test", "/a%5cb"), None),
        (fwd("GET", "a.test", "/a%zz"), None),
        (fwd("GET", "a.test", "/../admin"), None),
        (fwd("GET", "a.test", "/a%00"), None),
        (
            [fwd("GET", "a.test", "/x"), vec![(FWD_PROTO, "ftp")]].concat(),
            None,
        ),
        (
            [fwd("GET", "a.test", "/x"), vec![(FWD_URI, "/y")]].concat(),
            None,
        ),
        (
            [fwd("GET", "a.test", "/x"), vec![(FWD_METHOD, "GET")]].concat(),
            None,
        ),
        (
            [fwd("GET", "a.test", "/x"), vec![(FWD_HOST, "b.test")]].concat(),
            None,
        ),
    ];
    for (pairs, want) in cases {
        assert_eq!(verify(&pairs), owned(want), "{pairs:?}");
    }
}

#[test]
fn x_original_descriptions() {
    let orig = |m, u| vec![(ORIG_METHOD, m), (ORIG_URL, u)];
    let cases: Vec<(Vec<(&'static str, &'static str)>, Want)> = vec![
        (
            orig("GET", "https://app.example.com/x?y"),
            Some(("GET", true, "app.example.com", "/x?y")),
        ),
        (
            orig("DELETE", "http://App.Example.com:8080"),
            Some(("DELETE", false, "app.example.com:8080", "/")),
        ),
        (
            orig("GET", "https://a.test?q=1"),
            Some(("GET", true, "a.test", "/?q=1")),
        ),
        (
            orig("GET", "https://a.test//x/./y"),
            None, // `//` after the host is not origin-form
        ),
        (
            [orig("GET", "https://a.test/x"), vec![(FWD_HOST, "A.test")]].concat(),
            Some(("GET", true, "a.test", "/x")),
        ),
        (
            [orig("GET", "https://a.test/x"), vec![(FWD_HOST, "b.test")]].concat(),
            None,
        ),
        (
            [orig("GET", "https://a.test/x"), vec![(FWD_PROTO, "http")]].concat(),
            None,
        ),
        (vec![(ORIG_METHOD, "GET")], None),
        (vec![(ORIG_URL, "https://a.test/x")], None),
        (orig("GET", "/x"), None),
        (orig("GET", "a.test/x"), None),
        (orig("GET", "ftp://a.test/x"), None),
        (orig("GET", "javascript://a.test/x"), None),
        (orig("GET", "https://user@a.test/x"), None),
        (orig("GET", "https://evil.test@a.test/x"), None),
        (orig("GET", "https://a.test#x"), None),
        (orig("GET", "https://a.test/x#y"), None),
        (orig("GET", "https://a.test/x%2fy"), None),
        (orig("GET", "https:///x"), None),
        (orig("GET", "https://a.test\\@evil.test/x"), None),
        (orig("Get", "https://a.test/x"), None),
    ];
    for (pairs, want) in cases {
        assert_eq!(verify(&pairs), owned(want), "{pairs:?}");
    }
}

#[test]
fn both_descriptions_must_agree() {
    let both = |fm, fh, fu, om, ou| {
        vec![
            (FWD_METHOD, fm),
            (FWD_HOST, fh),
            (FWD_URI, fu),
            (ORIG_METHOD, om),
            (ORIG_URL, ou),
        ]
    };
    let agree = both("GET", "a.test", "/x", "GET", "https://a.test/x");
    assert_eq!(verify(&agree), owned(Some(("GET", true, "a.test", "/x"))));
    for pairs in [
        both("GET", "a.test", "/x", "POST", "https://a.test/x"),
        both("GET", "a.test", "/x", "GET", "https://b.test/x"),
        both("GET", "a.test", "/public", "GET", "https://a.test/admin"),
        both("GET", "a.test", "/x?a", "GET", "https://a.test/x?b"),
        both("GET", "a.test", "/x", "GET", "http://a.test/x"),
    ] {
        assert_eq!(verify(&pairs), None, "{pairs:?}");
    }
}

#[test]
fn ext_authz_takes_the_path_after_the_literal_prefix() {
    let h = header_map(&[("host", "App.test")]);
    let run = |target: &str| {
        describe_ext_authz(
            &Method::GET,
            &h,
            target.as_bytes(),
            "/auth/ext-authz",
            &[],
            true,
        )
        .ok()
        .map(|d| (d.host.authority().to_owned(), d.target.path_and_query()))
    };
    let ok = |h: &str, p: &str| Some((h.to_string(), p.to_string()));
    assert_eq!(
        run("/auth/ext-authz/admin/x?y=1"),
        ok("app.test", "/admin/x?y=1")
    );
    assert_eq!(run("/auth/ext-authz/"), ok("app.test", "/"));
    assert_eq!(run("/auth/ext-authz//admin"), ok("app.test", "/admin"));
    assert_eq!(run("/auth/ext-authz/a/../b"), ok("app.test", "/b"));
    for bad in [
        "/auth/ext-authz",
        "/auth/ext-authzadmin",
        "/auth/ext-authz/../admin",
        "/auth/ext-authz/a%2fb",
        "/auth/ext-authz/a#b",
        "/auth/ext-authz/a%23b",
        "/auth/x/../ext-authz/admin",
    ] {
        assert_eq!(run(bad), None, "{bad}");
    }
    let lower = Method::from_bytes(b"get").unwrap();
    assert!(describe_ext_authz(
        &lower,
        &h,
        b"/auth/ext-authz/x",
        "/auth/ext-authz",
        &[],
        true
    )
    .is_err());
    let none = header_map(&[]);
    assert!(describe_ext_authz(
        &Method::GET,
        &none,
        b"/auth/ext-authz/x",
        "/auth/ext-authz",
        &[],
        true
    )
    .is_err());
}
