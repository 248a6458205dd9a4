//! `Gateway`: the real `gatehouse` binary, configured in a temp dir
//! (gateway.toml + users.toml per SPEC §2/§3, an Ed25519 key from
//! `gatehouse keys generate`, optional TLS files), started with
//! `run --config`, waited for on `/healthz`, killed on Drop. Its stdout and
//! stderr go to files in the temp dir and are printed when a test fails.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::cookie::Jar;
use reqwest::Client;
use serde_json::Value;

use super::echo::EchoUpstream;
use super::http::{jar_client, plain_client, send};
use super::net::free_port;
use super::redis::RedisServer;
use super::tls::TestCa;
use super::users::{default_users, list, q, render_users, TestUser};

/// The gatehouse binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_gatehouse");

const HEALTHY_DEADLINE: Duration = Duration::from_secs(20);

/// Issuer and audience the test gateways use (not the SPEC defaults, so a
/// token minted for the defaults is refused).
pub const ISSUER: &str = "gatehouse-test";
pub const AUDIENCE: &str = "apps-test";

/// Which session store a gateway uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Memory,
    Redis,
}

#[derive(Debug, Clone)]
enum Algorithm {
    EdDSA,
    Hs256 { env: String, secret: String },
}

/// The default policy of the tests: roles admin/editor/user; `/public/**`
/// public, `/admin/**` admin role, `/api/**` needs `posts:read`, everything
/// else authenticated.
pub const DEFAULT_ROLES: &str = r#"[roles]
admin = ["*"]
editor = ["posts:read", "posts:write"]
user = ["posts:read"]
"#;

pub const DEFAULT_ROUTES: &str = r#"[[routes]]
path = "/public/**"
upstream = "app"
auth = "public"

[[routes]]
path = "/admin/**"
upstream = "app"
roles = ["admin"]

[[routes]]
path = "/api/**"
upstream = "app"
permissions = ["posts:read"]

[[routes]]
path = "/**"
upstream = "app"
"#;

/// Settings as `(section, [(key, TOML value)])`, rendered in order.
#[derive(Debug, Clone, Default)]
struct Sections(Vec<(String, Vec<(String, String)>)>);

impl Sections {
    fn set(&mut self, section: &str, key: &str, value: String) {
        let idx = match self.0.iter().position(|(s, _)| s == section) {
            Some(i) => i,
            None => {
                self.0.push((section.to_string(), Vec::new()));
                self.0.len() - 1
            }
        };
        let entries = &mut self.0[idx].1;
        match entries.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => entries.push((key.to_string(), value)),
        }
    }

    fn unset(&mut self, section: &str, key: &str) {
        if let Some((_, entries)) = self.0.iter_mut().find(|(s, _)| s == section) {
            entries.retain(|(k, _)| k != key);
        }
    }

    fn render(&self) -> String {
        let mut out = String::new();
        // A section whose keys were all unset is left out (no `[users]`
        // at all, for an OIDC-only gateway).
        for (section, entries) in self.0.iter().filter(|(_, e)| !e.is_empty()) {
            out.push_str(&format!("[{section}]\n"));
            for (k, v) in entries {
                out.push_str(&format!("{k} = {v}\n"));
            }
            out.push('\n');
        }
        out
    }
}

/// How to configure and start a gateway.
#[derive(Debug, Clone)]
pub struct GatewayBuilder {
    store: StoreKind,
    redis_url: Option<String>,
    upstream: SocketAddr,
    tls: bool,
    algorithm: Algorithm,
    overrides: Vec<(String, String, Option<String>)>,
    policy: Option<String>,
    routes_first: String,
    extra: String,
    users: Vec<TestUser>,
    /// Reuse this private key instead of generating one (sibling gateways
    /// must verify each other's tokens).
    key_file: Option<PathBuf>,
    env: Vec<(String, String)>,
    /// None: the gatehouse binary under test.
    bin: Option<PathBuf>,
}

impl Default for GatewayBuilder {
    fn default() -> Self {
        GatewayBuilder {
            store: StoreKind::Memory,
            redis_url: None,
            // Nothing listens on port 1: requests that get proxied without an
            // upstream configured end in 502, never somewhere unexpected.
            upstream: SocketAddr::from(([127, 0, 0, 1], 1)),
            tls: false,
            algorithm: Algorithm::EdDSA,
            overrides: Vec::new(),
            policy: None,
            routes_first: String::new(),
            extra: String::new(),
            users: default_users(),
            key_file: None,
            env: Vec::new(),
            bin: None,
        }
    }
}

impl GatewayBuilder {
    pub fn memory(mut self) -> Self {
        self.store = StoreKind::Memory;
        self.redis_url = None;
        self
    }

    pub fn redis(mut self, redis: &RedisServer) -> Self {
        self.store = StoreKind::Redis;
        self.redis_url = Some(redis.url());
        self
    }

    pub fn upstream(mut self, echo: &EchoUpstream) -> Self {
        self.upstream = echo.addr();
        self
    }

    pub fn upstream_addr(mut self, addr: SocketAddr) -> Self {
        self.upstream = addr;
        self
    }

    /// Also listen with TLS (a test CA's certificate for 127.0.0.1).
    pub fn tls(mut self, on: bool) -> Self {
        self.tls = on;
        self
    }

    /// HS256 with `secret` passed in environment variable `env` (`secret_env`).
    pub fn hs256(mut self, env: &str, secret: &str) -> Self {
        self.algorithm = Algorithm::Hs256 {
            env: env.to_string(),
            secret: secret.to_string(),
        };
        self
    }

    /// Sign with this existing Ed25519 key (PKCS#8 PEM) instead of a new
    /// one: gateways with different settings that must accept each other's
    /// tokens. `Gateway::sibling` does this for identical settings.
    pub fn signing_key_file(mut self, path: &Path) -> Self {
        self.key_file = Some(path.to_path_buf());
        self
    }

    /// Set `key = value` in `[section]`; `value` is TOML (quote strings:
    /// `.set("tokens", "refresh_reuse_grace", "\"1s\"")`).
    pub fn set(mut self, section: &str, key: &str, value: &str) -> Self {
        self.overrides.push((
            section.to_string(),
            key.to_string(),
            Some(value.to_string()),
        ));
        self
    }

    /// Remove a default key from `[section]`.
    pub fn unset(mut self, section: &str, key: &str) -> Self {
        self.overrides
            .push((section.to_string(), key.to_string(), None));
        self
    }

    /// Replace the default `[roles]` and `[[routes]]` with this TOML.
    pub fn policy(mut self, toml: &str) -> Self {
        self.policy = Some(toml.to_string());
        self
    }

    /// `[[routes]]` entries placed before the default routes (first match
    /// wins, and the default ends with a `/**` catch-all).
    pub fn routes_first(mut self, toml: &str) -> Self {
        self.routes_first.push_str(toml);
        self.routes_first.push('\n');
        self
    }

    /// TOML appended to the file (e.g. `[rate_limits.api]` tables).
    pub fn extra(mut self, toml: &str) -> Self {
        self.extra.push_str(toml);
        self.extra.push('\n');
        self
    }

    /// Replace the default users.
    pub fn users(mut self, users: Vec<TestUser>) -> Self {
        self.users = users;
        self
    }

    /// Add a user to the list.
    pub fn user(mut self, user: TestUser) -> Self {
        self.users.push(user);
        self
    }

    /// An extra environment variable for the gateway process.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Run this program instead of gatehouse (the harness self-test uses a
    /// stand-in that speaks just enough of the CLI and /healthz).
    pub fn binary(mut self, path: &Path) -> Self {
        self.bin = Some(path.to_path_buf());
        self
    }

    fn program(&self) -> PathBuf {
        self.bin.clone().unwrap_or_else(|| PathBuf::from(BIN))
    }

    /// gateway.toml for these settings, listening on the given ports.
    pub fn render_config(&self, http_port: u16, https_port: Option<u16>) -> String {
        let mut s = Sections::default();
        s.set("server", "listen", q(&format!("127.0.0.1:{http_port}")));
        if let Some(p) = https_port {
            s.set("server", "tls_listen", q(&format!("127.0.0.1:{p}")));
            s.set("server", "tls_cert", q("certs/cert.pem"));
            s.set("server", "tls_key", q("certs/key.pem"));
        }
        s.set("server", "threads", "1".into());
        // Nobody is trusted: the tests' own X-Forwarded-For must be replaced.
        s.set("server", "trusted_proxies", "[]".into());
        s.set(
            "server",
            "public_url",
            q(&format!("http://127.0.0.1:{http_port}")),
        );
        s.set("server", "shutdown_timeout", q("2s"));
        match self.store {
            StoreKind::Memory => s.set("store", "backend", q("memory")),
            StoreKind::Redis => {
                s.set("store", "backend", q("redis"));
                s.set(
                    "store",
                    "url",
                    q(self.redis_url.as_deref().unwrap_or_default()),
                );
            }
        }
        s.set("store", "key_prefix", q("gh:"));
        s.set("users", "file", q("users.toml"));
        s.set("tokens", "issuer", q(ISSUER));
        s.set("tokens", "audience", q(AUDIENCE));
        match &self.algorithm {
            Algorithm::EdDSA => {
                s.set("tokens", "algorithm", q("EdDSA"));
                let key = self
                    .key_file
                    .clone()
                    .unwrap_or_else(|| "keys/signing.pem".into());
                s.set("tokens", "signing_key_file", q(&key.to_string_lossy()));
            }
            Algorithm::Hs256 { env, .. } => {
                s.set("tokens", "algorithm", q("HS256"));
                s.set("tokens", "secret_env", q(env));
            }
        }
        s.set("tokens", "access_ttl", q("15m"));
        s.set("tokens", "refresh_ttl", q("7d"));
        s.set("tokens", "refresh_reuse_grace", q("10s"));
        s.set("session", "cookie_name", q(super::http::COOKIE));
        s.set("session", "idle_timeout", q("30m"));
        s.set("session", "absolute_timeout", q("12h"));
        s.set("session", "same_site", q("Lax"));
        s.set("login", "max_failures", "5".into());
        s.set("login", "lockout", q("15m"));
        s.set("headers", "user", q("X-Auth-User"));
        s.set("headers", "email", q("X-Auth-Email"));
        s.set("headers", "roles", q("X-Auth-Roles"));
        s.set("headers", "strip_prefixes", list(&["X-Auth-"]));
        s.set("upstreams.app", "addr", q(&self.upstream.to_string()));
        for (section, key, value) in &self.overrides {
            match value {
                Some(v) => s.set(section, key, v.clone()),
                None => s.unset(section, key),
            }
        }
        let mut out = s.render();
        match &self.policy {
            Some(policy) => {
                out.push_str(&self.routes_first);
                out.push_str(policy);
            }
            None => {
                out.push_str(DEFAULT_ROLES);
                out.push('\n');
                out.push_str(&self.routes_first);
                out.push_str(DEFAULT_ROUTES);
            }
        }
        out.push('\n');
        out.push_str(&self.extra);
        out
    }

    /// Write users.toml, the signing key (via `gatehouse keys generate`),
    /// TLS files if asked, and gateway.toml into `dir`. Returns the
    /// gateway.toml path.
    pub fn write_files(&self, dir: &Path, http_port: u16, https_port: Option<u16>) -> PathBuf {
        std::fs::write(dir.join("users.toml"), render_users(&self.users)).expect("users.toml");
        if matches!(self.algorithm, Algorithm::EdDSA)
            && self.key_file.is_none()
            && !dir.join("keys/signing.pem").exists()
        {
            generate_keys_with(&self.program(), &dir.join("keys"));
        }
        let config = dir.join("gateway.toml");
        std::fs::write(&config, self.render_config(http_port, https_port)).expect("gateway.toml");
        config
    }

    /// Write the files, start the gateway, wait until `/healthz` answers 200.
    pub async fn spawn(self) -> Gateway {
        let mut dir = tempfile::tempdir().expect("gateway tempdir");
        let ca = self.tls.then(TestCa::generate);
        if let Some(ca) = &ca {
            ca.write(&dir.path().join("certs"));
        }
        let mut last_failure = String::new();
        // The ports were free a moment ago; if someone took one, try others.
        for _ in 0..3 {
            let http = SocketAddr::from(([127, 0, 0, 1], free_port()));
            let https = self
                .tls
                .then(|| SocketAddr::from(([127, 0, 0, 1], free_port())));
            let mut gw = self.clone().start_in(dir, ca.clone(), http, https);
            match gw.wait_healthy().await {
                Ok(()) => return gw,
                Err(failure) => {
                    let logs = gw.logs();
                    let port_clash = logs.contains("already in use") || logs.contains("AddrInUse");
                    last_failure = format!("{failure}\n{logs}");
                    dir = gw.into_dir();
                    if !port_clash {
                        break;
                    }
                }
            }
        }
        panic!("gateway did not start: {last_failure}");
    }

    /// Write the files into `dir` and start the process (not yet waited for).
    fn start_in(
        self,
        dir: tempfile::TempDir,
        ca: Option<TestCa>,
        http: SocketAddr,
        https: Option<SocketAddr>,
    ) -> Gateway {
        let config = self.write_files(dir.path(), http.port(), https.map(|a| a.port()));
        let stdout = std::fs::File::create(dir.path().join("gateway.stdout")).expect("log file");
        let stderr = std::fs::File::create(dir.path().join("gateway.stderr")).expect("log file");
        let program = self.program();
        let mut cmd = Command::new(&program);
        cmd.arg("run")
            .arg("--config")
            .arg(&config)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        if let Algorithm::Hs256 { env, secret } = &self.algorithm {
            cmd.env(env, secret);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
        let key_file = match (&self.algorithm, &self.key_file) {
            (Algorithm::EdDSA, Some(k)) => Some(k.clone()),
            (Algorithm::EdDSA, None) => Some(dir.path().join("keys/signing.pem")),
            (Algorithm::Hs256 { .. }, _) => None,
        };
        Gateway {
            child: Some(child),
            dir: Some(dir),
            http,
            https,
            ca,
            builder: self,
            key_file,
        }
    }
}

/// `gatehouse keys generate --out DIR`; panics with its output on failure.
pub fn generate_keys(dir: &Path) {
    generate_keys_with(Path::new(BIN), dir);
}

fn generate_keys_with(program: &Path, dir: &Path) {
    let out = Command::new(program)
        .args(["keys", "generate", "--out"])
        .arg(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    assert!(
        out.status.success() && dir.join("signing.pem").exists(),
        "`{} keys generate --out {}` did not create signing.pem ({}):\n{}{}",
        program.display(),
        dir.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
}

/// A running gateway process.
pub struct Gateway {
    child: Option<Child>,
    dir: Option<tempfile::TempDir>,
    http: SocketAddr,
    https: Option<SocketAddr>,
    ca: Option<TestCa>,
    builder: GatewayBuilder,
    key_file: Option<PathBuf>,
}

impl Gateway {
    pub fn builder() -> GatewayBuilder {
        GatewayBuilder::default()
    }

    /// `http://127.0.0.1:PORT` (no trailing slash; also the `Origin`).
    pub fn http_url(&self) -> String {
        format!("http://{}", self.http)
    }

    /// `https://127.0.0.1:PORT`; panics unless built with `.tls(true)`.
    pub fn https_url(&self) -> String {
        format!("https://{}", self.https_addr())
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http
    }

    pub fn https_addr(&self) -> SocketAddr {
        self.https.expect("gateway was built without .tls(true)")
    }

    /// The temp dir holding gateway.toml, users.toml, keys/, certs/, logs.
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().expect("gateway dir").path()
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir().join("gateway.toml")
    }

    /// `gatehouse ARGS --config <this gateway's config>`, run in its
    /// directory (the admin commands act on its store).
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(BIN)
            .args(args)
            .arg("--config")
            .arg(self.config_path())
            .current_dir(self.dir())
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run gatehouse")
    }

    /// `gatehouse apikey create --name NAME --roles user`: the new key.
    pub fn create_api_key(&self, name: &str) -> String {
        let out = self.cli(&["apikey", "create", "--name", name, "--roles", "user"]);
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// The Ed25519 private key file (None for HS256).
    pub fn signing_key_file(&self) -> Option<&Path> {
        self.key_file.as_deref()
    }

    /// The test CA (TLS gateways only).
    pub fn ca(&self) -> Option<&TestCa> {
        self.ca.as_ref()
    }

    pub fn stderr_log(&self) -> String {
        std::fs::read_to_string(self.dir().join("gateway.stderr")).unwrap_or_default()
    }

    pub fn stdout_log(&self) -> String {
        std::fs::read_to_string(self.dir().join("gateway.stdout")).unwrap_or_default()
    }

    /// Config and output, for failure messages.
    pub fn logs(&self) -> String {
        let config = std::fs::read_to_string(self.config_path()).unwrap_or_default();
        format!(
            "--- {} ---\n{config}\n--- gateway stderr ---\n{}\n--- gateway stdout ---\n{}",
            self.config_path().display(),
            self.stderr_log(),
            self.stdout_log()
        )
    }

    /// A browser-like client: cookie jar, no redirects, trusts the test CA.
    pub fn client(&self) -> Client {
        jar_client(self.ca.as_ref()).0
    }

    /// Like `client()`, with the jar.
    pub fn jar_client(&self) -> (Client, Arc<Jar>) {
        jar_client(self.ca.as_ref())
    }

    /// An API client: no cookie jar, no redirects, trusts the test CA.
    pub fn plain_client(&self) -> Client {
        plain_client(self.ca.as_ref())
    }

    /// `/.well-known/jwks.json`, parsed.
    pub async fn jwks(&self) -> Value {
        let r = send(
            self.plain_client()
                .get(format!("{}/.well-known/jwks.json", self.http_url())),
        )
        .await;
        assert_eq!(r.status, 200, "jwks: {}", r.body);
        r.json()
    }

    /// The `kid` of the gateway's (first) signing key, from the JWKS.
    pub async fn kid(&self) -> String {
        let jwks = self.jwks().await;
        jwks["keys"][0]["kid"]
            .as_str()
            .expect("jwks keys[0].kid")
            .to_string()
    }

    /// Another gateway with the same settings, store and signing key (own
    /// ports, temp dir and TLS CA): two replicas behind one load balancer.
    pub async fn sibling(&self) -> Gateway {
        let mut b = self.builder.clone();
        b.key_file = self.key_file.clone();
        b.spawn().await
    }

    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .map(|c| c.id())
            .expect("gateway is running")
    }

    /// Send a signal by name (`TERM`, `HUP`) with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args(["-s", name, &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -s {name} failed");
    }

    /// Wait for the process to exit by itself (None: still running at the deadline).
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        let child = self.child.as_mut()?;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kill the process now.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn into_dir(mut self) -> tempfile::TempDir {
        self.kill();
        self.dir.take().expect("gateway dir")
    }

    /// Poll `/healthz` (and the TLS listener's) until 200, the process
    /// exits, or the deadline passes.
    async fn wait_healthy(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + HEALTHY_DEADLINE;
        let mut targets = vec![(plain_client(None), format!("{}/healthz", self.http_url()))];
        if self.https.is_some() {
            targets.push((self.plain_client(), format!("{}/healthz", self.https_url())));
        }
        for (client, url) in targets {
            loop {
                if let Some(child) = self.child.as_mut() {
                    if let Ok(Some(status)) = child.try_wait() {
                        return Err(format!("gateway exited early: {status}"));
                    }
                }
                let probe = client
                    .get(&url)
                    .timeout(Duration::from_secs(1))
                    .send()
                    .await;
                if matches!(&probe, Ok(r) if r.status() == 200) {
                    break;
                }
                if Instant::now() > deadline {
                    return Err(format!(
                        "{url} not 200 within {HEALTHY_DEADLINE:?}: {probe:?}"
                    ));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.kill();
        // Test output is shown only for failing tests: print what the
        // gateway said so the failure can be understood.
        if std::thread::panicking() && self.dir.is_some() {
            eprintln!("{}", self.logs());
        }
    }
}
