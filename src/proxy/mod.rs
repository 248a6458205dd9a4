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

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

use crate::auth::check::authorization_verified;
use crate::decision::{self, decide, RequestView};
use crate::endpoints;
use crate::error::{limit_headers, Answer, GateError};
use crate::metrics::METRICS;
use crate::policy::client_ip::client_ip_from_headers;
use crate::policy::framing::check_framing;
use crate::policy::host::{request_host, RequestHost};
use crate::policy::method::check_method;
use crate::policy::normalize::request_target;
use crate::policy::{normalize, NormalizedPath};
use crate::state::{AppState, Live};

pub mod ctx;
pub mod grpc;
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
        let identity_names = state.identity_names;
        Gatehouse {
            state,
            identity_names,
        }
    }

    /// The request's story (SPEC §7, §6): normalise, serve our own
    /// endpoints, then the one decision (`decision::decide`: route,
    /// authenticate, CSRF, authorize, rate-limit). Only `authorize` makes a
    /// permit; no permit, no forwarding.
    async fn gate(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<Flow, GateError> {
        let state = &self.state;
        self.observe_peer(session, ctx);
        let path = read_target(session)?;
        let live = state.live.load_full();
        ctx.live = Some(live.clone());
        let req = session.req_header();
        check_method(&req.method, &live.policy.extra_methods)?;
        let authority = req.uri.authority().map(|a| a.as_str());
        ctx.host = request_host(&req.headers, req.version, authority)?;
        let asked = endpoints::Asked::new(
            &path,
            ctx.host.as_ref(),
            ctx.client_ip,
            ctx.tls,
            ctx.peer_trusted,
        );
        if let Some(answer) = endpoints::dispatch(session, state, &live, asked).await? {
            return answered(session, ctx, answer).await;
        }
        // Before Pingora's own hop-by-hop pass, so a hostile `Connection`
        // header is cleaned rather than acted on. (After our endpoints: they
        // forward nothing, and forward-auth reads the X-Forwarded-Uri and
        // X-Original-URL descriptions this removes.)
        headers::sanitize_request(
            session.req_header_mut(),
            &state.config.headers,
            ctx.peer_trusted,
        );
        let req = session.req_header();
        let view = RequestView {
            method: &req.method,
            host: ctx.host.as_ref(),
            path: &path,
            headers: &req.headers,
            client_ip: ctx.client_ip,
            tls: ctx.tls,
        };
        if let Some(answer) = preflight(&live, &view) {
            return answered(session, ctx, answer).await;
        }
        let prefix = &state.config.server.auth_prefix;
        let decision = decide(state, &live, &view, &mut ctx.route)
            .await
            .map_err(|e| login_redirect(e, &view, prefix))?;
        // A route only decided for a front proxy is never proxied.
        if live.policy.routes.routes[decision.permit.route()]
            .upstream
            .is_none()
        {
            return Err(GateError::NotFound);
        }
        ctx.limit = decision.limit;
        ctx.permit = Some(decision.permit);
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
}

/// Framing checks, then the normalised target. Pingora drops a `#fragment`
/// from the parsed target; SPEC §7 wants it refused, so HTTP/1 targets are
/// read from the raw request line. An HTTP/2 stream has no request line:
/// its `:path` arrives parsed by the http crate, which has cut any
/// `#fragment` off, so a fragment never takes part in routing (SPEC §11
/// allows that instead of a 400); the rest is normalised like an HTTP/1
/// target (`..`, `%2f`, `%23`, NUL: SPEC §7).
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

/// A CORS preflight for a route with CORS settings: answered here, 204
/// with the route's CORS headers, or 403 for an origin it does not list.
fn preflight(live: &Live, view: &RequestView<'_>) -> Option<Answer> {
    Some(match decision::preflight(live, view)? {
        Ok((cors, asked)) => {
            let origin = cors.allowed(view.headers)?;
            let asked_headers = view
                .headers
                .get(http::header::ACCESS_CONTROL_REQUEST_HEADERS)
                .and_then(|v| v.to_str().ok());
            Answer {
                status: 204,
                headers: cors.preflight_headers(origin, &asked, asked_headers),
                body: String::new(),
            }
        }
        Err(e) => e.answer(),
    })
}

/// SPEC §6: a browser navigating without credentials is sent to the login
/// page, with the path it asked for as `rd`.
fn login_redirect(e: GateError, view: &RequestView<'_>, prefix: &str) -> GateError {
    match e {
        GateError::Unauthenticated { browser: None } if view.is_browser_navigation() => {
            let original = view.path.path_and_query();
            let rd = utf8_percent_encode(&original, NON_ALPHANUMERIC);
            GateError::Unauthenticated {
                browser: Some(format!("{prefix}/login?rd={rd}")),
            }
        }
        other => other,
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
                ctx.refused = Some(respond::fail(session, e, ctx.tls).await?);
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
        let route = &live.policy.routes.routes[permit.route()];
        let peer = route
            .upstream
            .and_then(|u| live.peers.get(u))
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
        let route = &live.policy.routes.routes[permit.route()];
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
                .identity()
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
        if let Some(id) = permit.identity() {
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
        // A refusal counts as its own status, also when a gRPC answer
        // carried it as HTTP 200.
        let status = ctx.refused.unwrap_or_else(|| {
            session
                .response_written()
                .map(|r| r.status.as_u16())
                .unwrap_or(0)
        });
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

    /// Upstream failures leave through `respond::fail` like every refusal:
    /// SPEC §6's JSON (502), or gRPC-shaped; never details.
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
            let refusal = match code {
                502 => GateError::UpstreamDown,
                400 => GateError::BadRequest(downstream_fault(e)),
                _ => GateError::internal(e.to_string()),
            };
            match respond::fail(session, refusal, ctx.tls).await {
                Ok(status) => ctx.refused = Some(status),
                Err(err) => tracing::debug!(error = %err, "could not send error answer"),
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
