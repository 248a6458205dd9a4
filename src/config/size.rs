//! Sizes as written in gateway.toml: "512KB", "10MB", "1GB" (SPEC §11,
//! 1 KB = 1024 bytes). One whole number and one unit, like durations: a
//! typo ("10 MB", "1.5GB", "10mb", "10") is an error rather than a guess.

/// Bytes per unit, largest last.
const UNITS: &[(&str, u64)] = &[
    ("B", 1),
    ("KB", 1 << 10),
    ("MB", 1 << 20),
    ("GB", 1 << 30),
    ("TB", 1 << 40),
];

/// Parse a size string into bytes; the message says what is wrong.
pub fn parse_size(s: &str) -> Result<u64, String> {
    if s.is_empty() {
        return Err("empty size; write e.g. \"512KB\", \"10MB\", \"1GB\"".into());
    }
    if s.starts_with('-') {
        return Err(format!("{s:?} is negative; sizes cannot be"));
    }
    let digits_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(digits_end);
    if number.is_empty() {
        return Err(format!(
            "{s:?} does not start with a number; write e.g. \"10MB\""
        ));
    }
    let per_unit = match UNITS.iter().find(|(name, _)| *name == unit) {
        Some((_, bytes)) => *bytes,
        None if unit.is_empty() => {
            return Err(format!(
                "{s:?} has no unit; add one of B, KB, MB, GB, TB (e.g. \"{s}MB\")"
            ))
        }
        None => {
            return Err(format!(
                "{s:?}: unknown unit {unit:?}; use a whole number and one of B, KB, MB, GB, TB \
                 (1 KB = 1024 bytes)"
            ))
        }
    };
    let too_large = || format!("{s:?} is too large");
    let n: u64 = number.parse().map_err(|_| too_large())?;
    n.checked_mul(per_unit).ok_or_else(too_large)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted() {
        let cases: &[(&str, u64)] = &[
            ("0B", 0),
            ("1B", 1),
            ("512KB", 512 * 1024),
            ("10MB", 10 * 1024 * 1024),
            ("1GB", 1024 * 1024 * 1024),
            ("2TB", 2 << 40),
            ("0010KB", 10 * 1024),
            ("16777215TB", 16_777_215 << 40),
        ];
        for (input, want) in cases {
            assert_eq!(parse_size(input), Ok(*want), "{input}");
        }
    }

    #[test]
    fn refused_with_reason() {
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("-1MB", "negative"),
            ("MB", "does not start with a number"),
            ("10", "no unit"),
            ("10 MB", "unknown unit \" MB\""),
            ("1.5GB", "unknown unit \".5GB\""),
            ("10mb", "unknown unit \"mb\""),
            ("10KiB", "unknown unit \"KiB\""),
            ("10M", "unknown unit \"M\""),
            ("10MBs", "unknown unit \"MBs\""),
            ("16777216TB", "too large"),
            ("99999999999999999999B", "too large"),
        ];
        for (input, want) in cases {
            let err = parse_size(input).expect_err(input);
            assert!(err.contains(want), "{input}: {err}");
        }
    }
}
