//! The per-request check (SPEC §5): a bearer JWT, an API key or the session
//! cookie, verified and then looked up in the store on every request, so a
//! logout or revocation takes effect at once.

use std::borrow::Cow;
use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue};
use pingora::http::RequestHeader;

use crate::auth::apikey;
use crate::auth::external::TrustedIssuers;
use crate::auth::identity::{AuthMethod, Identity, Person};
use crate::auth::session::{request_cookies, sid_of};
use crate::auth::settings::SessionConfig;
use crate::auth::tokens::TokenService;
use crate::auth::users::{User, UserDirectory};
use crate::auth::RoleNames;
use crate::error::GateError;
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

/// The names of the gateway's own cookies (`[session]`): the session, the
/// refresh token and the login form's CSRF token.
#[derive(Debug, Clone, Copy)]
pub struct OwnCookies<'a> {
    pub session: &'a str,
    pub refresh: &'a str,
    pub csrf: &'a str,
}

impl<'a> OwnCookies<'a> {
    pub fn of(cfg: &'a SessionConfig) -> Self {
        OwnCookies {
            session: &cfg.cookie_name,
            refresh: &cfg.refresh_cookie_name,
            csrf: &cfg.csrf_cookie_name,
        }
    }
}

/// Credentials that cannot be read one way only (issue 10, point 4): the
/// gateway would verify one and the app behind it might read another (a
/// forged second `Authorization` on a `forward_authorization` route, a
/// tossed second session cookie). Answered 400, never "first wins".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Ambiguous {
    #[error("more than one Authorization header")]
    Authorization,
    #[error("more than one credential in the Authorization header")]
    CredentialList,
    #[error("more than one X-API-Key header")]
    ApiKey,
    #[error("a gateway cookie sent twice with different values")]
    Cookie,
}

impl From<Ambiguous> for GateError {
    fn from(e: Ambiguous) -> Self {
        GateError::BadRequest(match e {
            Ambiguous::Authorization => "more than one Authorization header",
            Ambiguous::CredentialList => "more than one credential in the Authorization header",
            Ambiguous::ApiKey => "more than one X-API-Key header",
            Ambiguous::Cookie => "a gateway cookie sent twice with different values",
        })
    }
}

/// Pick the credentials, first present wins: `Authorization: Bearer`, then
/// `Authorization: ApiKey`, then `X-API-Key`, then the cookie. Only the one
/// picked is checked: a bad credential never falls back to another.
///
/// Before picking, anything that could be read two ways is refused, whichever
/// credential wins: two `Authorization` or two `X-API-Key` headers, a Bearer
/// or ApiKey `Authorization` listing several credentials (`Bearer a, Bearer
/// b`: one token68 only, RFC 7235 §2.1), and any of our cookies sent twice
/// with different values. Runs on every request, public routes and the
/// gateway's endpoints included; allocates nothing.
pub fn credentials<'a>(
    headers: &'a HeaderMap,
    cookies: OwnCookies<'_>,
) -> Result<Credentials<'a>, Ambiguous> {
    let [session, _, _] =
        request_cookies(headers, [cookies.session, cookies.refresh, cookies.csrf])
            .map_err(|_| Ambiguous::Cookie)?;
    let authorization =
        single(headers, &http::header::AUTHORIZATION).map_err(|_| Ambiguous::Authorization)?;
    let api_key = single(headers, &API_KEY_HEADER).map_err(|_| Ambiguous::ApiKey)?;
    if let Some(v) = authorization {
        let value = v.to_str().ok();
        if let Some(token) = value.and_then(|v| scheme_value(v, "bearer")) {
            return one_credential(token).map(Credentials::Bearer);
        }
        if let Some(key) = value.and_then(|v| scheme_value(v, "apikey")) {
            return one_credential(key).map(Credentials::ApiKey);
        }
    }
    if let Some(v) = api_key {
        return Ok(Credentials::ApiKey(v.to_str().map(str::trim).unwrap_or("")));
    }
    Ok(match session {
        Some(secret) if !secret.is_empty() => Credentials::Cookie(secret),
        _ => Credentials::None,
    })
}

/// Whether the request's `Authorization` header is the credential that
/// `credentials` picked and `authenticate` verified for `identity`: a bearer
/// token always is; an API key only when it came as `Authorization: ApiKey`
/// (not `X-API-Key`). Anything else in `Authorization` (`Basic ...` beside a
/// cookie, say) was never checked, so it must not reach the app even on a
/// `forward_authorization` route.
pub fn authorization_verified(req: &RequestHeader, identity: &Identity) -> bool {
    match identity.method {
        AuthMethod::Bearer => true,
        AuthMethod::ApiKey => req
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| scheme_value(v, "apikey"))
            .is_some(),
        AuthMethod::Cookie => false,
    }
}

/// A `HeaderName`, not text: a lookup by text parses the name every time.
const API_KEY_HEADER: HeaderName = HeaderName::from_static("x-api-key");

/// The one value of a header; `Err` when it is sent more than once.
fn single<'a>(
    headers: &'a http::HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'a HeaderValue>, ()> {
    let mut all = headers.get_all(name).iter();
    let first = all.next();
    match all.next() {
        None => Ok(first),
        Some(_) => Err(()),
    }
}

/// A bearer token or API key is one token68 (RFC 7235 §2.1): a comma means
/// a list of credentials, which the app might read differently.
fn one_credential(value: &str) -> Result<&str, Ambiguous> {
    if value.contains(',') {
        Err(Ambiguous::CredentialList)
    } else {
        Ok(value)
    }
}

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

/// The current users and roles: what a reload swaps (`state::Live`). An
/// identity is always described by these, never by what was true at login
/// (SPEC §3: the users file is the truth on every request).
#[derive(Clone, Copy)]
pub struct Directory<'a> {
    pub users: &'a UserDirectory,
    pub roles: &'a RoleNames,
}

/// Verify credentials and look the session (sliding its idle timeout) or
/// the API key up. Called through `Authenticator::authenticate`.
pub(crate) async fn authenticate(
    creds: Credentials<'_>,
    tokens: &TokenService,
    external: Option<&TrustedIssuers>,
    store: &dyn Store,
    current: Directory<'_>,
    idle: std::time::Duration,
    now: i64,
) -> Result<AuthOutcome, StoreError> {
    let claims = match creds {
        Credentials::Bearer(token) => match tokens.verify_cached(token, now) {
            Ok(claims) => Some(claims),
            Err(_) => {
                // Not one of ours: a trusted IdP's token (tokens.trusted_issuers)
                // is stateless, verified with that issuer's keys, no session.
                if let Some(external) = external {
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
                Some(mut id) => {
                    // Roles are stored with the key; one a reload removed
                    // from `[roles]` grants nothing and is not sent upstream.
                    id.retain_roles(|r| current.roles.contains(r));
                    AuthOutcome::Authenticated(id)
                }
                None => AuthOutcome::Refused("bad_api_key"),
            });
        }
        (None, _) => return Ok(AuthOutcome::Anonymous),
    };
    let Some(session) = store.touch_session(sid, now, idle).await? else {
        return Ok(AuthOutcome::Refused("no_session"));
    };
    // The JWT's own `roles` and `email` claims are never read: they are what
    // was true when it was minted. Only its `sid` and `sub` count.
    if claims.as_ref().is_some_and(|c| c.sub != session.user_id) {
        return Ok(AuthOutcome::Refused("subject_mismatch"));
    }
    let Some(person) = current_person(current, &session) else {
        end_session(store, &session, "user disabled or removed").await;
        return Ok(AuthOutcome::Refused("user_disabled"));
    };
    Ok(AuthOutcome::Authenticated(identity_of(
        &session, person, method,
    )))
}

/// The person a session stands for, if it may still be used
/// (`current_user`): a local user's shared one, or for a session of an
/// identity provider without `link_local` one described by the record,
/// without the roles a reload removed from `[roles]` since (local users'
/// roles are checked at load).
fn current_person(current: Directory<'_>, session: &SessionRecord) -> Option<Arc<Person>> {
    if provider_only(session) {
        let roles = session.roles.iter().filter(|r| current.roles.contains(r));
        return Some(Arc::new(Person::new(
            session.user_id.clone(),
            session.username.clone(),
            session.email.clone(),
            roles.cloned().collect(),
        )));
    }
    local_user(current.users, session).map(|(_, person)| person.clone())
}

/// A session from an identity provider without `link_local` (SPEC §13)
/// has no users-file entry.
fn provider_only(session: &SessionRecord) -> bool {
    session.oidc.as_ref().is_some_and(|o| !o.linked)
}

/// The users-file entry of a local session, if it is still that user's:
/// the user exists under that name, with the same id, and is not disabled.
fn local_user<'u>(
    users: &'u UserDirectory,
    session: &SessionRecord,
) -> Option<(&'u User, &'u Arc<Person>)> {
    users
        .get_with_person(&session.username)
        .filter(|(u, _)| !u.disabled && u.id == session.user_id)
}

/// The users-file entry a session stands for, if it may still be used: the
/// user exists under that name, with the same id, and is not disabled.
/// A session from an identity provider without `link_local` (SPEC §13)
/// has no users-file entry: it is described by what the provider said at
/// login, kept in the session record.
pub fn current_user<'u>(
    users: &'u UserDirectory,
    session: &SessionRecord,
) -> Option<Cow<'u, User>> {
    if provider_only(session) {
        return Some(Cow::Owned(User {
            username: session.username.clone(),
            id: session.user_id.clone(),
            email: session.email.clone(),
            password_hash: String::new(),
            roles: session.roles.clone(),
            disabled: false,
        }));
    }
    local_user(users, session).map(|(user, _)| Cow::Borrowed(user))
}

/// A user removed, disabled or given another id by a reload: the session
/// (and with it its refresh-token family, see `Store::rotate_refresh`) ends
/// for good, so re-enabling the user later does not revive it.
/// A store failure is only logged: the request is refused either way, and
/// the next use of the session tries again.
pub async fn end_session(store: &dyn Store, session: &SessionRecord, reason: &str) {
    match store.delete_session(&session.sid).await {
        Ok(_) => {
            tracing::info!(event = "session_revoked", username = %session.username, ip = %session.ip, reason, "session ended")
        }
        Err(e) => {
            tracing::warn!(username = %session.username, reason, error = %e, "could not end the session; refused anyway")
        }
    }
}

/// Bring a session's user fields up to date with the users file (username
/// spelling, email, roles). Nothing is allocated unless a field changed.
pub fn apply_user(session: &mut SessionRecord, user: &User) {
    if session.username != user.username {
        session.username.clone_from(&user.username);
    }
    if session.email != user.email {
        session.email.clone_from(&user.email);
    }
    if session.roles != user.roles {
        session.roles.clone_from(&user.roles);
    }
}

/// The identity a session stands for: its person as the current users
/// file describes them (`current_person`), and the session's id.
pub fn identity_of(session: &SessionRecord, person: Arc<Person>, method: AuthMethod) -> Identity {
    Identity {
        person,
        sid: Some(session.sid.clone()),
        method,
    }
}

#[cfg(test)]
mod tests;
