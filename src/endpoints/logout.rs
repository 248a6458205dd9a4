//! `POST /auth/logout`: end the current session, or with `{"all":true}` all
//! of the user's sessions, and clear the cookies. The old cookie and the old
//! JWT are refused from the next request on, since every request is checked
//! against the store.

use serde::Deserialize;

use crate::auth::session::clear_session_cookies;
use crate::endpoints::{json, Call};
use crate::error::{Answer, GateError};

#[derive(Deserialize, Default)]
struct LogoutInput {
    #[serde(default)]
    all: bool,
}

pub async fn post(call: &Call<'_>) -> Result<Answer, GateError> {
    let input: LogoutInput = if call.body.is_empty() || call.is_form() {
        LogoutInput::default()
    } else {
        serde_json::from_slice(&call.body)
            .map_err(|_| GateError::BadRequest("expected a JSON object"))?
    };
    let identity = call.require_user().await?;
    let store = call.store().await?;
    // RP-initiated logout (SPEC §13): a session from a provider with an
    // end_session_endpoint sends the browser there too.
    let origin = match &identity.sid {
        Some(sid) => store.get_session(sid).await?.and_then(|s| s.oidc),
        None => None,
    };
    let end_session_url = super::oidc::end_session_url(call, origin.as_ref());
    let ended = if input.all {
        store.delete_user_sessions(&identity.user_id).await?
    } else {
        match &identity.sid {
            Some(sid) => usize::from(store.delete_session(sid).await?),
            None => 0,
        }
    };
    tracing::info!(event = "logout", username = %identity.username, ip = %call.client_ip, all = input.all, "logout");
    let s = &call.state.config.session;
    let mut answer = match end_session_url {
        Some(url) if call.is_form() => Answer {
            status: 303,
            headers: vec![("Location", url)],
            body: String::new(),
        },
        Some(url) => json(serde_json::json!({ "ended": ended, "end_session_url": url })),
        None => json(serde_json::json!({ "ended": ended })),
    };
    answer.headers.extend(clear_session_cookies(s));
    Ok(answer)
}
