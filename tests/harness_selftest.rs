//! Self-tests of the harness parts that do not need a working gateway:
//! redis-server, the echo upstream, the raw HTTP client, the test PKI, the
//! JWT forger, and the gateway.toml / users.toml writers.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::http::{hidden_inputs, plain_client};
use common::{jwt, raw, send, EchoUpstream, Gateway, RedisServer, TestCa, TestUser};
use serde_json::json;

// RedisServer answers PING, goes away on stop(), comes back on the same
// port on restart(), and is killed on Drop.
#[test]
fn redis_server_spawn_stop_restart_drop() {
    let mut r = RedisServer::spawn();
    let addr = r.addr();
    assert_eq!(r.url(), format!("redis://127.0.0.1:{}/0", r.port()));
    assert!(r.ping(), "fresh redis answers PING");
    r.stop();
    assert!(!r.ping(), "stopped redis must not answer");
    r.restart();
    assert_eq!(r.addr(), addr, "restart keeps the port");
    assert!(r.ping(), "restarted redis answers PING");
    drop(r);
    assert!(!common::redis::ping(addr), "redis must be gone after Drop");
}

// The echo reports method, raw path+query, every header (duplicates kept,
// names as sent modulo case, `_` intact) and the body; counts hits.
#[tokio::test]
async fn echo_upstream_reports_exactly_what_it_received() {
    let echo = EchoUpstream::spawn();
    let request = "POST //x/../y%2F?q=%23&a=1 HTTP/1.1\r\nHost: up\r\nX-Dup: one\r\n\
                   X_Under: u\r\nX-Dup: two\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
    let reply = raw::send(echo.addr(), request.as_bytes()).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let echoed = common::Echo::parse(&serde_json::from_str(&reply.body).expect("JSON"));
    assert_eq!(echoed.method, "POST");
    assert_eq!(
        echoed.path, "//x/../y%2F?q=%23&a=1",
        "path must be echoed verbatim"
    );
    assert_eq!(echoed.all("x-dup"), ["one", "two"]);
    assert_eq!(echoed.one("X_UNDER"), Some("u"));
    assert_eq!(echoed.one("host"), Some("up"));
    assert!(echoed.folded_names().contains(&"x-under".to_string()));
    assert_eq!(echoed.body, "hello");
    assert_eq!(echo.hits(), 1);

    // Through reqwest as the tests will use it.
    let r = send(
        plain_client(None)
            .get(format!("{}/p?x=1", echo.url()))
            .header("X-A", "b"),
    )
    .await;
    let e = r.echo();
    assert_eq!((e.method.as_str(), e.path.as_str()), ("GET", "/p?x=1"));
    assert_eq!(e.one("x-a"), Some("b"));
    assert_eq!(echo.hits(), 2);

    let addr = echo.addr();
    drop(echo);
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "echo must stop on Drop"
    );
}

// The test CA's leaf is accepted for https://127.0.0.1 and https://localhost
// by a client trusting only that CA, and refused by one that does not.
#[tokio::test]
async fn test_ca_certificate_is_trusted_only_by_harness_clients() {
    let ca = TestCa::generate();
    let dir = tempfile::tempdir().expect("tempdir");
    let files = ca.write(dir.path());
    assert!(std::fs::read_to_string(&files.key)
        .expect("key")
        .contains("PRIVATE KEY"));
    let port = common::net::free_port();
    let server = KillOnDrop(
        Command::new("openssl")
            .args([
                "s_server",
                "-quiet",
                "-www",
                "-accept",
                &format!("127.0.0.1:{port}"),
            ])
            .arg("-cert")
            .arg(&files.cert)
            .arg("-key")
            .arg(&files.key)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run openssl s_server"),
    );
    let trusting = plain_client(Some(&ca));
    let deadline = Instant::now() + Duration::from_secs(10);
    for url in [
        format!("https://127.0.0.1:{port}/"),
        format!("https://localhost:{port}/"),
    ] {
        loop {
            match trusting.get(&url).send().await {
                Ok(r) => {
                    assert_eq!(r.status(), 200, "{url}");
                    break;
                }
                Err(e) if Instant::now() > deadline => panic!("TLS to {url} failed: {e:?}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }
    // Control: a client with the built-in roots must refuse the test CA.
    let stranger = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let refused = stranger
        .get(format!("https://127.0.0.1:{port}/"))
        .send()
        .await;
    assert!(refused.is_err(), "an untrusted CA must fail the handshake");
    drop(server);
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// Forged tokens are real JWTs: a verifier with the right key accepts them,
// so the refusal tests fail only because of what they change.
#[test]
fn jwt_forger_makes_tokens_a_verifier_accepts() {
    use ed25519_dalek::pkcs8::EncodePrivateKey as _;
    use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};

    let key = jwt::stranger_key();
    let dir = tempfile::tempdir().expect("tempdir");
    let pem = key.to_pkcs8_pem(Default::default()).expect("pkcs8");
    std::fs::write(dir.path().join("k.pem"), pem.as_bytes()).expect("write");
    let loaded = jwt::load_signing_key(&dir.path().join("k.pem"));
    assert_eq!(loaded.to_bytes(), key.to_bytes());

    let claims = json!({"iss": "i", "aud": "a", "sub": "s", "exp": jwt::now() + 60});
    let token = jwt::forge(
        &json!({"alg": "EdDSA", "kid": "k1"}),
        &claims,
        jwt::Sign::Ed25519(&key),
    );
    assert_eq!(jwt::header(&token)["kid"], "k1");
    assert_eq!(jwt::claims(&token)["sub"], "s");
    let x = jwt::b64(key.verifying_key().as_bytes());
    let mut v = Validation::new(Algorithm::EdDSA);
    v.set_audience(&["a"]);
    v.set_issuer(&["i"]);
    let dk = DecodingKey::from_ed_components(&x).expect("ed key");
    decode::<serde_json::Value>(&token, &dk, &v).expect("forged EdDSA token verifies");
    let other = jwt::stranger_key();
    let wrong = jwt::forge(
        &json!({"alg": "EdDSA"}),
        &claims,
        jwt::Sign::Ed25519(&other),
    );
    assert!(
        decode::<serde_json::Value>(&wrong, &dk, &v).is_err(),
        "control: wrong key fails"
    );

    let hs = jwt::forge(
        &json!({"alg": "HS256"}),
        &claims,
        jwt::Sign::Hs256(b"secret"),
    );
    let mut vh = Validation::new(Algorithm::HS256);
    vh.set_audience(&["a"]);
    vh.set_issuer(&["i"]);
    decode::<serde_json::Value>(&hs, &DecodingKey::from_secret(b"secret"), &vh)
        .expect("forged HS256 token verifies");
    let none = jwt::forge(&json!({"alg": "none"}), &claims, jwt::Sign::Nothing);
    assert!(none.ends_with('.'), "alg none has an empty signature");
}

// gateway.toml has every SPEC §2 section the tests rely on, overrides and
// extra snippets land where they should, routes keep their order.
#[test]
fn config_writer_renders_spec_shaped_toml() {
    let echo = EchoUpstream::spawn();
    let b = Gateway::builder()
        .upstream(&echo)
        .tls(true)
        .set("tokens", "refresh_reuse_grace", "\"1s\"")
        .set("admin", "listen", "\"127.0.0.1:9999\"")
        .unset("server", "shutdown_timeout")
        .routes_first(
            "[[routes]]\npath = \"/limited/**\"\nupstream = \"app\"\nrate_limit = \"api\"\n",
        )
        .extra("[rate_limits.api]\nkey = \"user\"\nlimit = 2\nper = \"1m\"\nburst = 0\n");
    let text = b.render_config(18080, Some(18443));
    let t: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(t["server"]["listen"].as_str(), Some("127.0.0.1:18080"));
    assert_eq!(t["server"]["tls_listen"].as_str(), Some("127.0.0.1:18443"));
    assert_eq!(t["server"]["tls_cert"].as_str(), Some("certs/cert.pem"));
    assert_eq!(
        t["server"]["trusted_proxies"].as_array().map(Vec::len),
        Some(0)
    );
    assert!(
        t["server"].get("shutdown_timeout").is_none(),
        "unset removes the key"
    );
    assert_eq!(t["admin"]["listen"].as_str(), Some("127.0.0.1:9999"));
    assert_eq!(t["store"]["backend"].as_str(), Some("memory"));
    assert_eq!(t["tokens"]["algorithm"].as_str(), Some("EdDSA"));
    assert_eq!(
        t["tokens"]["signing_key_file"].as_str(),
        Some("keys/signing.pem")
    );
    assert_eq!(
        t["tokens"]["refresh_reuse_grace"].as_str(),
        Some("1s"),
        "override wins"
    );
    assert_eq!(
        t["upstreams"]["app"]["addr"].as_str(),
        Some(echo.addr().to_string().as_str())
    );
    assert_eq!(t["rate_limits"]["api"]["limit"].as_integer(), Some(2));
    assert_eq!(t["roles"]["admin"].as_array().map(Vec::len), Some(1));
    let paths: Vec<&str> = t["routes"]
        .as_array()
        .expect("routes")
        .iter()
        .map(|r| r["path"].as_str().expect("path"))
        .collect();
    assert_eq!(
        paths,
        ["/limited/**", "/public/**", "/admin/**", "/api/**", "/**"]
    );

    let redis = RedisServer::spawn();
    let hs = Gateway::builder()
        .redis(&redis)
        .hs256("GH_TEST_SECRET", "x")
        .render_config(1, None);
    let t: toml::Table = toml::from_str(&hs).unwrap_or_else(|e| panic!("{e}\n{hs}"));
    assert_eq!(t["store"]["backend"].as_str(), Some("redis"));
    assert_eq!(t["store"]["url"].as_str(), Some(redis.url().as_str()));
    assert_eq!(t["tokens"]["algorithm"].as_str(), Some("HS256"));
    assert_eq!(t["tokens"]["secret_env"].as_str(), Some("GH_TEST_SECRET"));
    assert!(t["tokens"].get("signing_key_file").is_none());
    assert!(t["server"].get("tls_listen").is_none());
    assert!(t["upstreams"]["app"]["addr"].as_str().is_some());
}

// users.toml is SPEC §3-shaped and every hash verifies its user's password
// (the precomputed hashes too).
#[test]
fn users_writer_renders_verifiable_argon2id_hashes() {
    let mut users = common::users::default_users();
    users.push(TestUser::new("erin", "quote\"and\\slash", &["user"]).with_id("u-9"));
    let text = common::users::render_users(&users);
    let t: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let entries = t["users"].as_array().expect("[[users]]");
    assert_eq!(entries.len(), users.len());
    for (entry, user) in entries.iter().zip(&users) {
        assert_eq!(entry["username"].as_str(), Some(user.username.as_str()));
        assert_eq!(entry["email"].as_str(), Some(user.email.as_str()));
        assert_eq!(entry["disabled"].as_bool(), Some(user.disabled));
        let hash = entry["password_hash"].as_str().expect("hash");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(
            common::users::verify_password(hash, &user.password),
            "{}",
            user.username
        );
        assert!(!common::users::verify_password(hash, "wrong"), "control");
    }
    assert_eq!(entries[4]["id"].as_str(), Some("u-9"));
    assert!(
        entries[0].get("id").is_none(),
        "no id: the gateway defaults it to the username"
    );
}

// The login-form scraper finds hidden inputs whatever the quoting and order.
#[test]
fn hidden_input_scraper() {
    let html = r#"<form method="post" action="/auth/login">
      <input type="hidden" name="csrf" value="a&amp;b">
      <INPUT value='x y' NAME='rd' TYPE='hidden'/>
      <input type="text" name="username">
      <input type=hidden name=plain value=v1 />
    </form>"#;
    assert_eq!(
        hidden_inputs(html),
        vec![
            ("csrf".to_string(), "a&b".to_string()),
            ("rd".to_string(), "x y".to_string()),
            ("plain".to_string(), "v1".to_string()),
        ]
    );
}

// The raw client decodes chunked answers and reports whether the server
// closed the connection.
#[test]
fn raw_reply_parser_handles_chunked_bodies() {
    let answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: b\r\n\r\n\
                   5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n";
    let r = raw::parse(answer, true).expect("parses");
    assert_eq!(
        (r.status, r.body.as_str(), r.closed),
        (200, "hello, world", true)
    );
    assert_eq!(r.header("x-a"), Some("b"));
    let plain = raw::parse(
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\nno",
        false,
    )
    .expect("parses");
    assert_eq!(
        (plain.status, plain.body.as_str(), plain.closed),
        (400, "no", false)
    );
    assert!(raw::parse(b"garbage", true).is_none());
}

/// Speaks just enough of gatehouse for the harness: `keys generate --out`
/// and `run --config` serving /healthz on `listen` and `tls_listen`.
const STAND_IN: &str = r#"#!/usr/bin/env python3
import http.server, os, ssl, sys, threading, tomllib
args = sys.argv[1:]
if args[:2] == ["keys", "generate"]:
    out = args[args.index("--out") + 1]
    os.makedirs(out, exist_ok=True)
    open(os.path.join(out, "signing.pem"), "w").write("stand-in")
    sys.exit(0)
if os.environ.get("STAND_IN_FAIL"):
    sys.stderr.write("stand-in refuses to start\n")
    sys.exit(3)
cfg = tomllib.load(open(args[args.index("--config") + 1], "rb"))
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.path == "/healthz"
        body = b'{"status":"ok"}' if ok else b'{"error":"not_found"}'
        self.send_response(200 if ok else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        sys.stderr.write("request %s\n" % self.path)
        sys.stderr.flush()
def serve(addr, tls):
    host, port = addr.rsplit(":", 1)
    srv = http.server.ThreadingHTTPServer((host, int(port)), H)
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cfg["server"]["tls_cert"], cfg["server"]["tls_key"])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.serve_forever()
s = cfg["server"]
if "tls_listen" in s:
    threading.Thread(target=serve, args=(s["tls_listen"], True), daemon=True).start()
print("stand-in up", flush=True)
serve(s["listen"], False)
"#;

fn write_stand_in(dir: &std::path::Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join("stand-in.py");
    std::fs::write(&path, STAND_IN).expect("write stand-in");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

// Gateway::spawn writes the files, runs the program, waits for /healthz on
// both listeners (TLS through the test CA), captures output, kills on Drop.
#[tokio::test]
async fn gateway_harness_starts_waits_for_and_kills_its_process() {
    let bin_dir = tempfile::tempdir().expect("tempdir");
    let stand_in = write_stand_in(bin_dir.path());
    let gw = Gateway::builder().binary(&stand_in).tls(true).spawn().await;
    assert!(gw.dir().join("keys/signing.pem").exists(), "keys generated");
    assert!(gw.dir().join("users.toml").exists());
    assert!(gw.dir().join("certs/cert.pem").exists());
    for base in [gw.http_url(), gw.https_url()] {
        let r = send(gw.client().get(format!("{base}/healthz"))).await;
        assert_eq!(r.status, 200, "{base}");
    }
    assert!(
        gw.stdout_log().contains("stand-in up"),
        "stdout captured: {}",
        gw.logs()
    );
    assert!(
        gw.stderr_log().contains("request /healthz"),
        "stderr captured: {}",
        gw.logs()
    );
    assert!(gw.https_url().starts_with("https://127.0.0.1:"));
    assert_eq!(
        gw.signing_key_file(),
        Some(gw.dir().join("keys/signing.pem").as_path())
    );

    // A sibling shares the key file but has its own ports and dir.
    let sib = gw.sibling().await;
    assert_ne!(sib.http_addr(), gw.http_addr());
    assert_eq!(sib.signing_key_file(), gw.signing_key_file());
    let sib_config = std::fs::read_to_string(sib.config_path()).expect("sibling config");
    let key = gw
        .signing_key_file()
        .expect("key")
        .to_string_lossy()
        .to_string();
    assert!(
        sib_config.contains(&key),
        "sibling uses the first gateway's key: {sib_config}"
    );

    let addr = gw.http_addr();
    drop(gw);
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "process killed on Drop"
    );
    drop(sib);
}

// A gateway that will not start fails the test with its own output.
#[tokio::test]
async fn gateway_harness_reports_a_failed_start_with_logs() {
    let bin_dir = tempfile::tempdir().expect("tempdir");
    let stand_in = write_stand_in(bin_dir.path());
    let b = Gateway::builder()
        .binary(&stand_in)
        .env("STAND_IN_FAIL", "1");
    let started = tokio::spawn(async move { b.spawn().await }).await;
    let panic = started.err().expect("spawn must fail").into_panic();
    let msg = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(msg.contains("exited early"), "{msg}");
    assert!(
        msg.contains("stand-in refuses to start"),
        "stderr in the message: {msg}"
    );
    assert!(msg.contains("[server]"), "config in the message: {msg}");
}
