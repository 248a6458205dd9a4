//! The Pingora `ProxyHttp` implementation. Each hook is thin: it reads the
//! request, calls `policy`, `auth` and `endpoints`, and writes the result.

use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::modules::http::HttpModules;
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::upstreams::peer::HttpPeer;

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

use crate::auth::check::authorization_verified;
use crate::auth::stream::StreamBasis;
use crate::decision::{self, decide, RequestView};
use crate::endpoints::{self, Served};
use crate::error::{limit_headers, Answer, GateError};
use crate::metrics::{RequestCounts, RouteLabel};
use crate::policy::body_limit::BodyLimit;
use crate::policy::client_ip::client_ip_from_headers;
use crate::policy::framing::check_framing;
use crate::policy::host::{request_host, RequestHost};
use crate::policy::method::check_method;
use crate::policy::normalize::request_target;
use crate::policy::request_id::request_id;
use crate::policy::{normalize, NormalizedPath};
use crate::state::{AppState, Live};

pub mod access_log;
pub mod ctx;
pub mod grpc;
pub mod headers;
pub mod ip_text;
pub mod respond;
pub mod stream_watch;

pub use ctx::RequestCtx;
use stream_watch::StreamWatch;

/// The gateway as a Pingora proxy service.
pub struct Gatehouse {
    pub state: Arc<AppState>,
    identity_names: headers::IdentityHeaders,
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
        let identity_names = headers::IdentityHeaders::new(state.identity_names);
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
        // First, so that every answer carries it, refusals too (SPEC §11).
        ctx.request_id = Some(request_id(&session.req_header().headers, ctx.peer_trusted));
        let path = &*ctx.path.insert(read_target(session)?);
        let live = state.live.load_full();
        ctx.live = Some(live.clone());
        let req = session.req_header();
        check_method(&req.method, &live.policy.extra_methods)?;
        let authority = req.uri.authority().map(|a| a.as_str());
        ctx.host = request_host(&req.headers, req.version, authority)?;
        let asked = endpoints::Asked::new(
            path,
            ctx.host.as_ref(),
            ctx.client_ip,
            ctx.tls,
            ctx.peer_trusted,
        );
        let mut served = Served::default();
        let dispatched = endpoints::dispatch(session, state, &live, asked, &mut served).await;
        ctx.endpoint = served.claimed;
        ctx.endpoint_user = served.user;
        if let Some(answer) = dispatched? {
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
            path,
            headers: &req.headers,
            client_ip: ctx.client_ip,
            tls: ctx.tls,
        };
        if let Some(answer) = preflight(&live, &view) {
            return answered(session, ctx, answer).await;
        }
        let prefix = &state.config.server.auth_prefix;
        let decision = decide(state, &live, &view, &mut ctx.seen)
            .await
            .map_err(|e| login_redirect(e, &view, prefix))?;
        let route = &live.policy.routes.routes[decision.permit.route()];
        // A route only decided for a front proxy is never proxied.
        if route.upstream.is_none() {
            return Err(GateError::NotFound);
        }
        // SPEC §11: a declared length over the bound is refused before the
        // upstream is asked; a streamed body is counted in
        // `request_body_filter`.
        let body = BodyLimit::new(route.max_body.unwrap_or(state.config.server.max_body));
        body.check_declared(view.headers)?;
        ctx.body = body;
        ctx.limit = decision.limit;
        ctx.permit = Some(decision.permit);
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

    /// At the answer's head: a WebSocket (101) or event stream is watched
    /// from now on; any other answer is watched once it turns out to last
    /// (`watch_long_stream`). Only identities with something to re-check.
    fn watch_if_streaming(&self, session: &Session, resp: &ResponseHeader, ctx: &mut RequestCtx) {
        if ctx.permit.as_ref().and_then(|p| p.identity()).is_none() {
            return;
        }
        let event_stream = resp
            .headers
            .get(http::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        if resp.status == http::StatusCode::SWITCHING_PROTOCOLS || event_stream {
            self.start_watch(session, ctx, false);
        } else {
            ctx.may_watch = true;
        }
    }

    /// A proxied exchange still flowing `stream_recheck` after its request
    /// started is watched from now on, checked at once.
    fn watch_long_stream(&self, session: &Session, ctx: &mut RequestCtx) {
        let every = self.state.config.session.stream_recheck;
        if ctx.may_watch && ctx.watch.is_none() && ctx.start.elapsed() >= every {
            ctx.may_watch = false;
            self.start_watch(session, ctx, true);
        }
    }

    fn start_watch(&self, session: &Session, ctx: &mut RequestCtx, check_now: bool) {
        let Some(id) = ctx.permit.as_ref().and_then(|p| p.identity()) else {
            return;
        };
        let Ok(creds) = self.state.auth.credentials(&session.req_header().headers) else {
            return;
        };
        let basis = StreamBasis::of(id, creds);
        if basis != StreamBasis::Stateless {
            ctx.watch = Some(StreamWatch::start(self.state.clone(), basis, check_now));
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
    ctx.endpoint = true;
    respond::send(session, answer, ctx)
        .await
        .map_err(GateError::internal)?;
    Ok(Flow::Answered)
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
                let status = respond::fail(session, e, ctx).await?;
                ctx.refused = Some(status);
                Ok(true)
            }
        }
    }

    /// A healthy address of the permit's upstream, by its `balance`; on the
    /// retry after a failed connect, another one when there is one.
    async fn upstream_peer(
        &self,
        _session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Box<HttpPeer>> {
        let (Some(permit), Some(live)) = (&ctx.permit, &ctx.live) else {
            return Error::e_explain(ErrorType::InternalError, "no permit");
        };
        let route = &live.policy.routes.routes[permit.route()];
        let pool = route
            .upstream
            .and_then(|u| live.pools.get(u))
            .ok_or_else(|| Error::explain(ErrorType::InternalError, "no upstream"))?;
        let avoid = ctx.upstream.filter(|_| ctx.retried);
        let addr = pool
            .select(ctx.client_ip, avoid)
            .or_else(|| avoid.and_then(|_| pool.select(ctx.client_ip, None)))
            .ok_or_else(|| {
                Error::create(
                    ErrorType::ConnectNoRoute,
                    ErrorSource::Upstream,
                    Some("no healthy upstream address".into()),
                    None,
                )
            })?;
        ctx.upstream = Some(addr);
        pool.count_request(addr);
        Ok(Box::new(pool.peer(addr, route.timeout)))
    }

    /// SPEC §11: a failed connect is retried once, on another address, for
    /// a request that is safe to repeat (idempotent, no body).
    fn fail_to_connect(
        &self,
        session: &mut Session,
        _peer: &HttpPeer,
        ctx: &mut RequestCtx,
        mut e: Box<Error>,
    ) -> Box<Error> {
        if !ctx.retried && retry_safe(session.req_header()) {
            ctx.retried = true;
            e.set_retry(true);
        }
        e
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
                up.insert_header(http::header::HOST, *authority)?;
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
            host.unwrap_or(""),
            ctx.peer_trusted,
        );
        if let Some(id) = permit.identity() {
            headers::inject_identity(up, &self.identity_names, id);
        }
        // Ours, never the client's (`sanitize_request` removed theirs).
        if let Some(id) = &ctx.request_id {
            up.insert_header(&headers::X_REQUEST_ID, id)?;
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
        if let Some(id) = &ctx.request_id {
            resp.insert_header(&headers::X_REQUEST_ID, id)?;
        }
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
        headers::secure_answer(resp, ctx.tls, self.state.config.headers.security)?;
        self.watch_if_streaming(session, resp, ctx);
        Ok(())
    }

    /// Client frames of an upgraded connection (and request body chunks):
    /// refused once the stream's session is gone.
    ///
    /// SPEC §11 `max_body`: the body is counted as it streams; past the
    /// bound the request fails before that chunk is sent on (413 if the
    /// answer has not started, else the connection is closed). An upgraded
    /// connection's bytes (WebSocket) are not a request body.
    async fn request_body_filter(
        &self,
        session: &mut Session,
        body: &mut Option<Bytes>,
        _end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        if let Some(chunk) = body {
            if !session.was_upgraded() && ctx.body.add(chunk.len()).is_err() {
                return Error::e_explain(ErrorType::HTTPStatus(413), "request body over max_body");
            }
        }
        self.watch_long_stream(session, ctx);
        if let Some(watch) = &ctx.watch {
            if watch.closed() {
                return Error::e_explain(ErrorType::ConnectionClosed, "stream session ended");
            }
            watch.client_sent();
        }
        Ok(())
    }

    /// Upstream frames and answer chunks: the same check.
    fn response_body_filter(
        &self,
        session: &mut Session,
        _body: &mut Option<Bytes>,
        _end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<Option<std::time::Duration>> {
        self.watch_long_stream(session, ctx);
        if ctx.watch.as_ref().is_some_and(|w| w.closed()) {
            return Error::e_explain(ErrorType::ConnectionClosed, "stream session ended");
        }
        Ok(None)
    }

    /// Count the request by route and status; its access line (SPEC §11).
    async fn logging(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut RequestCtx) {
        // A refusal counts as its own status, also when a gRPC answer
        // carried it as HTTP 200.
        let status = ctx.refused.unwrap_or_else(|| {
            session
                .response_written()
                .map(|r| r.status.as_u16())
                .unwrap_or(0)
        });
        let route = match ctx.seen.route {
            _ if ctx.endpoint => RouteLabel::Gateway,
            Some(i) => RouteLabel::Route(i),
            None => RouteLabel::Unrouted,
        };
        match &ctx.live {
            Some(live) => live.request_counts.count(route, status),
            None => RequestCounts::count_without_policy(route, status),
        }
        let cfg = &self.state.config;
        if cfg.log.access {
            access_log::record(session, ctx, &cfg.server.auth_prefix, status);
        }
    }

    /// A body over `max_body` is the client's doing, not a proxy failure:
    /// the access line records it.
    fn suppress_error_log(&self, _session: &Session, _ctx: &RequestCtx, e: &Error) -> bool {
        *e.etype() == ErrorType::HTTPStatus(413)
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
        let timed_out = matches!(
            e.etype(),
            ErrorType::ReadTimedout | ErrorType::WriteTimedout
        );
        let code = if timed_out && e.esource() == &ErrorSource::Upstream {
            504
        } else {
            code
        };
        // Once the answer has started, a failure can only cut it short:
        // the connection is closed (no reuse, below).
        if code > 0 && session.response_written().is_none() {
            let refusal = match code {
                502 => GateError::UpstreamDown,
                504 => GateError::UpstreamTimeout,
                400 => GateError::BadRequest(downstream_fault(e)),
                413 => GateError::PayloadTooLarge,
                _ => GateError::internal(e.to_string()),
            };
            match respond::fail(session, refusal, ctx).await {
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

/// Whether a request may be sent again after a failed connect: an
/// idempotent method (RFC 9110 §9.2.2) and no body to have half-sent.
fn retry_safe(req: &RequestHeader) -> bool {
    use http::Method;
    let idempotent = [
        Method::GET,
        Method::HEAD,
        Method::OPTIONS,
        Method::PUT,
        Method::DELETE,
        Method::TRACE,
    ]
    .contains(&req.method);
    let no_body = !req.headers.contains_key(http::header::TRANSFER_ENCODING)
        && req
            .headers
            .get(http::header::CONTENT_LENGTH)
            .is_none_or(|v| v.as_bytes() == b"0");
    idempotent && no_body
}

/// What was wrong with a request Pingora failed to read (its body: the
/// vendored pingora-core refuses non-RFC chunk lines, GATEHOUSE-PATCHES.md).
fn downstream_fault(e: &Error) -> &'static str {
    match e.etype().as_str() {
        "InvalidChunk" | "InvalidTrailerEnd" => "malformed chunked body",
        _ => "malformed request",
    }
}
