//! Ephemeral loopback ports.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::sync::Mutex;

/// A port that was free a moment ago and that this test process has not
/// handed out before. Once a probe socket is closed the kernel may give
/// the same port to the next probe, so two calls in a row could name one
/// port twice (seen: a gateway configured with `listen` and `tls_listen`
/// on the same port). Callers that bind it later must retry on "address
/// in use": another process may take it in between.
pub fn free_port() -> u16 {
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    for _ in 0..1000 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("bind 127.0.0.1:0");
        let mut seen = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
        if seen.insert(port) {
            return port;
        }
    }
    panic!("no port this process had not handed out in 1000 tries");
}
