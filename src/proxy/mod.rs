//! The Pingora `ProxyHttp` implementation. Each hook is thin: it reads the
//! request, calls `policy`, `auth` and `endpoints`, and writes the result.

use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::modules::http::HttpModules;
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::upstreams::peer::HttpPeer;

use crate::auth::check::{
    authenticate, authorization_verified, credentials, AuthOutcome, Directory, OwnCookies,
};
use crate::auth::{AuthMethod, Identity};
use crate::endpoints;
use crate::error::{limit_headers, Answer, GateError};
use crate::metrics::METRICS;
use crate::policy::client_ip::client_ip_from_headers;
use crate::policy::cors::preflight_method;
use crate::policy::csrf::{check_origin, is_unsafe};
use crate::policy::framing::check_framing;
use crate::policy::host::{request_host, RequestHost};
use crate::policy::method::check_method;
use crate::policy::normalize::request_target;
use crate::policy::routes::{Access, Route};
use crate::policy::{authorize, normalize, NormalizedPath};
use crate::state::{AppState, Live};
use crate::store::unix_now;

pub mod ctx;
pub mod headers;
pub mod respond;

pub use ctx::RequestCtx;

/// The gateway as a Pingora proxy service.
pub struct Gatehouse {
    pub state: Arc<AppState>,
    identity_names: headers::IdentityNames,
}

/// How `request_filter` ended.
enum Flow {
    /// A permit was granted: proxy upstream.
    Forward,
    /// The gateway answered the request itself.
    Answered,
}

impl Gatehouse {
    pub fn new(state: Arc<AppState>) -> Self {
        let identity_names = headers::IdentityNames::new(&state.config.headers);
        Gatehouse {
            state,
            identity_names,
        }
    }

    /// SPEC §7 then §6: normalise, serve our own endpoints, route,
    /// authenticate, authorize, rate-limit. Only `authorize` makes a permit.
    async fn gate(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<Flow, GateError> {
        let state = &self.state;
        self.observe_peer(session, ctx);
        let path = read_target(session)?;
        // Before Pingora's own hop-by-hop pass, so a hostile `Connection`
        // header is cleaned rather than acted on.
        headers::sanitize_request(
            session.req_header_mut(),
            &state.config.headers,
            ctx.peer_trusted,
        );
        let live = state.live.load_full();
        ctx.live = Some(live.clone());
        let req = session.req_header();
        check_method(&req.method, &live.policy.extra_methods)?;
        ctx.host = request_host(
            &req.headers,
            req.version,
            req.uri.authority().map(|a| a.as_str()),
        )?;
        let query = path.query.as_deref();
        if let Some(answer) = endpoints::dispatch(
            session,
            state,
            &live,
            &path.path,
            query,
            ctx.client_ip,
            ctx.tls,
        )
        .await
        {
            return answered(session, ctx, answer).await;
        }
        let req = session.req_header();
        let host = ctx.host.as_ref().map(RequestHost::name);
        if let Some(answer) = preflight(&live, req, host, &path.path) {
            return answered(session, ctx, answer).await;
        }
        let route = live
            .policy
            .routes
            .find(&req.method, host, &path.path)
            .ok_or(GateError::NotFound)?;
        same_route_without_path_params(&live, req, host, &path.path, route)?;
        ctx.route = Some(route.index);
        let identity = self.identify(req, route, &live, ctx.tls).await?;
        let permit = authorize(route, &live.policy.roles, identity).map_err(|e| match e {
            GateError::Unauthenticated { .. } => {
                let login = login_redirect(
                    req,
                    &state.config.server.auth_prefix,
                    &path.path_and_query(),
                );
                GateError::Unauthenticated { browser: login }
            }
            other => other,
        })?;
        if let Some(limit) = route
            .rate_limit
            .and_then(|i| live.policy.rate_limits.get(i))
        {
            let store = state.store_if_up().await;
            let id = permit.identity.as_deref();
            ctx.limit = Some(
                state
                    .limiter
                    .check(store, limit, route.index, id, ctx.client_ip)
                    .await?,
            );
        }
        ctx.permit = Some(permit);
        ctx.path = Some(path);
        Ok(Flow::Forward)
    }

    /// TLS or not, the socket peer, whether it is a trusted proxy, and the
    /// client IP it vouches for.
    fn observe_peer(&self, session: &Session, ctx: &mut RequestCtx) {
        let trusted = &self.state.config.server.trusted_proxies;
        ctx.tls = session
            .digest()
            .and_then(|d| d.ssl_digest.as_ref())
            .is_some();
        if let Some(peer) = session
            .client_addr()
            .and_then(|a| a.as_inet())
            .map(|a| a.ip())
        {
            ctx.peer = Some(peer);
            ctx.peer_trusted = trusted.iter().any(|n| n.contains(&peer));
            ctx.client_ip = Some(client_ip_from_headers(
                peer,
                &session.req_header().headers,
                trusted,
            ));
        }
    }

    /// The verified identity for a route. Public routes never touch the
    /// store: they keep working when it is down, and carry no identity.
    /// A store failure on a protected route fails closed (503).
    async fn identify(
        &self,
        req: &RequestHeader,
        route: &Route,
        live: &Live,
        tls: bool,
    ) -> Result<Option<Arc<Identity>>, GateError> {
        let state = &self.state;
        // Ambiguous credentials are refused on every route, public ones too:
        // the app behind a public route may read them (issue 10, point 4).
        let creds = credentials(req, OwnCookies::of(&state.config.session))?;
        if route.access == Access::Public {
            return Ok(None);
        }
        let store = state.store().await?;
        let idle = state.config.session.idle_timeout;
        let current = Directory {
            users: &live.users,
            roles: live.policy.roles.names(),
        };
        let outcome = authenticate(
            creds,
            &state.tokens,
            store.as_ref(),
            current,
            idle,
            unix_now(),
        )
        .await?;
        let method = creds.method().map(|m| m.as_str()).unwrap_or("none");
        let result = match &outcome {
            AuthOutcome::Authenticated(_) => "ok",
            AuthOutcome::Anonymous => "anonymous",
            AuthOutcome::Refused(reason) => reason,
        };
        METRICS.auth.with_label_values(&[method, result]).inc();
        let AuthOutcome::Authenticated(id) = outcome else {
            return Ok(None);
        };
        if id.method == AuthMethod::Cookie && is_unsafe(&req.method) {
            self.check_csrf(req, route, tls)?;
        }
        Ok(Some(Arc::new(id)))
    }

    /// SPEC §6 CSRF for a cookie-carried unsafe request; an origin the route
    /// trusts with credentials (CORS) passes too.
    fn check_csrf(&self, req: &RequestHeader, route: &Route, tls: bool) -> Result<(), GateError> {
        let cors_ok = route
            .cors
            .as_ref()
            .is_some_and(|c| c.credentials && c.allowed(&req.headers).is_some());
        if cors_ok {
            return Ok(());
        }
        let own = endpoints::own_origin(req, tls);
        check_origin(
            &req.headers,
            self.state.config.server.public_origin.as_deref(),
            &own,
        )
    }
}

/// Framing checks, then the normalised target. Pingora drops a `#fragment`
/// from the parsed target; SPEC §7 wants it refused, so HTTP/1 targets are
/// read from the raw request line.
fn read_target(session: &Session) -> Result<NormalizedPath, GateError> {
    let h1_head = session
        .as_downstream()
        .as_http1()
        .map(|h1| h1.get_headers_raw_bytes());
    check_framing(&session.req_header().headers, || h1_head.clone())?;
    match h1_head.as_deref().and_then(request_target) {
        Some(target) => normalize(target),
        None => normalize(session.req_header().raw_path()),
    }
}

/// SPEC §7 "cannot be normalised safely": a path with `;parameters` must
/// match the same route as the path Tomcat, Jetty and Spring serve for it
/// (parameters removed), or `/admin;x/secret` would pass a catch-all rule
/// and be served as `/admin/secret`. Paths without `;` cost one scan.
fn same_route_without_path_params(
    live: &Live,
    req: &RequestHeader,
    host: Option<&str>,
    path: &str,
    route: &Route,
) -> Result<(), GateError> {
    let Some(stripped) = normalize::without_path_params(path) else {
        return Ok(());
    };
    let stripped = stripped?;
    let other = live.policy.routes.find(&req.method, host, &stripped.path);
    match other {
        Some(other) if other.index == route.index => Ok(()),
        _ => Err(GateError::BadRequest(
            "request path parameters (;) change which route matches",
        )),
    }
}

/// Write a gateway answer and end the request there.
async fn answered(
    session: &mut Session,
    ctx: &mut RequestCtx,
    answer: Answer,
) -> Result<Flow, GateError> {
    respond::send(session, answer, ctx.tls)
        .await
        .map_err(GateError::internal)?;
    ctx.endpoint = true;
    Ok(Flow::Answered)
}

/// A CORS preflight for a route with CORS settings: answered here, before
/// authentication, since browsers send preflights without credentials.
fn preflight(live: &Live, req: &RequestHeader, host: Option<&str>, path: &str) -> Option<Answer> {
    let asked = preflight_method(&req.method, &req.headers)?;
    let cors = live.policy.routes.find(&asked, host, path)?.cors.as_ref()?;
    Some(match cors.allowed(&req.headers) {
        Some(origin) => {
            let asked_headers = req
                .headers
                .get(http::header::ACCESS_CONTROL_REQUEST_HEADERS)
                .and_then(|v| v.to_str().ok());
            Answer {
                status: 204,
                headers: cors.preflight_headers(origin, &asked, asked_headers),
                body: String::new(),
            }
        }
        None => GateError::Forbidden.answer(),
    })
}

/// Status codes as static label values (no allocation per request).
fn status_label(status: u16) -> &'static str {
    match status {
        200 => "200",
        201 => "201",
        204 => "204",
        301 => "301",
        302 => "302",
        303 => "303",
        304 => "304",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        413 => "413",
        429 => "429",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        0 => "none",
        s if s < 300 => "2xx",
        s if s < 400 => "3xx",
        s if s < 500 => "4xx",
        _ => "5xx",
    }
}

/// SPEC §6: a browser GET without credentials is sent to the login page.
fn login_redirect(req: &RequestHeader, prefix: &str, original: &str) -> Option<String> {
    let read = req.method == http::Method::GET || req.method == http::Method::HEAD;
    let html = req
        .headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.to_ascii_lowercase().contains("text/html"));
    (read && html).then(|| {
        let rd =
            percent_encoding::utf8_percent_encode(original, percent_encoding::NON_ALPHANUMERIC);
        format!("{prefix}/login?rd={rd}")
    })
}

#[async_trait]
impl ProxyHttp for Gatehouse {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx::new()
    }

    /// No downstream modules: gatehouse never compresses, so it skips the
    /// (disabled) compression module Pingora otherwise runs on every request.
    fn init_downstream_modules(&self, _modules: &mut HttpModules) {}

    /// The whole decision: answer here, or grant a permit to forward.
    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        match self.gate(session, ctx).await {
            Ok(Flow::Forward) => Ok(false),
            Ok(Flow::Answered) => Ok(true),
            Err(e) => {
                if let GateError::Internal(detail) = &e {
                    tracing::error!(error = %detail, "request failed");
                }
                if let GateError::RateLimited(_) = e {
                    let limit = ctx.route_limit_name().unwrap_or("login");
                    METRICS.ratelimited.with_label_values(&[limit]).inc();
                }
                if matches!(e, GateError::BadRequest(_)) {
                    // Framing or target we refuse: do not trust the rest of
                    // this connection's bytes.
                    session.set_keepalive(None);
                }
                respond::send(session, e.answer(), ctx.tls).await?;
                Ok(true)
            }
        }
    }

    /// The permit's upstream, pre-built at load.
    async fn upstream_peer(
        &self,
        _session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Box<HttpPeer>> {
        let (Some(permit), Some(live)) = (&ctx.permit, &ctx.live) else {
            return Error::e_explain(ErrorType::InternalError, "no permit");
        };
        let route = &live.policy.routes.routes[permit.route];
        let peer = live
            .peers
            .get(route.upstream)
            .ok_or_else(|| Error::explain(ErrorType::InternalError, "no upstream"))?;
        Ok(Box::new(peer.clone()))
    }

    /// Strip what the client may not say, add what the gateway vouches for.
    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        up: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let cfg = &self.state.config;
        let (Some(permit), Some(live), Some(path)) = (&ctx.permit, &ctx.live, &ctx.path) else {
            return Error::e_explain(ErrorType::InternalError, "no permit");
        };
        let route = &live.policy.routes.routes[permit.route];
        // The upstream sees the host that was matched (SPEC §7 / RFC 9112
        // §3.2): `H.Example.` arrives as `h.example`.
        let host = ctx.host.as_ref().map(RequestHost::authority);
        if let Some(authority) = &host {
            let sent = up.headers.get(http::header::HOST).map(|v| v.as_bytes());
            if sent != Some(authority.as_bytes()) {
                up.insert_header(http::header::HOST, authority.as_str())?;
            }
        }
        let s = &cfg.session;
        headers::strip_cookies(
            up,
            &[&s.cookie_name, &s.refresh_cookie_name, &s.csrf_cookie_name],
        );
        // Authorization reaches the app only if it is what was verified.
        let forward_authorization = route.forward_authorization
            && permit
                .identity
                .as_deref()
                .is_some_and(|id| authorization_verified(up, id));
        headers::strip_credentials(up, forward_authorization);
        let peer = ctx.peer.unwrap_or(IpAddr::from([127, 0, 0, 1]));
        headers::set_forwarded(
            up,
            peer,
            if ctx.tls { "https" } else { "http" },
            host.as_deref().unwrap_or(""),
            ctx.peer_trusted,
        );
        if let Some(id) = &permit.identity {
            headers::inject_identity(up, self.identity_names, id);
        }
        // The upstream sees the path that was matched, not the raw one.
        if !path.is(up.raw_path()) {
            let uri = path
                .path_and_query()
                .parse::<http::Uri>()
                .or_err(ErrorType::InternalError, "normalised path")?;
            up.set_uri(uri);
        }
        Ok(())
    }

    /// Rate-limit numbers, CORS, HSTS and (configurable) security headers
    /// on proxied answers.
    async fn response_filter(
        &self,
        session: &mut Session,
        resp: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        if let Some(info) = &ctx.limit {
            for (name, value) in limit_headers(info, false) {
                resp.insert_header(name, value)?;
            }
        }
        if let Some(cors) = ctx.route_cors() {
            if let Some(origin) = cors.allowed(&session.req_header().headers) {
                for (name, value) in cors.answer_headers(origin) {
                    resp.insert_header(name, value)?;
                }
            }
        }
        if ctx.tls {
            resp.insert_header(
                "Strict-Transport-Security",
                "max-age=31536000; includeSubDomains",
            )?;
        }
        if self.state.config.headers.security {
            // The app's own choices win; these fill only what it left out.
            for (name, value) in [
                ("X-Content-Type-Options", "nosniff"),
                ("X-Frame-Options", "SAMEORIGIN"),
                ("Referrer-Policy", "strict-origin-when-cross-origin"),
            ] {
                if !resp.headers.contains_key(name) {
                    resp.insert_header(name, value)?;
                }
            }
        }
        Ok(())
    }

    /// Count the request by route and status.
    async fn logging(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut RequestCtx) {
        let status = session
            .response_written()
            .map(|r| r.status.as_u16())
            .unwrap_or(0);
        let route = if ctx.endpoint {
            "gateway"
        } else {
            ctx.route_pattern().unwrap_or("none")
        };
        METRICS
            .requests
            .with_label_values(&[route, status_label(status)])
            .inc();
    }

    /// Upstream failures get our JSON body (SPEC §6: 502), never details.
    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut RequestCtx,
    ) -> FailToProxy {
        let code = match e.etype() {
            ErrorType::HTTPStatus(code) => *code,
            _ => match e.esource() {
                ErrorSource::Upstream => 502,
                ErrorSource::Downstream => match e.etype() {
                    ErrorType::WriteError | ErrorType::ReadError | ErrorType::ConnectionClosed => 0,
                    _ => 400,
                },
                ErrorSource::Internal | ErrorSource::Unset => 500,
            },
        };
        if code > 0 {
            let answer = match code {
                502 => GateError::UpstreamDown.answer(),
                400 => GateError::BadRequest(downstream_fault(e)).answer(),
                _ => GateError::internal(e.to_string()).answer(),
            };
            if let Err(err) = respond::send(session, answer, ctx.tls).await {
                tracing::debug!(error = %err, "could not send error answer");
            }
        }
        FailToProxy {
            error_code: code,
            can_reuse_downstream: false,
        }
    }
}

/// What was wrong with a request Pingora failed to read (its body: the
/// vendored pingora-core refuses non-RFC chunk lines, GATEHOUSE-PATCHES.md).
fn downstream_fault(e: &Error) -> &'static str {
    match e.etype().as_str() {
        "InvalidChunk" | "InvalidTrailerEnd" => "malformed chunked body",
        _ => "malformed request",
    }
}
