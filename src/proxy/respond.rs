//! Writing the gateway's own answers, with the headers every gateway answer
//! carries (SPEC §6): nosniff, no-store, no framing, HSTS over TLS, and
//! `Referrer-Policy: no-referrer` unless the answer (a page) sets its own.
//! The same head is used for the answers Pingora writes itself (parse
//! failures, CONNECT), through the hook installed by `server::run`.

use std::time::Duration;

use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::protocols::http::HttpTask;
use pingora::proxy::Session;

use crate::error::{status_answer, Answer, GateError};
use crate::proxy::grpc;
use crate::proxy::RequestCtx;

/// How long, and how much, a refused body is still read after its 413.
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 64 << 20;

/// The one exit for a refused request, from the proxy path, the gateway's
/// endpoints and failed upstreams alike (STYLE §4): the cause of an
/// unexpected or store failure is logged, never shown; a 400 closes the
/// connection (the framing or target was refused, so the rest of its bytes
/// are not trusted; on HTTP/2 only the stream ends), as does a 413 (its
/// body is not wanted); the answer is SPEC §6's, or for a gRPC call the
/// same refusal in gRPC's shape (SPEC §11). Returns the refusal's HTTP
/// status, which a gRPC answer does not carry.
pub async fn fail(session: &mut Session, e: GateError, ctx: &RequestCtx) -> pingora::Result<u16> {
    match &e {
        GateError::Internal(cause) => tracing::error!(error = %cause, "request failed"),
        GateError::Store(cause) => tracing::warn!(error = %cause, "store unavailable: refused"),
        _ => {}
    }
    let too_large = matches!(e, GateError::PayloadTooLarge);
    if too_large || matches!(e, GateError::BadRequest(_)) {
        session.set_keepalive(None);
    }
    let answer = e.answer();
    let status = answer.status;
    let answer = match grpc::content_type(session.req_header()) {
        Some(content_type) => grpc::shape(answer, content_type),
        None => answer,
    };
    send(session, answer, ctx).await?;
    if too_large {
        linger(session).await;
    }
    Ok(status)
}

/// Write `answer` as the complete response, with the request's id. A head
/// without a body (HEAD, a redirect, a gRPC trailers-only answer) ends the
/// stream itself: on HTTP/2 one HEADERS frame with END_STREAM.
pub async fn send(session: &mut Session, answer: Answer, ctx: &RequestCtx) -> pingora::Result<()> {
    let mut resp = head(&answer, ctx.tls)?;
    if let Some(id) = &ctx.request_id {
        resp.insert_header(&crate::proxy::headers::X_REQUEST_ID, id)?;
    }
    if session.req_header().method == http::Method::HEAD || answer.body.is_empty() {
        session
            .as_downstream_mut()
            .response_duplex_vec(vec![HttpTask::Header(Box::new(resp), true)])
            .await?;
        return Ok(());
    }
    session.write_response_header(Box::new(resp), false).await?;
    session
        .write_response_body(Some(Bytes::from(answer.body)), true)
        .await
}

/// After a 413, read and drop what the client is still sending, for a
/// bounded time and amount, before the connection closes (nginx's lingering
/// close): a socket closed with unread bytes is reset by the kernel, and a
/// client still writing its body could lose the 413 it was sent.
pub async fn linger(session: &mut Session) {
    // A client that waits for `100 Continue` sends no body after a refusal.
    let expects_continue = session
        .req_header()
        .headers
        .get(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if expects_continue {
        return;
    }
    let drain = async {
        let mut left = LINGER_BYTES;
        while let Ok(Some(chunk)) = session.read_request_body().await {
            left = left.saturating_sub(chunk.len());
            if left == 0 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

/// The response head of `answer`: its own headers, then the JSON type, the
/// length and the security headers. No `Server` header: nothing names the
/// software.
pub fn head(answer: &Answer, tls: bool) -> pingora::Result<ResponseHeader> {
    let mut resp = ResponseHeader::build(answer.status, Some(answer.headers.len() + 6))?;
    let mut has_type = false;
    let mut has_referrer_policy = false;
    let mut has_cache_control = false;
    for (name, value) in &answer.headers {
        has_type |= name.eq_ignore_ascii_case("content-type");
        has_cache_control |= name.eq_ignore_ascii_case("cache-control");
        has_referrer_policy |= name.eq_ignore_ascii_case("referrer-policy");
        resp.append_header(*name, value)?;
    }
    if !has_type && !answer.body.is_empty() {
        resp.insert_header("Content-Type", "application/json")?;
    }
    resp.insert_header("Content-Length", answer.body.len().to_string())?;
    resp.insert_header("X-Content-Type-Options", "nosniff")?;
    // Only the stylesheet sets its own: it holds nothing about anyone.
    if !has_cache_control {
        resp.insert_header("Cache-Control", "no-store")?;
    }
    resp.insert_header("X-Frame-Options", "DENY")?;
    // A page sets its own (SPEC §14: `same-origin`, so its forms carry their Origin).
    if !has_referrer_policy {
        resp.insert_header("Referrer-Policy", "no-referrer")?;
    }
    if tls {
        resp.insert_header(
            "Strict-Transport-Security",
            "max-age=31536000; includeSubDomains",
        )?;
    }
    Ok(resp)
}

/// The answer Pingora writes for a status it chose itself (the vendored
/// pingora-core's `set_error_response_hook`): the SPEC §6 JSON with our
/// headers instead of an empty body with `Server: Pingora`.
pub fn pingora_error(status: u16, tls: bool) -> (ResponseHeader, Bytes) {
    let answer = status_answer(status);
    match head(&answer, tls) {
        Ok(resp) => (resp, Bytes::from(answer.body)),
        // Only an invalid status can fail; answer 500 with the same headers.
        Err(_) => pingora_error(500, tls),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pingora_errors_carry_our_headers_and_json() {
        let (resp, body) = pingora_error(400, true);
        assert_eq!(resp.status.as_u16(), 400);
        let get = |name: &str| resp.headers.get(name).and_then(|v| v.to_str().ok());
        assert_eq!(get("content-type"), Some("application/json"));
        assert_eq!(get("x-content-type-options"), Some("nosniff"));
        assert_eq!(get("cache-control"), Some("no-store"));
        assert!(get("strict-transport-security").is_some());
        assert!(get("server").is_none());
        assert_eq!(get("content-length"), Some(body.len().to_string().as_str()));
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"], "bad_request");
        let (plain, _) = pingora_error(405, false);
        assert!(plain.headers.get("strict-transport-security").is_none());
    }
}
