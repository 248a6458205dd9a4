//! The one way an identity is made (SPEC §5). Owns what authentication
//! needs for every request, fixed at start: our token service, the trusted
//! external issuers, the idle timeout and our cookie names. What a reload
//! changes (users, role names) comes in with each call (`Directory`), so
//! nothing here is patched after construction.

use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;

use crate::auth::check::{self, AuthOutcome, Credentials, Directory, OwnCookies};
use crate::auth::external::TrustedIssuers;
use crate::auth::settings::SessionConfig;
use crate::auth::tokens::TokenService;
use crate::error::GateError;
use crate::store::{unix_now, Store, StoreError};

pub struct Authenticator {
    tokens: TokenService,
    external: Option<Arc<TrustedIssuers>>,
    idle: Duration,
    /// Session, refresh and login-CSRF cookie names.
    cookies: [String; 3],
}

impl Authenticator {
    pub fn new(
        tokens: TokenService,
        external: Option<Arc<TrustedIssuers>>,
        session: &SessionConfig,
    ) -> Self {
        Authenticator {
            tokens,
            external,
            idle: session.idle_timeout,
            cookies: [
                session.cookie_name.clone(),
                session.refresh_cookie_name.clone(),
                session.csrf_cookie_name.clone(),
            ],
        }
    }

    /// Our own tokens: minting at login and refresh, the JWKS.
    pub fn tokens(&self) -> &TokenService {
        &self.tokens
    }

    /// The trusted external issuers, when any are configured.
    pub fn external(&self) -> Option<&Arc<TrustedIssuers>> {
        self.external.as_ref()
    }

    fn own_cookies(&self) -> OwnCookies<'_> {
        let [session, refresh, csrf] = &self.cookies;
        OwnCookies {
            session,
            refresh,
            csrf,
        }
    }

    /// The credentials `headers` present, or 400 when they could be read
    /// two ways (issue 10 point 4, `check::credentials`).
    pub fn credentials<'a>(&self, headers: &'a HeaderMap) -> Result<Credentials<'a>, GateError> {
        Ok(check::credentials(headers, self.own_cookies())?)
    }

    /// Verify `creds` and look their session or API key up in the store,
    /// describing the identity by the current users and role names.
    pub async fn authenticate(
        &self,
        creds: Credentials<'_>,
        current: Directory<'_>,
        store: &dyn Store,
    ) -> Result<AuthOutcome, StoreError> {
        check::authenticate(
            creds,
            &self.tokens,
            self.external.as_deref(),
            store,
            current,
            self.idle,
            unix_now(),
        )
        .await
    }

    /// Whether an open stream granted on `basis` may stay open (SPEC §11):
    /// see `stream::still_valid`.
    pub async fn still_valid(
        &self,
        basis: &crate::auth::stream::StreamBasis,
        users: &crate::auth::users::UserDirectory,
        store: &dyn Store,
        slide: bool,
    ) -> Result<bool, StoreError> {
        crate::auth::stream::still_valid(basis, store, users, self.idle, slide, unix_now()).await
    }
}
