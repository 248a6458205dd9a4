//! `[server] h2*` keys and `[upstreams.X] protocol` (SPEC §11).

use super::{assert_one, with_base, Fixture};
use crate::policy::UpstreamProtocol;

#[test]
fn h2_defaults_and_values() {
    let fx = Fixture::new();
    let cfg = fx.load(&with_base("")).unwrap_or_else(|e| panic!("{e}"));
    let s = &cfg.server;
    assert!(s.h2 && !s.h2c);
    assert_eq!((s.h2_max_streams, s.h2_max_header_list), (100, 64 * 1024));

    let text = with_base(
        "[server]\nlisten = \"127.0.0.1:8080\"\nh2 = false\nh2c = true\n\
         h2_max_streams = 8\nh2_max_header_list = \"512KB\"\n",
    );
    let cfg = fx.load(&text).unwrap_or_else(|e| panic!("{e}"));
    let s = &cfg.server;
    assert!(!s.h2 && s.h2c);
    assert_eq!((s.h2_max_streams, s.h2_max_header_list), (8, 512 * 1024));
}

#[test]
fn upstream_protocols() {
    let fx = Fixture::new();
    let text = with_base(
        "[upstreams.app]\naddr = \"127.0.0.1:3000\"\n\
         [upstreams.grpc]\naddr = \"grpc.internal:443\"\nprotocol = \"h2\"\n\
         [upstreams.local]\naddr = \"127.0.0.1:50051\"\nprotocol = \"h2c\"\n\
         [upstreams.plain]\naddr = \"127.0.0.1:3001\"\nprotocol = \"http1\"\ntls = true\nsni = \"plain.internal\"\n",
    );
    let cfg = fx.load(&text).unwrap_or_else(|e| panic!("{e}"));
    let got: Vec<_> = cfg
        .policy
        .upstreams
        .iter()
        .map(|u| (u.name.as_str(), u.protocol, u.tls, u.sni.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("app", UpstreamProtocol::Http1, false, ""),
            // "h2" is TLS: implied, with the host as SNI.
            ("grpc", UpstreamProtocol::H2, true, "grpc.internal"),
            ("local", UpstreamProtocol::H2c, false, ""),
            ("plain", UpstreamProtocol::Http1, true, "plain.internal"),
        ]
    );
}

#[test]
fn bad_h2_keys_name_file_line_and_key() {
    let fx = Fixture::new();
    const L: &str = "[server]\nlisten = \"127.0.0.1:8080\"\n";
    let server = |rest: &str| format!("{L}{rest}");
    let up = |rest: &str| format!("[upstreams.app]\naddr = \"127.0.0.1:3000\"\n{rest}");
    let tls_only = "[server]\ntls_listen = \"127.0.0.1:8443\"\ntls_cert = \"certs/cert.pem\"\n\
                    tls_key = \"certs/key.pem\"\nh2c = true\n";
    let cases: Vec<(String, usize, &str, &str)> = vec![
        (tls_only.into(), 5, "server.h2c", "listen is not"),
        (server("h2 = \"yes\"\n"), 3, "server.h2", "invalid type"),
        (
            server("h2_max_streams = 0\n"),
            3,
            "server.h2_max_streams",
            "out of range (1..=10000)",
        ),
        (
            server("h2_max_streams = 100000\n"),
            3,
            "server.h2_max_streams",
            "out of range",
        ),
        (
            server("h2_max_header_list = \"64\"\n"),
            3,
            "server.h2_max_header_list",
            "no unit",
        ),
        (
            server("h2_max_header_list = \"64kb\"\n"),
            3,
            "server.h2_max_header_list",
            "unknown unit \"kb\"",
        ),
        (
            server("h2_max_header_list = 65536\n"),
            3,
            "server.h2_max_header_list",
            "invalid type",
        ),
        (
            server("h2_max_header_list = \"512B\"\n"),
            3,
            "server.h2_max_header_list",
            "out of range (1KB..=16MB)",
        ),
        (
            server("h2_max_header_list = \"32MB\"\n"),
            3,
            "server.h2_max_header_list",
            "out of range",
        ),
        (
            up("protocol = \"grpc\"\n"),
            3,
            "upstreams.app.protocol",
            "unknown protocol \"grpc\"",
        ),
        (
            up("protocol = \"h2\"\ntls = false\n"),
            3,
            "upstreams.app.protocol",
            "use \"h2c\"",
        ),
        (
            up("protocol = \"h2c\"\ntls = true\n"),
            3,
            "upstreams.app.protocol",
            "use \"h2\"",
        ),
        (
            up("protocol = \"h2c\"\nsni = \"a.b\"\n"),
            4,
            "upstreams.app.sni",
            "only used with tls = true",
        ),
    ];
    for (snippet, line, key, msg) in &cases {
        assert_one(&fx, snippet, *line, key, msg);
    }
}
