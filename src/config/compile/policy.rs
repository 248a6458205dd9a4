//! The policy half of the config: `[upstreams]`, `[roles]`,
//! `[rate_limits]` and `[[routes]]`, with every name a route uses resolved
//! to an index (STYLE §5). This is what SIGHUP recompiles and swaps.

use std::collections::{BTreeMap, HashMap};

use std::ops::Range;
use std::str::FromStr;
use std::time::Duration;

use http::Method;
use toml::Spanned;

use super::server::public_origin;
use super::{in_file_order, Compiler};
use crate::config::diag::key_part;
use crate::config::raw::{self, Str};
use crate::policy::cors::Cors;
use crate::policy::routes::Access;
use crate::policy::{LimitKey, PathPattern, Policy, RateLimit, Roles, Route, RouteTable};
use crate::store::GcraRule;

/// Largest `limit` or `burst`: far above any real budget, far below overflow.
const MAX_LIMIT: i64 = 1_000_000_000;

/// Methods a route may name: the standard ones, TRACE (never allowed unless
/// named), and the extension methods of IANA's registry (WebDAV, CalDAV,
/// DeltaV), so a typo such as `"GTE"` is still an error. CONNECT is refused
/// by Pingora.
const METHODS: &[&str] = &[
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "DELETE",
    "PATCH",
    "OPTIONS",
    "TRACE",
    // WebDAV (RFC 4918), ordered collections, ACL, binding, search.
    "PROPFIND",
    "PROPPATCH",
    "MKCOL",
    "COPY",
    "MOVE",
    "LOCK",
    "UNLOCK",
    "ORDERPATCH",
    "ACL",
    "BIND",
    "UNBIND",
    "REBIND",
    "SEARCH",
    // CalDAV (RFC 4791) and DeltaV (RFC 3253).
    "MKCALENDAR",
    "REPORT",
    "CHECKIN",
    "CHECKOUT",
    "UNCHECKOUT",
    "VERSION-CONTROL",
    "UPDATE",
    "LABEL",
    "MERGE",
    "MKWORKSPACE",
    "MKACTIVITY",
    "BASELINE-CONTROL",
    "MKREDIRECTREF",
    "UPDATEREDIRECTREF",
];

impl Compiler<'_> {
    pub(super) fn policy(
        &mut self,
        upstreams: Option<BTreeMap<String, Spanned<raw::RawUpstream>>>,
        roles: Option<BTreeMap<String, Spanned<Vec<Str>>>>,
        rate_limits: Option<BTreeMap<String, Spanned<raw::RawRateLimit>>>,
        routes: Option<Spanned<Vec<Spanned<raw::RawRoute>>>>,
        forward_auth: bool,
    ) -> Policy {
        let upstreams = self.upstreams(in_file_order(upstreams));
        let upstream_index: HashMap<String, usize> = upstreams
            .iter()
            .enumerate()
            .map(|(i, u)| (u.name.clone(), i))
            .collect();
        let roles = self.roles(in_file_order(roles));
        let rate_limits = self.rate_limits(in_file_order(rate_limits));
        let limit_index: HashMap<&str, usize> = rate_limits
            .iter()
            .enumerate()
            .map(|(i, r)| (r.name.as_str(), i))
            .collect();
        let refs = Refs {
            upstreams: &upstream_index,
            roles: &roles,
            limits: &limit_index,
            forward_auth,
        };
        let routes = self.routes(routes, &refs);
        let mut extra_methods: Vec<http::Method> = Vec::new();
        for m in routes.iter().flat_map(|r| r.methods.iter().flatten()) {
            if crate::policy::method::check_method(m, &[]).is_err() && !extra_methods.contains(m) {
                extra_methods.push(m.clone());
            }
        }
        Policy {
            upstreams,
            roles: Roles::new(roles.into_iter().collect()),
            rate_limits,
            routes: RouteTable::new(routes),
            upstream_index,
            extra_methods,
        }
    }

    /// Every upstream is kept, even a bad one, so that routes naming it do
    /// not add a misleading "unknown upstream" (the config fails anyway).
    fn roles(&mut self, list: Vec<(String, Spanned<Vec<Str>>)>) -> BTreeMap<String, Vec<String>> {
        let mut out = BTreeMap::new();
        for (name, perms) in list {
            let prefix = format!("roles.{}", key_part(&name));
            if let Err(e) = check_role_name(&name) {
                self.d.at(perms.span(), prefix.clone(), e);
            }
            let mut compiled = Vec::new();
            for (i, p) in perms.get_ref().iter().enumerate() {
                match check_permission(p.get_ref()) {
                    Ok(()) => compiled.push(p.get_ref().clone()),
                    Err(e) => self.d.at(p.span(), format!("{prefix}[{i}]"), e),
                }
            }
            out.insert(name, compiled);
        }
        out
    }

    /// Like upstreams, a bad rate limit is kept under its name so routes
    /// using it get no second, misleading problem.
    fn rate_limits(&mut self, list: Vec<(String, Spanned<raw::RawRateLimit>)>) -> Vec<RateLimit> {
        let mut out = Vec::with_capacity(list.len());
        for (name, r) in list {
            let span = r.span();
            let r = r.into_inner();
            let prefix = format!("rate_limits.{}", key_part(&name));
            let key = match &r.key {
                None => {
                    self.d.at(
                        span.clone(),
                        format!("{prefix}.key"),
                        "missing: key = \"ip\", \"user\" or \"route\"",
                    );
                    LimitKey::Ip
                }
                Some(v) => match v.get_ref().as_str() {
                    "ip" => LimitKey::Ip,
                    "user" => LimitKey::User,
                    "route" => LimitKey::Route,
                    other => {
                        let msg =
                            format!("unknown key {other:?}; use \"ip\", \"user\" or \"route\"");
                        self.d.at(v.span(), format!("{prefix}.key"), msg);
                        LimitKey::Ip
                    }
                },
            };
            if r.limit.is_none() {
                self.d.at(
                    span.clone(),
                    format!("{prefix}.limit"),
                    "missing: limit = requests per `per`",
                );
            }
            if r.per.is_none() {
                self.d.at(
                    span.clone(),
                    format!("{prefix}.per"),
                    "missing: per = a duration, e.g. \"1m\"",
                );
            }
            let limit = self.int(
                r.limit.as_ref(),
                &format!("{prefix}.limit"),
                1,
                1..MAX_LIMIT + 1,
            );
            let burst = self.int(
                r.burst.as_ref(),
                &format!("{prefix}.burst"),
                0,
                0..MAX_LIMIT + 1,
            );
            let period = self.positive(
                r.per.as_ref(),
                &format!("{prefix}.per"),
                Duration::from_secs(1),
            );
            let rule = GcraRule {
                limit: limit.unsigned_abs(),
                period,
                burst: burst.unsigned_abs(),
            };
            // GCRA works on i64 microseconds (store/gcra.rs): keep the whole
            // budget, and a timestamp plus it, far from overflow.
            let budget_fits = rule
                .interval_us()
                .checked_mul(i64::try_from(rule.limit + rule.burst).unwrap_or(i64::MAX))
                .is_some_and(|cap| cap < i64::MAX / 4);
            if !budget_fits {
                self.d.at(
                    span,
                    format!("{prefix}.burst"),
                    "limit + burst over `per` is too large",
                );
            }
            out.push(RateLimit { name, key, rule });
        }
        out
    }

    fn routes(
        &mut self,
        raw: Option<Spanned<Vec<Spanned<raw::RawRoute>>>>,
        refs: &Refs<'_>,
    ) -> Vec<Route> {
        let Some(raw) = raw else {
            self.d.nowhere(
                "routes",
                "no [[routes]]: every request would be 404; add at least one route",
            );
            return Vec::new();
        };
        let span = raw.span();
        let raw = raw.into_inner();
        if raw.is_empty() {
            self.d.at(span, "routes", "empty: add at least one route");
        }
        let mut routes: Vec<(Route, Range<usize>)> = Vec::with_capacity(raw.len());
        for (index, r) in raw.into_iter().enumerate() {
            let span = r.span();
            if let Some(route) = self.route(index, r.into_inner(), span.clone(), refs) {
                routes.push((route, span));
            }
        }
        // A route that an earlier one already takes in full is dead config,
        // and usually a mistake with security weight (a protected route
        // behind a public catch-all).
        for (j, (later, span)) in routes.iter().enumerate() {
            if let Some((earlier, espan)) = routes[..j].iter().find(|(e, _)| e.shadows(later)) {
                let msg = format!(
                    "unreachable: routes[{}] (line {}) already matches every request this route would",
                    earlier.index,
                    self.d.line_of(espan.start)
                );
                self.d
                    .at(span.clone(), format!("routes[{}]", later.index), msg);
            }
        }
        routes.into_iter().map(|(r, _)| r).collect()
    }

    fn route(
        &mut self,
        index: usize,
        r: raw::RawRoute,
        span: Range<usize>,
        refs: &Refs<'_>,
    ) -> Option<Route> {
        let prefix = format!("routes[{index}]");
        let before = self.d.len();
        let pattern = match &r.path {
            None => {
                self.d.at(
                    span.clone(),
                    format!("{prefix}.path"),
                    "missing: path = \"/pattern/**\"",
                );
                None
            }
            Some(v) => match PathPattern::parse(v.get_ref()) {
                Ok(p) => Some(p),
                Err(e) => {
                    self.d.at(v.span(), format!("{prefix}.path"), e);
                    None
                }
            },
        };
        let methods = r.methods.as_ref().map(|ms| {
            if ms.get_ref().is_empty() {
                self.d.at(
                    ms.span(),
                    format!("{prefix}.methods"),
                    "empty list matches nothing; remove it to allow any method",
                );
            }
            let mut out: Vec<Method> = Vec::new();
            for (i, m) in ms.get_ref().iter().enumerate() {
                let upper = m.get_ref().to_ascii_uppercase();
                match METHODS
                    .contains(&upper.as_str())
                    .then(|| Method::from_bytes(upper.as_bytes()))
                {
                    Some(Ok(method)) => {
                        if !out.contains(&method) {
                            out.push(method);
                        }
                    }
                    _ => {
                        let msg = format!(
                            "unknown method {:?}; use one of {} or a registered \
                             WebDAV/CalDAV/DeltaV method",
                            m.get_ref(),
                            METHODS[..8].join(", ")
                        );
                        self.d.at(m.span(), format!("{prefix}.methods[{i}]"), msg);
                    }
                }
            }
            out
        });
        let host = r
            .host
            .as_ref()
            .and_then(|v| match check_route_host(v.get_ref()) {
                Ok(h) => Some(h),
                Err(e) => {
                    self.d.at(v.span(), format!("{prefix}.host"), e);
                    None
                }
            });
        let upstream = match &r.upstream {
            // Decided for a front proxy only (SPEC §10).
            None if refs.forward_auth => Some(None),
            None => {
                self.d.at(
                    span.clone(),
                    format!("{prefix}.upstream"),
                    "missing: upstream = \"<name in [upstreams]>\" (or [forward_auth] \
                     enabled = true for a route the gateway only decides)",
                );
                None
            }
            Some(v) => {
                let found = refs.upstreams.get(v.get_ref().as_str()).copied();
                if found.is_none() {
                    let msg = format!("unknown upstream {:?} (not in [upstreams])", v.get_ref());
                    self.d.at(v.span(), format!("{prefix}.upstream"), msg);
                }
                found.map(Some)
            }
        };
        let public = match &r.auth {
            None => false,
            Some(v) => match v.get_ref().as_str() {
                "public" => true,
                "authenticated" => false,
                other => {
                    let msg =
                        format!("unknown auth {other:?}; use \"public\" or \"authenticated\"");
                    self.d.at(v.span(), format!("{prefix}.auth"), msg);
                    false
                }
            },
        };
        let roles = self.route_names(r.roles.as_deref(), &format!("{prefix}.roles"), |n| {
            refs.roles
                .contains_key(n)
                .then_some(())
                .ok_or_else(|| format!("unknown role {n:?} (not in [roles])"))
        });
        let permissions = self.route_names(
            r.permissions.as_deref(),
            &format!("{prefix}.permissions"),
            |n| {
                let granted = refs
                    .roles
                    .values()
                    .any(|ps| ps.iter().any(|p| p == "*" || p == n));
                granted
                    .then_some(())
                    .ok_or_else(|| format!("no role in [roles] grants permission {n:?}"))
            },
        );
        if public {
            for (list, key) in [(&r.roles, "roles"), (&r.permissions, "permissions")] {
                if let Some(first) = list.as_ref().and_then(|l| l.first()) {
                    let msg = "a public route takes no roles or permissions; remove them or the auth = \"public\"";
                    self.d.at(first.span(), format!("{prefix}.{key}"), msg);
                }
            }
        }
        let rate_limit = r.rate_limit.as_ref().and_then(|v| {
            let found = refs.limits.get(v.get_ref().as_str()).copied();
            if found.is_none() {
                let msg = format!(
                    "unknown rate limit {:?} (not in [rate_limits])",
                    v.get_ref()
                );
                self.d.at(v.span(), format!("{prefix}.rate_limit"), msg);
            }
            found
        });
        let max_body = r
            .max_body
            .as_ref()
            .map(|v| self.size(Some(v), &format!("{prefix}.max_body"), 0, 1..=(1 << 40)));
        let cors = self.route_cors(&r, &prefix);
        let owner = self.route_owner(&r, pattern.as_ref(), public, refs.roles, &prefix);
        let timeout = r.timeout.as_ref().map(|t| {
            self.positive(
                Some(t),
                &format!("{prefix}.timeout"),
                Duration::from_secs(60),
            )
        });
        if self.d.len() != before {
            return None;
        }
        let access = if public {
            Access::Public
        } else {
            Access::Authenticated { roles, permissions }
        };
        Some(Route {
            index,
            pattern: pattern?,
            methods,
            host,
            upstream: upstream?,
            access,
            rate_limit,
            forward_authorization: r.forward_authorization.unwrap_or(false),
            cors,
            owner,
            timeout,
            max_body,
        })
    }

    /// `cors_origins` (exact origins, or `"*"` alone and only without
    /// credentials) and `cors_credentials`.
    fn route_cors(&mut self, r: &raw::RawRoute, prefix: &str) -> Option<Cors> {
        let Some(list) = &r.cors_origins else {
            if r.cors_credentials.is_some() {
                self.d
                    .nowhere(format!("{prefix}.cors_credentials"), "needs cors_origins");
            }
            return None;
        };
        let credentials = r.cors_credentials.unwrap_or(false);
        let mut cors = Cors {
            origins: Vec::new(),
            any: false,
            credentials,
        };
        for o in list {
            let key = format!("{prefix}.cors_origins");
            match o.get_ref().as_str() {
                "*" if credentials => self.d.at(
                    o.span(),
                    key,
                    "\"*\" cannot be combined with cors_credentials = true; list the origins",
                ),
                "*" => cors.any = true,
                origin => match public_origin(origin) {
                    Ok(c) => cors.origins.push(c),
                    Err(e) => self.d.at(o.span(), key, e),
                },
            }
        }
        Some(cors)
    }

    /// A route's list of role or permission names, each checked by `known`.
    pub(super) fn route_names(
        &mut self,
        list: Option<&[Str]>,
        key: &str,
        known: impl Fn(&str) -> Result<(), String>,
    ) -> Vec<String> {
        let mut out = Vec::new();
        for (i, v) in list.unwrap_or_default().iter().enumerate() {
            match known(v.get_ref()) {
                Ok(()) => out.push(v.get_ref().clone()),
                Err(e) => self.d.at(v.span(), format!("{key}[{i}]"), e),
            }
        }
        out
    }
}

/// Names routes may refer to.
struct Refs<'a> {
    upstreams: &'a HashMap<String, usize>,
    roles: &'a BTreeMap<String, Vec<String>>,
    limits: &'a HashMap<&'a str, usize>,
    /// With forward-auth on, a route may name no upstream (decided only).
    forward_auth: bool,
}

pub(super) fn is_dns_name(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Route hosts compare against the request's lower-cased host without port.
fn check_route_host(h: &str) -> Result<String, String> {
    let lower = h.to_ascii_lowercase();
    if let Some(inner) = lower.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        // Canonical form, as the request's host is normalised to.
        if let Ok(v6) = std::net::Ipv6Addr::from_str(inner) {
            return Ok(format!("[{v6}]"));
        }
    }
    if lower.contains(':') {
        return Err(format!(
            "{h:?}: no port here (the port is ignored when matching hosts)"
        ));
    }
    if !is_dns_name(&lower) {
        return Err(format!(
            "{h:?} is not a host name (exact names only, no wildcards)"
        ));
    }
    Ok(lower)
}

/// Role names travel comma-separated in the roles header (SPEC §7): no
/// commas, spaces or control characters.
fn check_role_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "role name {name:?}: use letters, digits and - _ . : only"
        ))
    }
}

fn check_permission(p: &str) -> Result<(), String> {
    let ok = !p.is_empty() && p.bytes().all(|b| b.is_ascii_graphic() && b != b',');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "permission {p:?}: must be non-empty, without spaces or commas"
        ))
    }
}
