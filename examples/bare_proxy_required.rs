//! The floor under gatehouse's public route: the tuned passthrough
//! (`bare_proxy_tuned`) plus only the output SPEC requires on every proxied
//! request, made the cheapest way Pingora allows and with gatehouse's own
//! helpers for it:
//!
//! - the upstream timeouts at their SPEC §11 defaults (connect, read,
//!   write, idle), which arm Pingora's timers;
//! - upstream: `X-Forwarded-For`, `-Proto` and `-Host` (SPEC §7) and a
//!   fresh `X-Request-Id` (SPEC §11);
//! - on the answer: `X-Request-Id`, HSTS over TLS, and the three
//!   `[headers] security` headers (on by default) where the app left them
//!   out;
//! - one request counted by route and status and by upstream address, and
//!   one access line (SPEC §11).
//!
//! No parsing, normalising, routing, header hygiene or authentication.
//! `bench/instructions.sh` and `bench/run.sh` set it beside the passthrough
//! and gatehouse, so gatehouse's cost over the passthrough splits into the
//! SPEC's required output (this minus the passthrough) and gatehouse's own
//! logic (gatehouse minus this).
//!
//! Usage: `bare_proxy_required LISTEN UPSTREAM THREADS [TLS_LISTEN CERT KEY]`.

use std::net::IpAddr;
use std::time::Instant;

use async_trait::async_trait;
use gatehouse::metrics::METRICS;
use gatehouse::policy::request_id;
use gatehouse::policy::upstream::Timeouts;
use gatehouse::proxy::access_log::{self, sink, Entry, LoggedPath};
use gatehouse::proxy::headers::{secure_answer, set_forwarded, X_REQUEST_ID};
use http::HeaderValue;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::modules::http::HttpModules;
use pingora::prelude::*;
use prometheus::IntCounter;

#[path = "support/allocator.rs"]
mod allocator;
#[path = "support/serve.rs"]
mod serve;

struct Required {
    peer: HttpPeer,
    upstream: Option<std::net::SocketAddr>,
    /// Resolved once, as gatehouse resolves its own.
    by_route: IntCounter,
    by_address: IntCounter,
}

struct Ctx {
    start: Instant,
    tls: bool,
    request_id: Option<HeaderValue>,
}

#[async_trait]
impl ProxyHttp for Required {
    type CTX = Ctx;

    fn new_ctx(&self) -> Ctx {
        Ctx {
            start: Instant::now(),
            tls: false,
            request_id: None,
        }
    }

    /// As gatehouse: no (disabled) compression module.
    fn init_downstream_modules(&self, _modules: &mut HttpModules) {}

    async fn request_filter(&self, session: &mut Session, ctx: &mut Ctx) -> Result<bool> {
        ctx.tls = session
            .digest()
            .and_then(|d| d.ssl_digest.as_ref())
            .is_some();
        ctx.request_id = Some(request_id::generate());
        Ok(false)
    }

    async fn upstream_peer(&self, _s: &mut Session, _c: &mut Ctx) -> Result<Box<HttpPeer>> {
        self.by_address.inc();
        Ok(Box::new(self.peer.clone()))
    }

    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        up: &mut RequestHeader,
        ctx: &mut Ctx,
    ) -> Result<()> {
        let peer = session
            .client_addr()
            .and_then(|a| a.as_inet())
            .map_or(IpAddr::from([127, 0, 0, 1]), |a| a.ip());
        let host = up
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let proto = if ctx.tls { "https" } else { "http" };
        set_forwarded(up, peer, proto, &host, false);
        if let Some(id) = &ctx.request_id {
            up.insert_header(&X_REQUEST_ID, id)?;
        }
        Ok(())
    }

    async fn response_filter(
        &self,
        _session: &mut Session,
        resp: &mut ResponseHeader,
        ctx: &mut Ctx,
    ) -> Result<()> {
        if let Some(id) = &ctx.request_id {
            resp.insert_header(&X_REQUEST_ID, id)?;
        }
        secure_answer(resp, ctx.tls, true)
    }

    async fn logging(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut Ctx) {
        self.by_route.inc();
        let req = session.req_header();
        let downstream = session.as_downstream();
        let entry = Entry {
            client_ip: session
                .client_addr()
                .and_then(|a| a.as_inet())
                .map(|a| a.ip()),
            method: req.method.as_str(),
            path: LoggedPath::Normalised(req.uri.path()),
            route: Some(0),
            status: session.response_written().map_or(0, |r| r.status.as_u16()),
            bytes_in: downstream.body_bytes_read(),
            bytes_out: downstream.body_bytes_sent(),
            duration: ctx.start.elapsed(),
            upstream: self.upstream,
            user: None,
            request_id: ctx.request_id.as_ref().map(|id| id.as_bytes()),
        };
        access_log::write_entry(&entry);
    }
}

fn main() {
    allocator::serve_count_from_env();
    sink::start();
    serve::serve(false, |upstream| {
        let mut peer = HttpPeer::new(upstream, false, String::new());
        let t = Timeouts::default();
        let o = &mut peer.options;
        o.connection_timeout = Some(t.connect);
        o.read_timeout = Some(t.read);
        o.write_timeout = Some(t.write);
        o.idle_timeout = Some(t.idle);
        Required {
            by_route: METRICS.requests.with_label_values(&["/**", "2xx"]),
            by_address: METRICS
                .upstream_requests
                .with_label_values(&["app", upstream]),
            upstream: upstream.parse().ok(),
            peer,
        }
    });
}
