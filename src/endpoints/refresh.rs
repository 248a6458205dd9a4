//! `POST /auth/refresh`: rotate a refresh token (SPEC §5). Reuse of a
//! rotated token after the grace window revokes the whole family, and so
//! does a user the current users file no longer lets in (SPEC §3).

use std::time::Duration;

use serde::Deserialize;

use crate::auth::check::{apply_user, current_user, end_session};
use crate::auth::refresh::{seal, successor_token, token_hash, unseal};
use crate::auth::session::set_cookie;
use crate::endpoints::login::limit_ip;
use crate::endpoints::{json, Call};
use crate::error::{Answer, GateError};
use crate::store::{unix_now, GcraRule, RotateOutcome};

/// Refreshes per client IP: 30 a minute after a burst of 30.
const REFRESH_PER_IP: GcraRule = GcraRule {
    limit: 30,
    period: Duration::from_secs(60),
    burst: 30,
};

#[derive(Deserialize, Default)]
struct RefreshInput {
    #[serde(default)]
    refresh_token: Option<String>,
}

/// The presented token: JSON body first, else the refresh cookie.
fn presented(call: &Call<'_>) -> Result<String, GateError> {
    if !call.body.is_empty() {
        let input: RefreshInput = serde_json::from_slice(&call.body)
            .map_err(|_| GateError::BadRequest("expected a JSON object"))?;
        if let Some(t) = input.refresh_token {
            return Ok(t);
        }
    }
    let token = call
        .cookie(&call.state.config.session.refresh_cookie_name)
        .filter(|t| !t.is_empty())
        .ok_or(GateError::Unauthenticated { browser: None })?;
    // A token the browser attached by itself is a cookie credential: CSRF rules apply.
    call.check_csrf()?;
    Ok(token.to_string())
}

pub async fn post(call: &Call<'_>) -> Result<Answer, GateError> {
    limit_ip(call, REFRESH_PER_IP).await?;
    let old = presented(call)?;
    if old.len() > 256 {
        return Err(GateError::Unauthenticated { browser: None });
    }
    let cfg = &call.state.config;
    let store = call.store().await?;
    let now = unix_now();
    let fresh = successor_token(&old);
    let outcome = store
        .rotate_refresh(
            &token_hash(&old),
            &token_hash(&fresh),
            cfg.tokens.refresh_ttl,
            &seal(&fresh, &old),
            now,
            cfg.tokens.refresh_reuse_grace,
        )
        .await?;
    let (record, successor) = match outcome {
        RotateOutcome::Rotated(record) => (record, fresh),
        // Two tabs refreshing at once: the second gets the first's successor.
        RotateOutcome::Grace {
            record,
            sealed_successor,
        } => match unseal(&sealed_successor, &old) {
            Some(successor) => (record, successor),
            None => return Err(GateError::Unauthenticated { browser: None }),
        },
        RotateOutcome::Reused { user_id, .. } => {
            tracing::warn!(event = "refresh_reuse", user_id = %user_id, ip = %call.client_ip, reason = "rotated token reused; session revoked");
            return Err(GateError::Unauthenticated { browser: None });
        }
        RotateOutcome::Invalid => return Err(GateError::Unauthenticated { browser: None }),
    };
    let Some(session) = store
        .touch_session(&record.sid, now, cfg.session.idle_timeout)
        .await?
    else {
        return Err(GateError::Unauthenticated { browser: None });
    };
    // SPEC §3: the users file decides on every refresh. A user removed,
    // disabled or given another id ends this family and its session; new
    // tokens carry the current roles and email, not those of the login.
    let Some(user) = current_user(&call.live.users, &session) else {
        end_session(
            store.as_ref(),
            &session,
            "refresh by a user disabled or removed",
        )
        .await;
        return Err(GateError::Unauthenticated { browser: None });
    };
    let mut session = std::sync::Arc::unwrap_or_clone(session);
    apply_user(&mut session, &user);
    let (access, exp) = call.state.auth.tokens().mint(&session, now)?;
    call.set_user(&session.username);
    tracing::info!(event = "refresh", username = %session.username, ip = %call.client_ip, "refresh");
    let mut answer = json(serde_json::json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": exp - now,
        "refresh_token": successor,
    }));
    answer.headers.push((
        "Set-Cookie",
        set_cookie(
            &cfg.session,
            &cfg.session.refresh_cookie_name,
            &successor,
            cfg.tokens.refresh_ttl.as_secs() as i64,
        ),
    ));
    Ok(answer)
}
