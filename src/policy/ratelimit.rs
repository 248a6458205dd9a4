//! Rate limiting (SPEC §8): GCRA in the store (one atomic step per request),
//! keyed by client IP, user or route. When the store cannot answer, a local
//! in-memory limiter takes over so limits still hold per process.

use std::net::IpAddr;
use std::sync::Arc;

use crate::auth::Identity;
use crate::error::{GateError, LimitInfo};
use crate::policy::{LimitKey, RateLimit};
use crate::store::{GcraRule, LimitDecision, Store};

/// The store-backed limiter with its local fallback.
pub struct Limiter {
    fallback: Arc<dyn Store>,
}

impl Limiter {
    pub fn new(fallback: Arc<dyn Store>) -> Self {
        Limiter { fallback }
    }

    /// One step of `rule` for `key`: on the store when it answers, else locally.
    pub async fn step(
        &self,
        store: Option<&dyn Store>,
        key: &str,
        rule: &GcraRule,
    ) -> LimitDecision {
        if let Some(store) = store {
            match store.rate_limit(key, rule).await {
                Ok(d) => return d,
                Err(e) => {
                    tracing::warn!(error = %e, "rate limit store failed; using the local limiter")
                }
            }
        }
        match self.fallback.rate_limit(key, rule).await {
            Ok(d) => d,
            // The local store cannot fail; if it ever does, fail open on
            // rate limiting only (auth still fails closed elsewhere).
            Err(_) => LimitDecision {
                allowed: true,
                info: LimitInfo {
                    limit: rule.limit + rule.burst,
                    remaining: 0,
                    reset: 0,
                    retry_after: 0,
                },
            },
        }
    }

    /// Apply a route's limit. Ok carries the numbers for the headers; a
    /// refusal is `GateError::RateLimited`.
    pub async fn check(
        &self,
        store: Option<&dyn Store>,
        limit: &RateLimit,
        route_index: usize,
        identity: Option<&Identity>,
        client_ip: Option<IpAddr>,
    ) -> Result<LimitInfo, GateError> {
        let key = limit_key(limit, route_index, identity, client_ip);
        let d = self.step(store, &key, &limit.rule).await;
        if d.allowed {
            Ok(d.info)
        } else {
            Err(GateError::RateLimited(d.info))
        }
    }
}

/// `rl:<limit>:<kind>:<value>`. A `user` limit on a request without an
/// identity (a public route) falls back to the client IP.
pub fn limit_key(
    limit: &RateLimit,
    route_index: usize,
    identity: Option<&Identity>,
    ip: Option<IpAddr>,
) -> String {
    let ip = || {
        ip.map(|i| i.to_string())
            .unwrap_or_else(|| "unknown".into())
    };
    match (limit.key, identity) {
        (LimitKey::User, Some(id)) => format!("rl:{}:u:{}", limit.name, id.user_id),
        (LimitKey::Route, _) => format!("rl:{}:r:{}", limit.name, route_index),
        (LimitKey::Ip | LimitKey::User, _) => format!("rl:{}:ip:{}", limit.name, ip()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthMethod;
    use std::time::Duration;

    fn limit(key: LimitKey) -> RateLimit {
        RateLimit {
            name: "api".into(),
            key,
            rule: GcraRule {
                limit: 1,
                period: Duration::from_secs(1),
                burst: 0,
            },
        }
    }

    #[test]
    fn keys_by_kind() {
        let id = Identity::new(
            "u-1".into(),
            "alice".into(),
            String::new(),
            vec![],
            None,
            AuthMethod::Bearer,
        );
        let ip = Some(IpAddr::from([10, 0, 0, 1]));
        assert_eq!(
            limit_key(&limit(LimitKey::Ip), 3, Some(&id), ip),
            "rl:api:ip:10.0.0.1"
        );
        assert_eq!(
            limit_key(&limit(LimitKey::User), 3, Some(&id), ip),
            "rl:api:u:u-1"
        );
        assert_eq!(
            limit_key(&limit(LimitKey::User), 3, None, ip),
            "rl:api:ip:10.0.0.1"
        );
        assert_eq!(
            limit_key(&limit(LimitKey::Route), 3, None, ip),
            "rl:api:r:3"
        );
    }
}
