//! The server set-up shared by the benchmark's bare proxies (`bare_proxy`,
//! `bare_proxy_tuned`, `bare_proxy_required`): arguments, Pingora's server,
//! and one service per shard laid out as gatehouse lays out its own.
//!
//! Usage: `PROGRAM LISTEN UPSTREAM THREADS [TLS_LISTEN CERT KEY]`, e.g.
//! `127.0.0.1:8090 127.0.0.1:3000 2`; with the TLS arguments it also serves
//! TLS with ALPN h2 and http/1.1 (the HTTP/2 rows of the benchmark).

use gatehouse::server::shards;
use pingora::prelude::*;
use pingora::proxy::ProxyHttp;
use pingora::server::configuration::ServerConf;

/// Serve until killed, one `make(upstream)` proxy per shard;
/// `work_stealing` as in Pingora's `ServerConf` (`false` also lays the
/// threads out as gatehouse does).
pub fn serve<P, F>(work_stealing: bool, make: F)
where
    P: ProxyHttp + Send + Sync + 'static,
    P::CTX: Send + Sync,
    F: Fn(&str) -> P,
{
    let args: Vec<String> = std::env::args().collect();
    let listen = args.get(1).map(String::as_str).unwrap_or("127.0.0.1:8090");
    let upstream = args.get(2).map(String::as_str).unwrap_or("127.0.0.1:3000");
    let threads = args.get(3).and_then(|t| t.parse().ok()).unwrap_or(2);
    let tls = match (args.get(4), args.get(5), args.get(6)) {
        (Some(at), Some(cert), Some(key)) => {
            let at: std::net::SocketAddr = at.parse().expect("TLS_LISTEN must be IP:PORT");
            Some((at, cert.clone(), key.clone()))
        }
        _ => None,
    };
    let conf = ServerConf {
        threads,
        work_stealing,
        grace_period_seconds: Some(0),
        graceful_shutdown_timeout_seconds: Some(0),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    // Tuned: gatehouse's layout without work stealing, one single-threaded
    // service per thread, each with its own SO_REUSEPORT listener and
    // upstream pool (see gatehouse::server::shards).
    let addr: std::net::SocketAddr = listen.parse().expect("LISTEN must be IP:PORT");
    let mut addrs = vec![addr];
    addrs.extend(tls.as_ref().map(|(at, _, _)| *at));
    let count = shards::shard_count(threads, work_stealing, &addrs);
    for shard in 0..count {
        let mut svc = http_proxy_service(&server.configuration, make(upstream));
        shards::listen_tcp(&mut svc, addr, shard, count);
        if let Some((at, cert, key)) = &tls {
            let mut settings = pingora::listeners::tls::TlsSettings::intermediate(cert, key)
                .expect("TLS certificate and key");
            settings.enable_h2();
            shards::listen_tls(&mut svc, *at, shard, count, settings);
        }
        server.add_service(svc);
    }
    server.run_forever();
}
