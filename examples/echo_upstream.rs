//! Stand-alone echo upstream for the demo: answers every request with 200 and
//! a JSON account of what it received (method, raw path, all headers, body),
//! so you can see exactly what gatehouse forwards.
//!
//! `cargo run --example echo_upstream -- 127.0.0.1:3000`
//!
//! The echo itself lives in `tests/common/echo_server.rs`, shared with the
//! integration tests so the demo and the tests see the same upstream.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

#[path = "../tests/common/echo_server.rs"]
mod echo_server;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let arg = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".to_string());
    let addr: SocketAddr = match arg.parse() {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("usage: echo_upstream [ADDR]  (e.g. 127.0.0.1:3000): {arg}: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("echo_upstream: cannot listen on {addr}: {e}");
            return ExitCode::from(1);
        }
    };
    println!("echo upstream listening on http://{addr}");
    echo_server::serve(listener, Arc::new(AtomicUsize::new(0))).await;
    ExitCode::SUCCESS
}
