//! Sizes as written in gateway.toml: "512B", "64KB", "10MB", "1GB", with
//! 1 KB = 1024 bytes (SPEC §11). One non-negative integer and one unit,
//! upper-case as written there; "1.5MB", "10 MB" or "10mb" are errors
//! rather than a guess, like durations.

/// The largest size accepted: 1 TB. Every limit a size sets is far below.
const MAX_BYTES: u64 = 1 << 40;

/// Parse a size string into bytes; the message says what is wrong.
pub fn parse_size(s: &str) -> Result<u64, String> {
    if s.is_empty() {
        return Err("empty size; write e.g. \"64KB\", \"10MB\", \"1GB\"".into());
    }
    if s.starts_with('-') {
        return Err(format!("{s:?} is negative; sizes cannot be"));
    }
    let digits_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(digits_end);
    if number.is_empty() {
        return Err(format!(
            "{s:?} does not start with a number; write e.g. \"64KB\""
        ));
    }
    let per_unit: u64 = match unit {
        "B" => 1,
        "KB" => 1 << 10,
        "MB" => 1 << 20,
        "GB" => 1 << 30,
        "" => {
            return Err(format!(
                "{s:?} has no unit; add one of B, KB, MB, GB (e.g. \"{s}KB\")"
            ))
        }
        _ => {
            return Err(format!(
                "{s:?}: unknown unit {unit:?}; use a whole number and one of B, KB, MB, GB \
                 (1 KB = 1024 bytes)"
            ))
        }
    };
    let too_large = || format!("{s:?} is too large (at most 1024GB)");
    let n: u64 = number.parse().map_err(|_| too_large())?;
    let bytes = n.checked_mul(per_unit).ok_or_else(too_large)?;
    if bytes > MAX_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

/// A size for messages: the largest unit that divides it exactly.
pub fn show_size(bytes: u64) -> String {
    for (unit, per) in [("GB", 1u64 << 30), ("MB", 1 << 20), ("KB", 1 << 10)] {
        if bytes >= per && bytes.is_multiple_of(per) {
            return format!("{}{unit}", bytes / per);
        }
    }
    format!("{bytes}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted() {
        let cases: &[(&str, u64)] = &[
            ("0B", 0),
            ("512B", 512),
            ("64KB", 65_536),
            ("512KB", 524_288),
            ("10MB", 10_485_760),
            ("1GB", 1_073_741_824),
            ("1024GB", 1 << 40),
        ];
        for (input, want) in cases {
            assert_eq!(parse_size(input).as_ref(), Ok(want), "{input}");
        }
    }

    #[test]
    fn refused_with_reason() {
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("-1KB", "negative"),
            ("KB", "does not start with a number"),
            ("64", "no unit"),
            ("1.5MB", "unknown unit \".5MB\""),
            ("10 MB", "unknown unit \" MB\""),
            ("10mb", "unknown unit \"mb\""),
            ("10KiB", "unknown unit \"KiB\""),
            ("1TB", "unknown unit \"TB\""),
            ("1025GB", "too large"),
            ("99999999999999999999B", "too large"),
            ("18446744073709551615GB", "too large"),
        ];
        for (input, want) in cases {
            let err = parse_size(input).expect_err(input);
            assert!(err.contains(want), "{input}: {err}");
        }
    }

    #[test]
    fn shown_in_the_largest_exact_unit() {
        assert_eq!(show_size(65_536), "64KB");
        assert_eq!(show_size(16 << 20), "16MB");
        assert_eq!(show_size(1500), "1500B");
        assert_eq!(show_size(0), "0B");
    }
}
