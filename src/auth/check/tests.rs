//! The credential pick, ambiguity refusals, and identities described by
//! the current users file.

use super::*;

#[test]
fn bearer_scheme_is_case_insensitive_and_needs_a_token() {
    let bearer_token = |v| scheme_value(v, "bearer");
    assert_eq!(bearer_token("Bearer abc"), Some("abc"));
    assert_eq!(bearer_token("bearer  abc "), Some("abc"));
    assert_eq!(bearer_token("Bearer "), None);
    assert_eq!(bearer_token("Basic abc"), None);
    assert_eq!(bearer_token("Bearerabc"), None);
    assert_eq!(scheme_value("APIKEY k", "apikey"), Some("k"));
}

fn req(headers: &[(&str, &str)]) -> RequestHeader {
    let mut r = RequestHeader::build("GET", b"/", None).expect("request");
    for (k, v) in headers {
        r.append_header(k.to_string(), *v).expect("header");
    }
    r
}

const OWN: OwnCookies<'static> = OwnCookies {
    session: "gh",
    refresh: "gh-refresh",
    csrf: "gh-csrf",
};

/// Precedence: Bearer, Authorization ApiKey, X-API-Key, cookie; the
/// first present is the only one used.
#[test]
fn credentials_precedence_table() {
    use Credentials::*;
    let cases: Vec<(Vec<(&str, &str)>, Credentials<'static>)> = vec![
        (vec![], None),
        (vec![("cookie", "gh=c1")], Cookie("c1")),
        (vec![("cookie", "gh=")], None),
        (vec![("cookie", "gh=c1; gh=c1")], Cookie("c1")),
        (vec![("cookie", "gh=c1"), ("cookie", "gh=c1")], Cookie("c1")),
        (vec![("x-api-key", "k1"), ("cookie", "gh=c1")], ApiKey("k1")),
        (vec![("X-Api-Key", " k1 ")], ApiKey("k1")),
        (vec![("x-api-key", "")], ApiKey("")),
        (
            vec![("authorization", "ApiKey k2"), ("x-api-key", "k1")],
            ApiKey("k2"),
        ),
        (vec![("authorization", "apikey k2")], ApiKey("k2")),
        (
            vec![
                ("authorization", "Bearer t"),
                ("x-api-key", "k1"),
                ("cookie", "gh=c1"),
            ],
            Bearer("t"),
        ),
        (
            vec![("authorization", "Basic xyz"), ("x-api-key", "k1")],
            ApiKey("k1"),
        ),
        (
            vec![("authorization", "Basic xyz"), ("cookie", "gh=c1")],
            Cookie("c1"),
        ),
        // Another scheme's comma list is not ours to judge.
        (
            vec![("authorization", "Digest a=1, b=2"), ("cookie", "gh=c1")],
            Cookie("c1"),
        ),
    ];
    for (headers, want) in cases {
        let r = req(&headers);
        assert_eq!(credentials(&r.headers, OWN), Ok(want), "{headers:?}");
    }
}

/// Whatever would be read two ways is refused, whichever credential
/// would have won (issue 10, point 4).
#[test]
fn ambiguous_credentials_table() {
    use Ambiguous::*;
    let cases: Vec<(Vec<(&str, &str)>, Ambiguous)> = vec![
        (
            vec![("authorization", "Bearer a"), ("authorization", "Bearer b")],
            Authorization,
        ),
        (
            vec![("authorization", "Bearer a"), ("authorization", "Bearer a")],
            Authorization,
        ),
        (
            vec![("authorization", "Basic x"), ("authorization", "Bearer a")],
            Authorization,
        ),
        (
            vec![("authorization", "Bearer a, Bearer b")],
            CredentialList,
        ),
        (vec![("authorization", "Bearer a,b")], CredentialList),
        (vec![("authorization", "ApiKey k1, k2")], CredentialList),
        (vec![("x-api-key", "k1"), ("x-api-key", "k2")], ApiKey),
        (vec![("x-api-key", "k1"), ("x-api-key", "k1")], ApiKey),
        (vec![("cookie", "gh=a; gh=b")], Cookie),
        (vec![("cookie", "gh=a"), ("cookie", "gh=b")], Cookie),
        (vec![("cookie", "gh-refresh=a; gh-refresh=b")], Cookie),
        (
            vec![("cookie", "gh-csrf=a"), ("cookie", "x=1; gh-csrf=b")],
            Cookie,
        ),
        // Refused even when another credential would have been used.
        (
            vec![("authorization", "Bearer t"), ("cookie", "gh=a; gh=b")],
            Cookie,
        ),
        (
            vec![
                ("authorization", "Bearer t"),
                ("x-api-key", "k1"),
                ("x-api-key", "k2"),
            ],
            ApiKey,
        ),
    ];
    for (headers, want) in cases {
        let r = req(&headers);
        assert_eq!(credentials(&r.headers, OWN), Err(want), "{headers:?}");
        let answer = GateError::from(want).answer();
        assert_eq!(answer.status, 400, "{headers:?}");
    }
}

#[test]
fn authorization_is_forwarded_only_when_it_was_verified() {
    let id = |method| Identity::new("u".into(), "u".into(), String::new(), vec![], None, method);
    let cases = [
        (
            vec![("authorization", "Bearer t")],
            AuthMethod::Bearer,
            true,
        ),
        (
            vec![("authorization", "ApiKey k")],
            AuthMethod::ApiKey,
            true,
        ),
        (
            vec![("authorization", "Basic x"), ("x-api-key", "k")],
            AuthMethod::ApiKey,
            false,
        ),
        (
            vec![("authorization", "Basic x"), ("cookie", "gh=c")],
            AuthMethod::Cookie,
            false,
        ),
    ];
    for (headers, method, want) in cases {
        let r = req(&headers);
        assert_eq!(authorization_verified(&r, &id(method)), want, "{headers:?}");
    }
}

fn user(name: &str, id: &str, roles: &[&str], disabled: bool) -> User {
    User {
        username: name.into(),
        id: id.into(),
        email: format!("{name}@example.com"),
        password_hash: String::new(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        disabled,
    }
}

fn session(name: &str, id: &str, roles: &[&str]) -> SessionRecord {
    SessionRecord {
        sid: "s1".into(),
        user_id: id.into(),
        username: name.into(),
        email: "old@example.com".into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        created: 0,
        last_seen: 0,
        expires_at: 100,
        ip: String::new(),
        user_agent: String::new(),
        oidc: None,
    }
}

/// SPEC §3: the users file, not the login-time record, describes the
/// identity; a removed, disabled or re-identified user has none.
#[test]
fn sessions_are_described_by_the_current_users_file() {
    let users = UserDirectory::new(vec![
        user("Alice", "u-1", &["user"], false),
        user("carol", "u-3", &["admin"], true),
    ]);
    let s = session("alice", "u-1", &["admin"]);
    let u = current_user(&users, &s).expect("alice is current");
    let (_, person) = users.get_with_person(&u.username).expect("alice's person");
    let id = identity_of(&s, person.clone(), AuthMethod::Cookie);
    assert_eq!(
        (id.username.as_str(), id.email.as_str(), id.roles.as_slice()),
        ("Alice", "Alice@example.com", &["user".to_string()][..])
    );
    assert_eq!(id.sid.as_deref(), Some("s1"));
    for gone in [
        session("carol", "u-3", &["admin"]),
        session("alice", "u-9", &["user"]),
        session("dave", "u-4", &["user"]),
    ] {
        assert!(current_user(&users, &gone).is_none(), "{gone:?}");
    }
}

#[tokio::test]
async fn api_key_never_falls_back_to_the_cookie() {
    use crate::auth::keys::KeySet;
    use crate::store::{ApiKeyRecord, ApiKeyStore, MemoryStore};
    let store = MemoryStore::new();
    let key = apikey::new_key();
    let rec = ApiKeyRecord {
        name: "ci".into(),
        roles: vec!["service".into()],
        created: 1,
        last_used: None,
        expires_at: None,
    };
    assert!(store
        .create_api_key(&apikey::key_hash(&key), &rec)
        .await
        .expect("create"));
    let keys = KeySet::from_hmac_secret(&[0x5a; 32]).expect("hmac key");
    let tokens = TokenService::new(keys, "iss".into(), "aud".into(), 60);
    let users = UserDirectory::default();
    let service = RoleNames::new(["service".to_string()]);
    let idle = std::time::Duration::from_secs(60);
    let dir = |roles| Directory {
        users: &users,
        roles,
    };
    let good = authenticate(
        Credentials::ApiKey(&key),
        &tokens,
        None,
        &store,
        dir(&service),
        idle,
        10,
    )
    .await
    .expect("auth");
    assert!(
        matches!(good, AuthOutcome::Authenticated(ref id) if id.username == "apikey:ci" && id.method == AuthMethod::ApiKey && id.roles == ["service"]),
        "{good:?}"
    );
    // A role a reload removed from `[roles]` is dropped, not sent upstream.
    let none = RoleNames::default();
    let stale = authenticate(
        Credentials::ApiKey(&key),
        &tokens,
        None,
        &store,
        dir(&none),
        idle,
        10,
    )
    .await
    .expect("auth");
    assert!(
        matches!(stale, AuthOutcome::Authenticated(ref id) if id.roles.is_empty()),
        "{stale:?}"
    );
    let wrong = apikey::new_key();
    let r = req(&[("x-api-key", &wrong), ("cookie", "gh=whatever")]);
    let creds = credentials(&r.headers, OWN).expect("unambiguous");
    let bad = authenticate(creds, &tokens, None, &store, dir(&service), idle, 10)
        .await
        .expect("auth");
    assert_eq!(bad, AuthOutcome::Refused("bad_api_key"));
}
