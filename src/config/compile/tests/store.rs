//! `[store]` Redis Sentinel, Cluster, TLS, WAIT and ACL keys (SPEC §12).

use super::{assert_one, with_base, Fixture};
use crate::config::StoreBackend;

const R: &str = "[store]\nbackend = \"redis\"\n";

#[test]
fn sentinel_keys_compile() {
    let fx = Fixture::new();
    std::env::set_var("GH_TEST_REDIS_PW_7a2e", "s3cret-redis-pw");
    let text = with_base(&format!(
        "{R}sentinels = [\"h1:26379\", \"10.0.0.2:26380\", \"[::1]:26381\"]\n\
         sentinel_master = \"mymaster\"\nusername = \"gatehouse\"\n\
         password_env = \"GH_TEST_REDIS_PW_7a2e\"\n"
    ));
    let cfg = fx.load(&text).unwrap_or_else(|e| panic!("{e}"));
    let s = &cfg.store;
    assert_eq!(s.backend, StoreBackend::Redis);
    assert_eq!(
        s.sentinels,
        vec!["h1:26379", "10.0.0.2:26380", "[::1]:26381"]
    );
    assert_eq!(s.sentinel_master, "mymaster");
    assert_eq!(s.username.as_deref(), Some("gatehouse"));
    assert_eq!(
        s.password.as_ref().map(|p| p.0.as_str()),
        Some("s3cret-redis-pw")
    );
    assert!(s.url.is_empty());
    let debug = format!("{s:?}");
    assert!(
        !debug.contains("s3cret"),
        "password leaked into Debug: {debug}"
    );

    // A url alone keeps working, with ACL credentials beside it.
    let text = with_base(&format!(
        "{R}url = \"redis://127.0.0.1:6379/0\"\nusername = \"gatehouse\"\n"
    ));
    let cfg = fx.load(&text).unwrap_or_else(|e| panic!("{e}"));
    assert!(cfg.store.sentinels.is_empty() && cfg.store.password.is_none());
    assert!(cfg.store.cluster.is_empty() && !cfg.store.tls);
    assert_eq!(cfg.store.wait_replicas, 0);
}

#[test]
fn cluster_tls_and_wait_keys_compile() {
    let fx = Fixture::new();
    let text = with_base(&format!(
        "{R}cluster = [\"n1:7000\", \"n2:7001\", \"[::1]:7002\"]\ntls = true\nwait_replicas = 1\n"
    ));
    let cfg = fx.load(&text).unwrap_or_else(|e| panic!("{e}"));
    let s = &cfg.store;
    assert_eq!(s.cluster, vec!["n1:7000", "n2:7001", "[::1]:7002"]);
    assert!(s.tls && s.url.is_empty() && s.sentinels.is_empty());
    assert_eq!(s.wait_replicas, 1);
}

#[test]
fn bad_sentinel_keys_name_file_line_and_key() {
    let fx = Fixture::new();
    let m = "sentinel_master = \"mymaster\"\n";
    #[rustfmt::skip]
    let cases: Vec<(String, usize, &str, &str)> = vec![
        (R.into(), 2, "store.url", "needs one of url, sentinels or cluster"),
        (format!("{R}url = \"redis://h:1/\"\nsentinels = [\"h:26379\"]\n{m}"), 4, "store.sentinels", "not both"),
        (format!("{R}sentinels = [\"h:26379\"]\n"), 3, "store.sentinel_master", "missing"),
        (format!("{R}url = \"redis://h:1/\"\n{m}"), 4, "store.sentinel_master", "only with sentinels"),
        (format!("{R}sentinels = [\"h:26379\", \"h2\"]\n{m}"), 3, "store.sentinels[1]", "\"h2\" is not host:port"),
        (format!("{R}sentinels = [\"redis://h:26379\"]\n{m}"), 3, "store.sentinels[0]", "not host:port"),
        (format!("{R}sentinels = [\"h:0\"]\n{m}"), 3, "store.sentinels[0]", "not host:port"),
        (format!("{R}sentinels = []\n{m}"), 3, "store.sentinels", "empty"),
        (format!("{R}sentinels = \"h:26379\"\n{m}"), 3, "store.sentinels", "invalid type"),
        (format!("{R}sentinels = [\"h:26379\"]\nsentinel_master = \"my master\"\n"), 4, "store.sentinel_master", "without spaces"),
        (format!("[store]\nsentinels = [\"h:26379\"]\n{m}"), 2, "store.sentinels", "only with backend = \"redis\""),
        (format!("{R}url = \"redis://h:1/\"\npassword_env = \"GH_TEST_REDIS_PW_UNSET_7a2e\"\n"), 4, "store.password_env", "is not set"),
        (format!("{R}url = \"redis://h:1/\"\npassword_env = \"A=B\"\n"), 4, "store.password_env", "not an environment variable name"),
        (format!("{R}url = \"redis://h:1/\"\nusername = \"\"\n"), 4, "store.username", "non-empty"),
        ("[store]\nusername = \"gatehouse\"\n".into(), 2, "store.username", "only with backend = \"redis\""),
        (format!("{R}url = \"redis://h:1/\"\npassword = \"x\"\n"), 4, "store.password", "unknown field `password`"),
        (format!("{R}url = \"redis://h:1/\"\ncluster = [\"h:7000\"]\n"), 4, "store.cluster", "exactly one of url, sentinels or cluster"),
        (format!("{R}sentinels = [\"h:26379\"]\n{m}cluster = [\"h:7000\"]\n"), 5, "store.cluster", "exactly one of"),
        (format!("{R}cluster = []\n"), 3, "store.cluster", "empty"),
        (format!("{R}cluster = [\"h:7000\", \"h:x\"]\n"), 3, "store.cluster[1]", "\"h:x\" is not host:port"),
        ("[store]\ncluster = [\"h:7000\"]\n".into(), 2, "store.cluster", "only with backend = \"redis\""),
        (format!("{R}url = \"redis://h:1/\"\ntls = true\n"), 4, "store.tls", "write rediss://"),
        (format!("{R}cluster = [\"h:7000\"]\ntls = \"yes\"\n"), 4, "store.tls", "invalid type"),
        (format!("{R}cluster = [\"h:7000\"]\nwait_replicas = -1\n"), 4, "store.wait_replicas", "out of range"),
        (format!("{R}cluster = [\"h:7000\"]\nwait_replicas = 17\n"), 4, "store.wait_replicas", "out of range"),
        ("[store]\nwait_replicas = 1\n".into(), 2, "store.wait_replicas", "only with backend = \"redis\""),
        (format!("{R}url = \"rediss://h:1/\"\nca_file = \"certs/none.pem\"\n"), 4, "store.ca_file", "cannot be read"),
        (format!("{R}url = \"rediss://h:1/\"\nca_file = \"certs/cert.pem\"\n"), 4, "store.ca_file", "holds no PEM certificate"),
        (format!("{R}url = \"redis://h:1/\"\nca_file = \"ca.pem\"\n"), 4, "store.ca_file", "only with TLS to the store"),
        (format!("{R}sentinels = [\"h:26379\"]\n{m}tls = true\nca_file = \"ca.pem\"\n"), 6, "store.ca_file", "not with sentinels"),
    ];
    std::fs::write(
        fx.dir.path().join("ca.pem"),
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    for (snippet, line, key, msg) in cases {
        assert_one(&fx, &snippet, line, key, msg);
    }
}
