//! What an open WebSocket or long stream was granted on, and the re-check
//! that ends it (SPEC §11): the session behind a cookie or our JWT (gone
//! once logged out, revoked, expired, or its user locked, disabled or
//! removed), or the API key (gone once revoked). A trusted issuer's token is
//! stateless: nothing to re-check, it is bounded by its own lifetime only at
//! the upgrade.

use std::sync::Arc;

use crate::auth::check::{current_user, Credentials};
use crate::auth::users::UserDirectory;
use crate::auth::{apikey, AuthMethod, Identity};
use crate::store::{Store, StoreError};

/// What to look up again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamBasis {
    Session { sid: String },
    ApiKey { key: String },
    Stateless,
}

impl StreamBasis {
    /// The basis of a granted identity; `creds` are the request's, as the
    /// decision read them (`Authenticator::credentials`): the API key is
    /// taken from there again, never kept in the identity.
    pub fn of(identity: &Identity, creds: Credentials<'_>) -> StreamBasis {
        match (&identity.sid, identity.method, creds) {
            (Some(sid), AuthMethod::Cookie | AuthMethod::Bearer, _) => {
                StreamBasis::Session { sid: sid.clone() }
            }
            (_, AuthMethod::ApiKey, Credentials::ApiKey(key)) => StreamBasis::ApiKey {
                key: key.to_owned(),
            },
            _ => StreamBasis::Stateless,
        }
    }
}

/// Whether the stream may stay open. `slide`: the client sent something
/// since the last check, so the session's idle timeout slides as for a
/// request; otherwise it is only read (a silent stream does not keep a
/// session alive).
pub async fn still_valid(
    basis: &StreamBasis,
    store: &dyn Store,
    users: &UserDirectory,
    idle: std::time::Duration,
    slide: bool,
    now: i64,
) -> Result<bool, StoreError> {
    match basis {
        StreamBasis::Stateless => Ok(true),
        StreamBasis::ApiKey { key } => Ok(apikey::lookup(key, store, now).await?.is_some()),
        StreamBasis::Session { sid } => {
            let session = if slide {
                store.touch_session(sid, now, idle).await?
            } else {
                store.get_session(sid).await?.map(Arc::new)
            };
            Ok(session.is_some_and(|s| s.expires_at > now && current_user(users, &s).is_some()))
        }
    }
}
