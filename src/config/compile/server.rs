//! `[server]`, `[admin]`, `[users]` and `[log]`: where the gateway
//! listens, whom it believes, what it logs (`[store]`: store.rs).

use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;
use toml::Spanned;

use super::{section, Compiler};
use crate::config::raw::{self, Str};
use crate::config::{AdminConfig, LogConfig, ServerConfig};

// Defaults (SPEC §2).
const DEFAULT_THREADS: i64 = 2;
const DEFAULT_SHUTDOWN: Duration = Duration::from_secs(10);
const DEFAULT_AUTH_PREFIX: &str = "/auth";
// Slow clients: nginx's client_header_timeout is 60s, its keepalive_timeout
// 75s; a gateway in front of APIs can ask for the head sooner.
const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(75);
/// Below the usual 65536-descriptor limit, with room for upstream sockets.
const DEFAULT_MAX_CONNECTIONS: i64 = 10_000;
/// Enough for a NAT or an office behind one address, far below the total.
const DEFAULT_MAX_CONNECTIONS_PER_IP: i64 = 256;
/// SPEC §11: request bodies up to 10 MB unless a route says otherwise.
pub(super) const DEFAULT_MAX_BODY: u64 = 10 << 20;
// HTTP/2 (SPEC §11 defaults; nginx's http2_max_concurrent_streams is 128).
const DEFAULT_H2_MAX_STREAMS: i64 = 100;
const MAX_H2_MAX_STREAMS: i64 = 10_000;
const DEFAULT_H2_MAX_HEADER_LIST: u64 = 64 << 10;
/// A request line and a few headers need about 1 KB; HPACK state per
/// connection grows with the limit, so 16 MB is far enough.
const H2_HEADER_LIST_RANGE: std::ops::RangeInclusive<u64> = (1 << 10)..=(16 << 20);

impl Compiler<'_> {
    // ---- [server] ----

    pub(super) fn server(&mut self, raw: Option<Spanned<raw::RawServer>>) -> ServerConfig {
        let (s, span) = section(raw);
        let listen = s
            .listen
            .as_ref()
            .and_then(|v| self.socket_addr(v, "server.listen"));
        let tls_listen = s
            .tls_listen
            .as_ref()
            .and_then(|v| self.socket_addr(v, "server.tls_listen"));
        if s.listen.is_none() && s.tls_listen.is_none() {
            self.at(
                span,
                "server.listen",
                "no listener: set listen and/or tls_listen",
            );
        }
        if let (Some(a), Some(b), Some(v)) = (listen, tls_listen, &s.tls_listen) {
            if a == b {
                self.d
                    .at(v.span(), "server.tls_listen", "same address as listen");
            }
        }
        let tls_cert = s
            .tls_cert
            .as_ref()
            .map(|v| self.readable_file(v, "server.tls_cert"));
        let tls_key = s
            .tls_key
            .as_ref()
            .map(|v| self.readable_file(v, "server.tls_key"));
        match &s.tls_listen {
            Some(tl) => {
                for (set, key, what) in [
                    (
                        s.tls_cert.is_some(),
                        "server.tls_cert",
                        "a certificate chain (PEM)",
                    ),
                    (s.tls_key.is_some(), "server.tls_key", "a private key (PEM)"),
                ] {
                    if !set {
                        self.d
                            .at(tl.span(), key, format!("missing: tls_listen needs {what}"));
                    }
                }
            }
            None => {
                for (v, key) in [
                    (&s.tls_cert, "server.tls_cert"),
                    (&s.tls_key, "server.tls_key"),
                ] {
                    if let Some(v) = v {
                        self.d.at(
                            v.span(),
                            key,
                            "set, but tls_listen is not: add tls_listen or remove it",
                        );
                    }
                }
            }
        }
        let threads = self.int(
            s.threads.as_ref(),
            "server.threads",
            DEFAULT_THREADS,
            1..1025,
        );
        let trusted_proxies = self.trusted_proxies(s.trusted_proxies.as_deref());
        let public_origin = s
            .public_url
            .as_ref()
            .and_then(|v| match public_origin(v.get_ref()) {
                Ok(o) => Some(o),
                Err(e) => {
                    self.d.at(v.span(), "server.public_url", e);
                    None
                }
            });
        let shutdown_timeout = self.duration(
            s.shutdown_timeout.as_ref(),
            "server.shutdown_timeout",
            DEFAULT_SHUTDOWN,
        );
        let auth_prefix = match &s.auth_prefix {
            None => DEFAULT_AUTH_PREFIX.to_owned(),
            Some(v) => match check_auth_prefix(v.get_ref()) {
                Ok(()) => v.get_ref().clone(),
                Err(e) => {
                    self.d.at(v.span(), "server.auth_prefix", e);
                    DEFAULT_AUTH_PREFIX.to_owned()
                }
            },
        };
        let header_timeout = self.positive(
            s.header_timeout.as_ref(),
            "server.header_timeout",
            DEFAULT_HEADER_TIMEOUT,
        );
        let keepalive_timeout = self.positive(
            s.keepalive_timeout.as_ref(),
            "server.keepalive_timeout",
            DEFAULT_KEEPALIVE_TIMEOUT,
        );
        let max_connections = self.int(
            s.max_connections.as_ref(),
            "server.max_connections",
            DEFAULT_MAX_CONNECTIONS,
            1..1_000_001,
        );
        let max_connections_per_ip = self.int(
            s.max_connections_per_ip.as_ref(),
            "server.max_connections_per_ip",
            DEFAULT_MAX_CONNECTIONS_PER_IP,
            1..1_000_001,
        );
        if let (Some(v), true) = (
            &s.max_connections_per_ip,
            max_connections_per_ip > max_connections,
        ) {
            self.d.at(
                v.span(),
                "server.max_connections_per_ip",
                format!(
                    "{max_connections_per_ip} is more than max_connections ({max_connections})"
                ),
            );
        }
        let max_body = self.size(
            s.max_body.as_ref(),
            "server.max_body",
            DEFAULT_MAX_BODY,
            1..=(1 << 40),
        );
        let h2_max_streams = self.int(
            s.h2_max_streams.as_ref(),
            "server.h2_max_streams",
            DEFAULT_H2_MAX_STREAMS,
            1..MAX_H2_MAX_STREAMS + 1,
        );
        let h2_max_header_list = self.size(
            s.h2_max_header_list.as_ref(),
            "server.h2_max_header_list",
            DEFAULT_H2_MAX_HEADER_LIST,
            H2_HEADER_LIST_RANGE,
        );
        let h2c = s.h2c.as_ref().is_some_and(|v| *v.get_ref());
        if let (Some(v), true, None) = (&s.h2c, h2c, &s.listen) {
            self.d.at(
                v.span(),
                "server.h2c",
                "set, but listen is not: h2c is cleartext HTTP/2 on the plain listener",
            );
        }
        ServerConfig {
            listen,
            tls_listen,
            tls_cert,
            tls_key,
            threads: usize::try_from(threads).unwrap_or(2),
            work_stealing: s.work_stealing.unwrap_or(false),
            trusted_proxies,
            public_origin,
            shutdown_timeout,
            auth_prefix,
            header_timeout,
            keepalive_timeout,
            max_connections: usize::try_from(max_connections).unwrap_or(10_000),
            max_connections_per_ip: usize::try_from(max_connections_per_ip).unwrap_or(256),
            max_body,
            h2: s.h2.unwrap_or(true),
            h2c,
            h2_max_streams: u32::try_from(h2_max_streams).unwrap_or(100),
            h2_max_header_list: u32::try_from(h2_max_header_list).unwrap_or(64 << 10),
        }
    }

    fn trusted_proxies(&mut self, list: Option<&[Str]>) -> Vec<IpNet> {
        let mut nets = Vec::new();
        for (i, v) in list.unwrap_or_default().iter().enumerate() {
            let key = format!("server.trusted_proxies[{i}]");
            let s = v.get_ref();
            // A bare address is the obvious shorthand for a /32 (or /128).
            let net = IpNet::from_str(s).or_else(|_| IpAddr::from_str(s).map(IpNet::from));
            match net {
                Ok(n) if n.prefix_len() == 0 => self.d.at(
                    v.span(),
                    key,
                    format!(
                        "{s:?} trusts every peer, so anyone could forge X-Forwarded-For; list your proxies"
                    ),
                ),
                Ok(n) => nets.push(n.trunc()),
                Err(_) => self.d.at(
                    v.span(),
                    key,
                    format!("{s:?} is not an IP network; write e.g. \"10.0.0.0/8\" or \"127.0.0.1\""),
                ),
            }
        }
        nets
    }

    // ---- [admin] ----

    pub(super) fn admin(
        &mut self,
        raw: Option<Spanned<raw::RawAdmin>>,
        server: &ServerConfig,
    ) -> Option<AdminConfig> {
        let raw = raw?;
        let span = raw.span();
        let Some(v) = raw.into_inner().listen else {
            self.d.at(
                span,
                "admin.listen",
                "missing: [admin] needs listen (or remove the section)",
            );
            return None;
        };
        let listen = self.socket_addr(&v, "admin.listen")?;
        // Metrics are never served on the public listener (SPEC §4).
        if Some(listen) == server.listen || Some(listen) == server.tls_listen {
            self.d.at(
                v.span(),
                "admin.listen",
                "must differ from the public listeners",
            );
        }
        Some(AdminConfig { listen })
    }

    // ---- [log] ----

    pub(super) fn log(&mut self, raw: Option<Spanned<raw::RawLog>>) -> LogConfig {
        let (l, _) = section(raw);
        LogConfig {
            access: l.access.unwrap_or(true),
        }
    }

    // ---- [users] ----

    /// The users file; without a `[users]` section and with `[[oidc]]`
    /// providers (`optional`), none: the gateway logs in through them only.
    pub(super) fn users(
        &mut self,
        raw: Option<Spanned<raw::RawUsers>>,
        optional: bool,
    ) -> Option<PathBuf> {
        if raw.is_none() && optional {
            return None;
        }
        let (u, span) = section(raw);
        Some(match &u.file {
            Some(v) => self.readable_file(v, "users.file"),
            None => {
                self.at(
                    span,
                    "users.file",
                    "missing: name the users file (SPEC §3), e.g. file = \"users.toml\"",
                );
                PathBuf::new()
            }
        })
    }
}

/// `scheme://host[:port]`, lower-case, default port dropped, so it compares
/// equal to a browser's `Origin` header (SPEC §6 CSRF check).
pub(super) fn public_origin(url: &str) -> Result<String, String> {
    let bad = |why: &str| format!("{url:?} {why}; write e.g. \"https://app.example.com\"");
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(bad("is not an http(s) URL"));
    };
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => 443,
        "http" => 80,
        _ => return Err(bad("must use http or https")),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if !(tail.is_empty() || tail == "/") {
        return Err(bad("must be an origin only (no path, query or fragment)"));
    }
    if authority.contains('@') {
        return Err(bad("must not carry a user name or password"));
    }
    let auth = http::uri::Authority::from_str(authority).map_err(|_| bad("has no valid host"))?;
    if auth.host().is_empty() {
        return Err(bad("has no host"));
    }
    // `Authority` ignores a port it cannot parse; refuse it instead.
    let after_host = authority.rsplit_once(']').map_or(authority, |(_, r)| r);
    if let Some((_, port)) = after_host.split_once(':') {
        if !port.parse::<u16>().is_ok_and(|p| p > 0) {
            return Err(bad("has a bad port"));
        }
    }
    let host = auth.host().to_ascii_lowercase();
    Ok(match auth.port_u16() {
        Some(p) if p != default_port => format!("{scheme}://{host}:{p}"),
        _ => format!("{scheme}://{host}"),
    })
}

fn check_auth_prefix(p: &str) -> Result<(), String> {
    let ok_chars = p
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~/".contains(&b));
    let segments_ok = p.strip_prefix('/').is_some_and(|rest| {
        rest.split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..")
    });
    if ok_chars && segments_ok {
        Ok(())
    } else {
        Err(format!(
            "{p:?} must be a path like \"/auth\": leading `/`, no trailing `/`, plain segments"
        ))
    }
}
