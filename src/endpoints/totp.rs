//! `POST /auth/totp/enroll` and `POST /auth/totp/confirm` (SPEC §4): a
//! signed-in user starts TOTP enrolment (a pending secret, kept
//! `PENDING_TTL`), then confirms it with a current code, which activates it
//! and hands out the backup codes, once. Resetting active TOTP is an
//! operator's job (`gatehouse user totp-reset`): re-enrolling over it would
//! let a stolen session replace the user's second factor.

use std::time::Duration;

use serde::Deserialize;

use crate::auth::totp;
use crate::auth::Identity;
use crate::endpoints::login::limit_ip;
use crate::endpoints::{json, Call};
use crate::error::{Answer, GateError};
use crate::store::{unix_now, GcraRule};

/// How long an enrolment may wait for its confirming code.
pub const PENDING_TTL: Duration = Duration::from_secs(10 * 60);
/// Enrolment calls per client IP: confirm takes a code, so guesses are
/// limited like logins.
const TOTP_PER_IP: GcraRule = GcraRule {
    limit: 10,
    period: Duration::from_secs(60),
    burst: 10,
};

#[derive(Deserialize)]
struct ConfirmInput {
    code: String,
}

pub async fn enroll(call: &Call<'_>) -> Result<Answer, GateError> {
    let id = call.require_user().await?;
    let (secret, uri) = start(call, &id).await?;
    Ok(json(serde_json::json!({
        "secret": secret,
        "otpauth_uri": uri,
        "expires_in": PENDING_TTL.as_secs(),
    })))
}

/// Start an enrolment for a signed-in user: the pending secret and its
/// `otpauth://` URI (also the account page's form).
pub(super) async fn start(call: &Call<'_>, id: &Identity) -> Result<(String, String), GateError> {
    limit_ip(call, TOTP_PER_IP).await?;
    let store = call.store().await?;
    let secret = totp::new_secret();
    let started = store.begin_totp(&id.user_id, &secret, PENDING_TTL).await?;
    if !started {
        return Err(GateError::BadRequest(
            "TOTP is already active; an administrator can reset it",
        ));
    }
    tracing::info!(event = "totp_enroll", username = %id.username, ip = %call.client_ip, "TOTP enrolment started");
    let uri = totp::otpauth_uri(&call.state.config.tokens.issuer, &id.username, &secret);
    Ok((secret, uri))
}

pub async fn confirm(call: &Call<'_>) -> Result<Answer, GateError> {
    let id = call.require_user().await?;
    let input: ConfirmInput = serde_json::from_slice(&call.body)
        .map_err(|_| GateError::BadRequest("expected a JSON object with code"))?;
    let codes = activate(call, &id, &input.code).await?;
    Ok(json(serde_json::json!({ "backup_codes": codes })))
}

/// Confirm the pending enrolment with a current code: activates it and
/// returns the backup codes, the only time they are seen.
pub(super) async fn activate(
    call: &Call<'_>,
    id: &Identity,
    code: &str,
) -> Result<Vec<String>, GateError> {
    limit_ip(call, TOTP_PER_IP).await?;
    let store = call.store().await?;
    let pending = store
        .get_totp(&id.user_id)
        .await?
        .filter(|r| !r.active)
        .ok_or(GateError::BadRequest(
            "no TOTP enrolment is pending; start one with /totp/enroll",
        ))?;
    let step = totp::matching_step(&pending.secret, code.trim(), unix_now())
        .ok_or(GateError::BadRequest("invalid TOTP code"))?;
    let codes = totp::new_backup_codes();
    let hashes: Vec<String> = codes
        .iter()
        .filter_map(|c| totp::backup_hash(&id.user_id, c))
        .collect();
    // Only the confirmed secret is activated: a second enrolment started
    // meanwhile makes this fail rather than activate a secret never shown.
    let activated = store
        .activate_totp(&id.user_id, &pending.secret, step, &hashes)
        .await?;
    if !activated {
        return Err(GateError::BadRequest("the enrolment changed; start again"));
    }
    tracing::info!(event = "totp_enabled", username = %id.username, ip = %call.client_ip, "TOTP activated");
    Ok(codes)
}
