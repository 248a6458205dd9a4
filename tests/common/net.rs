//! Ephemeral loopback ports.

use std::net::TcpListener;

/// A port that was free a moment ago. Callers that bind it later must
/// retry on "address in use": another process may take it in between.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}
