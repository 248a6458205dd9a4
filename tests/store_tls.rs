//! TLS to Redis (SPEC §12): a real `redis-server` that speaks only TLS
//! (`--port 0 --tls-port`), with a password, certificate from a test CA. A
//! gateway with `url = "rediss://..."`, `ca_file` and `password_env` signs
//! users in through it; one without the CA does not trust the server and
//! fails closed (not ready, 503 on the store's routes).

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::http::{cookie_get, plain_client};
use common::net::free_port;
use common::{login, login_json, send, EchoUpstream, Gateway, TestCa, ALICE_PW};

const PASSWORD: &str = "tls-redis-pw-3f9c";

/// redis-server on TLS only, stopped by its PID on drop.
struct TlsRedis {
    port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl TlsRedis {
    fn spawn(ca: &TestCa) -> TlsRedis {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = ca.write(dir.path());
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", "0", "--tls-port", &port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--tls-cert-file")
            .arg(&files.cert)
            .arg("--tls-key-file")
            .arg(&files.key)
            .arg("--tls-ca-cert-file")
            .arg(&files.ca)
            .args(["--tls-auth-clients", "no", "--requirepass", PASSWORD])
            .arg("--dir")
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server with TLS");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "TLS redis never listened");
            std::thread::sleep(Duration::from_millis(20));
        }
        TlsRedis {
            port,
            child,
            _dir: dir,
        }
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_over_tls_with_a_private_ca_and_a_password() {
    let ca = TestCa::generate();
    let redis = TlsRedis::spawn(&ca);
    let ca_dir = tempfile::tempdir().expect("tempdir");
    let ca_file = ca.write(ca_dir.path()).ca;
    let echo = EchoUpstream::spawn();
    let on_tls = |b: common::GatewayBuilder| {
        b.upstream(&echo)
            .set("store", "backend", "\"redis\"")
            .set(
                "store",
                "url",
                &format!("\"rediss://127.0.0.1:{}/0\"", redis.port),
            )
            .set("store", "password_env", "\"GH_TEST_TLS_REDIS_PW\"")
            .set("store", "timeout", "\"1s\"")
            .env("GH_TEST_TLS_REDIS_PW", PASSWORD)
    };
    let trusted = on_tls(Gateway::builder())
        .set(
            "store",
            "ca_file",
            &format!("{:?}", ca_file.display().to_string()),
        )
        .spawn()
        .await;
    let c = plain_client(None);
    let base = trusted.http_url();
    let deadline = Instant::now() + Duration::from_secs(10);
    while send(c.get(format!("{base}/readyz"))).await.status != 200 {
        assert!(Instant::now() < deadline, "never ready over TLS");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let alice = login(&c, &base, "alice", ALICE_PW).await;
    let e = cookie_get(&c, &format!("{base}/app/x"), &alice.cookie)
        .await
        .echo();
    assert_eq!(e.one("x-auth-user"), Some("alice"));

    // Without the CA the server's certificate is not trusted: fail closed.
    let untrusting = on_tls(Gateway::builder()).spawn().await;
    let base = untrusting.http_url();
    assert_eq!(send(c.get(format!("{base}/readyz"))).await.status, 503);
    login_json(&c, &base, "alice", ALICE_PW)
        .await
        .assert_error(503, "unavailable");
    assert_eq!(send(c.get(format!("{base}/public/x"))).await.status, 200);
    for g in [&trusted, &untrusting] {
        assert!(!g.logs().contains(PASSWORD), "the password was logged");
    }
}
