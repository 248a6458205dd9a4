//! `POST /auth/oidc/<id>/backchannel-logout` (OpenID Connect Back-Channel
//! Logout 1.0): a valid logout token whose `jti` was never seen ends, at
//! once, every gatehouse session of that provider session (`sid`; with
//! `sub` too, only the sessions of that subject) or, with `sub` alone, of
//! that subject. Ending a session is `delete_session`, as a local logout
//! does, so cookies and JWTs of those sessions are refused on the next
//! request. 200 accepted, 400 `{"error":"invalid_request"}` otherwise.

use crate::auth::oidc::logout_token::{self, LogoutTokenError, MAX_AGE_SECS};
use crate::auth::oidc::Provider;
use crate::auth::tokens::TokenError;
use crate::endpoints::Call;
use crate::error::{Answer, GateError};
use crate::store::{unix_now, ProviderKey};

fn invalid() -> Answer {
    Answer {
        status: 400,
        headers: vec![("Content-Type", "application/json".to_string())],
        body: r#"{"error":"invalid_request"}"#.to_string(),
    }
}

pub async fn post(call: &Call<'_>, provider: &Provider) -> Result<Answer, GateError> {
    let token = if call.is_form() {
        form_urlencoded::parse(&call.body)
            .find(|(k, _)| k == "logout_token")
            .map(|(_, v)| v.into_owned())
    } else {
        None
    };
    let Some(token) = token else {
        return Ok(invalid());
    };
    let Some(d) = provider.discovered() else {
        // Without the provider's keys nothing can be verified.
        return Ok(Answer {
            status: 503,
            headers: vec![("Content-Type", "application/json".to_string())],
            body: r#"{"error":"unavailable"}"#.to_string(),
        });
    };
    let now = unix_now();
    let mut checked = logout_token::check(&provider.cfg, &d.logout_keys, &token, now);
    if matches!(
        checked,
        Err(LogoutTokenError::Token(TokenError::UnknownKid))
    ) {
        if let Ok(fresh) = provider.refresh_keys().await {
            checked = logout_token::check(&provider.cfg, &fresh.logout_keys, &token, now);
        }
    }
    let request = match checked {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(provider = %provider.cfg.id, error = %e, "logout token refused");
            return Ok(invalid());
        }
    };
    let store = call.store().await?;
    let jti_key = format!("jti:{}:{}", provider.cfg.id, request.jti);
    let ttl = std::time::Duration::from_secs((MAX_AGE_SECS * 2) as u64);
    if !store.first_use(&jti_key, ttl).await? {
        tracing::info!(provider = %provider.cfg.id, "logout token replayed");
        return Ok(invalid());
    }
    let id = &provider.cfg.id;
    let sessions = match (&request.sid, &request.sub) {
        (Some(sid), _) => store.provider_sessions(id, ProviderKey::Sid(sid)).await?,
        (None, Some(sub)) => store.provider_sessions(id, ProviderKey::Sub(sub)).await?,
        (None, None) => Vec::new(),
    };
    let mut ended = 0usize;
    for (sid, _user) in sessions {
        if let (Some(_), Some(sub)) = (&request.sid, &request.sub) {
            // Both: only the sessions of that subject.
            let Some(rec) = store.get_session(&sid).await? else {
                continue;
            };
            if rec.oidc.as_ref().map(|o| o.sub.as_str()) != Some(sub.as_str()) {
                continue;
            }
        }
        if store.delete_session(&sid).await? {
            ended += 1;
        }
    }
    tracing::info!(event = "session_revoked", provider = %id, ended, reason = "back-channel logout", "provider logout");
    Ok(Answer {
        status: 200,
        headers: vec![("Cache-Control", "no-store".to_string())],
        body: String::new(),
    })
}
