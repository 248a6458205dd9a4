//! Active health checks from `[upstreams.NAME.health]`: a TCP (or TLS)
//! connect, or `GET path` expecting any 2xx, with the configured timeout and
//! flip thresholds.

use pingora::http::RequestHeader;
use pingora::{Error, ErrorType};
use pingora_load_balancing::health_check::{HealthCheck as Check, HttpHealthCheck, TcpHealthCheck};

use std::sync::Arc;

use crate::policy::upstream::{HealthCheck, Upstream};
use pingora::protocols::tls::CaType;

/// The pingora-load-balancing check for `u`'s `health`.
/// `ca`: the pool's `ca_file` certificates, for a TLS check.
pub fn check_for(
    u: &Upstream,
    h: &HealthCheck,
    ca: &Option<Arc<CaType>>,
) -> Box<dyn Check + Send + Sync> {
    match &h.path {
        None => {
            let mut tcp = if u.tls {
                TcpHealthCheck::new_tls(&u.sni)
            } else {
                TcpHealthCheck::new()
            };
            tcp.peer_template.options.ca.clone_from(ca);
            tcp.consecutive_failure = h.unhealthy_after;
            tcp.consecutive_success = h.healthy_after;
            tcp.peer_template.options.connection_timeout = Some(h.timeout);
            tcp.peer_template.options.total_connection_timeout = Some(h.timeout);
            tcp
        }
        Some(path) => {
            let host = host_header(u);
            let mut http = HttpHealthCheck::new(&host, u.tls);
            if u.tls {
                http.peer_template.sni = u.sni.clone();
                http.peer_template.options.ca.clone_from(ca);
            }
            // A path that the config check let through always builds.
            if let Ok(mut req) = RequestHeader::build("GET", path.as_bytes(), None) {
                if req.append_header("Host", host.as_str()).is_ok()
                    && req.append_header("User-Agent", "gatehouse-health").is_ok()
                {
                    http.req = req;
                }
            }
            http.consecutive_failure = h.unhealthy_after;
            http.consecutive_success = h.healthy_after;
            http.peer_template.options.connection_timeout = Some(h.timeout);
            http.peer_template.options.total_connection_timeout = Some(h.timeout);
            http.peer_template.options.read_timeout = Some(h.timeout);
            http.validator = Some(Box::new(|resp| {
                if resp.status.is_success() {
                    Ok(())
                } else {
                    Error::e_explain(
                        ErrorType::HTTPStatus(resp.status.as_u16()),
                        "health check answered non-2xx",
                    )
                }
            }));
            Box::new(http)
        }
    }
}

/// The Host a health check sends: the SNI name, else the first address's host.
fn host_header(u: &Upstream) -> String {
    if !u.sni.is_empty() {
        return u.sni.clone();
    }
    let first = u.addrs.first().map(String::as_str).unwrap_or("localhost");
    match first.rsplit_once(':') {
        Some((host, _)) if !host.is_empty() => host.to_owned(),
        _ => first.to_owned(),
    }
}
