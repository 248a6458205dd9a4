//! HTTP side of the tests: reqwest clients (no redirects followed, optional
//! cookie jar, trusting only the test CA), a buffered `Reply`, the parsed
//! echo (`Echo`), and the login helpers every test file uses.

use std::sync::Arc;
use std::time::Duration;

use reqwest::cookie::Jar;
use reqwest::header::HeaderMap;
use reqwest::{Client, RequestBuilder};
use serde_json::{json, Value};

use super::tls::TestCa;

/// Session cookie name (SPEC §2 default).
pub const COOKIE: &str = "__Host-gatehouse";
/// Refresh cookie name: `<cookie_name>-refresh`.
pub const REFRESH_COOKIE: &str = "__Host-gatehouse-refresh";

fn builder(ca: Option<&TestCa>) -> reqwest::ClientBuilder {
    let mut b = Client::builder()
        // Tests look at 302/303 answers themselves.
        .redirect(reqwest::redirect::Policy::none())
        // An ambient HTTP_PROXY must never sit between a test and the gateway.
        .no_proxy()
        .timeout(Duration::from_secs(15));
    if let Some(ca) = ca {
        b = b
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca.root());
    }
    b
}

/// A client with a cookie jar; the jar is returned so tests can read it.
pub fn jar_client(ca: Option<&TestCa>) -> (Client, Arc<Jar>) {
    let jar = Arc::new(Jar::default());
    let client = builder(ca)
        .cookie_provider(jar.clone())
        .build()
        .expect("build client");
    (client, jar)
}

/// A client without a cookie jar (API client, or a test that sets `Cookie`
/// by hand).
pub fn plain_client(ca: Option<&TestCa>) -> Client {
    builder(ca).build().expect("build client")
}

/// A whole answer, body read.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}), status {}: {}", self.status, self.body))
    }

    /// The `Set-Cookie` headers, raw.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect()
    }

    /// The raw `Set-Cookie` line for cookie `name`, if set.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|c| cookie_name_value(c).0 == name)
    }

    /// Value `Set-Cookie` gives cookie `name` (empty when it is cleared).
    pub fn cookie_value(&self, name: &str) -> Option<String> {
        self.set_cookie(name)
            .map(|c| cookie_name_value(&c).1.to_string())
    }

    /// The echo upstream's account of the request (panics if this answer
    /// did not come from the echo).
    pub fn echo(&self) -> Echo {
        assert_eq!(
            self.status, 200,
            "expected the echo upstream's 200, got: {}",
            self.body
        );
        Echo::parse(&self.json())
    }

    /// Assert a JSON error answer with `code` (SPEC §6 error body).
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "body: {}", self.body);
        let v = self.json();
        assert_eq!(v["error"], code, "body: {}", self.body);
    }
}

fn cookie_name_value(set_cookie: &str) -> (&str, &str) {
    let pair = set_cookie.split(';').next().unwrap_or("");
    match pair.split_once('=') {
        Some((n, v)) => (n.trim(), v.trim()),
        None => (pair.trim(), ""),
    }
}

/// Whether a `Set-Cookie` line clears its cookie (empty value, `Max-Age=0`
/// or an `Expires` in the past).
pub fn clears_cookie(set_cookie: &str) -> bool {
    let lower = set_cookie.to_ascii_lowercase();
    cookie_name_value(set_cookie).1.is_empty()
        || lower.contains("max-age=0")
        || lower.contains("expires=thu, 01 jan 1970")
}

/// Send and buffer the answer.
pub async fn send(rb: RequestBuilder) -> Reply {
    let resp = rb.send().await.expect("request failed");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.text().await.expect("read body");
    Reply {
        status,
        headers,
        body,
    }
}

/// The echo upstream's JSON, parsed.
#[derive(Debug, Clone)]
pub struct Echo {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Echo {
    pub fn parse(v: &Value) -> Echo {
        let headers = v["headers"]
            .as_array()
            .expect("echo headers")
            .iter()
            .map(|h| {
                (
                    h[0].as_str().expect("header name").to_string(),
                    h[1].as_str().expect("header value").to_string(),
                )
            })
            .collect();
        Echo {
            method: v["method"].as_str().expect("echo method").to_string(),
            path: v["path"].as_str().expect("echo path").to_string(),
            headers,
            body: v["body"].as_str().unwrap_or_default().to_string(),
        }
    }

    /// All values of header `name` (case-insensitive).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The single value of header `name`; panics if it appears more than once.
    pub fn one(&self, name: &str) -> Option<&str> {
        let all = self.all(name);
        assert!(
            all.len() <= 1,
            "header {name} reached the upstream {} times: {all:?}",
            all.len()
        );
        all.first().copied()
    }

    /// Header names, lower-case, `_` folded to `-` (how SPEC §7 compares).
    pub fn folded_names(&self) -> Vec<String> {
        self.headers
            .iter()
            .map(|(n, _)| n.to_ascii_lowercase().replace('_', "-"))
            .collect()
    }

    /// Roles as the upstream sees them: comma-separated, trimmed, sorted.
    pub fn roles(&self, header: &str) -> Vec<String> {
        let mut roles: Vec<String> = self
            .one(header)
            .unwrap_or_default()
            .split(',')
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())
            .collect();
        roles.sort();
        roles
    }
}

/// What a successful login handed out.
#[derive(Debug, Clone)]
pub struct Login {
    pub access_token: String,
    pub refresh_token: String,
    /// Session cookie value from `Set-Cookie`.
    pub cookie: String,
    pub body: Value,
}

impl Login {
    /// From a 200 JSON login (or refresh) answer; panics otherwise.
    pub fn from_reply(r: &Reply) -> Login {
        assert_eq!(r.status, 200, "login failed: {}", r.body);
        let body = r.json();
        Login {
            access_token: body["access_token"]
                .as_str()
                .expect("access_token")
                .to_string(),
            refresh_token: body["refresh_token"]
                .as_str()
                .expect("refresh_token")
                .to_string(),
            cookie: r.cookie_value(COOKIE).unwrap_or_default(),
            body,
        }
    }

    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.access_token)
    }

    /// `Cookie` header carrying just this session.
    pub fn cookie_header(&self) -> String {
        format!("{COOKIE}={}", self.cookie)
    }
}

/// `POST /auth/login` with a JSON body; `Origin` is the gateway's own, as a
/// browser's would be (API clients without it are tested separately).
pub async fn login_json(client: &Client, base: &str, username: &str, password: &str) -> Reply {
    send(
        client
            .post(format!("{base}/auth/login"))
            .header("Origin", base)
            .json(&json!({ "username": username, "password": password })),
    )
    .await
}

/// Log in and return the tokens; panics unless the login succeeds.
pub async fn login(client: &Client, base: &str, username: &str, password: &str) -> Login {
    Login::from_reply(&login_json(client, base, username, password).await)
}

/// The form login a browser does: `GET /auth/login?rd=..`, then post the
/// form back with every hidden field it carries (the CSRF token, SPEC §6),
/// plus username, password and `rd`.
pub async fn login_form(
    client: &Client,
    base: &str,
    username: &str,
    password: &str,
    rd: &str,
) -> Reply {
    let page_url = reqwest::Url::parse_with_params(&format!("{base}/auth/login"), &[("rd", rd)])
        .expect("login url");
    let page = send(client.get(page_url.clone()).header("Accept", "text/html")).await;
    assert_eq!(page.status, 200, "login page: {}", page.body);
    let mut fields: Vec<(String, String)> = hidden_inputs(&page.body)
        .into_iter()
        .filter(|(n, _)| n != "rd")
        .collect();
    fields.push(("username".into(), username.into()));
    fields.push(("password".into(), password.into()));
    fields.push(("rd".into(), rd.into()));
    send(client.post(page_url).header("Origin", base).form(&fields)).await
}

/// `(name, value)` of every `<input type="hidden">` in an HTML page. Enough
/// HTML parsing for the gateway's own login form, nothing more.
pub fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let lower = html.to_ascii_lowercase();
    let mut rest = 0;
    while let Some(i) = lower[rest..].find("<input") {
        let start = rest + i;
        let end = lower[start..].find('>').map_or(html.len(), |j| start + j);
        let tag = &html[start..end];
        if attr(tag, "type").is_some_and(|t| t.eq_ignore_ascii_case("hidden")) {
            if let Some(name) = attr(tag, "name") {
                out.push((name, attr(tag, "value").unwrap_or_default()));
            }
        }
        rest = end;
    }
    out
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find(name) {
        let at = from + i;
        from = at + name.len();
        // Must be a whole attribute name: preceded by whitespace.
        if !lower[..at].ends_with(|c: char| c.is_ascii_whitespace()) {
            continue;
        }
        let after = lower[from..].trim_start();
        let Some(after_eq) = after.strip_prefix('=') else {
            continue;
        };
        let value_start = tag.len() - after_eq.trim_start().len();
        let raw = &tag[value_start..];
        let value = match raw.chars().next() {
            Some(q @ ('"' | '\'')) => raw[1..].split(q).next().unwrap_or(""),
            _ => raw
                .split(|c: char| c.is_ascii_whitespace() || c == '/')
                .next()
                .unwrap_or(""),
        };
        return Some(html_unescape(value));
    }
    None
}

fn html_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Where a redirect points, resolved against `base`.
pub fn location(r: &Reply, base: &str) -> reqwest::Url {
    let loc = r
        .header("location")
        .unwrap_or_else(|| panic!("no Location: {r:?}"));
    reqwest::Url::parse(base)
        .and_then(|b| b.join(loc))
        .expect("Location is a URL")
}

/// `GET url` with `Authorization: Bearer token`.
pub async fn bearer_get(client: &Client, url: &str, token: &str) -> Reply {
    send(client.get(url).bearer_auth(token)).await
}

/// `GET url` with only the given session cookie (the client's jar, if any,
/// is bypassed by an explicit `Cookie` header).
pub async fn cookie_get(client: &Client, url: &str, session: &str) -> Reply {
    send(
        client
            .get(url)
            .header("Cookie", format!("{COOKIE}={session}")),
    )
    .await
}

/// `POST /auth/refresh` with `{"refresh_token"}` and no cookies (API client).
pub async fn refresh_with_token(client: &Client, base: &str, refresh_token: &str) -> Reply {
    send(
        client
            .post(format!("{base}/auth/refresh"))
            .json(&json!({ "refresh_token": refresh_token })),
    )
    .await
}
