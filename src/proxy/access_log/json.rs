//! The few JSON pieces an access line needs, written straight into a byte
//! buffer: strings (escaped as RFC 8259 asks, so no value can end the line
//! or the string early) and the RFC 3339 UTC timestamp in the form the
//! tracing events use (`2026-12-01T10:36:00.123456Z`).

use std::time::{SystemTime, UNIX_EPOCH};

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
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x00..=0x1f | 0x7f => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]),
            _ => out.push(b),
        }
    }
}

/// `now` as `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub fn timestamp(out: &mut Vec<u8>, now: SystemTime) {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (year, month, day) = civil_from_days(secs / 86_400);
    let of_day = secs % 86_400;
    let _ = std::io::Write::write_fmt(
        out,
        format_args!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
            of_day / 3600,
            of_day / 60 % 60,
            of_day % 60,
            since.subsec_micros()
        ),
    );
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
    fn timestamps_are_rfc3339_utc_with_microseconds() {
        let cases: &[(u64, u32, &str)] = &[
            (0, 0, "1970-01-01T00:00:00.000000Z"),
            (951_782_400, 5_000, "2000-02-29T00:00:00.000005Z"),
            (1_764_585_360, 123_456_789, "2025-12-01T10:36:00.123456Z"),
            (4_107_542_399, 999_999_999, "2100-02-28T23:59:59.999999Z"),
            (4_107_542_400, 0, "2100-03-01T00:00:00.000000Z"),
        ];
        for (secs, nanos, want) in cases {
            let t = UNIX_EPOCH + Duration::new(*secs, *nanos);
            assert_eq!(text(|o| timestamp(o, t)), *want);
        }
    }
}
