//! SPEC §7 path normalisation, before any matching: percent-decoding of
//! unreserved characters, `.`/`..` segments, duplicate slashes. Targets that
//! cannot be normalised safely are refused (400).

use crate::error::GateError;

/// A request target after normalisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedPath {
    /// The normalised path, always starting with `/`.
    pub path: String,
    /// The raw query string (without `?`), untouched.
    pub query: Option<String>,
}

impl NormalizedPath {
    /// Path and query as sent upstream.
    pub fn path_and_query(&self) -> String {
        match &self.query {
            Some(q) => format!("{}?{}", self.path, q),
            None => self.path.clone(),
        }
    }
}

/// Normalise a raw request target (the bytes of the request line).
pub fn normalize(_raw_target: &[u8]) -> Result<NormalizedPath, GateError> {
    todo!("policy: normalize")
}
