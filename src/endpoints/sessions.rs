//! `GET /auth/sessions` (the user's live sessions) and
//! `DELETE /auth/sessions/{id}` (end one of the user's own sessions).

use crate::auth::identity::Identity;
use crate::endpoints::{json, Call};
use crate::error::{Answer, GateError};

pub async fn list(call: &Call<'_>) -> Result<Answer, GateError> {
    let id = call.require_user().await?;
    let store = call.store().await?;
    let sessions = store.list_sessions(&id.user_id).await?;
    let items: Vec<_> = sessions
        .iter()
        .map(|s| {
            serde_json::json!({
                "id": s.sid,
                "created": s.created,
                "last_seen": s.last_seen,
                "ip": s.ip,
                "user_agent": s.user_agent,
                "current": id.sid.as_deref() == Some(s.sid.as_str()),
            })
        })
        .collect();
    Ok(json(serde_json::json!({ "sessions": items })))
}

pub async fn delete(call: &Call<'_>) -> Result<Answer, GateError> {
    let id = call.require_user().await?;
    let target = call.path.rsplit('/').next().unwrap_or_default();
    revoke_own(call, &id, target).await?;
    Ok(json(serde_json::json!({ "ended": 1 })))
}

/// End the session `target` if it is one of `id`'s; another user's session
/// answers exactly like a missing one (404).
pub(super) async fn revoke_own(
    call: &Call<'_>,
    id: &Identity,
    target: &str,
) -> Result<(), GateError> {
    let store = call.store().await?;
    let owned = !target.is_empty()
        && store
            .get_session(target)
            .await?
            .is_some_and(|s| s.user_id == id.user_id);
    if !owned {
        return Err(GateError::NotFound);
    }
    store.delete_session(target).await?;
    tracing::info!(event = "session_revoked", username = %id.username, ip = %call.client_ip, reason = "user ended session", "session revoked");
    Ok(())
}
