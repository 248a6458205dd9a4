//! gRPC-shaped refusals (SPEC §11). A gRPC client reads the call's outcome
//! from `grpc-status`, not from the HTTP status: a bare 401 or 502 is to it
//! a protocol error (tonic: "Unknown", grpc-go: "Unavailable", whatever the
//! cause). So a request whose `content-type` starts with `application/grpc`
//! that the gateway refuses is answered HTTP 200, trailers-only (one
//! HEADERS frame that ends the stream), with `grpc-status` and
//! `grpc-message`, and the answer's own headers (`RateLimit-*`,
//! `Retry-After`, `WWW-Authenticate`) beside them.

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use pingora::http::RequestHeader;

use crate::error::Answer;

/// `grpc-message` is percent-encoded UTF-8: everything outside printable
/// ASCII, and `%` itself (gRPC over HTTP/2, "Responses").
const GRPC_MESSAGE: &AsciiSet = &CONTROLS.add(b'%');

/// The request's `content-type` when it is a gRPC call (`application/grpc`,
/// `application/grpc+proto`, `application/grpc-web`, ...).
pub fn content_type(req: &RequestHeader) -> Option<&str> {
    req.headers
        .get(http::header::CONTENT_TYPE)?
        .to_str()
        .ok()
        .filter(|ct| {
            ct.as_bytes()
                .get(..16)
                .is_some_and(|p| p.eq_ignore_ascii_case(b"application/grpc"))
        })
}

/// The gRPC status code for the HTTP status the gateway refused with.
/// SPEC §11 fixes 401, 403, 404, 429 and 502-504; the others follow the
/// gRPC status code meanings (README, "HTTP/2 and gRPC").
pub fn status_code(http: u16) -> u32 {
    match http {
        // A malformed request (target, framing, Host): the client's fault.
        400 => 3,             // INVALID_ARGUMENT
        302 | 401 => 16,      // UNAUTHENTICATED
        403 => 7,             // PERMISSION_DENIED
        404 => 5,             // NOT_FOUND
        405 | 501 => 12,      // UNIMPLEMENTED
        408 => 4,             // DEADLINE_EXCEEDED
        413 | 429 | 431 => 8, // RESOURCE_EXHAUSTED
        500 => 13,            // INTERNAL
        502..=504 => 14,      // UNAVAILABLE
        _ => 2,               // UNKNOWN
    }
}

/// `answer` as a trailers-only gRPC answer for a call sent as
/// `content_type`: status 200, no body, the gRPC status and the answer's
/// human message. `Location` is dropped: a gRPC client follows no redirect.
pub fn shape(answer: Answer, content_type: &str) -> Answer {
    let message = serde_json::from_str::<serde_json::Value>(&answer.body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| default_message(answer.status).to_owned());
    let mut headers: Vec<(&'static str, String)> = answer
        .headers
        .into_iter()
        .filter(|(name, _)| !name.eq_ignore_ascii_case("location"))
        .collect();
    headers.push(("Content-Type", content_type.to_owned()));
    headers.push(("grpc-status", status_code(answer.status).to_string()));
    headers.push((
        "grpc-message",
        utf8_percent_encode(&message, GRPC_MESSAGE).to_string(),
    ));
    Answer {
        status: 200,
        headers,
        body: String::new(),
    }
}

/// The message of an answer without a JSON one (the browser redirect).
fn default_message(status: u16) -> &'static str {
    match status {
        302 | 401 => "authentication required",
        _ => "request refused",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{GateError, LimitInfo};

    fn req(content_type: Option<&str>) -> RequestHeader {
        let mut r = RequestHeader::build("POST", b"/pkg.Svc/Call", None).unwrap();
        if let Some(ct) = content_type {
            r.insert_header("content-type", ct).unwrap();
        }
        r
    }

    fn header<'a>(a: &'a Answer, name: &str) -> Option<&'a str> {
        a.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn grpc_calls_are_known_by_content_type() {
        for (ct, grpc) in [
            (Some("application/grpc"), true),
            (Some("application/grpc+proto"), true),
            (Some("Application/GRPC-Web"), true),
            (Some("application/json"), false),
            (Some("application/grp"), false),
            (None, false),
        ] {
            assert_eq!(content_type(&req(ct)).is_some(), grpc, "{ct:?}");
        }
    }

    #[test]
    fn statuses_map_as_documented() {
        let table = [
            (400, 3),
            (401, 16),
            (302, 16),
            (403, 7),
            (404, 5),
            (405, 12),
            (408, 4),
            (413, 8),
            (429, 8),
            (500, 13),
            (501, 12),
            (502, 14),
            (503, 14),
            (504, 14),
            (418, 2),
        ];
        for (http, grpc) in table {
            assert_eq!(status_code(http), grpc, "{http}");
        }
    }

    #[test]
    fn refusals_become_trailers_only_answers() {
        let a = shape(
            GateError::Unauthenticated { browser: None }.answer(),
            "application/grpc",
        );
        assert_eq!((a.status, a.body.as_str()), (200, ""));
        assert_eq!(header(&a, "grpc-status"), Some("16"));
        assert_eq!(header(&a, "grpc-message"), Some("authentication required"));
        assert_eq!(header(&a, "content-type"), Some("application/grpc"));
        assert_eq!(header(&a, "www-authenticate"), Some("Bearer"));

        let info = LimitInfo {
            limit: 5,
            remaining: 0,
            reset: 12,
            retry_after: 3,
        };
        let a = shape(
            GateError::RateLimited(info).answer(),
            "application/grpc+proto",
        );
        assert_eq!(header(&a, "grpc-status"), Some("8"));
        assert_eq!(header(&a, "retry-after"), Some("3"));
        assert_eq!(header(&a, "ratelimit-remaining"), Some("0"));
        assert_eq!(header(&a, "content-type"), Some("application/grpc+proto"));

        let redirect = GateError::Unauthenticated {
            browser: Some("/auth/login?rd=%2F".into()),
        };
        let a = shape(redirect.answer(), "application/grpc");
        assert_eq!(header(&a, "grpc-status"), Some("16"));
        assert_eq!(header(&a, "location"), None);
    }

    #[test]
    fn messages_are_percent_encoded() {
        let answer = Answer {
            status: 500,
            headers: Vec::new(),
            body: r#"{"error":"internal","message":"100% sicher\nnicht ✓"}"#.into(),
        };
        let a = shape(answer, "application/grpc");
        assert_eq!(
            header(&a, "grpc-message"),
            Some("100%25 sicher%0Anicht %E2%9C%93")
        );
    }
}
