//! `RedisServer`: a real redis-server on a free loopback port, no
//! persistence, killed on Drop. `stop()` / `restart()` (same port) simulate a
//! store outage.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::net::free_port;

const REDIS_BIN: &str = "redis-server";
const READY_DEADLINE: Duration = Duration::from_secs(10);

pub struct RedisServer {
    port: u16,
    child: Option<Child>,
    // Working directory for redis-server; nothing is persisted (`--save ""`),
    // but redis must not drop files in the test's cwd either.
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Start redis-server on a free port and wait until it answers PING.
    pub fn spawn() -> RedisServer {
        let mut last_err = String::new();
        // Another process may grab the port between our probe and redis'
        // bind; try a few ports before giving up.
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("redis: tempdir");
            let mut server = RedisServer {
                port: free_port(),
                child: None,
                dir,
            };
            match server.start() {
                Ok(()) => return server,
                Err(e) => last_err = e,
            }
        }
        panic!("redis-server would not start: {last_err}");
    }

    /// `redis://127.0.0.1:PORT/0`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Kill the server (outage). Idempotent.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start again on the same port (empty: nothing was persisted).
    pub fn restart(&mut self) {
        self.stop();
        if let Err(e) = self.start() {
            panic!("redis-server would not restart on port {}: {e}", self.port);
        }
    }

    /// Whether the server answers PING right now.
    pub fn ping(&self) -> bool {
        ping(self.addr())
    }

    fn start(&mut self) -> Result<(), String> {
        let mut child = Command::new(REDIS_BIN)
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {REDIS_BIN}: {e}"))?;
        let deadline = Instant::now() + READY_DEADLINE;
        loop {
            if ping(self.addr()) {
                self.child = Some(child);
                return Ok(());
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("exited early on port {}: {status}", self.port));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "no PONG on port {} within {READY_DEADLINE:?}",
                    self.port
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One inline `PING`; true on `+PONG`.
pub fn ping(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    stream.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}
