//! Durations as written in gateway.toml: "250ms", "30s", "15m", "12h", "7d".
//! One non-negative integer and one unit; nothing else is accepted, so a
//! typo ("15 min", "1.5h", "-1s") is an error rather than a surprise.

use std::time::Duration;

/// The largest duration accepted: 100 years. Far beyond any sane timeout,
/// and small enough that no later arithmetic on microseconds can overflow.
const MAX_SECS: u64 = 100 * 365 * 24 * 60 * 60;

/// Parse a duration string; the message says what is wrong.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    if s.is_empty() {
        return Err("empty duration; write e.g. \"30s\", \"15m\", \"12h\", \"7d\"".into());
    }
    if s.starts_with('-') {
        return Err(format!("{s:?} is negative; durations cannot be"));
    }
    let digits_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(digits_end);
    if number.is_empty() {
        return Err(format!(
            "{s:?} does not start with a number; write e.g. \"30s\""
        ));
    }
    // Milliseconds per unit.
    let per_unit_ms: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "" => {
            return Err(format!(
                "{s:?} has no unit; add one of ms, s, m, h, d (e.g. \"{s}s\")"
            ))
        }
        _ => {
            return Err(format!(
                "{s:?}: unknown unit {unit:?}; use a whole number and one of ms, s, m, h, d"
            ))
        }
    };
    let too_large = || format!("{s:?} is too large (at most {}d)", MAX_SECS / 86_400);
    let n: u64 = number.parse().map_err(|_| too_large())?;
    let ms = n.checked_mul(per_unit_ms).ok_or_else(too_large)?;
    if ms / 1_000 > MAX_SECS {
        return Err(too_large());
    }
    Ok(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted() {
        let cases: &[(&str, Duration)] = &[
            ("250ms", Duration::from_millis(250)),
            ("0s", Duration::ZERO),
            ("30s", Duration::from_secs(30)),
            ("15m", Duration::from_secs(900)),
            ("12h", Duration::from_secs(43_200)),
            ("7d", Duration::from_secs(604_800)),
            ("36500d", Duration::from_secs(MAX_SECS)),
        ];
        for (input, want) in cases {
            assert_eq!(parse_duration(input).as_ref(), Ok(want), "{input}");
        }
    }

    #[test]
    fn refused_with_reason() {
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("-5s", "negative"),
            ("s", "does not start with a number"),
            ("30", "no unit"),
            ("1.5h", "unknown unit \".5h\""),
            ("15 m", "unknown unit \" m\""),
            ("15min", "unknown unit \"min\""),
            ("1h30m", "unknown unit \"h30m\""),
            ("10w", "unknown unit \"w\""),
            ("15M", "unknown unit \"M\""),
            ("36501d", "too large"),
            ("99999999999999999999s", "too large"),
            ("18446744073709551615d", "too large"),
        ];
        for (input, want) in cases {
            let err = parse_duration(input).expect_err(input);
            assert!(err.contains(want), "{input}: {err}");
        }
    }
}
