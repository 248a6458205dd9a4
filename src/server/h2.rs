//! HTTP/2 from clients (SPEC §11): what the TLS listener offers by ALPN,
//! and the bounds every HTTP/2 connection is held to. Each stream is then
//! one Pingora session, judged by the proxy exactly like an HTTP/1.1
//! request.
//!
//! The h2 crate already refuses what RFC 9113 §8.2 calls malformed: an
//! upper-case field name fails HPACK decoding (GOAWAY PROTOCOL_ERROR, the
//! whole connection), a connection-specific field (`connection`,
//! `keep-alive`, `proxy-connection`, `transfer-encoding`, `upgrade`, a `te`
//! other than `trailers`) resets its stream (PROTOCOL_ERROR).

use pingora::listeners::tls::TlsSettings;
use pingora::protocols::http::v2::server::H2Options;
use pingora::protocols::ALPN;

use crate::config::ServerConfig;

/// Streams the client resets before they are accepted ("rapid reset",
/// CVE-2023-44487): past this many on one connection it gets GOAWAY
/// ENHANCE_YOUR_CALM. The h2 crate's default, pinned here.
const MAX_PENDING_ACCEPT_RESETS: usize = 20;

/// Streams the gateway itself resets because the client broke the protocol
/// (malformed headers, ...): past this many on one connection it gets
/// GOAWAY ENHANCE_YOUR_CALM, so a flood of bad streams costs one
/// connection, not the other clients' service. (Pingora also closes a
/// connection after 32 requests it rejects at accept.)
const MAX_LOCAL_ERROR_RESETS: usize = 64;

/// Reset streams whose late frames are still ignored (not a connection
/// error); bounds that state. The h2 crate's default, pinned here.
const MAX_CONCURRENT_RESET_STREAMS: usize = 50;

/// ALPN on the TLS listener: `h2` then `http/1.1` with `[server] h2`
/// (the default), else `http/1.1` only.
pub fn set_alpn(settings: &mut TlsSettings, cfg: &ServerConfig) {
    if cfg.h2 {
        settings.enable_h2();
    } else {
        settings.set_alpn(ALPN::H1);
    }
}

/// The HTTP/2 settings of every client connection (TLS and h2c alike).
pub fn options(cfg: &ServerConfig) -> H2Options {
    let mut options = H2Options::new();
    options
        .max_concurrent_streams(cfg.h2_max_streams)
        .max_header_list_size(cfg.h2_max_header_list)
        .max_pending_accept_reset_streams(MAX_PENDING_ACCEPT_RESETS)
        .max_local_error_reset_streams(Some(MAX_LOCAL_ERROR_RESETS))
        .max_concurrent_reset_streams(MAX_CONCURRENT_RESET_STREAMS);
    options
}
