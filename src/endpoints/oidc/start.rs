//! `GET /auth/oidc/<id>/start?rd=...`: the authorization request (code
//! flow, PKCE S256, fresh `state` and `nonce`). What the callback needs is
//! kept in the store under a hash of `state`, bound to this browser by a
//! short-lived pre-login cookie whose hash the record holds (SPEC §13).

use serde::{Deserialize, Serialize};

use super::{cookie_name, page, redirect_uri, sha256_hex, PRE_LOGIN_TTL};
use crate::auth::oidc::Provider;
use crate::auth::session::{new_secret, set_lax_cookie};
use crate::endpoints::login::limit_ip;
use crate::endpoints::Call;
use crate::error::{Answer, GateError};
use crate::store::GcraRule;

/// A pending login, as stored.
#[derive(Serialize, Deserialize)]
pub(super) struct Pending {
    pub provider: String,
    pub nonce: String,
    pub pkce_verifier: String,
    /// Already checked against the redirect rules.
    pub rd: String,
    /// SHA-256 of the pre-login cookie: the state is only good with it.
    pub binding: String,
}

pub(super) fn login_href(call: &Call<'_>) -> String {
    format!("{}/login", call.state.config.server.auth_prefix)
}

/// Starts per client IP and provider: each one keeps a record in the store
/// for 10 minutes, so a flood must not fill it (60 a minute after a burst
/// of 60; a person signs in a few times a day).
const STARTS_PER_IP: GcraRule = GcraRule {
    limit: 60,
    period: std::time::Duration::from_secs(60),
    burst: 60,
};

pub async fn get(call: &Call<'_>, provider: &Provider) -> Result<Answer, GateError> {
    limit_ip(call, STARTS_PER_IP).await?;
    if provider.discovered().is_none() {
        return Ok(page::unavailable(&provider.cfg.name, &login_href(call)));
    }
    let rd = call.query_rd();
    let rd = call.state.redirects.check(&rd).to_owned();
    let auth = match provider.authorize(&redirect_uri(call, provider)) {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(provider = %provider.cfg.id, error = %e, "oidc start failed");
            return Ok(page::unavailable(&provider.cfg.name, &login_href(call)));
        }
    };
    let secret = new_secret();
    let pending = Pending {
        provider: provider.cfg.id.clone(),
        nonce: auth.nonce,
        pkce_verifier: auth.pkce_verifier,
        rd,
        binding: sha256_hex(&[&secret]),
    };
    let value = serde_json::to_string(&pending).map_err(GateError::internal)?;
    let store = call.store().await?;
    store
        .put_pending_login(&sha256_hex(&[&auth.state]), &value, PRE_LOGIN_TTL)
        .await?;
    let s = &call.state.config.session;
    Ok(Answer {
        status: 302,
        headers: vec![
            ("Location", auth.url),
            (
                "Set-Cookie",
                set_lax_cookie(
                    s,
                    &cookie_name(call.state),
                    &secret,
                    PRE_LOGIN_TTL.as_secs() as i64,
                ),
            ),
        ],
        body: String::new(),
    })
}
