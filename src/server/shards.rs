//! Shared-nothing proxy threads.
//!
//! With `work_stealing = false`, Pingora still runs one service's threads as
//! one pool: accepted connections and upstream keep-alive watchers are spawned
//! on a random thread, and one upstream connection pool serves them all, so
//! a request's reads and writes are often woken across threads. On a 2-core
//! box shared with other processes that costs more than the second thread
//! gives (bench/run.sh: about 33k req/s for two threads, 39k for one).
//!
//! So gatehouse runs `threads` services of one thread each, every one with
//! its own listening socket on the same address (`SO_REUSEPORT`, the kernel
//! spreads connections) and its own upstream pool: nothing on a request's
//! path is shared between threads but the policy and the store (the nginx
//! worker / HAProxy thread model). Same box, same load: two such threads
//! serve 53-55k req/s through a bare passthrough.

use std::net::{SocketAddr, TcpListener};

use pingora::listeners::tls::TlsSettings;
use pingora::listeners::TcpSocketOptions;
use pingora::services::listening::Service;

/// How many single-threaded services to run for `threads` threads: one per
/// thread without work stealing, else one service with all the threads.
/// An ephemeral port (0) cannot be shared, so it gets a single service.
pub fn shard_count(threads: usize, work_stealing: bool, addrs: &[SocketAddr]) -> usize {
    if work_stealing || addrs.iter().any(|a| a.port() == 0) {
        1
    } else {
        threads.max(1)
    }
}

/// Give a shard's service its thread count and its plain listener on
/// `addr`: one thread and its own `SO_REUSEPORT` socket when there are
/// several shards, the server's threads and Pingora's own listener when not.
pub fn listen_tcp<A>(svc: &mut Service<A>, addr: SocketAddr, shard: usize, shards: usize) {
    if shards > 1 {
        svc.threads = Some(1);
    }
    match listen_at(addr, shard, shards) {
        (at, Some(socket)) => svc.add_tcp_with_settings(&at, socket),
        (at, None) => svc.add_tcp(&at),
    }
}

/// The same for a TLS listener.
pub fn listen_tls<A>(
    svc: &mut Service<A>,
    addr: SocketAddr,
    shard: usize,
    shards: usize,
    settings: TlsSettings,
) {
    if shards > 1 {
        svc.threads = Some(1);
    }
    let (at, socket) = listen_at(addr, shard, shards);
    svc.add_tls_with_settings(&at, socket, settings);
}

/// The address string and socket options shard `shard` of `shards` listens
/// with.
fn listen_at(addr: SocketAddr, shard: usize, shards: usize) -> (String, Option<TcpSocketOptions>) {
    if shards == 1 {
        return (addr.to_string(), None);
    }
    let mut socket = TcpSocketOptions::default();
    socket.so_reuseport = Some(true);
    (shard_addr(addr, shard), Some(socket))
}

/// The address string shard `shard` listens on. Pingora keeps one socket
/// per address string (so that services on one address share it), which
/// would put every shard on a single accept queue; a port spelled with
/// `shard` leading zeros is the same address under a different key, so
/// each shard binds its own `SO_REUSEPORT` socket.
fn shard_addr(addr: SocketAddr, shard: usize) -> String {
    let port = format!("{}{}", "0".repeat(shard), addr.port());
    match addr {
        SocketAddr::V4(a) => format!("{}:{port}", a.ip()),
        SocketAddr::V6(a) => format!("[{}]:{port}", a.ip()),
    }
}

/// Held for the life of the process: proof that this gatehouse, and no
/// other, serves an address.
pub struct Claim {
    #[cfg(target_os = "linux")]
    _lock: std::os::unix::net::UnixListener,
}

/// Claim `addr` for this process, or say why not. With `SO_REUSEPORT` a
/// second gatehouse (same user) could otherwise bind it too and silently
/// take half the connections. Two checks: an abstract Unix socket named
/// after the address (the kernel lets only one process bind a name, and
/// frees it when the process dies, so two gatehouses started at the same
/// instant cannot both pass), then a plain bind of the address itself (for
/// anything else listening there).
pub fn claim(addr: SocketAddr) -> Result<Claim, String> {
    let claim = Claim {
        #[cfg(target_os = "linux")]
        _lock: lock(addr)
            .map_err(|e| format!("cannot listen on {addr}: another gatehouse serves it ({e})"))?,
    };
    TcpListener::bind(addr)
        .map(drop)
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    Ok(claim)
}

#[cfg(target_os = "linux")]
fn lock(addr: SocketAddr) -> std::io::Result<std::os::unix::net::UnixListener> {
    use std::os::linux::net::SocketAddrExt;
    let name = format!("gatehouse-listen:{addr}");
    let at = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
    std::os::unix::net::UnixListener::bind_addr(&at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::ToSocketAddrs;

    #[test]
    fn shard_addresses_are_distinct_keys_for_the_same_address() {
        for addr in ["127.0.0.1:8080", "[::1]:8443"] {
            let addr: SocketAddr = addr.parse().unwrap();
            let keys: Vec<String> = (0..3).map(|i| shard_addr(addr, i)).collect();
            assert_eq!(keys[0], addr.to_string());
            assert!(keys[1] != keys[0] && keys[2] != keys[1]);
            for key in &keys {
                let back = key.to_socket_addrs().unwrap().next().unwrap();
                assert_eq!(back, addr, "{key}");
            }
        }
    }

    #[test]
    fn one_service_with_work_stealing_or_an_ephemeral_port() {
        let fixed: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        assert_eq!(shard_count(4, false, &[fixed]), 4);
        assert_eq!(shard_count(4, true, &[fixed]), 1);
        assert_eq!(shard_count(4, false, &[fixed, any]), 1);
        assert_eq!(shard_count(0, false, &[fixed]), 1);
    }

    #[test]
    fn a_taken_address_is_refused() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let err = claim(addr).err().expect("taken");
        assert!(err.contains(&addr.to_string()), "{err}");
        drop(taken);
        let held = claim(addr).expect("free again");
        // Claimed by this process: a second claim (another gatehouse
        // starting at the same instant) is refused even though nothing
        // listens on the address yet.
        let err = claim(addr).err().expect("claimed");
        assert!(err.contains("another gatehouse"), "{err}");
        drop(held);
        claim(addr).expect("released with the claim");
    }
}
