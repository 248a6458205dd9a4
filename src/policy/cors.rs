//! CORS per route (issue 4): exact allowed origins (or `*` without
//! credentials), preflights answered by the gateway before authentication
//! (browsers send them without credentials), and the response headers for
//! allowed cross-origin requests.

use http::{HeaderMap, Method};

/// A route's compiled CORS settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    /// Canonical `scheme://host[:port]` origins, lower-case.
    pub origins: Vec<String>,
    /// `"*"` was configured: any origin, never with credentials.
    pub any: bool,
    /// Whether cookies / Authorization may be sent cross-origin.
    pub credentials: bool,
}

impl Cors {
    /// The request's `Origin` if this route allows it.
    pub fn allowed<'a>(&self, headers: &'a HeaderMap) -> Option<&'a str> {
        let origin = headers.get(http::header::ORIGIN)?.to_str().ok()?;
        let ok = self.any || self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin));
        ok.then_some(origin)
    }

    /// Headers for an allowed cross-origin answer.
    pub fn answer_headers(&self, origin: &str) -> Vec<(&'static str, String)> {
        let mut h = vec![("Vary", "Origin".to_string())];
        if self.any && !self.credentials {
            h.push(("Access-Control-Allow-Origin", "*".to_string()));
        } else {
            h.push(("Access-Control-Allow-Origin", origin.to_string()));
        }
        if self.credentials {
            h.push(("Access-Control-Allow-Credentials", "true".to_string()));
        }
        h
    }

    /// Headers for an allowed preflight: the asked method (the route
    /// already matched it) and asked headers, cached for 10 minutes.
    pub fn preflight_headers(
        &self,
        origin: &str,
        method: &Method,
        asked_headers: Option<&str>,
    ) -> Vec<(&'static str, String)> {
        let mut h = self.answer_headers(origin);
        h.push(("Access-Control-Allow-Methods", method.as_str().to_string()));
        if let Some(asked) =
            asked_headers.filter(|a| a.bytes().all(|b| b.is_ascii_graphic() || b == b' '))
        {
            h.push(("Access-Control-Allow-Headers", asked.to_string()));
        }
        h.push(("Access-Control-Max-Age", "600".to_string()));
        h
    }
}

/// The method a CORS preflight asks about, if the request is one.
pub fn preflight_method(method: &Method, headers: &HeaderMap) -> Option<Method> {
    if method != Method::OPTIONS || !headers.contains_key(http::header::ORIGIN) {
        return None;
    }
    let asked = headers.get(http::header::ACCESS_CONTROL_REQUEST_METHOD)?;
    Method::from_bytes(asked.as_bytes()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::tests::header_map as headers;

    #[test]
    fn only_listed_origins_are_allowed() {
        let c = Cors {
            origins: vec!["https://app.example.com".into()],
            any: false,
            credentials: true,
        };
        assert_eq!(
            c.allowed(&headers(&[("origin", "https://app.example.com")])),
            Some("https://app.example.com")
        );
        assert_eq!(
            c.allowed(&headers(&[("origin", "https://evil.example.com")])),
            None
        );
        assert_eq!(
            c.allowed(&headers(&[("origin", "https://app.example.com.evil.com")])),
            None
        );
        assert_eq!(c.allowed(&headers(&[("origin", "null")])), None);
        assert_eq!(c.allowed(&headers(&[])), None);
        let h = c.answer_headers("https://app.example.com");
        assert!(h.contains(&(
            "Access-Control-Allow-Origin",
            "https://app.example.com".into()
        )));
        assert!(h.contains(&("Access-Control-Allow-Credentials", "true".into())));
    }

    #[test]
    fn wildcard_never_carries_credentials() {
        let c = Cors {
            origins: vec![],
            any: true,
            credentials: false,
        };
        let h = c.answer_headers("https://x.example");
        assert!(h.contains(&("Access-Control-Allow-Origin", "*".into())));
        assert!(!h
            .iter()
            .any(|(n, _)| *n == "Access-Control-Allow-Credentials"));
    }

    #[test]
    fn preflight_detection() {
        let pre = headers(&[
            ("origin", "https://a.example"),
            ("access-control-request-method", "PUT"),
        ]);
        assert_eq!(preflight_method(&Method::OPTIONS, &pre), Some(Method::PUT));
        assert_eq!(preflight_method(&Method::GET, &pre), None);
        assert_eq!(
            preflight_method(
                &Method::OPTIONS,
                &headers(&[("origin", "https://a.example")])
            ),
            None
        );
    }
}
