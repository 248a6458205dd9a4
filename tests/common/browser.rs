//! `Browser`: headless Chromium driven through chromedriver (WebDriver), for
//! the end-to-end checks SPEC §15 asks for. Debian's `chromium` and
//! `chromium-driver` (scripts/deps.sh installs them). Each `Browser` owns its
//! chromedriver (free port, own process group), a fresh profile in a temp
//! dir, and one WebDriver session; Drop ends the session and kills the
//! process group, Chromium with it. Screenshots go to
//! `target/test-artifacts/<test name>/` (git-ignored with `target/`).
//!
//! `sent_requests` reads Chromium's own network log (the `performance` log),
//! so a test can assert the headers the browser really put on the wire (the
//! `Origin` of a form post, say) without anything between it and the gateway.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::cookies::Cookie;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use reqwest::Url;
use serde_json::{json, Value};

use super::net::free_port;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long chromedriver may take to answer `/status`, and a page to load.
const START_DEADLINE: Duration = Duration::from_secs(20);
const PAGE_DEADLINE: Duration = Duration::from_secs(15);

/// Chromium's switches. The machine's network is closed: without the
/// background-networking switches Chromium stalls on refused connections.
const CHROMIUM_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1024,768",
];

/// One request as Chromium sent it, from its network log.
#[derive(Debug, Clone)]
pub struct SentRequest {
    pub method: String,
    pub url: String,
    /// The headers on the wire (Chromium's `ExtraInfo` event) when it
    /// reported them, else the ones the page asked for.
    pub headers: Vec<(String, String)>,
    /// The answer's status, when one arrived.
    pub status: Option<u16>,
}

impl SentRequest {
    /// Header `name` (case-insensitive), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A headless Chromium with one WebDriver session.
pub struct Browser {
    client: Option<Client>,
    session_id: String,
    driver: Child,
    driver_port: u16,
    /// Profile and chromedriver log; removed on Drop.
    dir: tempfile::TempDir,
    artifacts: PathBuf,
}

impl Browser {
    /// Start chromedriver and Chromium and open a session. Screenshots go
    /// to a folder named after the running test (libtest names the test's
    /// thread after it).
    pub async fn start() -> Browser {
        let test = std::thread::current()
            .name()
            .unwrap_or("browser")
            .replace("::", "-");
        let dir = tempfile::tempdir().expect("browser tempdir");
        let mut last_failure = String::new();
        // The port was free a moment ago; if someone took it, try another.
        for _ in 0..3 {
            let port = free_port();
            let mut driver = spawn_driver(port, dir.path());
            match wait_ready(&mut driver, port).await {
                Ok(()) => {
                    let (client, session_id) = open_session(port, dir.path()).await;
                    return Browser {
                        client: Some(client),
                        session_id,
                        driver,
                        driver_port: port,
                        artifacts: artifacts_dir(&test),
                        dir,
                    };
                }
                Err(e) => {
                    kill_group(&mut driver);
                    last_failure = format!("{e}\n{}", driver_log(dir.path()));
                }
            }
        }
        panic!("chromedriver did not start: {last_failure}");
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("browser session is open")
    }

    /// Navigate and wait for the page to load.
    pub async fn goto(&self, url: &str) {
        self.client()
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    /// Type `text` into the element `css` selects.
    pub async fn fill(&self, css: &str, text: &str) {
        self.find(css)
            .await
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("fill {css}: {e}"));
    }

    /// Click the element `css` selects.
    pub async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Click the element `css` selects (a submit button, a link) and wait
    /// until the next document has loaded, even when its URL is the same.
    pub async fn click_to_navigate(&self, css: &str) {
        self.script("window.__gatehouse_old_page = true; return null;")
            .await;
        self.click(css).await;
        let deadline = Instant::now() + PAGE_DEADLINE;
        loop {
            let state = self
                .script("return window.__gatehouse_old_page ? 'old' : document.readyState;")
                .await;
            if state == "complete" {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no new page loaded within {PAGE_DEADLINE:?} after clicking {css} (state {state})"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn current_url(&self) -> Url {
        self.client().current_url().await.expect("current url")
    }

    /// The page's HTML as the browser holds it.
    pub async fn page_source(&self) -> String {
        self.client().source().await.expect("page source")
    }

    /// The rendered text of the element `css` selects (`"pre"` on a JSON
    /// answer, which Chromium shows in a `<pre>`).
    pub async fn text(&self, css: &str) -> String {
        self.find(css)
            .await
            .text()
            .await
            .unwrap_or_else(|e| panic!("text of {css}: {e}"))
    }

    /// Save a PNG of the viewport as `<artefacts>/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client().screenshot().await.expect("screenshot");
        assert!(png.starts_with(b"\x89PNG"), "screenshot is not a PNG");
        std::fs::create_dir_all(&self.artifacts).expect("create artefact dir");
        let path = self.artifacts.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Every cookie the browser holds for the current page.
    pub async fn cookies(&self) -> Vec<Cookie<'static>> {
        self.client().get_all_cookies().await.expect("cookies")
    }

    /// The cookie `name` for the current page, if the browser holds one.
    pub async fn cookie(&self, name: &str) -> Option<Cookie<'static>> {
        self.cookies().await.into_iter().find(|c| c.name() == name)
    }

    /// The requests Chromium sent since the last call (the log is drained),
    /// oldest first; one entry per hop of a redirect chain.
    pub async fn sent_requests(&self) -> Vec<SentRequest> {
        let url = format!(
            "http://127.0.0.1:{}/session/{}/se/log",
            self.driver_port, self.session_id
        );
        let reply: Value = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client")
            .post(url)
            .json(&json!({ "type": "performance" }))
            .send()
            .await
            .expect("read the performance log")
            .json()
            .await
            .expect("performance log is JSON");
        let entries = reply["value"].as_array().cloned().unwrap_or_default();
        network_requests(&entries)
    }

    /// The current value of a property (an input's `value`) of `css`.
    pub async fn find_attr(&self, css: &str, name: &str) -> Option<String> {
        self.find(css)
            .await
            .prop(name)
            .await
            .unwrap_or_else(|e| panic!("property {name} of {css}: {e}"))
    }

    /// Empty the input `css` selects.
    pub async fn clear(&self, css: &str) {
        self.find(css)
            .await
            .clear()
            .await
            .unwrap_or_else(|e| panic!("clear {css}: {e}"));
    }

    /// Scroll the element `css` selects into view (before a screenshot).
    pub async fn scroll_to(&self, css: &str) {
        self.find(css).await;
        self.script(&format!(
            "document.querySelector({css:?}).scrollIntoView(); return null;"
        ))
        .await;
    }

    /// Resize the window (a phone-sized viewport for a screenshot).
    pub async fn resize(&self, width: u32, height: u32) {
        self.client()
            .set_window_size(width, height)
            .await
            .unwrap_or_else(|e| panic!("resize to {width}x{height}: {e}"));
    }

    /// End the session cleanly (Drop does the same, without waiting on it).
    pub async fn close(mut self) {
        if let Some(client) = self.client.take() {
            let _ = client.close().await;
        }
    }

    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client()
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    /// Run `script` in the page; its result as text (`null` → empty).
    async fn script(&self, script: &str) -> String {
        match self.client().execute(script, Vec::new()).await {
            Ok(Value::String(s)) => s,
            Ok(Value::Null) => String::new(),
            Ok(v) => v.to_string(),
            Err(e) => panic!("script failed: {e}"),
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A Drop cannot await fantoccini: end the session with a plain
        // DELETE, so chromedriver shuts Chromium down, then kill what is left.
        if self.client.take().is_some() {
            delete_session(self.driver_port, &self.session_id);
        }
        kill_group(&mut self.driver);
        if std::thread::panicking() {
            eprintln!("{}", driver_log(self.dir.path()));
        }
    }
}

/// chromedriver in a process group of its own, so Chromium and its helpers
/// can be killed with it by that group's id.
fn spawn_driver(port: u16, dir: &Path) -> Child {
    Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .arg(format!(
            "--log-path={}",
            dir.join("chromedriver.log").display()
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {CHROMEDRIVER} (scripts/deps.sh installs it): {e}"))
}

/// Poll chromedriver's `/status` until it is ready, it exits, or the
/// deadline passes.
async fn wait_ready(driver: &mut Child, port: u16) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("client");
    let url = format!("http://127.0.0.1:{port}/status");
    let deadline = Instant::now() + START_DEADLINE;
    loop {
        if let Ok(Some(status)) = driver.try_wait() {
            return Err(format!("chromedriver exited early: {status}"));
        }
        let ready = match client.get(&url).send().await {
            Ok(r) => r
                .json::<Value>()
                .await
                .is_ok_and(|v| v["value"]["ready"] == true),
            Err(_) => false,
        };
        if ready {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("{url} not ready within {START_DEADLINE:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A session on Chromium headless with a fresh profile. The gateway's test
/// CA is not in Chromium's store: `acceptInsecureCerts` lets its TLS
/// listener through. The `performance` log feeds `sent_requests`.
async fn open_session(port: u16, dir: &Path) -> (Client, String) {
    let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| a.to_string()).collect();
    args.push(format!("--user-data-dir={}", dir.join("profile").display()));
    let caps = json!({
        "browserName": "chrome",
        "acceptInsecureCerts": true,
        "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        "goog:loggingPrefs": { "performance": "ALL" },
        "timeouts": { "pageLoad": PAGE_DEADLINE.as_millis() as u64, "script": 5000 },
    });
    let Value::Object(caps) = caps else {
        unreachable!("capabilities are an object")
    };
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .unwrap_or_else(|e| panic!("new WebDriver session: {e}\n{}", driver_log(dir)));
    let session_id = client
        .session_id()
        .await
        .expect("session id")
        .expect("a session id");
    (client, session_id)
}

/// `DELETE /session/<id>` on a plain socket, bounded by timeouts.
fn delete_session(port: u16, session_id: &str) {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    let request = format!(
        "DELETE /session/{session_id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_ok() {
        // chromedriver answers once Chromium has quit.
        let _ = stream.read(&mut [0u8; 1024]);
    }
}

/// SIGKILL the driver's process group (it is its leader) and reap it.
fn kill_group(driver: &mut Child) {
    let _ = Command::new("kill")
        .args(["-s", "KILL", "--", &format!("-{}", driver.id())])
        .stderr(Stdio::null())
        .status();
    let _ = driver.kill();
    let _ = driver.wait();
}

fn driver_log(dir: &Path) -> String {
    let log = std::fs::read_to_string(dir.join("chromedriver.log")).unwrap_or_default();
    // The log is verbose; the end says what went wrong.
    let tail: Vec<&str> = log.lines().rev().take(40).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    format!("--- chromedriver.log (tail) ---\n{}", tail.join("\n"))
}

/// `target/test-artifacts/<test>/`, emptied of an earlier run's files.
fn artifacts_dir(test: &str) -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is inside the target dir");
    let dir = target.join("test-artifacts").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Requests from the DevTools `Network.*` events in performance-log entries.
/// A redirect chain shares one `requestId`: each hop is one
/// `requestWillBeSent` (the next carries the previous hop's answer as
/// `redirectResponse`) and one `requestWillBeSentExtraInfo`, in order.
fn network_requests(entries: &[Value]) -> Vec<SentRequest> {
    let mut order: Vec<String> = Vec::new();
    let mut hops: HashMap<String, Vec<SentRequest>> = HashMap::new();
    let mut wire: HashMap<String, Vec<Vec<(String, String)>>> = HashMap::new();
    let mut last_status: HashMap<String, u16> = HashMap::new();
    for entry in entries {
        let Some(text) = entry["message"].as_str() else {
            continue;
        };
        let Ok(message) = serde_json::from_str::<Value>(text) else {
            continue;
        };
        let event = &message["message"];
        let params = &event["params"];
        let Some(id) = params["requestId"].as_str().map(str::to_string) else {
            continue;
        };
        let status = |v: &Value| v["status"].as_u64().map(|s| s as u16);
        match event["method"].as_str().unwrap_or("") {
            "Network.requestWillBeSent" => {
                let chain = hops.entry(id.clone()).or_default();
                if chain.is_empty() {
                    order.push(id.clone());
                }
                if let Some(prev) = chain.last_mut() {
                    prev.status = status(&params["redirectResponse"]);
                }
                let request = &params["request"];
                chain.push(SentRequest {
                    method: request["method"].as_str().unwrap_or("").to_string(),
                    url: request["url"].as_str().unwrap_or("").to_string(),
                    headers: header_list(&request["headers"]),
                    status: None,
                });
            }
            "Network.requestWillBeSentExtraInfo" => {
                wire.entry(id)
                    .or_default()
                    .push(header_list(&params["headers"]));
            }
            "Network.responseReceived" => {
                if let Some(s) = status(&params["response"]) {
                    last_status.insert(id, s);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for id in order {
        let mut chain = hops.remove(&id).unwrap_or_default();
        for (hop, headers) in chain.iter_mut().zip(wire.remove(&id).unwrap_or_default()) {
            hop.headers = headers;
        }
        if let (Some(last), Some(s)) = (chain.last_mut(), last_status.get(&id)) {
            last.status = Some(*s);
        }
        out.extend(chain);
    }
    out
}

fn header_list(v: &Value) -> Vec<(String, String)> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default()
}
