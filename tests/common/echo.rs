//! `EchoUpstream`: the echo server (echo_server.rs) on an ephemeral port, in
//! its own thread and tokio runtime so it keeps answering whatever the test's
//! runtime is doing. Stopped on Drop.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::echo_server;

pub struct EchoUpstream {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl EchoUpstream {
    /// Start an echo upstream on 127.0.0.1 with a port chosen by the OS.
    pub fn spawn() -> EchoUpstream {
        Self::spawn_at("127.0.0.1:0".parse().expect("address"))
    }

    /// Start one on `addr` (an upstream coming back on its old address).
    pub fn spawn_at(addr: SocketAddr) -> EchoUpstream {
        // Bind before the thread starts so the address is known and the port
        // cannot be taken by anyone else in between.
        let std_listener =
            std::net::TcpListener::bind(addr).unwrap_or_else(|e| panic!("echo: bind {addr}: {e}"));
        std_listener
            .set_nonblocking(true)
            .expect("echo: set_nonblocking");
        let addr = std_listener.local_addr().expect("echo: local_addr");
        let hits = Arc::new(AtomicUsize::new(0));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread_hits = hits.clone();
        let thread = std::thread::Builder::new()
            .name(format!("echo-{}", addr.port()))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("echo: tokio runtime");
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(std_listener)
                        .expect("echo: tokio listener");
                    tokio::select! {
                        _ = echo_server::serve(listener, thread_hits) => {}
                        _ = stop_rx => {}
                    }
                });
            })
            .expect("echo: spawn thread");
        EchoUpstream {
            addr,
            hits,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests answered so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for EchoUpstream {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
