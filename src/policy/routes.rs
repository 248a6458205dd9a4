//! Route table: compiled path patterns (exact, `*` one segment, `**` any
//! rest), optional methods and host; first match wins, no match is 404.
//! Matching allocates nothing and parses nothing per request.

use http::Method;

/// A compiled path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    // filled in by the policy implementation
    source: String,
}

impl PathPattern {
    /// Compile a pattern such as `/api/**`, `/users/*/posts`, `/healthz`.
    pub fn parse(_pattern: &str) -> Result<PathPattern, String> {
        todo!("policy: PathPattern::parse")
    }
    /// Whether a normalised path (no query) matches. Case-sensitive.
    pub fn matches(&self, _path: &str) -> bool {
        todo!("policy: PathPattern::matches")
    }
    /// The pattern as written in the config.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

/// Who may use a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// `auth = "public"`: no credentials needed (but an identity is still
    /// forwarded when valid credentials are presented).
    Public,
    /// Credentials required; any of `roles` (if non-empty) and all of
    /// `permissions` (if non-empty).
    Authenticated { roles: Vec<String>, permissions: Vec<String> },
}

/// One compiled `[[routes]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Index in the config, used in logs and metrics labels (`route`).
    pub index: usize,
    pub pattern: PathPattern,
    /// None: any method.
    pub methods: Option<Vec<Method>>,
    /// Lower-case host without port; None: any host.
    pub host: Option<String>,
    /// Index into `Policy::upstreams`.
    pub upstream: usize,
    pub access: Access,
    /// Index into `Policy::rate_limits`.
    pub rate_limit: Option<usize>,
    /// Whether the client's `Authorization` header reaches the upstream.
    pub forward_authorization: bool,
}

/// Routes in config order.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    pub routes: Vec<Route>,
}

impl RouteTable {
    pub fn new(routes: Vec<Route>) -> Self {
        RouteTable { routes }
    }
    /// First route matching method, host (lower-case, no port) and normalised path.
    pub fn find(&self, _method: &Method, _host: Option<&str>, _path: &str) -> Option<&Route> {
        todo!("policy: RouteTable::find")
    }
}
