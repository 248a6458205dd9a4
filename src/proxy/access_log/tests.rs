use std::time::{Duration, UNIX_EPOCH};

use serde_json::{json, Value};

use super::*;

fn entry(path: LoggedPath<'_>) -> Entry<'_> {
    Entry {
        client_ip: Some(IpAddr::from([10, 0, 0, 7])),
        method: "POST",
        path,
        route: Some(2),
        status: 201,
        bytes_in: 5,
        bytes_out: 1234,
        duration: Duration::from_micros(12_345),
        upstream: Some(SocketAddr::from(([127, 0, 0, 1], 3000))),
        user: Some("alice"),
        request_id: Some(b"req-1"),
    }
}

fn line(e: &Entry<'_>) -> (String, Value) {
    let mut out = Vec::new();
    write_line(&mut out, UNIX_EPOCH + Duration::from_secs(1_764_585_360), e);
    let text = String::from_utf8(out).expect("ASCII/UTF-8 line");
    assert!(
        text.ends_with('\n') && text.matches('\n').count() == 1,
        "{text}"
    );
    let v = serde_json::from_str(&text).unwrap_or_else(|err| panic!("{err}: {text}"));
    (text, v)
}

#[test]
fn every_field_is_written() {
    let (_, v) = line(&entry(LoggedPath::Normalised("/api/x")));
    assert_eq!(
        v,
        json!({
            "timestamp": "2025-12-01T10:36:00.000000Z",
            "level": "INFO",
            "event": "access",
            "client_ip": "10.0.0.7",
            "method": "POST",
            "path": "/api/x",
            "route": 2,
            "status": 201,
            "bytes_in": 5,
            "bytes_out": 1234,
            "duration_ms": 12.345,
            "upstream": "127.0.0.1:3000",
            "user": "alice",
            "request_id": "req-1",
            "target": "gatehouse::access",
        })
    );
}

#[test]
fn absent_values_are_null() {
    let e = Entry {
        client_ip: None,
        route: None,
        upstream: None,
        user: None,
        request_id: None,
        status: 0,
        duration: Duration::ZERO,
        ..entry(LoggedPath::Normalised("/healthz"))
    };
    let (_, v) = line(&e);
    for field in ["client_ip", "route", "upstream", "user", "request_id"] {
        assert!(v[field].is_null(), "{field}: {v}");
    }
    assert_eq!(v["status"], 0);
    assert_eq!(v["duration_ms"], 0.0);
    let v6 = Entry {
        client_ip: Some("2001:db8::1".parse().unwrap()),
        upstream: Some("[::1]:8080".parse().unwrap()),
        ..e
    };
    let (_, v) = line(&v6);
    assert_eq!(v["client_ip"], "2001:db8::1");
    assert_eq!(v["upstream"], "[::1]:8080");
}

#[test]
fn hostile_values_stay_inside_their_string() {
    let e = Entry {
        method: "GE\"T",
        user: Some("a\"b\\c\nd"),
        ..entry(LoggedPath::Normalised("/a\"b/\u{7f}"))
    };
    let (text, v) = line(&e);
    assert_eq!(v["method"], "GE\"T");
    assert_eq!(v["user"], "a\"b\\c\nd");
    assert_eq!(v["path"], "/a\"b/\u{7f}");
    assert!(!text.trim_end().bytes().any(|b| b < 0x20), "{text}");
}

#[test]
fn raw_paths_are_encoded_cut_and_lose_their_query() {
    let cases: &[(&[u8], &str)] = &[
        (b"/a/%2f/b?token=secret", "/a/%2f/b"),
        (b"/x\x00y", "/x%00y"),
        (b"/x\r\nInjected: 1", "/x%0D%0AInjected:%201"),
        (b"/q\"u\\o", "/q%22u%5Co"),
        ("/é".as_bytes(), "/%C3%A9"),
        (b"http://evil.example/admin", "http://evil.example/admin"),
    ];
    for (raw, want) in cases {
        let (_, v) = line(&entry(LoggedPath::Raw(raw)));
        assert_eq!(v["path"], *want, "{}", String::from_utf8_lossy(raw));
    }
    let long = format!("/{}", "a".repeat(1000));
    let (_, v) = line(&entry(LoggedPath::Raw(long.as_bytes())));
    assert_eq!(v["path"].as_str().map(str::len), Some(RAW_PATH_MAX));
}

#[test]
fn session_ids_are_not_logged() {
    let (text, v) = line(&entry(LoggedPath::Session { prefix: "/auth" }));
    assert_eq!(v["path"], "/auth/sessions/{id}");
    assert!(!text.contains("sid-"));
    assert!(is_session_path("/auth", "/auth/sessions/sid-123"));
    for other in [
        "/auth/sessions",
        "/auth/sessions/",
        "/auth/me",
        "/x/sessions/1",
    ] {
        assert!(!is_session_path("/auth", other), "{other}");
    }
}
