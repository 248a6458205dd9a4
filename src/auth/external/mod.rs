//! Trusted external issuers (`[[tokens.trusted_issuers]]`): bearer JWTs
//! from an existing identity provider, accepted alongside gatehouse's own.
//!
//! A bearer token is routed by its (unverified) `iss`: gatehouse's own issuer
//! takes the usual path; a trusted issuer's token is verified with that
//! issuer's keys and algorithms only, so one issuer's key never verifies
//! another's token and the token's `alg` never picks the key type (no
//! RS256 -> HS256 confusion). Everything else is left to the usual path,
//! which refuses it.
//!
//! These tokens are stateless: there is no gatehouse session behind them to
//! revoke, so they are good until their `exp` unless the IdP's keys change.
//! Nothing about them is cached: every request maps its claims with the
//! issuer settings and `[roles]` in force, so a SIGHUP that changes a
//! `role_map`, a claim name or `[roles]`, or removes the issuer, takes
//! effect on the next request (issue 10, point 5).

pub mod claims;
pub mod fetch;
pub mod jwks;

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::{ArcSwap, ArcSwapOption};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::Algorithm;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::auth::check::AuthOutcome;
use crate::auth::identity::Identity;
use crate::auth::settings::{JwksSource, TrustedIssuerConfig};
use crate::auth::tokens::{decode_header, StrictObject, TokenError};
use crate::auth::RoleNames;
use claims::Claims;
use jwks::IssuerKeys;

/// Longest external token looked at. IdP tokens carrying many groups run
/// larger than ours; this still bounds the work before the signature check.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;
/// An unknown `kid` makes at most one fetch per this long per issuer, so
/// forged kids cannot turn the gateway against the IdP.
pub const UNKNOWN_KID_COOLDOWN: Duration = Duration::from_secs(30);
/// After a failed fetch, the next scheduled one comes at most this late.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);

/// All trusted issuers, their current keys and the roles they may map to.
pub struct TrustedIssuers {
    /// Gatehouse's own `iss`: such tokens are never handled here.
    own_issuer: String,
    issuers: Vec<Issuer>,
    /// The current `[roles]` (swapped on SIGHUP with the policy).
    roles: ArcSwap<RoleNames>,
    /// For `jwks_url` issuers; `None` if there are none or it cannot be built.
    client: Option<reqwest::Client>,
}

struct Issuer {
    /// The exact `iss`, fixed for the process's life.
    iss: String,
    /// The settings in force; `None` once a reload removed the issuer (its
    /// tokens are then refused). A reload replaces only the claim mapping
    /// (`roles_claim`, `role_map`, `username_claim`, `email_claim`): keys,
    /// algorithms and audience belong with the key fetching set up at start.
    cfg: ArcSwapOption<TrustedIssuerConfig>,
    keys: ArcSwap<IssuerKeys>,
    remote: Option<Remote>,
}

/// A `jwks_url` issuer's fetch state.
struct Remote {
    url: String,
    refresh: Duration,
    /// Held for the length of a fetch, so scheduled and on-demand fetches
    /// never overlap; holds when the last on-demand fetch started.
    fetching: Mutex<Option<Instant>>,
}

impl TrustedIssuers {
    /// `None` when no issuer is configured. `jwks_url` keys start empty:
    /// tokens from such an issuer are refused until a fetch succeeds.
    pub fn new(
        own_issuer: &str,
        list: &[TrustedIssuerConfig],
        roles: RoleNames,
    ) -> Option<Arc<TrustedIssuers>> {
        if list.is_empty() {
            return None;
        }
        let issuers: Vec<Issuer> = list
            .iter()
            .map(|cfg| {
                let (keys, remote) = match &cfg.jwks {
                    JwksSource::File { keys, .. } => (keys.clone(), None),
                    JwksSource::Url { url, refresh } => (
                        Arc::new(IssuerKeys::default()),
                        Some(Remote {
                            url: url.clone(),
                            refresh: *refresh,
                            fetching: Mutex::new(None),
                        }),
                    ),
                };
                match &cfg.jwks {
                    JwksSource::File { path, keys } => tracing::info!(issuer = %cfg.issuer, file = %path.display(), kids = ?keys.kids(), "trusting external issuer"),
                    JwksSource::Url { url, .. } => tracing::info!(issuer = %cfg.issuer, %url, "trusting external issuer; keys fetched from its JWKS URL"),
                }
                Issuer {
                    iss: cfg.issuer.clone(),
                    cfg: ArcSwapOption::from_pointee(cfg.clone()),
                    keys: ArcSwap::new(keys),
                    remote,
                }
            })
            .collect();
        let client = if issuers.iter().any(|i| i.remote.is_some()) {
            fetch::client()
                .map_err(
                    |e| tracing::error!(error = %e, "jwks_url issuers will refuse every token"),
                )
                .ok()
        } else {
            None
        };
        Some(Arc::new(TrustedIssuers {
            own_issuer: own_issuer.to_owned(),
            issuers,
            roles: ArcSwap::from_pointee(roles),
            client,
        }))
    }

    /// Take the `[roles]` of a reloaded policy.
    pub fn set_roles(&self, roles: RoleNames) {
        self.roles.store(Arc::new(roles));
    }

    /// SIGHUP: take the reloaded `[roles]` and each issuer's claim mapping;
    /// an issuer no longer listed stops being trusted at once. Changes that
    /// need the key fetching redone (a new issuer, another JWKS source,
    /// algorithms or audience) wait for a restart, and say so in the log.
    pub fn reconfigure(&self, fresh: &[TrustedIssuerConfig], roles: RoleNames) {
        self.set_roles(roles);
        for issuer in &self.issuers {
            let Some(old) = issuer.cfg.load_full() else {
                continue;
            };
            let Some(new) = fresh.iter().find(|f| f.issuer == issuer.iss) else {
                tracing::warn!(issuer = %issuer.iss, "trusted issuer removed by reload: its tokens are refused from now on");
                issuer.cfg.store(None);
                continue;
            };
            if new.audience != old.audience
                || new.algorithms != old.algorithms
                || !same_source(&new.jwks, &old.jwks)
            {
                tracing::warn!(issuer = %issuer.iss, "trusted issuer's audience, algorithms or JWKS source changed: that takes effect at the next start; the claim mapping is reloaded now");
            }
            let mut next = TrustedIssuerConfig::clone(&old);
            next.roles_claim.clone_from(&new.roles_claim);
            next.role_map.clone_from(&new.role_map);
            next.username_claim.clone_from(&new.username_claim);
            next.email_claim.clone_from(&new.email_claim);
            issuer.cfg.store(Some(Arc::new(next)));
        }
        for new in fresh {
            if !self.issuers.iter().any(|i| i.iss == new.issuer) {
                tracing::warn!(issuer = %new.issuer, "new trusted issuer: trusted from the next start");
            }
        }
    }

    /// Whether any issuer fetches its keys (and so needs `refresh_forever`).
    pub fn has_remote(&self) -> bool {
        self.issuers.iter().any(|i| i.remote.is_some())
    }

    /// Check a bearer token if a trusted issuer claims it; `None` leaves it
    /// to gatehouse's own verification (own `iss`, unknown `iss`, or not a
    /// JWT at all, all of which that path refuses unless it is ours).
    pub async fn authenticate(&self, token: &str, now: i64) -> Option<AuthOutcome> {
        let (issuer, cfg, parts) = self.route(token)?;
        Some(match self.verify(issuer, &cfg, &parts, now).await {
            Ok(id) => AuthOutcome::Authenticated(id),
            Err(e) => {
                tracing::debug!(issuer = %issuer.iss, error = %e, "external token refused");
                AuthOutcome::Refused(reason(&e))
            }
        })
    }

    /// The trusted issuer a token names in its `iss`, if any but ours, with
    /// its settings in force.
    fn route<'t>(&self, token: &'t str) -> Option<(&Issuer, Arc<TrustedIssuerConfig>, Parts<'t>)> {
        let parts = Parts::split(token)?;
        let iss = parts.claims.get("iss")?.as_str()?;
        if iss == self.own_issuer {
            return None;
        }
        let issuer = self.issuers.iter().find(|i| i.iss == iss)?;
        let cfg = issuer.cfg.load_full()?;
        Some((issuer, cfg, parts))
    }

    async fn verify(
        &self,
        issuer: &Issuer,
        cfg: &TrustedIssuerConfig,
        parts: &Parts<'_>,
        now: i64,
    ) -> Result<Identity, TokenError> {
        let (_, kid) = check_header(parts.header, &cfg.algorithms)?;
        let mut keys = issuer.keys.load_full();
        if keys.get(&kid).is_none() {
            if let (Some(remote), Some(client)) = (&issuer.remote, &self.client) {
                keys = issuer.refetch_for(remote, client, &kid).await;
            }
        }
        verify_with(cfg, &keys, parts, now, &self.roles.load())
    }

    /// Fetch every `jwks_url` issuer's keys now and then every `refresh`
    /// (sooner after a failure), until dropped.
    pub async fn refresh_forever(self: Arc<Self>) {
        let mut tasks = tokio::task::JoinSet::new();
        for index in 0..self.issuers.len() {
            let this = self.clone();
            tasks.spawn(async move { this.refresh_one(index).await });
        }
        // The loops never end; dropping `tasks` (when this future is
        // dropped at shutdown) aborts them.
        while tasks.join_next().await.is_some() {}
    }

    async fn refresh_one(&self, index: usize) {
        let (Some(issuer), Some(client)) = (self.issuers.get(index), &self.client) else {
            return;
        };
        let Some(remote) = &issuer.remote else {
            return;
        };
        loop {
            let ok = {
                let _fetching = remote.fetching.lock().await;
                issuer.fetch(remote, client).await
            };
            let wait = if ok {
                remote.refresh
            } else {
                remote.refresh.min(RETRY_AFTER_FAILURE)
            };
            tokio::time::sleep(wait).await;
        }
    }
}

impl Issuer {
    /// A token named a `kid` we do not have: the IdP may have rotated its
    /// keys. Fetch again unless one was fetched for this reason lately, and
    /// wait for a fetch already under way rather than start another.
    async fn refetch_for(
        &self,
        remote: &Remote,
        client: &reqwest::Client,
        kid: &str,
    ) -> Arc<IssuerKeys> {
        let mut last = remote.fetching.lock().await;
        let keys = self.keys.load_full();
        // Someone else's fetch may have brought it while we waited.
        if keys.get(kid).is_some() || last.is_some_and(|t| t.elapsed() < UNKNOWN_KID_COOLDOWN) {
            return keys;
        }
        *last = Some(Instant::now());
        self.fetch(remote, client).await;
        self.keys.load_full()
    }

    /// One fetch; the keys are swapped in only if it succeeds. Callers hold
    /// `remote.fetching`.
    async fn fetch(&self, remote: &Remote, client: &reqwest::Client) -> bool {
        let Some(cfg) = self.cfg.load_full() else {
            // Removed by a reload: nothing left to fetch keys for.
            return false;
        };
        match fetch::fetch_jwks(client, &remote.url, &cfg.algorithms).await {
            Ok(parsed) => {
                for why in &parsed.skipped {
                    tracing::warn!(issuer = %self.iss, url = %remote.url, "JWKS key skipped: {why}");
                }
                tracing::info!(issuer = %self.iss, kids = ?parsed.keys.kids(), "JWKS fetched");
                self.keys.store(Arc::new(parsed.keys));
                true
            }
            Err(e) => {
                tracing::warn!(issuer = %self.iss, url = %remote.url, error = %e, "JWKS fetch failed; keeping the keys we had");
                false
            }
        }
    }
}

/// Whether two JWKS sources name the same file or URL.
fn same_source(a: &JwksSource, b: &JwksSource) -> bool {
    match (a, b) {
        (JwksSource::File { path: a, .. }, JwksSource::File { path: b, .. }) => a == b,
        (
            JwksSource::Url {
                url: a,
                refresh: ra,
            },
            JwksSource::Url {
                url: b,
                refresh: rb,
            },
        ) => a == b && ra == rb,
        _ => false,
    }
}

/// A token cut at its dots, with the payload decoded (strictly: no member
/// named twice) so its `iss` can route it.
struct Parts<'a> {
    header: &'a str,
    /// `header.payload`, what the signature covers.
    signing_input: &'a str,
    signature: &'a str,
    claims: Claims,
}

impl<'a> Parts<'a> {
    fn split(token: &'a str) -> Option<Parts<'a>> {
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return None;
        }
        let (signing_input, signature) = token.rsplit_once('.')?;
        let (header, payload) = signing_input.split_once('.')?;
        if payload.contains('.') {
            return None;
        }
        let json = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let claims = serde_json::from_slice::<StrictObject>(&json).ok()?.0;
        Some(Parts {
            header,
            signing_input,
            signature,
            claims,
        })
    }
}

/// The header gate, as for our own tokens (SPEC §5): an algorithm from this
/// issuer's list (checked first: `none`, HS256 with a public key, ...), no
/// `crit`, a string `kid`, a JWT `typ` if any. Returns the algorithm and kid.
fn check_header(
    segment: &str,
    algorithms: &[Algorithm],
) -> Result<(Algorithm, String), TokenError> {
    check_header_typ(
        segment,
        algorithms,
        &["JWT", "at+jwt", "application/at+jwt"],
    )
}

/// `check_header` with the `typ` values accepted besides none (RFC 9068
/// access tokens say `at+jwt`, back-channel logout tokens `logout+jwt`).
fn check_header_typ(
    segment: &str,
    algorithms: &[Algorithm],
    typs: &[&str],
) -> Result<(Algorithm, String), TokenError> {
    let header = decode_header(segment)?;
    let alg = match header.get("alg") {
        Some(Value::String(name)) => match Algorithm::from_str(name) {
            Ok(a) if algorithms.contains(&a) => a,
            _ => return Err(TokenError::Algorithm),
        },
        _ => return Err(TokenError::Algorithm),
    };
    // We understand no extensions, so any `crit` must be refused (RFC 7515 §4.1.11).
    if header.contains_key("crit") {
        return Err(TokenError::Crit);
    }
    let kid = match header.get("kid") {
        Some(Value::String(kid)) if !kid.is_empty() => kid.clone(),
        _ => return Err(TokenError::UnknownKid),
    };
    match header.get("typ") {
        None => {}
        Some(Value::String(t)) if typs.iter().any(|ok| t.eq_ignore_ascii_case(ok)) => {}
        Some(_) => return Err(TokenError::Malformed),
    }
    Ok((alg, kid))
}

/// Header, key, signature, then claims, against one issuer's keys only.
fn verify_with(
    cfg: &TrustedIssuerConfig,
    keys: &IssuerKeys,
    parts: &Parts<'_>,
    now: i64,
    roles: &RoleNames,
) -> Result<Identity, TokenError> {
    let (alg, kid) = check_header(parts.header, &cfg.algorithms)?;
    check_signature(parts, keys, alg, &kid)?;
    claims::check_registered(cfg, &parts.claims, now)?;
    claims::identity(cfg, &parts.claims, roles)
}

/// The signature of `parts` by the key `kid` names, with `alg`. The key's
/// type decides, not the token: an RSA key never meets HS256.
fn check_signature(
    parts: &Parts<'_>,
    keys: &IssuerKeys,
    alg: Algorithm,
    kid: &str,
) -> Result<(), TokenError> {
    let key = keys.get(kid).ok_or(TokenError::UnknownKid)?;
    if !key.allows(alg) {
        return Err(TokenError::Algorithm);
    }
    match jsonwebtoken::crypto::verify(
        parts.signature,
        parts.signing_input.as_bytes(),
        &key.decoding,
        alg,
    ) {
        Ok(true) => Ok(()),
        _ => Err(TokenError::Signature),
    }
}

/// A JWT checked for its header (an algorithm of `algorithms`, no `crit`,
/// a `kid`, a `typ` of `typs` if any) and its signature by `keys`, with no
/// claim checked yet: its claims. Used for OIDC back-channel logout tokens
/// (SPEC §13), whose claims have rules of their own.
pub fn verify_signature(
    token: &str,
    keys: &IssuerKeys,
    algorithms: &[Algorithm],
    typs: &[&str],
) -> Result<Claims, TokenError> {
    let parts = Parts::split(token).ok_or(TokenError::Malformed)?;
    let (alg, kid) = check_header_typ(parts.header, algorithms, typs)?;
    check_signature(&parts, keys, alg, &kid)?;
    Ok(parts.claims)
}

/// The auth metric's result label for a refusal (a fixed set).
fn reason(e: &TokenError) -> &'static str {
    match e {
        TokenError::Expired => "external_expired",
        TokenError::UnknownKid => "external_unknown_kid",
        _ => "external_bad_token",
    }
}

#[cfg(test)]
mod tests;
