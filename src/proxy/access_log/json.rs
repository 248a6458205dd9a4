//! The few JSON pieces an access line needs, written straight into a byte
//! buffer: strings (escaped as RFC 8259 asks, so no value can end the line
//! or the string early) and the RFC 3339 UTC timestamp in the form the
//! tracing events use (`2026-12-01T10:36:00.123456Z`).

use std::cell::Cell;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::proxy::ip_text;

/// `"s"`, escaped.
pub fn string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    string_contents(out, s);
    out.push(b'"');
}

/// `"s"`, or `null`.
pub fn optional_string(out: &mut Vec<u8>, s: Option<&[u8]>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// `s` escaped for the inside of a JSON string: `"` and `\` with a
/// backslash, control characters (and DEL) as `\u00XX`. Other bytes pass:
/// the callers hand over UTF-8 or ASCII.
pub fn string_contents(out: &mut Vec<u8>, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let plain = |b: u8| b >= 0x20 && b != b'"' && b != b'\\' && b != 0x7f;
    // Usually nothing to escape: one copy.
    if s.iter().all(|&b| plain(b)) {
        out.extend_from_slice(s);
        return;
    }
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b if plain(b) => out.push(b),
            _ => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]),
        }
    }
}

/// `n` in decimal, without the formatting machinery.
pub fn uint(out: &mut Vec<u8>, n: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// `n` as exactly `width` digits, zero-padded (`width` <= 20, `n` fits).
fn padded(out: &mut Vec<u8>, mut n: u64, width: usize) {
    let mut digits = [b'0'; 20];
    for d in digits[..width].iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.extend_from_slice(&digits[..width]);
}

/// An IP address (`ip_text`: IPv4 without the formatting machinery).
pub fn ip(out: &mut Vec<u8>, ip: IpAddr) {
    let mut buf = [0; ip_text::MAX_LEN];
    out.extend_from_slice(ip_text::write(ip, &mut buf));
}

/// `ip:port`, IPv6 in brackets.
pub fn socket_addr(out: &mut Vec<u8>, addr: SocketAddr) {
    match addr {
        SocketAddr::V4(v4) => {
            ip(out, IpAddr::V4(*v4.ip()));
            out.push(b':');
            uint(out, v4.port());
        }
        SocketAddr::V6(v6) => {
            let _ = write!(out, "{v6}");
        }
    }
}

thread_local! {
    /// The second last formatted and its `YYYY-MM-DDTHH:MM:SS.` text: a
    /// busy thread formats the date once a second, not once a line.
    static SECOND: Cell<(u64, [u8; 20])> = const { Cell::new((u64::MAX, [0; 20])) };
}

/// `now` as `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub fn timestamp(out: &mut Vec<u8>, now: SystemTime) {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (cached, mut text) = SECOND.get();
    if cached != secs {
        let (year, month, day) = civil_from_days(secs / 86_400);
        let of_day = secs % 86_400;
        let mut t = Vec::with_capacity(20);
        padded(&mut t, year.min(9999), 4);
        t.push(b'-');
        padded(&mut t, month, 2);
        t.push(b'-');
        padded(&mut t, day, 2);
        t.push(b'T');
        padded(&mut t, of_day / 3600, 2);
        t.push(b':');
        padded(&mut t, of_day / 60 % 60, 2);
        t.push(b':');
        padded(&mut t, of_day % 60, 2);
        t.push(b'.');
        text.copy_from_slice(&t);
        SECOND.set((secs, text));
    }
    out.extend_from_slice(&text);
    padded(out, u64::from(since.subsec_micros()), 6);
    out.push(b'Z');
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`, for days >= 0).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_are_escaped_and_parse_back() {
        let cases: &[&str] = &[
            "plain",
            "",
            "quote\" backslash\\ slash/",
            "line\nbreak\r\ttab\u{0}nul\u{1b}esc\u{7f}del",
            "ünïcödé ✓",
        ];
        for s in cases {
            let json = text(|o| string(o, s.as_bytes()));
            assert!(!json.bytes().any(|b| b < 0x20 || b == 0x7f), "{json}");
            let back: String = serde_json::from_str(&json).unwrap();
            assert_eq!(&back, s);
        }
        assert_eq!(text(|o| optional_string(o, None)), "null");
    }

    #[test]
    fn numbers_and_addresses() {
        for n in [0, 7, 10, 65_535, 1_234_567_890, u64::MAX] {
            assert_eq!(text(|o| uint(o, n)), n.to_string());
        }
        let ips = [
            "0.0.0.0",
            "127.0.0.1",
            "255.255.255.255",
            "10.20.3.4",
            "::1",
            "2001:db8::7",
        ];
        for s in ips {
            let parsed: IpAddr = s.parse().unwrap();
            assert_eq!(text(|o| ip(o, parsed)), s);
        }
        for s in ["127.0.0.1:3000", "10.0.0.1:1", "[::1]:8080"] {
            let parsed: SocketAddr = s.parse().unwrap();
            assert_eq!(text(|o| socket_addr(o, parsed)), s);
        }
    }

    #[test]
    fn timestamps_are_rfc3339_utc_with_microseconds() {
        let cases: &[(u64, u32, &str)] = &[
            (0, 0, "1970-01-01T00:00:00.000000Z"),
            (951_782_400, 5_000, "2000-02-29T00:00:00.000005Z"),
            (1_764_585_360, 123_456_789, "2025-12-01T10:36:00.123456Z"),
            (4_107_542_399, 999_999_999, "2100-02-28T23:59:59.999999Z"),
            (4_107_542_400, 0, "2100-03-01T00:00:00.000000Z"),
        ];
        // Twice over: the second pass reads the per-second cache.
        for (secs, nanos, want) in cases.iter().chain(cases) {
            let t = UNIX_EPOCH + Duration::new(*secs, *nanos);
            assert_eq!(text(|o| timestamp(o, t)), *want);
        }
        let t = UNIX_EPOCH + Duration::new(1_764_585_360, 1_000);
        assert_eq!(text(|o| timestamp(o, t)), "2025-12-01T10:36:00.000001Z");
    }
}
