//! Upstream pools (SPEC §11): each `[upstreams.NAME]` is a
//! `pingora-load-balancing` balancer over its resolved addresses, with
//! active health checks, periodic re-resolution (`server::upstream_checks`
//! drives both) and the peer options (TLS, SNI, timeouts) a request needs.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use pingora::protocols::tls::CaType;
use pingora::protocols::ALPN;
use pingora::upstreams::peer::HttpPeer;
use pingora::utils::tls::{parse_x509, WrappedX509};
use pingora_load_balancing::selection::consistent::KetamaHashing;
use pingora_load_balancing::selection::{BackendIter, BackendSelection, Random, RoundRobin};
use pingora_load_balancing::{Backend, Backends, LoadBalancer};
use prometheus::{IntCounter, IntGauge};

use crate::metrics::METRICS;
#[cfg(test)]
use crate::policy::upstream::Timeouts;
use crate::policy::upstream::{Balance, Upstream, UpstreamProtocol};

pub mod discovery;
pub mod health;

/// How far a selection walks the ring looking for a healthy address.
const MAX_ITERATIONS: usize = 256;

/// Streams one HTTP/2 upstream connection carries at once (nginx's grpc
/// module allows 128): gRPC calls share connections instead of opening one
/// each, and a slow call cannot hold more than this many others back.
const UPSTREAM_H2_STREAMS: usize = 100;

enum Balancer {
    RoundRobin(LoadBalancer<RoundRobin>),
    Random(LoadBalancer<Random>),
    Consistent(LoadBalancer<KetamaHashing>),
}

/// One upstream's balancer and what a request to it needs.
pub struct Pool {
    config: Upstream,
    /// `ca_file`, in the form the TLS connector takes (built once).
    ca: Option<Arc<CaType>>,
    balancer: Balancer,
    /// Per-address metric handles, rebuilt when the address set changes
    /// (a handle lookup per request or check instead of a label hash).
    addresses: arc_swap::ArcSwap<Vec<AddressMetrics>>,
}

/// One address's series (`gatehouse_upstream_*{upstream,addr}`). The
/// `healthy` gauge is the balancer's view as of the last check, which the
/// single-address fast path of `select` reads.
struct AddressMetrics {
    addr: SocketAddr,
    requests: IntCounter,
    healthy: IntGauge,
}

impl Pool {
    /// Resolve `u`'s addresses (blocking) and build its balancer.
    pub fn new(u: &Upstream) -> Result<Pool, String> {
        let discovery = discovery::Resolving::new(&u.addrs)?;
        let backends = Backends::new(Box::new(discovery));
        let ca = trusted_ca(u);
        let balancer = match u.balance {
            Balance::RoundRobin => Balancer::RoundRobin(balancer(u, backends, &ca)),
            Balance::Random => Balancer::Random(balancer(u, backends, &ca)),
            Balance::Consistent => Balancer::Consistent(balancer(u, backends, &ca)),
        };
        let pool = Pool {
            config: u.clone(),
            ca,
            balancer,
            addresses: Default::default(),
        };
        pool.count_addresses();
        Ok(pool)
    }

    /// The upstream this pool serves, as configured.
    pub fn config(&self) -> &Upstream {
        &self.config
    }

    /// A healthy address by the upstream's `balance` (`client_ip` is the key
    /// of `consistent`), never `avoid` (the one a retry is moving away
    /// from). None: no healthy address.
    pub fn select(
        &self,
        client_ip: Option<IpAddr>,
        avoid: Option<SocketAddr>,
    ) -> Option<SocketAddr> {
        // Most upstreams are one address: every policy picks it when it is
        // healthy, so the balancer's walk (a hash set of visited addresses
        // and a hashed health lookup per request) is skipped.
        if let [only] = self.addresses.load().as_slice() {
            let ok = only.healthy.get() == 1 && Some(only.addr) != avoid;
            return ok.then_some(only.addr);
        }
        let (v4, v6);
        let key: &[u8] = match client_ip {
            Some(IpAddr::V4(ip)) => {
                v4 = ip.octets();
                &v4
            }
            Some(IpAddr::V6(ip)) => {
                v6 = ip.octets();
                &v6
            }
            None => &[],
        };
        let accept = |b: &Backend, healthy: bool| healthy && b.as_inet().copied() != avoid;
        let chosen = match &self.balancer {
            Balancer::RoundRobin(lb) => lb.select_with(&[], MAX_ITERATIONS, accept),
            Balancer::Random(lb) => lb.select_with(&[], MAX_ITERATIONS, accept),
            Balancer::Consistent(lb) => lb.select_with(key, MAX_ITERATIONS, accept),
        };
        chosen.and_then(|b| b.as_inet().copied())
    }

    /// The peer for `addr`: TLS, SNI and the upstream's timeouts, with
    /// `read_timeout` replaced by a route's `timeout`. HTTP/2 upstreams
    /// (SPEC §11) get ALPN h2 only: over TLS it is negotiated, in cleartext
    /// Pingora's connector then speaks HTTP/2 with prior knowledge (h2c).
    pub fn peer(&self, addr: SocketAddr, read_timeout: Option<Duration>) -> HttpPeer {
        let u = &self.config;
        let mut peer = HttpPeer::new(addr, u.tls, u.sni.clone());
        let o = &mut peer.options;
        if u.protocol != UpstreamProtocol::Http1 {
            o.alpn = ALPN::H2;
            o.max_h2_streams = UPSTREAM_H2_STREAMS;
        }
        o.ca.clone_from(&self.ca);
        o.connection_timeout = Some(u.timeouts.connect);
        o.read_timeout = Some(read_timeout.unwrap_or(u.timeouts.read));
        o.write_timeout = Some(u.timeouts.write);
        o.idle_timeout = Some(u.timeouts.idle);
        peer
    }

    /// Count one request sent to `addr`.
    pub fn count_request(&self, addr: SocketAddr) {
        if let Some(m) = self.addresses.load().iter().find(|m| m.addr == addr) {
            m.requests.inc();
        }
    }

    /// Resolve the names again; the set changes only if resolution worked.
    pub async fn refresh(&self) {
        let result = match &self.balancer {
            Balancer::RoundRobin(lb) => lb.update().await,
            Balancer::Random(lb) => lb.update().await,
            Balancer::Consistent(lb) => lb.update().await,
        };
        match result {
            Ok(()) => self.count_addresses(),
            Err(e) => {
                tracing::warn!(upstream = %self.config.name, error = %e, "upstream re-resolution failed; keeping the last addresses")
            }
        }
    }

    /// One health-check pass over every address (all in parallel), then the
    /// health gauges. A no-op without `health`.
    pub async fn check(&self) {
        if self.config.health.is_none() {
            return;
        }
        self.backends().run_health_check(true).await;
        self.publish_health();
    }

    /// The health gauges, from the balancer's current view.
    fn publish_health(&self) {
        let addresses = self.addresses.load();
        for (addr, healthy) in self.health() {
            if let Some(m) = addresses.iter().find(|m| m.addr == addr) {
                m.healthy.set(i64::from(healthy));
            }
        }
    }

    /// Every address and whether it is taking traffic.
    pub fn health(&self) -> Vec<(SocketAddr, bool)> {
        let backends = self.backends();
        backends
            .get_backend()
            .iter()
            .filter_map(|b| Some((*b.as_inet()?, backends.ready(b))))
            .collect()
    }

    fn backends(&self) -> &Backends {
        match &self.balancer {
            Balancer::RoundRobin(lb) => lb.backends(),
            Balancer::Random(lb) => lb.backends(),
            Balancer::Consistent(lb) => lb.backends(),
        }
    }

    /// (Re)build the per-address metric handles, with the gauges' values.
    fn count_addresses(&self) {
        let name = &self.config.name;
        let addresses = self
            .health()
            .into_iter()
            .map(|(addr, ready)| {
                let label = addr.to_string();
                let healthy = METRICS.upstream_healthy.with_label_values(&[name, &label]);
                // Set before the set is published: `select` reads it at once.
                healthy.set(i64::from(ready));
                AddressMetrics {
                    addr,
                    requests: METRICS.upstream_requests.with_label_values(&[name, &label]),
                    healthy,
                }
            })
            .collect();
        self.addresses.store(Arc::new(addresses));
    }
}

/// A balancer over `backends` with `u`'s health check, its first
/// (already resolved) address set in place.
fn balancer<S>(u: &Upstream, backends: Backends, ca: &Option<Arc<CaType>>) -> LoadBalancer<S>
where
    S: BackendSelection + 'static,
    S::Iter: BackendIter,
{
    let mut lb = LoadBalancer::<S>::from_backends(backends);
    if let Some(h) = &u.health {
        lb.set_health_check(health::check_for(u, h, ca));
    }
    // The discovery hands its load-time set out without awaiting.
    if let Some(Err(e)) = lb.update().now_or_never() {
        tracing::warn!(upstream = %u.name, error = %e, "upstream addresses not set");
    }
    lb
}

/// The CA certificates of `ca_file` for Pingora's connector: trusted for
/// this upstream instead of the system's roots. Each was parsed as X.509 at
/// load with the same parser (`config::compile`), so this cannot fail.
pub fn trusted_ca(u: &Upstream) -> Option<Arc<CaType>> {
    let certs = u.ca_certs.as_ref()?;
    let wrapped: Vec<WrappedX509> = certs
        .iter()
        .map(|der| WrappedX509::new(der.clone(), parse_x509))
        .collect();
    Some(Arc::from(wrapped))
}

/// One pool per upstream, indexed like `Policy::upstreams`.
#[derive(Default)]
pub struct Pools(Vec<Arc<Pool>>);

impl Pools {
    /// Pools for `upstreams`, reusing the pool of an upstream whose config
    /// is unchanged from `previous` (it keeps its health state across a
    /// reload). The error names the upstream and its problem.
    pub fn new(
        upstreams: &[Upstream],
        previous: Option<&Pools>,
    ) -> Result<Pools, (String, String)> {
        let mut out = Vec::with_capacity(upstreams.len());
        for u in upstreams {
            let kept = previous.and_then(|p| p.0.iter().find(|pool| pool.config == *u));
            match kept {
                Some(pool) => out.push(pool.clone()),
                None => out.push(Arc::new(Pool::new(u).map_err(|e| (u.name.clone(), e))?)),
            }
        }
        Ok(Pools(out))
    }

    pub fn get(&self, index: usize) -> Option<&Arc<Pool>> {
        self.0.get(index)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Pool>> {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pingora::upstreams::peer::Peer;

    fn upstream(protocol: UpstreamProtocol, tls: bool) -> Upstream {
        Upstream {
            name: "u".into(),
            addrs: vec!["127.0.0.1:50051".into()],
            tls,
            sni: if tls {
                "grpc.internal".into()
            } else {
                String::new()
            },
            ca_certs: None,
            balance: Balance::RoundRobin,
            health: None,
            resolve_every: Duration::from_secs(30),
            timeouts: Default::default(),
            protocol,
        }
    }

    #[test]
    fn http2_upstreams_speak_h2_only() {
        let addr: SocketAddr = "127.0.0.1:50051".parse().unwrap();
        let peer = |protocol, tls| {
            Pool::new(&upstream(protocol, tls))
                .unwrap()
                .peer(addr, None)
        };
        let h2 = peer(UpstreamProtocol::H2, true);
        assert!(h2.is_tls());
        assert_eq!(h2.options.alpn, ALPN::H2);
        assert_eq!(h2.sni(), "grpc.internal");
        assert_eq!(h2.options.max_h2_streams, UPSTREAM_H2_STREAMS);
        // Cleartext with ALPN h2: Pingora's connector speaks h2c (prior
        // knowledge) to a peer whose lowest HTTP version is 2.
        let h2c = peer(UpstreamProtocol::H2c, false);
        assert!(!h2c.is_tls());
        assert_eq!(h2c.options.alpn.get_min_http_version(), 2);
        let h1 = peer(UpstreamProtocol::Http1, false);
        assert_eq!(h1.options.alpn.get_max_http_version(), 1);
    }

    #[test]
    fn peers_carry_the_timeouts_and_a_route_timeout_replaces_read() {
        let pool = Pool::new(&upstream(UpstreamProtocol::Http1, false)).unwrap();
        let addr: SocketAddr = "127.0.0.1:50051".parse().unwrap();
        let p = pool.peer(addr, None);
        let t = Timeouts::default();
        assert_eq!(p.options.connection_timeout, Some(t.connect));
        assert_eq!(p.options.read_timeout, Some(t.read));
        assert_eq!(p.options.write_timeout, Some(t.write));
        assert_eq!(p.options.idle_timeout, Some(t.idle));
        let slow = pool.peer(addr, Some(Duration::from_secs(300)));
        assert_eq!(slow.options.read_timeout, Some(Duration::from_secs(300)));
    }

    /// The single-address fast path answers as the balancer does: the
    /// address while its checks pass, none once they fail, and never the
    /// address a retry avoids.
    #[tokio::test]
    async fn a_single_address_is_chosen_only_while_healthy() {
        use crate::policy::upstream::HealthCheck;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut u = upstream(UpstreamProtocol::Http1, false);
        u.addrs = vec![addr.to_string()];
        u.health = Some(HealthCheck {
            path: None,
            interval: Duration::from_secs(3600),
            timeout: Duration::from_secs(2),
            unhealthy_after: 1,
            healthy_after: 1,
        });
        let pool = Pool::new(&u).unwrap();
        pool.check().await;
        assert_eq!(pool.select(None, None), Some(addr));
        assert_eq!(pool.select(None, Some(addr)), None);
        drop(listener);
        pool.check().await;
        assert_eq!(pool.health(), vec![(addr, false)]);
        assert_eq!(pool.select(None, None), None);
    }
}
