//! `GET /auth/me`: the current identity.

use crate::endpoints::{json, Call};
use crate::error::{Answer, GateError};

pub async fn get(call: &Call<'_>) -> Result<Answer, GateError> {
    let id = call.require_identity().await?;
    Ok(json(serde_json::json!({
        "id": id.user_id,
        "username": id.username,
        "email": id.email,
        "roles": id.roles,
        "sid": id.sid,
        "method": id.method.as_str(),
    })))
}
