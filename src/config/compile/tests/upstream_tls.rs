//! `[upstreams.NAME]` TLS keys: `ca_file` (a private CA for the upstream)
//! and `sni` for an upstream at an IP address (SPEC §11).

use super::{assert_one, with_base, Fixture};

/// A real CA certificate, PEM (rcgen), as an operator's `ca_file` holds.
fn ca_pem() -> String {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.self_signed(&key).expect("self-sign").pem()
}

#[test]
fn ca_file_is_read_once_and_handed_to_the_connector() {
    let fx = Fixture::new();
    let two = format!("{}{}", ca_pem(), ca_pem());
    std::fs::write(fx.dir.path().join("upstream-ca.pem"), two).unwrap();
    let text = with_base(
        "[upstreams.app]\naddr = \"10.0.0.7:443\"\nprotocol = \"h2\"\nsni = \"grpc.internal\"\n\
         ca_file = \"upstream-ca.pem\"\n",
    );
    let cfg = fx.load(&text).unwrap_or_else(|e| panic!("{e}"));
    let u = &cfg.policy.upstreams[0];
    assert_eq!(u.ca_certs.as_ref().map(|c| c.len()), Some(2));
    let ca = crate::upstream::trusted_ca(u).expect("the connector's CA list");
    assert_eq!(ca.len(), 2);
    // An upstream without the key trusts the system's roots.
    let plain = with_base("[upstreams.app]\naddr = \"a.internal:443\"\ntls = true\n");
    let cfg = fx.load(&plain).unwrap_or_else(|e| panic!("{e}"));
    assert!(cfg.policy.upstreams[0].ca_certs.is_none());
    assert!(crate::upstream::trusted_ca(&cfg.policy.upstreams[0]).is_none());
}

#[test]
fn bad_upstream_tls_keys_name_file_line_and_key() {
    let fx = Fixture::new();
    let dir = fx.dir.path();
    std::fs::write(dir.join("ca.pem"), ca_pem()).unwrap();
    std::fs::write(dir.join("text.pem"), "not a certificate\n").unwrap();
    std::fs::write(
        dir.join("bad.pem"),
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("key.pem"),
        format!(
            "{}-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
            ca_pem()
        ),
    )
    .unwrap();
    let up = |rest: &str| format!("[upstreams.app]\naddr = \"a.internal:443\"\n{rest}");
    #[rustfmt::skip]
    let cases: Vec<(String, usize, &str, &str)> = vec![
        (up("ca_file = \"ca.pem\"\n"), 3, "upstreams.app.ca_file", "only used with tls = true"),
        (up("protocol = \"h2c\"\nca_file = \"ca.pem\"\n"), 4, "upstreams.app.ca_file", "only used with tls = true"),
        (up("tls = true\nca_file = \"none.pem\"\n"), 4, "upstreams.app.ca_file", "cannot be read"),
        (up("tls = true\nca_file = \"text.pem\"\n"), 4, "upstreams.app.ca_file", "holds no PEM certificate"),
        (up("tls = true\nca_file = \"bad.pem\"\n"), 4, "upstreams.app.ca_file", "does not parse"),
        (up("tls = true\nca_file = \"key.pem\"\n"), 4, "upstreams.app.ca_file", "CERTIFICATE blocks only"),
        ("[upstreams.app]\naddr = \"10.0.0.1:443\"\ntls = true\n".into(), 2, "upstreams.app.addr", "needs `sni`"),
        ("[upstreams.app]\naddrs = [\"10.0.0.1:443\", \"b:443\"]\nprotocol = \"h2\"\n".into(), 2, "upstreams.app.addrs", "needs `sni`"),
    ];
    for (snippet, line, key, msg) in &cases {
        assert_one(&fx, snippet, *line, key, msg);
    }
}
