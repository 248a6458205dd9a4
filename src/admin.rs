//! The admin listener: Prometheus `/metrics`, never on the public listener.

use async_trait::async_trait;
use http::Response;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;

use crate::metrics::METRICS;

/// Serves `GET /metrics`; everything else is 404.
pub struct AdminApp;

#[async_trait]
impl ServeHttp for AdminApp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let req = session.req_header();
        let (status, content_type, body) =
            if req.uri.path() == "/metrics" && req.method == http::Method::GET {
                (
                    200,
                    "text/plain; version=0.0.4",
                    METRICS.render().into_bytes(),
                )
            } else {
                (
                    404,
                    "application/json",
                    br#"{"error":"not_found","message":"no such admin endpoint"}"#.to_vec(),
                )
            };
        Response::builder()
            .status(status)
            .header("Content-Type", content_type)
            .header("Content-Length", body.len())
            .header("Cache-Control", "no-store")
            .body(body)
            .unwrap_or_default()
    }
}
