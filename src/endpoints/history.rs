//! `GET /auth/history`: the signed-in user's last sign-in attempts (SPEC
//! §14), newest first.

use crate::auth::history::KEEP;
use crate::endpoints::{json, Call};
use crate::error::{Answer, GateError};

pub async fn get(call: &Call<'_>) -> Result<Answer, GateError> {
    let id = call.require_user().await?;
    let store = call.store().await?;
    let items: Vec<_> = store
        .login_history(&id.user_id, KEEP)
        .await?
        .into_iter()
        .map(|e| {
            serde_json::json!({
                "time": e.time,
                "ip": e.ip,
                "user_agent": e.user_agent,
                "result": e.result,
                "provider": e.provider,
                "new_device": e.new_device,
            })
        })
        .collect();
    Ok(json(serde_json::json!({ "history": items })))
}
