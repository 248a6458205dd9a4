//! `OidcProvider`: panva's oidc-provider (tests/oidc-provider/provider.mjs,
//! installed by scripts/deps.sh) on a loopback port, with the clients and
//! users the test gives; waited for on its discovery document, stopped by
//! PID on Drop. `sign_in` drives its development login and consent forms
//! with a real HTTP client until it redirects back to the gateway.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Client;
use serde_json::Value;

use super::http::{hidden_inputs, send, Reply};
use super::net::free_port;

const READY_DEADLINE: Duration = Duration::from_secs(20);

pub struct OidcProvider {
    child: Option<Child>,
    pub port: u16,
    clients: Value,
    users: Value,
    log: tempfile::NamedTempFile,
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc-provider")
}

impl OidcProvider {
    /// A port for a provider that starts later (the gateway is configured
    /// with its issuer first).
    pub fn reserve_port() -> u16 {
        free_port()
    }

    pub fn issuer_for(port: u16) -> String {
        format!("http://127.0.0.1:{port}")
    }

    /// Start on `port` with `clients` (array of client metadata) and
    /// `users` (account id -> claims); wait until discovery answers.
    pub async fn spawn(port: u16, clients: Value, users: Value) -> OidcProvider {
        assert!(
            dir().join("node_modules/oidc-provider").exists(),
            "oidc-provider is not installed: run scripts/deps.sh"
        );
        let log = tempfile::NamedTempFile::new().expect("op log");
        let child = Command::new("node")
            .arg("provider.mjs")
            .current_dir(dir())
            .env("OP_PORT", port.to_string())
            .env("OP_CLIENTS", clients.to_string())
            .env("OP_USERS", users.to_string())
            .stdin(Stdio::null())
            .stdout(log.reopen().expect("log"))
            .stderr(log.reopen().expect("log"))
            .spawn()
            .expect("run node provider.mjs");
        let op = OidcProvider {
            child: Some(child),
            port,
            clients,
            users,
            log,
        };
        op.wait_ready().await;
        op
    }

    async fn wait_ready(&self) {
        let client = super::http::plain_client(None);
        let url = format!("{}/.well-known/openid-configuration", self.issuer());
        let deadline = Instant::now() + READY_DEADLINE;
        loop {
            if let Ok(r) = client.get(&url).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "oidc-provider did not start: {}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn issuer(&self) -> String {
        Self::issuer_for(self.port)
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// Stop it (by its PID) and wait for it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start again on the same port, same clients and users.
    pub async fn restart(&mut self) {
        self.stop();
        let fresh = OidcProvider::spawn(self.port, self.clients.clone(), self.users.clone()).await;
        *self = fresh;
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The `action` of the first form in a page.
fn form_action(html: &str) -> Option<String> {
    let i = html.find("<form")?;
    let rest = &html[i..];
    let a = rest.find("action=\"")? + "action=\"".len();
    let end = rest[a..].find('"')?;
    Some(rest[a..a + end].replace("&amp;", "&"))
}

/// From `url` (the gateway's start endpoint, or any URL leading to the
/// provider), follow redirects and fill the provider's login form (as
/// `account`) and consent form, until a redirect leads back to `back`
/// (a URL prefix, the gateway's origin): that redirect's URL is returned,
/// not followed. Panics past 20 steps.
pub async fn sign_in(client: &Client, url: &str, account: &str, back: &str) -> String {
    let mut next = url.to_owned();
    let mut first = true;
    for _ in 0..20 {
        let r: Reply = send(client.get(&next)).await;
        match r.status {
            301..=308 => {
                let loc = super::http::location(&r, &next).to_string();
                if !first && loc.starts_with(back) {
                    return loc;
                }
                next = loc;
            }
            200 => {
                let action =
                    form_action(&r.body).unwrap_or_else(|| panic!("no form at {next}: {}", r.body));
                let target = reqwest::Url::parse(&next)
                    .and_then(|b| b.join(&action))
                    .expect("form action");
                let mut fields = hidden_inputs(&r.body);
                if r.body.contains("name=\"login\"") {
                    fields.push(("login".into(), account.into()));
                    fields.push(("password".into(), "any".into()));
                }
                let posted = send(client.post(target.clone()).form(&fields)).await;
                assert!(
                    (301..=308).contains(&posted.status),
                    "form post to {target}: {} {}",
                    posted.status,
                    posted.body
                );
                let loc = super::http::location(&posted, target.as_str()).to_string();
                if loc.starts_with(back) {
                    return loc;
                }
                next = loc;
            }
            s => panic!("unexpected {s} at {next}: {}", r.body),
        }
        first = false;
    }
    panic!("sign-in did not come back to {back}");
}
