//! One error enum for everything a request can end in, and the single place
//! where those errors become SPEC §6 answers (status, headers, JSON body).

pub use crate::store::LimitInfo;
use crate::store::StoreError;

/// Every way a request handled by the gateway itself can fail.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("payload too large")]
    PayloadTooLarge,
    /// A well-formed method that no route takes (SPEC §7).
    #[error("method not implemented")]
    NotImplemented,
    /// No or bad credentials. `browser` answers 302 to the login page.
    #[error("unauthenticated")]
    Unauthenticated { browser: Option<String> },
    /// Login failed (unknown user, bad password, disabled: one answer).
    #[error("bad login")]
    BadLogin,
    #[error("mfa required")]
    MfaRequired,
    #[error("forbidden")]
    Forbidden,
    #[error("csrf check failed")]
    Csrf,
    #[error("rate limited")]
    RateLimited(LimitInfo),
    /// The store failed or timed out: fail closed (SPEC §6: 503). The cause
    /// is logged, never shown.
    #[error("store unavailable: {0}")]
    Store(#[from] StoreError),
    #[error("upstream unavailable")]
    UpstreamDown,
    /// The upstream took longer than its read or write timeout (SPEC §11).
    #[error("upstream timed out")]
    UpstreamTimeout,
    /// Anything unexpected: logged with its cause, answered as a bare 500.
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl GateError {
    /// An unexpected failure, keeping its cause for the log.
    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        GateError::Internal(cause.into())
    }
}

/// A fully formed answer: what `proxy::respond` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

fn json_error(code: &str, message: &str) -> String {
    serde_json::json!({ "error": code, "message": message }).to_string()
}

impl GateError {
    /// SPEC §6: the one mapping from error to status, headers and body.
    pub fn answer(&self) -> Answer {
        let (status, code, message): (u16, &str, &str) = match self {
            GateError::BadRequest(why) => (400, "bad_request", why),
            GateError::NotFound => (404, "not_found", "no route matches this request"),
            GateError::MethodNotAllowed => (405, "method_not_allowed", "method not allowed"),
            GateError::PayloadTooLarge => (413, "payload_too_large", "request body too large"),
            GateError::NotImplemented => (501, "not_implemented", "method not implemented"),
            GateError::Unauthenticated {
                browser: Some(login),
            } => {
                return Answer {
                    status: 302,
                    headers: vec![("Location", login.clone())],
                    body: String::new(),
                };
            }
            GateError::Unauthenticated { browser: None } => {
                return Answer {
                    status: 401,
                    headers: vec![("WWW-Authenticate", "Bearer".to_string())],
                    body: json_error("unauthorized", "authentication required"),
                };
            }
            GateError::BadLogin => {
                return Answer {
                    status: 401,
                    headers: vec![("WWW-Authenticate", "Bearer".to_string())],
                    body: json_error("unauthorized", "invalid username or password"),
                };
            }
            GateError::MfaRequired => (401, "mfa_required", "a TOTP code is required"),
            GateError::Forbidden => (
                403,
                "forbidden",
                "you are not allowed to access this resource",
            ),
            GateError::Csrf => (403, "forbidden", "cross-site request refused"),
            GateError::RateLimited(info) => {
                return Answer {
                    status: 429,
                    headers: limit_headers(info, true),
                    body: json_error("rate_limited", "too many requests"),
                };
            }
            GateError::Store(_) => (503, "unavailable", "the session store is unavailable"),
            GateError::UpstreamDown => (502, "bad_gateway", "the upstream is unavailable"),
            GateError::UpstreamTimeout => (
                504,
                "gateway_timeout",
                "the upstream did not answer in time",
            ),
            GateError::Internal(_) => (500, "internal", "unexpected error"),
        };
        Answer {
            status,
            headers: Vec::new(),
            body: json_error(code, message),
        }
    }
}

/// The answer for a bare status chosen inside Pingora (`respond_error`: a
/// request head it cannot parse, CONNECT, ...), in the SPEC §6 format.
pub fn status_answer(status: u16) -> Answer {
    let (code, message) = match status {
        400 => ("bad_request", "the request could not be parsed"),
        405 => ("method_not_allowed", "method not allowed"),
        408 => ("request_timeout", "the request took too long"),
        413 => ("payload_too_large", "request too large"),
        500 => return GateError::internal("pingora").answer(),
        502 => return GateError::UpstreamDown.answer(),
        503 => ("unavailable", "the gateway is overloaded"),
        504 => return GateError::UpstreamTimeout.answer(),
        s if s < 500 => ("bad_request", "request refused"),
        _ => ("internal", "unexpected error"),
    };
    Answer {
        status,
        headers: Vec::new(),
        body: json_error(code, message),
    }
}

/// `RateLimit-*` headers (and `Retry-After` when refused), SPEC §6 and §8.
pub fn limit_headers(info: &LimitInfo, refused: bool) -> Vec<(&'static str, String)> {
    let mut h = vec![
        ("RateLimit-Limit", info.limit.to_string()),
        ("RateLimit-Remaining", info.remaining.to_string()),
        ("RateLimit-Reset", info.reset.to_string()),
    ];
    if refused {
        h.push(("Retry-After", info.retry_after.max(1).to_string()));
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unauthenticated_api_client_gets_401_with_bearer_challenge() {
        let a = GateError::Unauthenticated { browser: None }.answer();
        assert_eq!(a.status, 401);
        assert_eq!(a.headers, vec![("WWW-Authenticate", "Bearer".to_string())]);
        let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
        assert_eq!(v["error"], "unauthorized");
    }

    #[test]
    fn pingora_statuses_get_json_bodies() {
        for status in [400, 405, 408, 413, 418, 500, 502, 503, 504, 599] {
            let a = status_answer(status);
            assert_eq!(a.status, status);
            let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
            assert!(
                v["error"].is_string() && v["message"].is_string(),
                "{status}"
            );
        }
        assert!(status_answer(400).body.contains("bad_request"));
    }

    #[test]
    fn internal_errors_never_leak_details() {
        let a = GateError::internal("redis at 10.0.0.1 said NOAUTH").answer();
        assert_eq!(a.status, 500);
        assert!(!a.body.contains("redis"));
    }

    #[test]
    fn rate_limited_carries_retry_after_and_ratelimit_headers() {
        let info = LimitInfo {
            limit: 5,
            remaining: 0,
            reset: 12,
            retry_after: 3,
        };
        let a = GateError::RateLimited(info).answer();
        assert_eq!(a.status, 429);
        let names: Vec<_> = a.headers.iter().map(|h| h.0).collect();
        assert_eq!(
            names,
            [
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "RateLimit-Reset",
                "Retry-After"
            ]
        );
    }
}
