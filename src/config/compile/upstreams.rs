//! `[upstreams.NAME]` (SPEC §11): addresses, TLS and SNI, balancing, health
//! checks, re-resolution and timeouts.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use toml::Spanned;

use super::policy::is_dns_name;
use super::Compiler;
use crate::config::diag::key_part;
use crate::config::raw;
use crate::policy::upstream::{Balance, HealthCheck, Timeouts, UpstreamProtocol};
use crate::policy::Upstream;

/// Addresses one upstream may list: far beyond any real pool, small enough
/// that a typo'd generated list is caught.
const MAX_ADDRS: usize = 256;

impl Compiler<'_> {
    pub(super) fn upstreams(
        &mut self,
        list: Vec<(String, Spanned<raw::RawUpstream>)>,
    ) -> Vec<Upstream> {
        let mut out = Vec::with_capacity(list.len());
        for (name, u) in list {
            let span = u.span();
            let u = u.into_inner();
            let prefix = format!("upstreams.{}", key_part(&name));
            let protocol = self.upstream_protocol(&u, &prefix);
            // "h2" is HTTP/2 over TLS: it implies `tls = true`.
            let tls = u.tls.unwrap_or(protocol == UpstreamProtocol::H2);
            let (addrs, hosts) = self.upstream_addrs(&u, span.clone(), &prefix);
            let sni = self.upstream_sni(&u, tls, hosts.first().map(String::as_str), &prefix);
            // (h2c with tls = true is already reported as a contradiction.)
            if tls && protocol != UpstreamProtocol::H2c && sni.is_empty() && u.sni.is_none() {
                // Pingora's TLS connector needs a name to check the
                // certificate against, and an IP address is never sent as
                // SNI (RFC 6066 §3): without `sni` no connection could be
                // made, and every request would get 502.
                let at = u.addr.as_ref().map(|v| v.span());
                let at = at.or(u.addrs.as_ref().map(|v| v.span())).unwrap_or(span);
                let key = if u.addr.is_some() { "addr" } else { "addrs" };
                self.d.at(
                    at,
                    format!("{prefix}.{key}"),
                    "TLS to an IP address needs `sni`: the name the upstream's certificate is for",
                );
            }
            let ca_certs = u
                .ca_file
                .as_ref()
                .and_then(|v| self.upstream_ca(v, tls, &prefix));
            let balance = match &u.balance {
                None => Balance::RoundRobin,
                Some(v) => Balance::parse(v.get_ref()).unwrap_or_else(|| {
                    let msg = format!(
                        "unknown balance {:?}; use \"round_robin\", \"random\" or \"consistent\"",
                        v.get_ref()
                    );
                    self.d.at(v.span(), format!("{prefix}.balance"), msg);
                    Balance::RoundRobin
                }),
            };
            let health = self.upstream_health(u.health.as_ref(), addrs.len(), &prefix);
            let resolve_every = self.positive(
                u.resolve_every.as_ref(),
                &format!("{prefix}.resolve_every"),
                Duration::from_secs(30),
            );
            let d = Timeouts::default();
            let timeouts = Timeouts {
                connect: self.positive(
                    u.connect_timeout.as_ref(),
                    &format!("{prefix}.connect_timeout"),
                    d.connect,
                ),
                read: self.positive(
                    u.read_timeout.as_ref(),
                    &format!("{prefix}.read_timeout"),
                    d.read,
                ),
                write: self.positive(
                    u.write_timeout.as_ref(),
                    &format!("{prefix}.write_timeout"),
                    d.write,
                ),
                idle: self.positive(
                    u.idle_timeout.as_ref(),
                    &format!("{prefix}.idle_timeout"),
                    d.idle,
                ),
            };
            out.push(Upstream {
                name,
                addrs,
                tls,
                sni,
                ca_certs,
                balance,
                health,
                resolve_every,
                timeouts,
                protocol,
            });
        }
        out
    }

    /// `protocol`: "http1", "h2" (never with `tls = false`) or "h2c" (never
    /// with `tls = true`): TLS and cleartext HTTP/2 are told apart by name,
    /// so a gRPC upstream cannot silently be spoken to in the other one.
    fn upstream_protocol(&mut self, u: &raw::RawUpstream, prefix: &str) -> UpstreamProtocol {
        let Some(v) = &u.protocol else {
            return UpstreamProtocol::Http1;
        };
        let key = format!("{prefix}.protocol");
        let protocol = match v.get_ref().as_str() {
            "http1" => UpstreamProtocol::Http1,
            "h2" => UpstreamProtocol::H2,
            "h2c" => UpstreamProtocol::H2c,
            other => {
                let msg = format!("unknown protocol {other:?}; use \"http1\", \"h2\" or \"h2c\"");
                self.d.at(v.span(), key, msg);
                return UpstreamProtocol::Http1;
            }
        };
        match (protocol, u.tls) {
            (UpstreamProtocol::H2, Some(false)) => self.d.at(
                v.span(),
                key,
                "\"h2\" is HTTP/2 over TLS, but tls = false; use \"h2c\" for cleartext HTTP/2",
            ),
            (UpstreamProtocol::H2c, Some(true)) => self.d.at(
                v.span(),
                key,
                "\"h2c\" is cleartext HTTP/2, but tls = true; use \"h2\" for HTTP/2 over TLS",
            ),
            _ => {}
        }
        protocol
    }

    /// `addr` or `addrs` (exactly one), each `host:port`; also the hosts.
    fn upstream_addrs(
        &mut self,
        u: &raw::RawUpstream,
        span: std::ops::Range<usize>,
        prefix: &str,
    ) -> (Vec<String>, Vec<String>) {
        let list: Vec<(&raw::Str, String)> = match (&u.addr, &u.addrs) {
            (Some(_), Some(many)) => {
                let msg = "give either addr or addrs, not both";
                self.d.at(many.span(), format!("{prefix}.addrs"), msg);
                return (Vec::new(), Vec::new());
            }
            (None, None) => {
                let msg =
                    "missing: upstream needs addr = \"host:port\" or addrs = [\"host:port\", ...]";
                self.d.at(span, format!("{prefix}.addr"), msg);
                return (Vec::new(), Vec::new());
            }
            (Some(one), None) => vec![(one, format!("{prefix}.addr"))],
            (None, Some(many)) => {
                if many.get_ref().is_empty() || many.get_ref().len() > MAX_ADDRS {
                    let msg = format!("list 1 to {MAX_ADDRS} addresses");
                    self.d.at(many.span(), format!("{prefix}.addrs"), msg);
                }
                many.get_ref()
                    .iter()
                    .enumerate()
                    .map(|(i, a)| (a, format!("{prefix}.addrs[{i}]")))
                    .collect()
            }
        };
        let (mut addrs, mut hosts) = (Vec::new(), Vec::new());
        for (a, key) in list {
            match check_upstream_addr(a.get_ref()) {
                Ok(_) if addrs.contains(a.get_ref()) => {
                    self.d.at(a.span(), key, "listed twice");
                }
                Ok(host) => {
                    addrs.push(a.get_ref().clone());
                    hosts.push(host);
                }
                Err(e) => self.d.at(a.span(), key, e),
            }
        }
        (addrs, hosts)
    }

    /// `ca_file`: PEM CA certificates, every one parsed as X.509 here (with
    /// the parser the TLS connector uses), and nothing else in the file.
    fn upstream_ca(&mut self, v: &raw::Str, tls: bool, prefix: &str) -> Option<Arc<[Vec<u8>]>> {
        let key = format!("{prefix}.ca_file");
        if !tls {
            self.d.at(
                v.span(),
                key,
                "only used with tls = true (or protocol = \"h2\")",
            );
            return None;
        }
        let path = self.readable_file(v, &key);
        let pem = std::fs::read(&path).ok()?;
        let mut certs = Vec::new();
        for block in x509_parser::pem::Pem::iter_from_buffer(&pem) {
            let problem = match block {
                Err(e) => format!("{} is not PEM: {e}", path.display()),
                Ok(b) if b.label != "CERTIFICATE" => format!(
                    "{} holds a {:?} block; a CA file holds CERTIFICATE blocks only",
                    path.display(),
                    b.label
                ),
                Ok(b) => match b.parse_x509() {
                    Ok(_) => {
                        certs.push(b.contents);
                        continue;
                    }
                    Err(e) => format!(
                        "{} holds a certificate that does not parse: {e}",
                        path.display()
                    ),
                },
            };
            self.d.at(v.span(), key, problem);
            return None;
        }
        if certs.is_empty() {
            let msg = format!("{} holds no PEM certificate", path.display());
            self.d.at(v.span(), key, msg);
            return None;
        }
        Some(certs.into())
    }

    /// SNI for TLS upstreams: `sni`, else the first address's host name
    /// (never an IP, RFC 6066 §3).
    fn upstream_sni(
        &mut self,
        u: &raw::RawUpstream,
        tls: bool,
        first_host: Option<&str>,
        prefix: &str,
    ) -> String {
        match &u.sni {
            Some(v) if !tls => {
                let key = format!("{prefix}.sni");
                self.d.at(v.span(), key, "only used with tls = true");
                String::new()
            }
            Some(v) if !is_dns_name(v.get_ref()) => {
                let msg = format!("{:?} is not a DNS name", v.get_ref());
                self.d.at(v.span(), format!("{prefix}.sni"), msg);
                String::new()
            }
            Some(v) => v.get_ref().to_ascii_lowercase(),
            None => match first_host {
                Some(h) if tls && IpAddr::from_str(h.trim_matches(['[', ']'])).is_err() => {
                    h.to_ascii_lowercase()
                }
                _ => String::new(),
            },
        }
    }

    /// `[upstreams.NAME.health]`; without it, an upstream of several
    /// addresses still gets TCP checks with the defaults (one address has
    /// nowhere else to go, so it is never marked down unless asked).
    fn upstream_health(
        &mut self,
        raw: Option<&Spanned<raw::RawHealth>>,
        addr_count: usize,
        prefix: &str,
    ) -> Option<HealthCheck> {
        let default = raw::RawHealth::default();
        let h = match raw {
            Some(h) => h.get_ref(),
            None if addr_count > 1 => &default,
            None => return None,
        };
        let key = |k: &str| format!("{prefix}.health.{k}");
        let path = h.path.as_ref().and_then(|p| {
            let ok = p.get_ref().starts_with('/')
                && !p
                    .get_ref()
                    .contains(|c: char| c.is_whitespace() || c.is_control());
            if !ok {
                let msg = "an absolute path without spaces, e.g. \"/healthz\"";
                self.d.at(p.span(), key("path"), msg);
            }
            ok.then(|| p.get_ref().clone())
        });
        let interval = self.positive(
            h.interval.as_ref(),
            &key("interval"),
            Duration::from_secs(5),
        );
        let timeout = self.positive(h.timeout.as_ref(), &key("timeout"), Duration::from_secs(1));
        let unhealthy_after = self.int(
            h.unhealthy_after.as_ref(),
            &key("unhealthy_after"),
            3,
            1..101,
        );
        let healthy_after = self.int(h.healthy_after.as_ref(), &key("healthy_after"), 2, 1..101);
        Some(HealthCheck {
            path,
            interval,
            timeout,
            unhealthy_after: unhealthy_after as usize,
            healthy_after: healthy_after as usize,
        })
    }
}

/// `host:port` (host a DNS name or IP, IPv6 in brackets); returns the host.
fn check_upstream_addr(addr: &str) -> Result<String, String> {
    if let Ok(sa) = SocketAddr::from_str(addr) {
        if sa.port() == 0 {
            return Err(format!("{addr:?}: port 0"));
        }
        return Ok(sa.ip().to_string());
    }
    let bad = || {
        format!("{addr:?} is not host:port; write e.g. \"127.0.0.1:3000\" or \"app.internal:8080\"")
    };
    let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
    match port.parse::<u16>() {
        Ok(p) if p > 0 => {}
        _ => return Err(bad()),
    }
    if host.contains(':') {
        return Err(format!(
            "{addr:?}: write IPv6 addresses in brackets, e.g. \"[::1]:3000\""
        ));
    }
    if !is_dns_name(host) {
        return Err(bad());
    }
    Ok(host.to_owned())
}
