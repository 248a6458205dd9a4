//! Real front proxies (Debian's nginx and Caddy) in front of the echo
//! upstream, asking a gatehouse to decide (SPEC §10 forward-auth). Each runs
//! from a config written into its own temp dir, as one process (nginx with
//! `master_process off`, so killing its PID stops it all), on a free
//! loopback port, waited for until it accepts connections, killed on Drop.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::net::free_port;

const READY_DEADLINE: Duration = Duration::from_secs(15);

/// Which front proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Nginx,
    Caddy,
}

/// A running front proxy.
pub struct FrontProxy {
    kind: Kind,
    child: Option<Child>,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl FrontProxy {
    /// Start `kind` with `config`, in which `{listen}` is replaced by the
    /// port it listens on and `{dir}` by its temp dir.
    pub fn start(kind: Kind, config: &str) -> FrontProxy {
        FrontProxy::start_with(kind, config, None)
    }

    /// Like `start`, on `port` (chosen beforehand with `net::free_port`,
    /// when the gateway's `public_url` must name the front proxy).
    pub fn start_on(kind: Kind, config: &str, port: u16) -> FrontProxy {
        FrontProxy::start_with(kind, config, Some(port))
    }

    fn start_with(kind: Kind, config: &str, port: Option<u16>) -> FrontProxy {
        let mut last = String::new();
        for _ in 0..3 {
            let dir = tempfile::tempdir().expect("front proxy tempdir");
            let port = port.unwrap_or_else(free_port);
            let text = config
                .replace("{listen}", &port.to_string())
                .replace("{dir}", &dir.path().to_string_lossy());
            let mut proxy = FrontProxy {
                kind,
                child: None,
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
                dir,
            };
            match proxy.spawn(&text) {
                Ok(()) => return proxy,
                Err(e) => last = e,
            }
        }
        panic!("{kind:?} would not start: {last}");
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What the proxy wrote to stdout/stderr (and nginx's error log).
    pub fn logs(&self) -> String {
        let read = |f: &str| std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default();
        format!(
            "--- {:?} stderr ---\n{}\n--- stdout ---\n{}",
            self.kind,
            read("stderr.log"),
            read("stdout.log")
        )
    }

    fn spawn(&mut self, config: &str) -> Result<(), String> {
        let dir = self.dir.path();
        let mut cmd = match self.kind {
            Kind::Nginx => {
                std::fs::write(dir.join("nginx.conf"), nginx_main(config, dir))
                    .map_err(|e| e.to_string())?;
                let mut c = Command::new("nginx");
                c.arg("-p").arg(dir).arg("-c").arg(dir.join("nginx.conf"));
                c
            }
            Kind::Caddy => {
                let file = dir.join("Caddyfile");
                std::fs::write(&file, caddy_main(config)).map_err(|e| e.to_string())?;
                let mut c = Command::new("caddy");
                c.args(["run", "--adapter", "caddyfile", "--config"])
                    .arg(&file)
                    .env("HOME", dir)
                    .env("XDG_DATA_HOME", dir)
                    .env("XDG_CONFIG_HOME", dir);
                c
            }
        };
        let out = |name: &str| {
            std::fs::File::create(dir.join(name))
                .map(Stdio::from)
                .map_err(|e| e.to_string())
        };
        let child = cmd
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out("stdout.log")?)
            .stderr(out("stderr.log")?)
            .spawn()
            .map_err(|e| format!("cannot run {:?}: {e}", self.kind))?;
        self.child = Some(child);
        let deadline = Instant::now() + READY_DEADLINE;
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                return Err(format!("exited early ({status}):\n{}", self.logs()));
            }
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.stop();
                return Err(format!(
                    "not listening within {READY_DEADLINE:?}:\n{}",
                    self.logs()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for FrontProxy {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("{}", self.logs());
        }
    }
}

/// The operator's `server { ... }` block inside a main config that keeps
/// everything in the temp dir and runs as one foreground process.
fn nginx_main(server: &str, dir: &Path) -> String {
    let d = dir.to_string_lossy();
    format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
         error_log {d}/stderr.log info;\nevents {{ worker_connections 256; }}\n\
         http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/body;\n  \
         proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  \
         uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n{server}\n}}\n"
    )
}

/// Global options that keep Caddy off the network and its admin port,
/// before the operator's site block.
fn caddy_main(site: &str) -> String {
    format!("{{\n  admin off\n  auto_https off\n}}\n\n{site}\n")
}
