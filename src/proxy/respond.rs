//! Writing the gateway's own answers, with the headers every gateway answer
//! carries (SPEC §6): nosniff, no-store, no framing, HSTS over TLS, and
//! `Referrer-Policy: no-referrer` unless the answer (a page) sets its own.

use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;

use crate::error::Answer;

/// Write `answer` as the complete response.
pub async fn send(session: &mut Session, answer: Answer, tls: bool) -> pingora::Result<()> {
    let mut resp = ResponseHeader::build(answer.status, Some(answer.headers.len() + 6))?;
    let mut has_type = false;
    let mut has_referrer_policy = false;
    for (name, value) in answer.headers {
        has_type |= name.eq_ignore_ascii_case("content-type");
        has_referrer_policy |= name.eq_ignore_ascii_case("referrer-policy");
        resp.append_header(name, value)?;
    }
    if !has_type && !answer.body.is_empty() {
        resp.insert_header("Content-Type", "application/json")?;
    }
    resp.insert_header("Content-Length", answer.body.len().to_string())?;
    resp.insert_header("X-Content-Type-Options", "nosniff")?;
    resp.insert_header("Cache-Control", "no-store")?;
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
    let head_only = session.req_header().method == http::Method::HEAD;
    session
        .write_response_header(Box::new(resp), head_only)
        .await?;
    if !head_only {
        session
            .write_response_body(Some(Bytes::from(answer.body)), true)
            .await?;
    }
    Ok(())
}
