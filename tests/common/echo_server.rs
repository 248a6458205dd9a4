//! The echo upstream: answers every request with 200 and a JSON account of
//! exactly what reached it, so tests can see what the gateway forwarded
//! (identity headers injected, spoofed ones stripped, cookies filtered).
//!
//! Shared by the test harness (`tests/common/echo.rs`) and the demo program
//! (`examples/echo_upstream.rs`) through a `#[path]` include, so the two can
//! never drift apart. Depends only on hyper, tokio and serde_json.
//!
//! Body: `{"method", "path" (raw path and query as received), "headers":
//! [[name, value], ...], "body"}`. Header names are lower-case (hyper
//! normalises them); every value is kept, a repeated name's values in the
//! order received, grouped at the name's first position.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Serve the echo on `listener` forever; `hits` counts requests answered
/// (tests use it to prove a refused request never reached the upstream).
pub async fn serve(listener: TcpListener, hits: Arc<AtomicUsize>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _peer)) => stream,
            Err(_) => {
                // e.g. EMFILE: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let hits = hits.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let hits = hits.clone();
                async move {
                    let answer = answer(req).await;
                    hits.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, Infallible>(answer)
                }
            });
            // A client that goes away mid-request is not our concern.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer(req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    // `X-Echo-Delay-Ms: N` makes a slow upstream, for drain tests (capped).
    let delay = parts
        .headers
        .get("x-echo-delay-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(0, |ms| ms.min(10_000));
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let json = describe(&parts.method, &parts.uri, &parts.headers, &body);
    let mut resp = Response::new(Full::new(Bytes::from(json.to_string())));
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}

/// The JSON account of one request.
pub fn describe(
    method: &hyper::Method,
    uri: &hyper::Uri,
    headers: &hyper::HeaderMap,
    body: &[u8],
) -> serde_json::Value {
    // Origin-form targets are echoed verbatim (no decoding, no dot-segment
    // removal): the tests need to see what the gateway actually sent.
    let path = match uri.scheme() {
        Some(_) => uri.to_string(),
        None => uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
    };
    let headers: Vec<serde_json::Value> = headers
        .iter()
        .map(|(name, value)| {
            serde_json::json!([name.as_str(), String::from_utf8_lossy(value.as_bytes())])
        })
        .collect();
    serde_json::json!({
        "method": method.as_str(),
        "path": path,
        "headers": headers,
        "body": String::from_utf8_lossy(body),
    })
}
