//! The OpenID Connect endpoints (SPEC §13), per provider:
//! `GET /auth/oidc/<id>/start`, `GET /auth/oidc/<id>/callback` and
//! `POST /auth/oidc/<id>/backchannel-logout`; and the login page's
//! provider buttons.

mod backchannel;
mod callback;
mod page;
mod start;

use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::auth::oidc::Provider;
use crate::endpoints::Call;
use crate::error::{Answer, GateError};
use crate::state::AppState;

/// Lifetime of a pending login: its pre-login cookie and store record.
pub const PRE_LOGIN_TTL: std::time::Duration = std::time::Duration::from_secs(600);

/// Which provider endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Start,
    Callback,
    BackchannelLogout,
}

/// `/oidc/<id>/<action>` after the auth prefix.
pub fn route(rest: &str) -> Option<Action> {
    let (_, action) = split(rest)?;
    Some(action)
}

fn split(rest: &str) -> Option<(&str, Action)> {
    let tail = rest.strip_prefix("/oidc/")?;
    let (id, action) = tail.split_once('/')?;
    if id.is_empty() || id.contains('/') {
        return None;
    }
    let action = match action {
        "start" => Action::Start,
        "callback" => Action::Callback,
        "backchannel-logout" => Action::BackchannelLogout,
        _ => return None,
    };
    Some((id, action))
}

pub async fn serve(call: &Call<'_>, action: Action) -> Result<Answer, GateError> {
    let rest = call
        .path
        .strip_prefix(call.state.config.server.auth_prefix.as_str())
        .unwrap_or("");
    let (id, _) = split(rest).ok_or(GateError::NotFound)?;
    let provider = call.state.oidc.get(id).ok_or(GateError::NotFound)?.clone();
    match action {
        Action::Start => start::get(call, &provider).await,
        Action::Callback => callback::get(call, &provider).await,
        Action::BackchannelLogout => backchannel::post(call, &provider).await,
    }
}

/// One login-page button: a provider and whether it can be used now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    pub id: String,
    pub name: String,
    pub available: bool,
}

/// The login page's provider buttons, in config order.
pub fn buttons(state: &AppState) -> Vec<Button> {
    state
        .oidc
        .all()
        .iter()
        .map(|p| Button {
            id: p.cfg.id.clone(),
            name: p.cfg.name.clone(),
            available: p.discovered().is_some(),
        })
        .collect()
}

/// `scheme://host[:port]` the browser sees the gateway at.
fn origin(call: &Call<'_>) -> String {
    call.state
        .config
        .server
        .public_origin
        .clone()
        .unwrap_or_else(|| call.own_origin())
}

/// The callback URL registered at the provider.
fn redirect_uri(call: &Call<'_>, provider: &Provider) -> String {
    format!(
        "{}{}/oidc/{}/callback",
        origin(call),
        call.state.config.server.auth_prefix,
        provider.cfg.id
    )
}

/// Where the provider sends the browser after RP-initiated logout.
pub fn post_logout_uri(call: &Call<'_>, provider: &Provider) -> String {
    let target = &provider.cfg.post_logout_redirect;
    if target.starts_with('/') {
        format!("{}{target}", origin(call))
    } else {
        target.clone()
    }
}

/// The pre-login cookie's name.
fn cookie_name(state: &AppState) -> String {
    format!("{}-oidc", state.config.session.cookie_name)
}

fn sha256_hex(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

/// The end-session URL of the provider a session came from, if it has one.
pub fn end_session_url(
    call: &Call<'_>,
    origin: Option<&crate::store::ProviderLogin>,
) -> Option<String> {
    let o = origin?;
    let provider: &Arc<Provider> = call.state.oidc.get(&o.provider)?;
    provider.end_session_url(&o.id_token, &post_logout_uri(call, provider))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route("/oidc/corp/start"), Some(Action::Start));
        assert_eq!(route("/oidc/corp/callback"), Some(Action::Callback));
        assert_eq!(
            route("/oidc/corp/backchannel-logout"),
            Some(Action::BackchannelLogout)
        );
        for bad in [
            "/oidc//start",
            "/oidc/corp",
            "/oidc/corp/start/",
            "/oidc/a/b/start",
            "/oidcx/a/start",
        ] {
            assert_eq!(route(bad), None, "{bad}");
        }
    }
}
