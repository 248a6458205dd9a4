//! `/healthz` (the process answers) and `/readyz` (the store answers too).

use crate::endpoints::{json, Call};
use crate::error::Answer;

pub fn live() -> Answer {
    json(serde_json::json!({ "status": "ok" }))
}

pub async fn ready(call: &Call<'_>) -> Answer {
    let ok = match call.state.store().await {
        Ok(store) => store.ping().await.is_ok(),
        Err(_) => false,
    };
    if ok {
        json(serde_json::json!({ "status": "ready" }))
    } else {
        Answer {
            status: 503,
            headers: Vec::new(),
            body: serde_json::json!({ "error": "not_ready", "message": "the session store is unreachable" }).to_string(),
        }
    }
}
