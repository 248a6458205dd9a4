//! `GET /.well-known/jwks.json`: the public signing keys.

use crate::endpoints::Call;
use crate::error::Answer;

pub fn get(call: &Call<'_>) -> Answer {
    Answer {
        status: 200,
        headers: Vec::new(),
        body: call.state.auth.tokens().keys().jwks_json.clone(),
    }
}
