//! An IP address as text, IPv4 without the formatting machinery: every
//! proxied request writes its client's address twice (`X-Forwarded-For`
//! and the access line), and `fmt` costs about a thousand instructions for
//! one IPv4 address where this takes a few dozen (callgrind,
//! bench/instructions.sh). IPv6 goes through `fmt` for its `::` rules.

use std::io::Write as _;
use std::net::IpAddr;

/// Room for any address: IPv6 text is at most 45 bytes
/// (`ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255`).
pub const MAX_LEN: usize = 45;

/// `ip` as text in `buf`, IPv4 dotted, IPv6 as `Display` writes it.
pub fn write(ip: IpAddr, buf: &mut [u8; MAX_LEN]) -> &[u8] {
    match ip {
        IpAddr::V4(v4) => {
            let mut len = 0;
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    buf[len] = b'.';
                    len += 1;
                }
                let mut digits = itoa::Buffer::new();
                let digits = digits.format(octet).as_bytes();
                buf[len..len + digits.len()].copy_from_slice(digits);
                len += digits.len();
            }
            &buf[..len]
        }
        IpAddr::V6(v6) => {
            let mut rest = &mut buf[..];
            // Cannot fail: MAX_LEN holds the longest IPv6 text.
            let _ = write!(rest, "{v6}");
            let used = MAX_LEN - rest.len();
            &buf[..used]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        for text in [
            "0.0.0.0",
            "127.0.0.1",
            "10.20.30.40",
            "255.255.255.255",
            "::",
            "::1",
            "2001:db8::8a2e:370:7334",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "::ffff:255.255.255.255",
        ] {
            let ip: IpAddr = text.parse().unwrap();
            let mut buf = [0; MAX_LEN];
            assert_eq!(write(ip, &mut buf), ip.to_string().as_bytes(), "{text}");
        }
    }
}
