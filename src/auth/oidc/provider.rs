//! One OpenID Connect provider at run time: its discovery document and keys
//! (fetched at start, retried in the background while it is unreachable,
//! fetched again on SIGHUP and on an unknown `kid`), the authorization
//! request and the code exchange with the ID token checks of SPEC §13.
//! The protocol is the `openidconnect` crate's; what it leaves to the
//! client (the `azp` rule, the 5 s leeway, the algorithm allow-list) is
//! set here.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::Algorithm;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    Nonce, PkceCodeChallenge, PkceCodeVerifier, ProviderMetadataWithLogout, RedirectUrl, Scope,
    SignatureVerificationError, TokenResponse,
};
use serde_json::Value;

use super::settings::OidcProviderConfig;
use crate::auth::external::claims::Claims;
use crate::auth::external::fetch::fetch_jwks;
use crate::auth::external::jwks::IssuerKeys;

pub use crate::auth::external::UNKNOWN_KID_COOLDOWN;

/// Clock skew allowed on `exp` and `iat` (SPEC §13).
pub const LEEWAY: Duration = Duration::from_secs(5);
/// Bound on one call to the provider (discovery, keys, token exchange).
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Asymmetric signature algorithms only: never `none`, never HMAC (with a
/// client secret anyone at the provider holding it could mint ID tokens).
const ID_TOKEN_ALGS: &[CoreJwsSigningAlgorithm] = &[
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// The same list for logout tokens, checked with the shared JWKS code.
pub const LOGOUT_TOKEN_ALGS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// A client made from discovery: authorization endpoint set, token and
/// userinfo endpoints as the provider names them.
type Client = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// What discovery found.
pub struct Discovered {
    metadata: ProviderMetadataWithLogout,
    /// The same JWKS, parsed by `auth::external::jwks` for logout tokens.
    pub logout_keys: IssuerKeys,
}

impl Discovered {
    pub fn end_session_endpoint(&self) -> Option<&str> {
        self.metadata
            .additional_metadata()
            .end_session_endpoint
            .as_ref()
            .map(|u| u.as_str())
    }
}

/// A provider: its config and, once discovered, its metadata and keys.
pub struct Provider {
    pub cfg: OidcProviderConfig,
    discovered: ArcSwapOption<Discovered>,
    /// When an unknown `kid` last fetched the keys: at most one such fetch
    /// per `UNKNOWN_KID_COOLDOWN`, so forged kids (anyone can post a logout
    /// token) cannot turn the gateway against the provider.
    last_kid_fetch: std::sync::Mutex<Option<std::time::Instant>>,
}

/// What the start endpoint keeps for the callback.
pub struct Authorize {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// Why a callback's exchange or ID token was refused (logged, never shown).
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("provider not discovered")]
    Unavailable,
    #[error("provider unreachable: {0}")]
    Unreachable(String),
    #[error("token exchange failed: {0}")]
    Exchange(String),
    #[error("no ID token in the token response")]
    NoIdToken,
    #[error("ID token refused: {0}")]
    IdToken(String),
}

/// A checked ID token: its claims as sent, and the token itself.
pub struct VerifiedLogin {
    pub claims: Claims,
    pub id_token: String,
}

impl Provider {
    pub fn new(cfg: OidcProviderConfig) -> Self {
        Provider {
            cfg,
            discovered: ArcSwapOption::empty(),
            last_kid_fetch: std::sync::Mutex::new(None),
        }
    }

    /// The discovered state, None while the provider is unreachable.
    pub fn discovered(&self) -> Option<Arc<Discovered>> {
        self.discovered.load_full()
    }

    /// The HTTP client for this provider: bounded, no redirects (a
    /// redirect could lead a token request anywhere), its own CA if any, no
    /// pool (calls are rare and may run on any of Pingora's runtimes).
    fn client(&self) -> Result<reqwest::Client, String> {
        let mut b = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .connect_timeout(CALL_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .user_agent(concat!("gatehouse/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &self.cfg.ca_file {
            let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        b.build().map_err(|e| format!("HTTP client: {e}"))
    }

    /// Fetch the discovery document and keys; on success they replace the
    /// old ones, on failure the old ones (if any) stay.
    pub async fn discover(&self) -> Result<(), String> {
        let client = self.client()?;
        let issuer = IssuerUrl::new(self.cfg.issuer.clone()).map_err(|e| e.to_string())?;
        // The crate checks that the document's `issuer` is exactly ours.
        let metadata = ProviderMetadataWithLogout::discover_async(issuer, &client)
            .await
            .map_err(|e| format!("discovery failed: {}", error_chain(&e)))?;
        let logout_keys = fetch_jwks(&client, metadata.jwks_uri().as_str(), LOGOUT_TOKEN_ALGS)
            .await
            .map(|p| p.keys)
            .unwrap_or_default();
        self.discovered.store(Some(Arc::new(Discovered {
            metadata,
            logout_keys,
        })));
        Ok(())
    }

    /// Fetch the keys again (an unknown `kid`: the provider rotated), at
    /// most once per `UNKNOWN_KID_COOLDOWN`.
    pub async fn refresh_keys(&self) -> Result<Arc<Discovered>, String> {
        let current = self.discovered().ok_or("not discovered")?;
        {
            let mut last = self
                .last_kid_fetch
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = std::time::Instant::now();
            if last.is_some_and(|t| now.duration_since(t) < UNKNOWN_KID_COOLDOWN) {
                return Err("keys fetched moments ago".into());
            }
            *last = Some(now);
        }
        let client = self.client()?;
        let jwks_uri = current.metadata.jwks_uri().clone();
        let jwks = CoreJsonWebKeySet::fetch_async(&jwks_uri, &client)
            .await
            .map_err(|e| format!("JWKS fetch failed: {}", error_chain(&e)))?;
        let logout_keys = fetch_jwks(&client, jwks_uri.as_str(), LOGOUT_TOKEN_ALGS)
            .await
            .map(|p| p.keys)
            .unwrap_or_default();
        let fresh = Arc::new(Discovered {
            metadata: current.metadata.clone().set_jwks(jwks),
            logout_keys,
        });
        self.discovered.store(Some(fresh.clone()));
        Ok(fresh)
    }

    /// The authorization request: code flow, PKCE S256, fresh state and nonce.
    pub fn authorize(&self, redirect_uri: &str) -> Result<Authorize, ExchangeError> {
        let d = self.discovered().ok_or(ExchangeError::Unavailable)?;
        let client = self.core_client(&d, redirect_uri)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut req = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for s in self.cfg.scopes.iter().filter(|s| *s != "openid") {
            req = req.add_scope(Scope::new(s.clone()));
        }
        let (url, state, nonce) = req.url();
        Ok(Authorize {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    fn core_client(&self, d: &Discovered, redirect_uri: &str) -> Result<Client, ExchangeError> {
        let redirect = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|e| ExchangeError::Exchange(format!("redirect URI: {e}")))?;
        Ok(CoreClient::from_provider_metadata(
            d.metadata.clone(),
            ClientId::new(self.cfg.client_id.clone()),
            self.cfg
                .client_secret
                .as_ref()
                .map(|s| ClientSecret::new(s.0.clone())),
        )
        .set_redirect_uri(redirect))
    }

    /// Exchange the code (with the PKCE verifier) and check the ID token
    /// exactly as SPEC §13 lists. An unknown `kid` fetches the keys again
    /// once.
    pub async fn exchange(
        &self,
        redirect_uri: &str,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<VerifiedLogin, ExchangeError> {
        let d = self.discovered().ok_or(ExchangeError::Unavailable)?;
        let client = self.core_client(&d, redirect_uri)?;
        let http = self.client().map_err(ExchangeError::Exchange)?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| ExchangeError::Exchange(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&http)
            .await
            .map_err(|e| match e {
                // Could not reach the provider: the same 503 as before
                // discovery (SPEC §13).
                openidconnect::RequestTokenError::Request(e) => {
                    ExchangeError::Unreachable(error_chain(&e))
                }
                e => ExchangeError::Exchange(error_chain(&e)),
            })?;
        let id_token = response.id_token().ok_or(ExchangeError::NoIdToken)?;
        let nonce = Nonce::new(nonce.to_owned());
        let checked = match self.check(&client, id_token, &nonce) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                let fresh = self.refresh_keys().await.map_err(ExchangeError::IdToken)?;
                let client = self.core_client(&fresh, redirect_uri)?;
                self.check(&client, id_token, &nonce)
            }
            other => other,
        };
        checked.map_err(|e| ExchangeError::IdToken(e.to_string()))?;
        let raw = id_token.to_string();
        let claims = payload(&raw).ok_or(ExchangeError::IdToken("unreadable payload".into()))?;
        // SPEC §13: azp equal to client_id when present or when there are
        // several audiences (the crate leaves this rule to its caller).
        let auds = match claims.get("aud") {
            Some(Value::Array(a)) => a.len(),
            _ => 1,
        };
        match claims.get("azp") {
            Some(Value::String(azp)) if *azp == self.cfg.client_id => {}
            None if auds == 1 => {}
            _ => {
                return Err(ExchangeError::IdToken(
                    "azp is not our client_id".to_owned(),
                ))
            }
        }
        Ok(VerifiedLogin {
            claims,
            id_token: raw,
        })
    }

    fn check(
        &self,
        client: &Client,
        id_token: &openidconnect::core::CoreIdToken,
        nonce: &Nonce,
    ) -> Result<(), ClaimsVerificationError> {
        let leeway = TimeDelta::from_std(LEEWAY).unwrap_or_default();
        let verifier = client
            .id_token_verifier()
            .set_allowed_algs(ID_TOKEN_ALGS.iter().cloned())
            // Other audiences are allowed here; the azp rule then decides.
            .set_other_audience_verifier_fn(|_| true)
            // exp: expired only 5 s after it.
            .set_time_fn(move || Utc::now() - leeway)
            // iat: not more than 5 s in the future.
            .set_issue_time_verifier_fn(move |iat: DateTime<Utc>| {
                if iat > Utc::now() + leeway {
                    Err(format!("issued in the future ({iat})"))
                } else {
                    Ok(())
                }
            });
        id_token.claims(&verifier, nonce).map(drop)
    }
}

/// The claims of a JWT whose signature and claims were already checked.
pub fn payload(jwt: &str) -> Option<Claims> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let part = jwt.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

impl Provider {
    /// The provider's end-session URL for RP-initiated logout, when it has
    /// one: with `id_token_hint`, `client_id` and `post_logout_redirect_uri`.
    pub fn end_session_url(
        &self,
        id_token: &str,
        post_logout_redirect_uri: &str,
    ) -> Option<String> {
        use std::str::FromStr;
        let d = self.discovered()?;
        let endpoint = d
            .metadata
            .additional_metadata()
            .end_session_endpoint
            .clone()?;
        let hint = openidconnect::core::CoreIdToken::from_str(id_token).ok()?;
        let mut req = openidconnect::LogoutRequest::from(endpoint)
            .set_id_token_hint(&hint)
            .set_client_id(ClientId::new(self.cfg.client_id.clone()));
        if let Ok(uri) =
            openidconnect::PostLogoutRedirectUrl::new(post_logout_redirect_uri.to_owned())
        {
            req = req.set_post_logout_redirect_uri(uri);
        }
        Some(req.http_get_url().to_string())
    }
}

/// An error and its causes in one line (no URLs with secrets: the crate's
/// messages carry none).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
