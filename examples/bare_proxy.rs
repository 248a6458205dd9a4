//! A bare Pingora passthrough proxy, the baseline for `bench/run.sh`: same
//! Pingora version, same thread count and server tuning as gatehouse, no auth.
//!
//! Usage: `bare_proxy LISTEN UPSTREAM THREADS`, e.g.
//! `bare_proxy 127.0.0.1:8090 127.0.0.1:3000 2`.

use async_trait::async_trait;
use pingora::prelude::*;
use pingora::server::configuration::ServerConf;

struct Passthrough {
    peer: HttpPeer,
}

#[async_trait]
impl ProxyHttp for Passthrough {
    type CTX = ();
    fn new_ctx(&self) {}
    async fn upstream_peer(&self, _s: &mut Session, _c: &mut ()) -> Result<Box<HttpPeer>> {
        Ok(Box::new(self.peer.clone()))
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let listen = args.get(1).map(String::as_str).unwrap_or("127.0.0.1:8090");
    let upstream = args.get(2).map(String::as_str).unwrap_or("127.0.0.1:3000");
    let threads = args.get(3).and_then(|t| t.parse().ok()).unwrap_or(2);
    let conf = ServerConf { threads, grace_period_seconds: Some(0), graceful_shutdown_timeout_seconds: Some(0), ..ServerConf::default() };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut svc = http_proxy_service(&server.configuration, Passthrough { peer: HttpPeer::new(upstream, false, String::new()) });
    svc.add_tcp(listen);
    server.add_service(svc);
    server.run_forever();
}
