//! The bare Pingora passthrough shared by `bare_proxy` (Pingora's defaults)
//! and `bare_proxy_tuned` (gatehouse's server tuning), for `bench/run.sh`.
//! Arguments: see `serve.rs`.

use async_trait::async_trait;
use pingora::prelude::*;

use crate::serve::serve;

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

/// Serve until killed; `work_stealing` as in Pingora's `ServerConf`.
pub fn run(work_stealing: bool) {
    serve(work_stealing, |upstream| Passthrough {
        peer: HttpPeer::new(upstream, false, String::new()),
    });
}
