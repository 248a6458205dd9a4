//! `[upstreams.NAME]`: addresses, TLS and SNI.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use toml::Spanned;

use super::policy::is_dns_name;
use super::Compiler;
use crate::config::diag::key_part;
use crate::config::raw;
use crate::policy::Upstream;

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
            let tls = u.tls.unwrap_or(false);
            let host = match &u.addr {
                None => {
                    self.d.at(
                        span,
                        format!("{prefix}.addr"),
                        "missing: upstream needs addr = \"host:port\"",
                    );
                    String::new()
                }
                Some(addr) => check_upstream_addr(addr.get_ref()).unwrap_or_else(|e| {
                    self.d.at(addr.span(), format!("{prefix}.addr"), e);
                    String::new()
                }),
            };
            let sni = match &u.sni {
                Some(v) if !tls => {
                    self.d.at(
                        v.span(),
                        format!("{prefix}.sni"),
                        "only used with tls = true",
                    );
                    String::new()
                }
                Some(v) if !is_dns_name(v.get_ref()) => {
                    self.d.at(
                        v.span(),
                        format!("{prefix}.sni"),
                        format!("{:?} is not a DNS name", v.get_ref()),
                    );
                    String::new()
                }
                Some(v) => v.get_ref().to_ascii_lowercase(),
                // An IP address is never sent as SNI (RFC 6066 §3).
                None if tls
                    && !host.is_empty()
                    && IpAddr::from_str(host.trim_matches(['[', ']'])).is_err() =>
                {
                    host.to_ascii_lowercase()
                }
                None => String::new(),
            };
            let addr = u.addr.map(|a| a.into_inner()).unwrap_or_default();
            out.push(Upstream {
                name,
                addr,
                tls,
                sni,
            });
        }
        out
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
