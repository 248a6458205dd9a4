//! The addresses of one upstream: its `host:port` entries resolved, all the
//! addresses each name has. Resolved once, blocking, at load (a name that
//! does not resolve is a config error) and again every `resolve_every` by the
//! pool's refresh, asynchronously. A failed re-resolution keeps the last set.

use std::collections::{BTreeSet, HashMap};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Mutex;

use async_trait::async_trait;
use pingora::{Error, ErrorType, Result};
use pingora_load_balancing::discovery::ServiceDiscovery;
use pingora_load_balancing::Backend;

/// DNS-backed discovery over a fixed list of `host:port` entries.
pub struct Resolving {
    entries: Vec<String>,
    /// The set resolved at load, handed out by the first `discover` without
    /// waiting, so a new pool is complete before it serves.
    first: Mutex<Option<BTreeSet<Backend>>>,
}

impl Resolving {
    /// Resolve every entry now (blocking); the error names the entry.
    pub fn new(entries: &[String]) -> std::result::Result<Resolving, String> {
        let mut set = BTreeSet::new();
        for e in entries {
            let addrs: Vec<SocketAddr> = e
                .to_socket_addrs()
                .map_err(|err| format!("{e:?} does not resolve: {err}"))?
                .collect();
            if addrs.is_empty() {
                return Err(format!("{e:?} does not resolve to an address"));
            }
            set.extend(addrs.into_iter().map(backend));
        }
        Ok(Resolving {
            entries: entries.to_vec(),
            first: Mutex::new(Some(set)),
        })
    }
}

fn backend(addr: SocketAddr) -> Backend {
    Backend {
        addr: pingora::protocols::l4::socket::SocketAddr::Inet(addr),
        weight: 1,
        ext: Default::default(),
    }
}

#[async_trait]
impl ServiceDiscovery for Resolving {
    async fn discover(&self) -> Result<(BTreeSet<Backend>, HashMap<u64, bool>)> {
        let first = self.first.lock().map(|mut f| f.take()).unwrap_or_default();
        if let Some(set) = first {
            return Ok((set, HashMap::new()));
        }
        let mut set = BTreeSet::new();
        for e in &self.entries {
            let found = tokio::net::lookup_host(e.as_str()).await.map_err(|err| {
                Error::explain(
                    ErrorType::ConnectNoRoute,
                    format!("re-resolving {e:?}: {err}"),
                )
            })?;
            set.extend(found.map(backend));
        }
        if set.is_empty() {
            return Error::e_explain(ErrorType::ConnectNoRoute, "no upstream address resolved");
        }
        Ok((set, HashMap::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(set: &BTreeSet<Backend>) -> Vec<SocketAddr> {
        set.iter().filter_map(|b| b.as_inet().copied()).collect()
    }

    #[tokio::test]
    async fn first_set_is_the_load_time_one_then_names_are_resolved_again() {
        let d = Resolving::new(&["127.0.0.1:9001".into(), "localhost:9002".into()]).unwrap();
        let (first, _) = d.discover().await.unwrap();
        let first = addrs(&first);
        assert!(
            first.contains(&"127.0.0.1:9001".parse().unwrap()),
            "{first:?}"
        );
        assert!(
            first.iter().any(|a| a.port() == 9002),
            "localhost resolved: {first:?}"
        );
        // Later calls look the names up again (asynchronously) and find the
        // same addresses here.
        let (again, _) = d.discover().await.unwrap();
        assert_eq!(addrs(&again), first);
    }

    #[test]
    fn a_name_that_does_not_resolve_is_named() {
        let err = Resolving::new(&["no-such-host.invalid:80".into()])
            .err()
            .unwrap();
        assert!(err.contains("no-such-host.invalid:80"), "{err}");
    }
}
