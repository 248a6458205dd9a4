//! The endpoints the gateway serves itself (SPEC §4): login, refresh,
//! logout, me, sessions, TOTP enrolment, JWKS, health. `dispatch` runs before routing; a
//! request it does not claim goes on to the proxy pipeline.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use bytes::{Bytes, BytesMut};
use http::Method;
use pingora::http::RequestHeader;
use pingora::proxy::Session;

use crate::auth::check::{AuthOutcome, Credentials, Directory};
use crate::auth::session::request_cookie;
use crate::auth::{AuthMethod, Identity};
use crate::error::{Answer, GateError};
use crate::policy::csrf::{check_origin, is_unsafe};
use crate::policy::host::RequestHost;
use crate::policy::NormalizedPath;
use crate::state::{AppState, Live};
use crate::store::Store;

mod account;
mod forms;
mod health;
mod history;
mod jwks;
mod login;
mod logout;
mod me;
pub mod oidc;
mod password;
mod refresh;
mod sessions;
mod totp;
pub mod verify;

/// Largest request body the gateway reads for its own endpoints.
const MAX_BODY: usize = 16 * 1024;

/// Which gateway endpoint a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Login,
    Refresh,
    Logout,
    Me,
    Sessions,
    Session,
    TotpEnroll,
    TotpConfirm,
    /// The pages (SPEC §14): stylesheet, account page and its forms,
    /// password change, sign-in history.
    Stylesheet,
    Account,
    AccountRevoke,
    AccountLogoutAll,
    AccountTotpEnroll,
    AccountTotpConfirm,
    Password,
    History,
    Jwks,
    Health,
    Ready,
    /// Forward-auth: `/auth/verify` and `/auth/ext-authz/...` (SPEC §10).
    ForwardAuth(verify::Kind),
    /// `/auth/oidc/<id>/...` (SPEC §13).
    Oidc(oidc::Action),
}

/// One call to a gateway endpoint, with its body already read.
pub struct Call<'a> {
    pub state: &'a AppState,
    pub live: &'a Live,
    pub req: &'a RequestHeader,
    /// Normalised path.
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub body: Bytes,
    pub client_ip: String,
    pub tls: bool,
    /// The normalised Host (`policy::host`), as the gate read it.
    pub host: Option<&'a RequestHost>,
    /// The request's credentials, read once and unambiguous (see
    /// `auth::check::credentials`).
    pub creds: Credentials<'a>,
    /// Who the endpoint served (signed in, verified, or decided for), for
    /// the access log; the first one set stays. Never a credential.
    user: OnceLock<String>,
}

/// What the proxy knows of a request before it reaches an endpoint.
#[derive(Clone, Copy)]
pub struct Asked<'a> {
    /// The normalised target.
    pub path: &'a NormalizedPath,
    /// The normalised Host (None: HTTP/1.0 without one).
    pub host: Option<&'a RequestHost>,
    pub client_ip: Option<IpAddr>,
    pub tls: bool,
    /// Whether the socket peer is in `trusted_proxies` (forward-auth).
    pub peer_trusted: bool,
}

impl<'a> Asked<'a> {
    pub fn new(
        path: &'a NormalizedPath,
        host: Option<&'a RequestHost>,
        client_ip: Option<IpAddr>,
        tls: bool,
        peer_trusted: bool,
    ) -> Self {
        Asked {
            path,
            host,
            client_ip,
            tls,
            peer_trusted,
        }
    }
}

/// What the access log learns from `dispatch`, answer or refusal.
#[derive(Debug, Default)]
pub struct Served {
    /// The request was for a gateway endpoint.
    pub claimed: bool,
    /// Whom the endpoint served (signed in, verified, decided for).
    pub user: Option<String>,
}

/// Serve the request if it is for a gateway endpoint. `Ok(None)`: not ours.
/// A refusal comes back as `Err`, to leave through `respond::fail` like
/// every other.
pub async fn dispatch(
    session: &mut Session,
    state: &AppState,
    live: &Arc<Live>,
    asked: Asked<'_>,
    served: &mut Served,
) -> Result<Option<Answer>, GateError> {
    let prefix = &state.config.server.auth_prefix;
    let raw = session.req_header().raw_path();
    let Some(endpoint) = route_raw(prefix, raw).or_else(|| route(prefix, &asked.path.path)) else {
        return Ok(None);
    };
    served.claimed = true;
    let method = session.req_header().method.clone();
    if !allowed(endpoint, &method) {
        let mut answer = GateError::MethodNotAllowed.answer();
        answer
            .headers
            .push(("Allow", allow_list(endpoint).to_string()));
        return Ok(Some(answer));
    }
    let body = read_body(session).await?;
    let req = session.req_header();
    // Two Authorization headers, two refresh or CSRF cookies, ...: 400 on
    // every endpoint, before any of them reads one (issue 10, point 4).
    let creds = state.auth.credentials(&req.headers)?;
    let call = Call {
        state,
        live,
        req,
        path: &asked.path.path,
        query: asked.path.query.as_deref(),
        body,
        client_ip: asked.client_ip.map(|ip| ip.to_string()).unwrap_or_default(),
        tls: asked.tls,
        host: asked.host,
        creds,
        user: OnceLock::new(),
    };
    let answer = serve(&call, endpoint, asked).await;
    served.user = call.user.into_inner();
    answer.map(Some)
}

/// One endpoint's answer.
async fn serve(call: &Call<'_>, endpoint: Endpoint, asked: Asked<'_>) -> Result<Answer, GateError> {
    let method = &call.req.method;
    Ok(match endpoint {
        Endpoint::Login if method == Method::POST => login::post(call).await?,
        Endpoint::Login => login::page(call)?,
        Endpoint::Stylesheet => crate::pages::stylesheet(),
        Endpoint::Account => account::page(call).await?,
        Endpoint::AccountRevoke => account::revoke(call).await?,
        Endpoint::AccountLogoutAll => account::logout_all(call).await?,
        Endpoint::AccountTotpEnroll => account::totp_enroll(call).await?,
        Endpoint::AccountTotpConfirm => account::totp_confirm(call).await?,
        Endpoint::Password => password::post(call).await?,
        Endpoint::History => history::get(call).await?,
        Endpoint::Refresh => refresh::post(call).await?,
        Endpoint::Logout => logout::post(call).await?,
        Endpoint::Me => me::get(call).await?,
        Endpoint::Sessions => sessions::list(call).await?,
        Endpoint::Session => sessions::delete(call).await?,
        Endpoint::TotpEnroll => totp::enroll(call).await?,
        Endpoint::TotpConfirm => totp::confirm(call).await?,
        Endpoint::Jwks => jwks::get(call),
        Endpoint::Health => health::live(),
        Endpoint::Ready => health::ready(call).await,
        Endpoint::ForwardAuth(kind) => verify::verify(call, asked, kind).await?,
        Endpoint::Oidc(action) => oidc::serve(call, action).await?,
    })
}

/// Envoy's check target is recognised before normalisation: a `..` after
/// the prefix (`/auth/ext-authz/%2e%2e/x`) would otherwise normalise out of
/// it (to `/auth/x`), be proxied to whichever route matches that, and an
/// upstream's 2xx would read to Envoy as an allow. Read raw, the described
/// path is refused by its own normalisation instead (SPEC §10).
fn route_raw(prefix: &str, raw: &[u8]) -> Option<Endpoint> {
    let rest = raw.strip_prefix(prefix.as_bytes())?;
    rest.starts_with(b"/ext-authz/")
        .then_some(Endpoint::ForwardAuth(verify::Kind::ExtAuthz))
}

/// Exact paths only: no header or prefix trick opens an endpoint (SPEC §7).
fn route(prefix: &str, path: &str) -> Option<Endpoint> {
    match path {
        "/healthz" => return Some(Endpoint::Health),
        "/readyz" => return Some(Endpoint::Ready),
        "/.well-known/jwks.json" => return Some(Endpoint::Jwks),
        _ => {}
    }
    let rest = path.strip_prefix(prefix)?;
    Some(match rest {
        "/login" => Endpoint::Login,
        "/refresh" => Endpoint::Refresh,
        "/logout" => Endpoint::Logout,
        "/me" => Endpoint::Me,
        "/sessions" => Endpoint::Sessions,
        "/totp/enroll" => Endpoint::TotpEnroll,
        "/totp/confirm" => Endpoint::TotpConfirm,
        "/static/gatehouse.css" => Endpoint::Stylesheet,
        "/account" => Endpoint::Account,
        "/account/sessions/revoke" => Endpoint::AccountRevoke,
        "/account/logout-all" => Endpoint::AccountLogoutAll,
        "/account/totp/enroll" => Endpoint::AccountTotpEnroll,
        "/account/totp/confirm" => Endpoint::AccountTotpConfirm,
        "/password" => Endpoint::Password,
        "/history" => Endpoint::History,
        "/verify" => Endpoint::ForwardAuth(verify::Kind::Verify),
        _ if rest.starts_with("/ext-authz/") => Endpoint::ForwardAuth(verify::Kind::ExtAuthz),
        _ if rest.starts_with("/oidc/") => Endpoint::Oidc(oidc::route(rest)?),
        _ => {
            let id = rest.strip_prefix("/sessions/")?;
            if id.is_empty() || id.contains('/') {
                return None;
            }
            Endpoint::Session
        }
    })
}

fn allowed(e: Endpoint, m: &Method) -> bool {
    // Any method for forward-auth: Envoy's check request carries the
    // original's. Otherwise exactly what a 405 would list in `Allow`.
    matches!(e, Endpoint::ForwardAuth(_)) || allow_list(e).split(", ").any(|a| a == m.as_str())
}

fn allow_list(e: Endpoint) -> &'static str {
    match e {
        Endpoint::Login => "GET, HEAD, POST",
        Endpoint::Refresh
        | Endpoint::Logout
        | Endpoint::TotpEnroll
        | Endpoint::TotpConfirm
        | Endpoint::AccountRevoke
        | Endpoint::AccountLogoutAll
        | Endpoint::AccountTotpEnroll
        | Endpoint::AccountTotpConfirm
        | Endpoint::Password => "POST",
        Endpoint::Session => "DELETE",
        Endpoint::Oidc(oidc::Action::BackchannelLogout) => "POST",
        _ => "GET, HEAD",
    }
}

/// Read the whole (small) body; larger than `MAX_BODY` is 413.
async fn read_body(session: &mut Session) -> Result<Bytes, GateError> {
    let mut buf = BytesMut::new();
    loop {
        match session.read_request_body().await {
            Ok(Some(chunk)) => {
                if buf.len() + chunk.len() > MAX_BODY {
                    return Err(GateError::PayloadTooLarge);
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(buf.freeze()),
            Err(_) => return Err(GateError::BadRequest("unreadable request body")),
        }
    }
}

impl Call<'_> {
    /// The store, or 503.
    pub async fn store(&self) -> Result<&Arc<dyn Store>, GateError> {
        self.state.store().await.map_err(GateError::from)
    }

    /// The caller's identity from the session cookie or bearer token.
    pub async fn identity(&self) -> Result<Option<Identity>, GateError> {
        let store = self.store().await?;
        let current = Directory {
            users: &self.live.users,
            roles: self.live.policy.roles.names(),
        };
        let outcome = self
            .state
            .auth
            .authenticate(self.creds, current, store.as_ref())
            .await?;
        Ok(match outcome {
            AuthOutcome::Authenticated(id) => {
                self.set_user(&id.username);
                Some(id)
            }
            AuthOutcome::Anonymous | AuthOutcome::Refused(_) => None,
        })
    }

    /// Record whom this call served, for the access log (the first wins).
    pub fn set_user(&self, username: &str) {
        if self.user.get().is_none() {
            let _ = self.user.set(username.to_owned());
        }
    }

    /// The caller's identity, or 401; for cookie credentials on an unsafe
    /// method, also the CSRF origin check (403).
    pub async fn require_identity(&self) -> Result<Identity, GateError> {
        let id = self
            .identity()
            .await?
            .ok_or(GateError::Unauthenticated { browser: None })?;
        if id.method == AuthMethod::Cookie {
            self.check_csrf()?;
        }
        Ok(id)
    }

    /// `require_identity` for endpoints that act on the caller's own user
    /// account (sessions, logout, TOTP): an API key stands for a service,
    /// not a user, and a trusted IdP's token (no `sid`) for an account
    /// gatehouse does not hold, so both get 403.
    pub async fn require_user(&self) -> Result<Identity, GateError> {
        let id = self.require_identity().await?;
        if id.method == AuthMethod::ApiKey || id.sid.is_none() {
            return Err(GateError::Forbidden);
        }
        Ok(id)
    }

    /// SPEC §6 CSRF check for an unsafe method carried by a cookie.
    pub fn check_csrf(&self) -> Result<(), GateError> {
        if !is_unsafe(&self.req.method) {
            return Ok(());
        }
        check_origin(
            &self.req.headers,
            self.state.config.server.public_origin.as_deref(),
            &self.own_origin(),
        )
    }

    /// `scheme://host[:port]` the client addressed, host normalised as for
    /// routing; empty without a Host (then only `public_url`'s origin
    /// passes the CSRF check).
    /// The `rd` query parameter, unchecked ("/" when absent): callers pass
    /// it through `redirects.check` (SPEC §4).
    pub fn query_rd(&self) -> String {
        self.query
            .and_then(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .find(|(k, _)| k == "rd")
                    .map(|(_, v)| v.into_owned())
            })
            .unwrap_or_else(|| "/".to_owned())
    }

    pub fn own_origin(&self) -> String {
        self.host.map(|h| h.origin(self.tls)).unwrap_or_default()
    }

    /// A cookie sent with the request. Our own cookies were already refused
    /// by `dispatch` when sent twice with different values; any other name
    /// sent so reads as absent.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        request_cookie(&self.req.headers, name).ok().flatten()
    }

    /// A request header as text, if present and valid.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.req.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Whether the body is JSON (`application/json` or `+json`).
    pub fn is_json(&self) -> bool {
        self.header("content-type").is_some_and(|ct| {
            let ct = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            ct == "application/json" || (ct.starts_with("application/") && ct.ends_with("+json"))
        })
    }

    /// Whether the body is form-encoded (else JSON is expected).
    pub fn is_form(&self) -> bool {
        self.header("content-type")
            .map(|ct| {
                ct.to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            })
            .unwrap_or(false)
    }
}

/// A 200 JSON answer.
pub fn json(value: serde_json::Value) -> Answer {
    Answer {
        status: 200,
        headers: Vec::new(),
        body: value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_match_exact_paths_only() {
        let cases = [
            ("/healthz", Some(Endpoint::Health)),
            ("/healthz/", None),
            ("/healthzx", None),
            ("/readyz", Some(Endpoint::Ready)),
            ("/auth/login", Some(Endpoint::Login)),
            ("/auth/login/", None),
            ("/auth/loginx", None),
            ("/auth/sessions", Some(Endpoint::Sessions)),
            ("/auth/sessions/abc", Some(Endpoint::Session)),
            ("/auth/sessions/", None),
            ("/auth/sessions/a/b", None),
            ("/auth/totp/enroll", Some(Endpoint::TotpEnroll)),
            ("/auth/totp/confirm", Some(Endpoint::TotpConfirm)),
            ("/auth/totp", None),
            ("/auth/totp/enroll/", None),
            ("/auth/static/gatehouse.css", Some(Endpoint::Stylesheet)),
            ("/auth/static/other.css", None),
            ("/auth/account", Some(Endpoint::Account)),
            ("/auth/account/", None),
            (
                "/auth/account/sessions/revoke",
                Some(Endpoint::AccountRevoke),
            ),
            ("/auth/password", Some(Endpoint::Password)),
            ("/auth/history", Some(Endpoint::History)),
            ("/auth", None),
            ("/authx/login", None),
            ("/.well-known/jwks.json", Some(Endpoint::Jwks)),
            ("/app/healthz", None),
            (
                "/auth/verify",
                Some(Endpoint::ForwardAuth(verify::Kind::Verify)),
            ),
            ("/auth/verify/", None),
            ("/auth/verifyx", None),
            (
                "/auth/ext-authz/",
                Some(Endpoint::ForwardAuth(verify::Kind::ExtAuthz)),
            ),
            (
                "/auth/ext-authz/admin/x",
                Some(Endpoint::ForwardAuth(verify::Kind::ExtAuthz)),
            ),
            ("/auth/ext-authz", None),
            ("/auth/ext-authzx/y", None),
        ];
        for (path, want) in cases {
            assert_eq!(route("/auth", path), want, "{path}");
        }
    }

    /// A `..` after the ext-authz prefix must not normalise the check
    /// request out of the endpoint (and onto a proxied route).
    #[test]
    fn ext_authz_is_recognised_on_the_raw_target() {
        let ext = Some(Endpoint::ForwardAuth(verify::Kind::ExtAuthz));
        let cases: &[(&[u8], Option<Endpoint>)] = &[
            (b"/auth/ext-authz/app/x", ext),
            (b"/auth/ext-authz/%2e%2e/admin", ext),
            (b"/auth/ext-authz/../admin", ext),
            (b"/auth/ext-authz", None),
            (b"/auth/ext-authzx/a", None),
            (b"/auth/verify", None),
            (b"/x/../auth/ext-authz/a", None),
            (b"/authx/ext-authz/a", None),
        ];
        for (raw, want) in cases {
            assert_eq!(
                route_raw("/auth", raw),
                *want,
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
    }
}
