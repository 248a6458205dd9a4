//! Route table: compiled path patterns (exact, `*` one segment, `{name}` one
//! segment captured by name, `**` any rest), optional methods and host;
//! first match wins, no match is 404.
//! Matching allocates nothing and parses nothing per request: patterns are
//! split into segments once, at load, and a request path is walked with a
//! borrowing `split('/')`.

use http::Method;

/// One compiled segment of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Must equal the path segment exactly (case-sensitive, SPEC §7).
    Literal(String),
    /// `*`: exactly one non-empty segment.
    Star,
    /// `{name}`: exactly one non-empty segment, which an owner rule may read
    /// back by name ([`PathPattern::capture`]). Matches like `Star`.
    Capture,
    /// `**`: the rest of the path, including nothing. Only ever last.
    Rest,
}

/// A compiled path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    source: String,
    /// The segments after the leading `/`; `/` itself is one empty literal.
    segments: Vec<Segment>,
    /// `{name}` captures: name and position in `segments`.
    captures: Vec<(String, usize)>,
}

impl PathPattern {
    /// Compile a pattern such as `/api/**`, `/users/*/posts`, `/healthz`.
    pub fn parse(pattern: &str) -> Result<PathPattern, String> {
        let Some(rest) = pattern.strip_prefix('/') else {
            return Err(format!("{pattern:?} must start with `/`"));
        };
        if let Some(c) = pattern
            .chars()
            .find(|c| c.is_whitespace() || c.is_control())
        {
            return Err(format!(
                "{pattern:?} contains {c:?}; paths have no spaces or control characters"
            ));
        }
        if pattern.contains(['?', '#']) {
            // The query never takes part in matching (SPEC §7), and a
            // fragment never reaches a server.
            return Err(format!(
                "{pattern:?} contains `?` or `#`; patterns match the path only"
            ));
        }
        let parts: Vec<&str> = rest.split('/').collect();
        let last = parts.len().saturating_sub(1);
        let mut segments = Vec::with_capacity(parts.len());
        let mut captures: Vec<(String, usize)> = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            if let Some(name) = capture_name(pattern, part)? {
                if captures.iter().any(|(n, _)| n == name) {
                    return Err(format!(
                        "{pattern:?}: capture {{{name}}} appears twice; give each a distinct name"
                    ));
                }
                captures.push((name.to_owned(), i));
                segments.push(Segment::Capture);
                continue;
            }
            let seg = match *part {
                "**" if i == last => Segment::Rest,
                "**" => {
                    return Err(format!(
                        "{pattern:?}: `**` is only allowed as the last segment"
                    ))
                }
                "*" => Segment::Star,
                p if p.contains('*') => {
                    return Err(format!(
                    "{pattern:?}: `*` and `**` must be a whole segment (write `/a/*`, not `/a*`)"
                ))
                }
                // `/` alone, or a trailing slash (`/docs/` matches only `/docs/`).
                "" if i == last => Segment::Literal(String::new()),
                "" => return Err(format!("{pattern:?} has an empty segment (`//`)")),
                "." | ".." => {
                    return Err(format!(
                        "{pattern:?} has a `.` or `..` segment, which a normalised path never has"
                    ))
                }
                p => Segment::Literal(p.to_owned()),
            };
            segments.push(seg);
        }
        Ok(PathPattern {
            source: pattern.to_owned(),
            segments,
            captures,
        })
    }

    /// The names of the pattern's `{name}` captures, in path order.
    pub fn capture_names(&self) -> impl Iterator<Item = &str> {
        self.captures.iter().map(|(n, _)| n.as_str())
    }

    /// Position of capture `name` among the path's segments, for
    /// [`PathPattern::capture`]; None when the pattern has no such capture.
    pub fn capture_position(&self, name: &str) -> Option<usize> {
        self.captures
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, i)| i)
    }

    /// The segment at `position` (from [`PathPattern::capture_position`]) of
    /// a path this pattern matched: borrowed, nothing parsed again.
    pub fn capture(path: &str, position: usize) -> Option<&str> {
        path.strip_prefix('/')?.split('/').nth(position)
    }

    /// Whether a normalised path (no query) matches. Case-sensitive.
    pub fn matches(&self, path: &str) -> bool {
        let Some(rest) = path.strip_prefix('/') else {
            return false;
        };
        let mut parts = rest.split('/');
        for seg in &self.segments {
            match seg {
                // `/api/**` matches `/api`, `/api/` and `/api/x/y`; the
                // literal before it already kept out `/apix`.
                Segment::Rest => return true,
                Segment::Star | Segment::Capture => match parts.next() {
                    Some(p) if !p.is_empty() => {}
                    _ => return false,
                },
                Segment::Literal(lit) => match parts.next() {
                    Some(p) if p == lit => {}
                    _ => return false,
                },
            }
        }
        parts.next().is_none()
    }

    /// Whether every path `other` matches is also matched by `self`. Used at
    /// load to refuse routes that an earlier route makes unreachable.
    pub fn covers(&self, other: &PathPattern) -> bool {
        let mut theirs = other.segments.iter();
        for seg in &self.segments {
            match (seg, theirs.next()) {
                (Segment::Rest, _) => return true,
                (Segment::Star | Segment::Capture, Some(Segment::Star | Segment::Capture)) => {}
                (Segment::Star | Segment::Capture, Some(Segment::Literal(l))) if !l.is_empty() => {}
                (Segment::Literal(a), Some(Segment::Literal(b))) if a == b => {}
                _ => return false,
            }
        }
        theirs.next().is_none()
    }

    /// The pattern as written in the config.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

/// `Some(name)` when `part` is a `{name}` segment; an error for a brace
/// anywhere else or a name that is not `[A-Za-z_][A-Za-z0-9_]*`.
fn capture_name<'a>(pattern: &str, part: &'a str) -> Result<Option<&'a str>, String> {
    if !part.contains(['{', '}']) {
        return Ok(None);
    }
    let name = part
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
        .ok_or_else(|| {
            format!("{pattern:?}: a capture must be a whole segment (write `/users/{{id}}/x`, not `/users/x{{id}}`)")
        })?;
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(Some(name))
    } else {
        Err(format!(
            "{pattern:?}: capture name {{{name}}} must be letters, digits and `_`, not starting with a digit"
        ))
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
    Authenticated {
        roles: Vec<String>,
        permissions: Vec<String>,
    },
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
    /// Index into `Policy::upstreams`; None: a route the gateway only
    /// decides for a front proxy (forward-auth, SPEC §10), never proxies.
    pub upstream: Option<usize>,
    pub access: Access,
    /// Index into `Policy::rate_limits`.
    pub rate_limit: Option<usize>,
    /// Whether the client's `Authorization` header reaches the upstream.
    pub forward_authorization: bool,
    /// Cross-origin settings (`cors_origins`, `cors_credentials`).
    pub cors: Option<crate::policy::cors::Cors>,
    /// `owner` / `owner_bypass_roles`: captures that must name the identity.
    pub owner: Option<crate::policy::owner::OwnerRule>,
    /// Replaces the upstream's read timeout (slow endpoints).
    pub timeout: Option<std::time::Duration>,
    /// `max_body` in bytes, replacing `[server] max_body` (SPEC §11).
    pub max_body: Option<u64>,
}

impl Route {
    /// Whether the route takes this method. A route that allows GET also
    /// takes HEAD, as every HTTP server does for GET resources.
    pub fn allows_method(&self, method: &Method) -> bool {
        match &self.methods {
            None => true,
            Some(ms) => {
                ms.contains(method) || (method == Method::HEAD && ms.contains(&Method::GET))
            }
        }
    }

    /// Whether the route takes this host (lower-case, no port). A route with
    /// a host never matches a request without one.
    pub fn allows_host(&self, host: Option<&str>) -> bool {
        match (&self.host, host) {
            (None, _) => true,
            (Some(want), Some(got)) => want.eq_ignore_ascii_case(got),
            (Some(_), None) => false,
        }
    }

    /// Whether every request `later` takes would already be taken by `self`.
    pub fn shadows(&self, later: &Route) -> bool {
        let methods = match (&self.methods, &later.methods) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(_), Some(theirs)) => theirs.iter().all(|m| self.allows_method(m)),
        };
        let host = match (&self.host, &later.host) {
            (None, _) => true,
            (Some(a), Some(b)) => a == b,
            (Some(_), None) => false,
        };
        methods && host && self.pattern.covers(&later.pattern)
    }
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
    pub fn find(&self, method: &Method, host: Option<&str>, path: &str) -> Option<&Route> {
        self.routes
            .iter()
            .find(|r| r.allows_method(method) && r.allows_host(host) && r.pattern.matches(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_matching_table() {
        // (pattern, path, matches)
        let cases: &[(&str, &str, bool)] = &[
            ("/healthz", "/healthz", true),
            ("/healthz", "/healthz/", false),
            ("/healthz", "/healthzz", false),
            ("/healthz", "/Healthz", false),
            ("/healthz", "/", false),
            ("/", "/", true),
            ("/", "/a", false),
            ("/docs/", "/docs/", true),
            ("/docs/", "/docs", false),
            ("/api/**", "/api", true),
            ("/api/**", "/api/", true),
            ("/api/**", "/api/x", true),
            ("/api/**", "/api/x/y/z", true),
            ("/api/**", "/apix", false),
            ("/api/**", "/apix/y", false),
            ("/api/**", "/API/x", false),
            ("/api/**", "/", false),
            ("/api/**", "/v1/api/x", false),
            ("/**", "/", true),
            ("/**", "/anything/at/all", true),
            ("/users/*/posts", "/users/42/posts", true),
            ("/users/*/posts", "/users//posts", false),
            ("/users/*/posts", "/users/posts", false),
            ("/users/*/posts", "/users/1/2/posts", false),
            ("/users/*/posts", "/users/42/posts/", false),
            ("/users/*", "/users/", false),
            ("/users/*", "/users", false),
            ("/users/*", "/users/a", true),
            ("/users/*", "/users/a/b", false),
            ("/a/*/**", "/a/b", true),
            ("/a/*/**", "/a/b/c/d", true),
            ("/a/*/**", "/a", false),
            ("/a/*/**", "/a/", false),
            ("/healthz", "healthz", false),
            ("/healthz", "", false),
            ("/users/{uid}/**", "/users/u-1/x", true),
            ("/users/{uid}/**", "/users/u-1", true),
            ("/users/{uid}/**", "/users/u-1/", true),
            ("/users/{uid}/**", "/users/", false),
            ("/users/{uid}/**", "/users", false),
            ("/users/{uid}/**", "/users//x", false),
            ("/users/{uid}", "/users/a/b", false),
            ("/o/{org}/u/{uid}", "/o/x/u/y", true),
            ("/o/{org}/u/{uid}", "/o/x/u/", false),
        ];
        for (pattern, path, want) in cases {
            let p = PathPattern::parse(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
            assert_eq!(p.matches(path), *want, "{pattern} vs {path}");
            assert_eq!(p.as_str(), *pattern);
        }
    }

    #[test]
    fn bad_patterns_refused() {
        // (pattern, part of the message)
        let cases: &[(&str, &str)] = &[
            ("", "must start with `/`"),
            ("api/**", "must start with `/`"),
            ("/api/**/x", "only allowed as the last segment"),
            ("/**/x", "only allowed as the last segment"),
            ("/api*", "whole segment"),
            ("/a/b**", "whole segment"),
            ("/a/***", "whole segment"),
            ("/a//b", "empty segment"),
            ("//", "empty segment"),
            ("/a/../b", "`..`"),
            ("/a/./b", "`.`"),
            ("/a?x=1", "`?`"),
            ("/a#frag", "`#`"),
            ("/a b", "spaces"),
            ("/a\tb", "spaces"),
        ];
        for (pattern, want) in cases {
            let err = PathPattern::parse(pattern).expect_err(pattern);
            assert!(err.contains(want), "{pattern}: {err}");
        }
    }

    #[test]
    fn captures_are_read_back_by_position() {
        let p = PathPattern::parse("/o/{org}/u/{uid}/**").unwrap();
        assert_eq!(p.capture_names().collect::<Vec<_>>(), ["org", "uid"]);
        let path = "/o/acme/u/u-1/files/a";
        assert!(p.matches(path));
        let org = p.capture_position("org").unwrap();
        let uid = p.capture_position("uid").unwrap();
        assert_eq!(PathPattern::capture(path, org), Some("acme"));
        assert_eq!(PathPattern::capture(path, uid), Some("u-1"));
        assert_eq!(p.capture_position("nope"), None);
    }

    #[test]
    fn covers_table() {
        // (earlier, later, earlier covers later)
        let cases: &[(&str, &str, bool)] = &[
            ("/**", "/api/**", true),
            ("/**", "/", true),
            ("/api/**", "/api/x", true),
            ("/api/**", "/api", true),
            ("/api/**", "/api/*/y", true),
            ("/api/*", "/api/x", true),
            ("/api/*", "/api/*", true),
            ("/api/*", "/api/", false),
            ("/api/*", "/api/**", false),
            ("/api/x", "/api/*", false),
            ("/api/**", "/apix", false),
            ("/api/**", "/**", false),
            ("/a", "/a", true),
            ("/a", "/a/", false),
            ("/users/{uid}/**", "/users/*/x", true),
            ("/users/*/**", "/users/{uid}/x", true),
            ("/users/{uid}", "/users/bob", true),
            ("/users/bob", "/users/{uid}", false),
        ];
        for (a, b, want) in cases {
            let (pa, pb) = (
                PathPattern::parse(a).unwrap(),
                PathPattern::parse(b).unwrap(),
            );
            assert_eq!(pa.covers(&pb), *want, "{a} covers {b}");
        }
    }

    fn route(index: usize, pattern: &str, methods: Option<&[Method]>, host: Option<&str>) -> Route {
        Route {
            index,
            pattern: PathPattern::parse(pattern).unwrap(),
            methods: methods.map(|m| m.to_vec()),
            host: host.map(str::to_owned),
            upstream: Some(0),
            access: Access::Public,
            rate_limit: None,
            forward_authorization: false,
            cors: None,
            owner: None,
            timeout: None,
            max_body: None,
        }
    }

    #[test]
    fn find_first_match_table() {
        let table = RouteTable::new(vec![
            route(0, "/admin/**", Some(&[Method::GET, Method::POST]), None),
            route(1, "/api/**", None, Some("api.example.com")),
            route(2, "/api/**", Some(&[Method::DELETE]), None),
            route(3, "/healthz", None, None),
        ]);
        // (method, host, path, index of the expected route)
        let cases: &[(Method, Option<&str>, &str, Option<usize>)] = &[
            (Method::GET, None, "/admin/users", Some(0)),
            (Method::POST, Some("x.test"), "/admin", Some(0)),
            (Method::HEAD, None, "/admin/users", Some(0)),
            (Method::PUT, None, "/admin/users", None),
            (Method::DELETE, None, "/admin/users", None),
            (Method::GET, Some("api.example.com"), "/api/x", Some(1)),
            (Method::DELETE, Some("api.example.com"), "/api/x", Some(1)),
            (Method::GET, Some("other.example.com"), "/api/x", None),
            (Method::GET, None, "/api/x", None),
            (Method::DELETE, Some("other.example.com"), "/api/x", Some(2)),
            (Method::DELETE, None, "/api", Some(2)),
            (Method::HEAD, None, "/api", None),
            (Method::GET, None, "/healthz", Some(3)),
            (Method::GET, None, "/healthz/", None),
            (Method::GET, None, "/nothing", None),
        ];
        for (method, host, path, want) in cases {
            let got = table.find(method, *host, path).map(|r| r.index);
            assert_eq!(got, *want, "{method} {host:?} {path}");
        }
    }

    #[test]
    fn shadowing() {
        let any_root = route(0, "/**", None, None);
        let api = route(1, "/api/**", None, None);
        let api_get = route(2, "/api/x", Some(&[Method::GET]), None);
        let api_host = route(3, "/api/x", None, Some("a.test"));
        let get_only = route(4, "/**", Some(&[Method::GET]), None);
        let head_only = route(5, "/x", Some(&[Method::HEAD]), None);
        assert!(any_root.shadows(&api));
        assert!(api.shadows(&api_get));
        assert!(api.shadows(&api_host));
        assert!(!api_host.shadows(&api));
        assert!(!api_get.shadows(&api));
        assert!(!get_only.shadows(&api));
        assert!(get_only.shadows(&api_get));
        assert!(get_only.shadows(&head_only));
        assert!(!api.shadows(&any_root));
    }
}
