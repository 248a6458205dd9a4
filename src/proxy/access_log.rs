//! The access log (SPEC §11): one JSON line per request the gateway
//! proxied or answered, on stderr, beside the tracing events and in their
//! shape (`timestamp`, `level`, the fields, `target`).
//!
//! Written by hand rather than through `tracing`: its JSON output leaves an
//! absent field out, and SPEC asks for `"route":null`, `"user":null`,
//! `"upstream":null`; and it writes each event with its own write(2), where
//! a busy gateway wants one write per buffer of lines (`sink`). The line is
//! built in a per-thread buffer, so a request costs no allocation here.
//!
//! What is never logged (SPEC §9): the query string (it may carry a token
//! or a key), credentials and cookies (only the verified username), and
//! the session id of `DELETE <prefix>/sessions/<id>`.

use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime};

use pingora::proxy::Session;

use crate::proxy::RequestCtx;

mod json;
pub mod sink;

/// Longest part of a raw (refused, not normalised) path that is logged.
const RAW_PATH_MAX: usize = 256;

/// The path as logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoggedPath<'a> {
    /// The normalised path, without the query.
    Normalised(&'a str),
    /// `<prefix>/sessions/<id>`: logged as `<prefix>/sessions/{id}`.
    Session { prefix: &'a str },
    /// A target refused before it could be normalised: its path part (up
    /// to `?`), at most `RAW_PATH_MAX` bytes, with every byte outside
    /// printable ASCII (and `"`, `\`) percent-encoded.
    Raw(&'a [u8]),
}

/// One access line's fields, as plain values.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    pub client_ip: Option<IpAddr>,
    pub method: &'a str,
    pub path: LoggedPath<'a>,
    /// The matched route's index (None: a gateway endpoint, or no match).
    pub route: Option<usize>,
    /// 0: no answer was written (the client went away first).
    pub status: u16,
    /// Request body bytes read from the client.
    pub bytes_in: usize,
    /// Response body bytes written to the client.
    pub bytes_out: usize,
    pub duration: Duration,
    pub upstream: Option<SocketAddr>,
    pub user: Option<&'a str>,
    pub request_id: Option<&'a [u8]>,
}

thread_local! {
    static LINE: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(512));
}

/// Write the access line of the request `session` carried.
pub fn record(session: &Session, ctx: &RequestCtx, auth_prefix: &str, status: u16) {
    let req = session.req_header();
    let downstream = session.as_downstream();
    let path = match &ctx.path {
        Some(p) if ctx.endpoint && is_session_path(auth_prefix, &p.path) => LoggedPath::Session {
            prefix: auth_prefix,
        },
        Some(p) => LoggedPath::Normalised(&p.path),
        None => LoggedPath::Raw(req.raw_path()),
    };
    let entry = Entry {
        client_ip: ctx.client_ip,
        method: req.method.as_str(),
        path,
        route: if ctx.endpoint { None } else { ctx.seen.route },
        status,
        bytes_in: downstream.body_bytes_read(),
        bytes_out: downstream.body_bytes_sent(),
        duration: ctx.start.elapsed(),
        upstream: ctx.upstream,
        user: ctx.username(),
        request_id: ctx.request_id.as_ref().map(|id| id.as_bytes()),
    };
    write_entry(&entry);
}

/// Write `entry`'s line to the access log, built in this thread's reused
/// buffer.
pub fn write_entry(entry: &Entry<'_>) {
    LINE.with_borrow_mut(|line| {
        line.clear();
        write_line(line, SystemTime::now(), entry);
        sink::append(line);
    });
}

/// `<prefix>/sessions/<id>` (the endpoint that ends one session).
fn is_session_path(prefix: &str, path: &str) -> bool {
    path.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix("/sessions/"))
        .is_some_and(|id| !id.is_empty())
}

/// The JSON line for `e`, newline included.
pub fn write_line(out: &mut Vec<u8>, now: SystemTime, e: &Entry<'_>) {
    out.extend_from_slice(b"{\"timestamp\":\"");
    json::timestamp(out, now);
    out.extend_from_slice(b"\",\"level\":\"INFO\",\"event\":\"access\",\"client_ip\":");
    match e.client_ip {
        // An address is digits, dots, colons and hex: nothing to escape.
        Some(ip) => {
            out.push(b'"');
            json::ip(out, ip);
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"method\":");
    json::string(out, e.method.as_bytes());
    out.extend_from_slice(b",\"path\":");
    match e.path {
        LoggedPath::Normalised(p) => json::string(out, p.as_bytes()),
        LoggedPath::Session { prefix } => {
            out.push(b'"');
            json::string_contents(out, prefix.as_bytes());
            out.extend_from_slice(b"/sessions/{id}\"");
        }
        LoggedPath::Raw(raw) => raw_path(out, raw),
    }
    out.extend_from_slice(b",\"route\":");
    match e.route {
        Some(i) => json::uint(out, i),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"status\":");
    json::uint(out, e.status);
    out.extend_from_slice(b",\"bytes_in\":");
    json::uint(out, e.bytes_in);
    out.extend_from_slice(b",\"bytes_out\":");
    json::uint(out, e.bytes_out);
    // Milliseconds with three decimals: whole microseconds.
    let micros = u64::try_from(e.duration.as_micros()).unwrap_or(u64::MAX);
    out.extend_from_slice(b",\"duration_ms\":");
    json::uint(out, micros / 1000);
    out.push(b'.');
    let frac = micros % 1000;
    out.extend_from_slice(&[
        b'0' + (frac / 100) as u8,
        b'0' + (frac / 10 % 10) as u8,
        b'0' + (frac % 10) as u8,
    ]);
    out.extend_from_slice(b",\"upstream\":");
    match e.upstream {
        Some(addr) => {
            out.push(b'"');
            json::socket_addr(out, addr);
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"user\":");
    json::optional_string(out, e.user.map(str::as_bytes));
    out.extend_from_slice(b",\"request_id\":");
    json::optional_string(out, e.request_id);
    out.extend_from_slice(b",\"target\":\"gatehouse::access\"}\n");
}

/// A raw path, quoted: up to `?`, cut at `RAW_PATH_MAX` bytes, anything
/// but printable ASCII percent-encoded, so it needs no JSON escape and
/// cannot carry a control character into a log viewer.
fn raw_path(out: &mut Vec<u8>, raw: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let path = raw.split(|&b| b == b'?').next().unwrap_or_default();
    out.push(b'"');
    for &b in path.iter().take(RAW_PATH_MAX) {
        if b.is_ascii_graphic() && b != b'"' && b != b'\\' {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests;
