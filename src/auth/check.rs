//! The per-request check (SPEC §5): a bearer JWT, an API key or the session
//! cookie, verified and then looked up in the store on every request, so a
//! logout or revocation takes effect at once.

use pingora::http::RequestHeader;

use crate::auth::apikey;
use crate::auth::identity::{AuthMethod, Identity};
use crate::auth::session::{request_cookie, sid_of};
use crate::auth::tokens::TokenService;
use crate::config::users::UserDirectory;
use crate::store::{SessionRecord, Store, StoreError};

/// The credentials a request presents, borrowed from its headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials<'a> {
    None,
    Bearer(&'a str),
    /// `Authorization: ApiKey KEY` or `X-API-Key: KEY`.
    ApiKey(&'a str),
    /// The session cookie's secret.
    Cookie(&'a str),
}

impl Credentials<'_> {
    pub fn method(&self) -> Option<AuthMethod> {
        match self {
            Credentials::None => None,
            Credentials::Bearer(_) => Some(AuthMethod::Bearer),
            Credentials::ApiKey(_) => Some(AuthMethod::ApiKey),
            Credentials::Cookie(_) => Some(AuthMethod::Cookie),
        }
    }
}

/// Pick the credentials, first present wins: `Authorization: Bearer`, then
/// `Authorization: ApiKey`, then `X-API-Key`, then the cookie. Only the one
/// picked is checked: a bad credential never falls back to another.
pub fn credentials<'a>(req: &'a RequestHeader, cookie_name: &str) -> Credentials<'a> {
    if let Some(v) = req.headers.get(http::header::AUTHORIZATION) {
        let value = v.to_str().ok();
        if let Some(token) = value.and_then(|v| scheme_value(v, "bearer")) {
            return Credentials::Bearer(token);
        }
        if let Some(key) = value.and_then(|v| scheme_value(v, "apikey")) {
            return Credentials::ApiKey(key);
        }
    }
    let mut api_keys = req.headers.get_all(API_KEY_HEADER).iter();
    if let Some(first) = api_keys.next() {
        // Two keys are ambiguous: refuse (an empty key never matches).
        let key = match api_keys.next() {
            None => first.to_str().map(str::trim).unwrap_or(""),
            Some(_) => "",
        };
        return Credentials::ApiKey(key);
    }
    match request_cookie(&req.headers, cookie_name) {
        Some(secret) if !secret.is_empty() => Credentials::Cookie(secret),
        _ => Credentials::None,
    }
}

const API_KEY_HEADER: &str = "x-api-key";

/// `<scheme> <value>`, scheme case-insensitive (RFC 7235).
fn scheme_value<'a>(header: &'a str, scheme: &str) -> Option<&'a str> {
    let (given, rest) = header.split_once(' ')?;
    if !given.eq_ignore_ascii_case(scheme) {
        return None;
    }
    let value = rest.trim();
    (!value.is_empty()).then_some(value)
}

/// Result of checking credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// No credentials presented.
    Anonymous,
    Authenticated(Identity),
    /// Credentials presented but not valid; the reason is for logs/metrics.
    Refused(&'static str),
}

/// Verify credentials and look the session (sliding its idle timeout) or
/// the API key up.
pub async fn authenticate(
    creds: Credentials<'_>,
    tokens: &TokenService,
    store: &dyn Store,
    users: &UserDirectory,
    idle: std::time::Duration,
    now: i64,
) -> Result<AuthOutcome, StoreError> {
    let claims = match creds {
        Credentials::Bearer(token) => match tokens.verify_cached(token, now) {
            Ok(claims) => Some(claims),
            Err(_) => {
                // Not one of ours: a trusted IdP's token (tokens.trusted_issuers)
                // is stateless, verified with that issuer's keys, no session.
                if let Some(external) = &tokens.external {
                    if let Some(outcome) = external.authenticate(token, now).await {
                        return Ok(outcome);
                    }
                }
                return Ok(AuthOutcome::Refused("bad_token"));
            }
        },
        _ => None,
    };
    let cookie_sid;
    let (sid, method) = match (&claims, creds) {
        (Some(c), _) => (c.sid.as_str(), AuthMethod::Bearer),
        (None, Credentials::Cookie(secret)) => {
            cookie_sid = sid_of(secret);
            (cookie_sid.as_str(), AuthMethod::Cookie)
        }
        (None, Credentials::ApiKey(key)) => {
            return Ok(match apikey::lookup(key, store, now).await? {
                Some(id) => AuthOutcome::Authenticated(id),
                None => AuthOutcome::Refused("bad_api_key"),
            });
        }
        (None, _) => return Ok(AuthOutcome::Anonymous),
    };
    let Some(session) = store.touch_session(sid, now, idle).await? else {
        return Ok(AuthOutcome::Refused("no_session"));
    };
    if claims.as_ref().is_some_and(|c| c.sub != session.user_id) {
        return Ok(AuthOutcome::Refused("subject_mismatch"));
    }
    // A user removed or disabled by a reload loses access at once.
    match users.get(&session.username) {
        Some(u) if !u.disabled && u.id == session.user_id => {}
        _ => return Ok(AuthOutcome::Refused("user_disabled")),
    }
    Ok(AuthOutcome::Authenticated(identity_of(session, method)))
}

/// The identity a session stands for.
pub fn identity_of(s: SessionRecord, method: AuthMethod) -> Identity {
    Identity {
        user_id: s.user_id,
        username: s.username,
        email: s.email,
        roles: s.roles,
        sid: Some(s.sid),
        method,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ApiKeyStore;

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

    /// Precedence: Bearer, Authorization ApiKey, X-API-Key, cookie; the
    /// first present is the only one used.
    #[test]
    fn credentials_precedence_table() {
        use Credentials::*;
        let cases: Vec<(Vec<(&str, &str)>, Credentials<'static>)> = vec![
            (vec![], None),
            (vec![("cookie", "gh=c1")], Cookie("c1")),
            (vec![("cookie", "gh=")], None),
            (vec![("x-api-key", "k1"), ("cookie", "gh=c1")], ApiKey("k1")),
            (vec![("X-Api-Key", " k1 ")], ApiKey("k1")),
            (vec![("x-api-key", "")], ApiKey("")),
            (vec![("x-api-key", "k1"), ("x-api-key", "k2")], ApiKey("")),
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
        ];
        for (headers, want) in cases {
            let r = req(&headers);
            assert_eq!(credentials(&r, "gh"), want, "{headers:?}");
        }
    }

    #[tokio::test]
    async fn api_key_never_falls_back_to_the_cookie() {
        use crate::auth::keys::KeySet;
        use crate::store::{ApiKeyRecord, MemoryStore};
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
        let idle = std::time::Duration::from_secs(60);
        let good = authenticate(Credentials::ApiKey(&key), &tokens, &store, &users, idle, 10)
            .await
            .expect("auth");
        assert!(
            matches!(good, AuthOutcome::Authenticated(ref id) if id.username == "apikey:ci" && id.method == AuthMethod::ApiKey),
            "{good:?}"
        );
        let wrong = apikey::new_key();
        let r = req(&[("x-api-key", &wrong), ("cookie", "gh=whatever")]);
        let bad = authenticate(credentials(&r, "gh"), &tokens, &store, &users, idle, 10)
            .await
            .expect("auth");
        assert_eq!(bad, AuthOutcome::Refused("bad_api_key"));
    }
}
