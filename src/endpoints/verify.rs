//! Forward-auth (SPEC §10): deciding for a front proxy. nginx, Traefik,
//! Caddy, HAProxy or Envoy describe the request they hold; the description
//! is believed only from `trusted_proxies`, read strictly
//! (`policy::described`), and decided by the very same `decision::decide`
//! as a proxied request. Nothing is forwarded.

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

use crate::decision::{decide, Decision, RequestView, Seen};
use crate::endpoints::{Asked, Call};
use crate::error::{limit_headers, Answer, GateError};
use crate::policy::described::{describe_ext_authz, describe_verify, Described, Style};
use crate::state::AppState;

/// Which of the two forward-auth endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `/auth/verify`: the description is in headers.
    Verify,
    /// `/auth/ext-authz/<original path>` (Envoy).
    ExtAuthz,
}

/// Decide for the described request: 200 with the identity headers, or
/// SPEC §6's refusal (a browser without credentials is sent to the login
/// page with the absolute original URL as `rd`).
/// The raw target is `call`'s: ext-authz takes the original path from
/// after its literal prefix (a `#` was already refused by the
/// normalisation). The user decided for goes to the access log.
pub async fn verify(call: &Call<'_>, asked: Asked<'_>, kind: Kind) -> Result<Answer, GateError> {
    let (state, live) = (call.state, call.live);
    let (method, headers) = (&call.req.method, &call.req.headers);
    let raw_target = call.req.raw_path();
    if !state.config.forward_auth.enabled {
        return Err(GateError::NotFound);
    }
    // Anyone else could describe any request as anything (SPEC §10).
    if !asked.peer_trusted {
        return Err(GateError::Forbidden);
    }
    let extra = &live.policy.extra_methods;
    let (described, style) = match kind {
        Kind::Verify => describe_verify(headers, extra)?,
        Kind::ExtAuthz => {
            let prefix = format!("{}/ext-authz", state.config.server.auth_prefix);
            let d = describe_ext_authz(method, headers, raw_target, &prefix, extra, asked.tls)?;
            (d, Style::XForwarded)
        }
    };
    let view = RequestView {
        method: &described.method,
        host: Some(&described.host),
        path: &described.target,
        headers,
        client_ip: asked.client_ip,
        tls: described.tls,
    };
    let mut seen = Seen::default();
    let decided = decide(state, live, &view, &mut seen).await;
    if let Some(id) = &seen.identity {
        call.set_user(&id.username);
    }
    match decided {
        Ok(decision) => Ok(allowed(state, &decision)),
        Err(GateError::Unauthenticated { browser: None }) if view.is_browser_navigation() => {
            Ok(to_login(state, &described, style))
        }
        Err(e) => Err(e),
    }
}

/// 200, empty, with all three identity headers always present (empty on a
/// public route or for a user without email), so a front proxy that copies
/// them overwrites whatever the client sent; and the rate-limit numbers.
fn allowed(state: &AppState, decision: &Decision) -> Answer {
    let values = match decision.permit.identity() {
        Some(id) => id.header_values().clone(),
        None => [None, None, None],
    };
    let mut headers: Vec<(&'static str, String)> = state
        .identity_names
        .0
        .into_iter()
        .zip(values)
        .map(|(name, value)| {
            let text = value.and_then(|v| v.to_str().ok().map(str::to_owned));
            (name, text.unwrap_or_default())
        })
        .collect();
    if let Some(info) = &decision.limit {
        headers.extend(limit_headers(info, false));
    }
    Answer {
        status: 200,
        headers,
        body: String::new(),
    }
}

/// A browser without credentials: to the login page on `public_url`'s
/// origin (else the described one), `rd` the absolute original URL. nginx's
/// `auth_request` cannot pass a 302 on, so the `X-Original-*` style gets
/// 401 with the same `Location` (the README's `error_page 401` lines turn
/// it into the redirect).
fn to_login(state: &AppState, d: &Described, style: Style) -> Answer {
    let scheme = if d.tls { "https" } else { "http" };
    let original = format!(
        "{scheme}://{}{}",
        d.host.authority(),
        d.target.path_and_query()
    );
    let base = state
        .config
        .server
        .public_origin
        .clone()
        .unwrap_or_else(|| d.host.origin(d.tls));
    let rd = utf8_percent_encode(&original, NON_ALPHANUMERIC);
    let prefix = &state.config.server.auth_prefix;
    let location = format!("{base}{prefix}/login?rd={rd}");
    match style {
        Style::XForwarded => Answer {
            status: 302,
            headers: vec![("Location", location)],
            body: String::new(),
        },
        Style::XOriginal => {
            let mut answer = GateError::Unauthenticated { browser: None }.answer();
            answer.headers.push(("Location", location));
            answer
        }
    }
}
