//! `POST /auth/password` (SPEC §14): a signed-in user changes their
//! password, JSON `{"current","new"}` (+ `"totp"` with TOTP active) or the
//! account page's form. The new password must pass `[passwords]`; its
//! argon2id hash is kept in the store and wins over the users file's hash
//! until that hash changes (an operator's reset). Every other session of
//! the user ends.

use std::time::Duration;

use serde::Deserialize;

use crate::auth::password::{effective_hash, file_hash_digest, hash_password};
use crate::auth::password_policy::Rule;
use crate::auth::totp::{self, SecondFactor};
use crate::auth::Identity;
use crate::endpoints::account::{self, Extras};
use crate::endpoints::forms::{see_other, Form};
use crate::endpoints::login::{self, limit_ip};
use crate::endpoints::{json, Call};
use crate::error::{Answer, GateError};
use crate::store::{unix_now, GcraRule, PasswordRecord};

/// Password changes per client IP: each checks a password.
const CHANGE_PER_IP: GcraRule = GcraRule {
    limit: 10,
    period: Duration::from_secs(60),
    burst: 10,
};

#[derive(Deserialize, Default)]
struct ChangeInput {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    totp: Option<String>,
}

/// Why a change was refused.
enum Refusal {
    Weak(Rule),
    Gate(GateError),
}

impl From<GateError> for Refusal {
    fn from(e: GateError) -> Self {
        Refusal::Gate(e)
    }
}

pub async fn post(call: &Call<'_>) -> Result<Answer, GateError> {
    let id = call.require_user().await?;
    let form = call.is_form();
    let input = if form {
        let f = Form::read(call)?;
        f.check_token(call)?;
        ChangeInput {
            current: f.get("current").to_owned(),
            new: f.get("new").to_owned(),
            totp: Some(f.get("totp").to_owned()).filter(|t| !t.is_empty()),
        }
    } else if call.is_json() {
        serde_json::from_slice(&call.body)
            .map_err(|_| GateError::BadRequest("expected a JSON object with current and new"))?
    } else {
        return Err(GateError::BadRequest("send application/json or a form"));
    };
    limit_ip(call, CHANGE_PER_IP).await?;
    let policy = &call.state.config.passwords;
    match change(call, &id, input).await {
        Ok(ended) if form => {
            let _ = ended;
            Ok(see_other(format!(
                "{}/account?msg=password",
                call.state.config.server.auth_prefix
            )))
        }
        Ok(ended) => Ok(json(
            serde_json::json!({ "changed": true, "sessions_ended": ended }),
        )),
        Err(Refusal::Weak(rule)) if form => {
            let extras = Extras {
                error: Some(format!(
                    "Your password was not changed: {}.",
                    policy.message(rule)
                )),
                ..Extras::default()
            };
            account::render(call, &id, extras, 422).await
        }
        Err(Refusal::Weak(rule)) => Ok(Answer {
            status: 422,
            headers: Vec::new(),
            body: serde_json::json!({
                "error": "weak_password",
                "rule": rule.code(),
                "message": policy.message(rule),
            })
            .to_string(),
        }),
        Err(Refusal::Gate(e @ (GateError::BadLogin | GateError::MfaRequired))) if form => {
            let why = if matches!(e, GateError::BadLogin) {
                "the current password is wrong"
            } else {
                "enter the current one-time code"
            };
            let extras = Extras {
                error: Some(format!("Your password was not changed: {why}.")),
                ..Extras::default()
            };
            account::render(call, &id, extras, 401).await
        }
        Err(Refusal::Gate(e)) => Err(e),
    }
}

/// Check, hash, keep, and end the other sessions; how many ended.
async fn change(call: &Call<'_>, id: &Identity, input: ChangeInput) -> Result<usize, Refusal> {
    let store = call.store().await?;
    // Only local users have a password here (not an IdP's).
    let user = call
        .live
        .users
        .get(&id.username)
        .filter(|u| u.id == id.user_id)
        .cloned()
        .ok_or(GateError::Forbidden)?;
    let own = store
        .get_password(&user.id)
        .await
        .map_err(GateError::from)?;
    let mut checked = user.clone();
    checked.password_hash = effective_hash(&user.password_hash, own.as_ref()).to_string();
    let fail_key = login::failure_key(&user.username);
    if login::verify(Some(checked), input.current).await?.is_none() {
        // Counted like a failed login: a stolen session buys no more
        // guesses at the password than the login form does.
        login::failed(call, &fail_key, &user.username, "bad current password").await?;
        return Err(GateError::BadLogin.into());
    }
    let second = totp::check_login(store.as_ref(), &user.id, input.totp.as_deref(), unix_now())
        .await
        .map_err(GateError::from)?;
    if matches!(second, SecondFactor::Missing | SecondFactor::Invalid) {
        return Err(GateError::MfaRequired.into());
    }
    let policy = &call.state.config.passwords;
    policy
        .check(&input.new, &[&user.username, &user.email])
        .map_err(Refusal::Weak)?;
    let new = input.new;
    let hash = tokio::task::spawn_blocking(move || hash_password(&new))
        .await
        .map_err(GateError::internal)?
        .map_err(GateError::internal)?;
    let record = PasswordRecord {
        hash,
        replaces: file_hash_digest(&user.password_hash),
    };
    store
        .set_password(&user.id, &record)
        .await
        .map_err(GateError::from)?;
    let mut ended = 0;
    for s in store
        .list_sessions(&user.id)
        .await
        .map_err(GateError::from)?
    {
        if id.sid.as_deref() != Some(s.sid.as_str())
            && store
                .delete_session(&s.sid)
                .await
                .map_err(GateError::from)?
        {
            ended += 1;
        }
    }
    tracing::info!(event = "password_changed", username = %user.username, ip = %call.client_ip, sessions_ended = ended, "password changed");
    if ended > 0 {
        tracing::info!(event = "session_revoked", username = %user.username, ip = %call.client_ip, count = ended, reason = "password changed", "sessions revoked");
    }
    Ok(ended)
}
