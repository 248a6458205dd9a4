//! The client's IP: the socket peer, or the X-Forwarded-For entry added by the
//! nearest untrusted hop when the peer is a trusted proxy.
//!
//! Only entries appended by proxies we trust are believed, so the walk goes
//! right to left (newest hop first) and stops at the first address that is
//! not one of ours; anything to its left was written by the client and may be
//! forged (SPEC §2 `trusted_proxies`, §7).
//!
//! Decisions where SPEC is silent:
//! - Absent or empty header: the peer.
//! - Every entry trusted: the leftmost entry (the chain is all ours, so its
//!   origin is the best answer; nginx `real_ip_recursive` does the same).
//! - An unparsable entry (`unknown`, garbage, an IPv6 zone id) stops the
//!   walk: nothing left of it can be vouched for, so the answer is the
//!   nearest address already walked (a trusted proxy), or the peer.
//! - Entries may carry a port (`1.2.3.4:5678`, `[2001:db8::1]:443`, as some
//!   cloud load balancers write them) or brackets; both are accepted and the
//!   port is dropped. Spaces and tabs around entries are ignored.
//! - IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`, what a dual-stack listener
//!   reports for IPv4 peers) are compared and returned as IPv4, so
//!   `127.0.0.1/32` in `trusted_proxies` matches them.

use std::net::{IpAddr, SocketAddr};

use http::header::HeaderMap;
use ipnet::IpNet;

/// Client IP from the socket peer and, only when the peer is trusted, XFF.
pub fn client_ip(peer: IpAddr, xff: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    walk(peer, xff.into_iter(), trusted)
}

/// As [`client_ip`], reading every `X-Forwarded-For` line of `headers` in
/// order (several lines are one comma list, RFC 9110 §5.3). A line that is
/// not UTF-8 is malformed and stops the walk there.
pub fn client_ip_from_headers(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let lines = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.to_str().unwrap_or("\u{0}"));
    walk(peer, lines, trusted)
}

fn walk<'a, I>(peer: IpAddr, lines: I, trusted: &[IpNet]) -> IpAddr
where
    I: DoubleEndedIterator<Item = &'a str>,
{
    let peer = peer.to_canonical();
    if !is_trusted(peer, trusted) {
        return peer;
    }
    let mut nearest = peer;
    for entry in lines.rev().flat_map(|line| line.rsplit(',')) {
        let entry = entry.trim_matches([' ', '\t']);
        if entry.is_empty() {
            // `a,,b` or a trailing comma: no hop wrote this, skip it.
            continue;
        }
        let Some(addr) = parse_entry(entry) else {
            return nearest;
        };
        if !is_trusted(addr, trusted) {
            return addr;
        }
        nearest = addr;
    }
    nearest
}

fn is_trusted(addr: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&addr))
}

/// `1.2.3.4`, `2001:db8::1`, `[2001:db8::1]`, `1.2.3.4:80`, `[2001:db8::1]:80`.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let addr = entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            entry
                .strip_prefix('[')
                .and_then(|e| e.strip_suffix(']'))
                .and_then(|e| e.parse::<IpAddr>().ok())
        })?;
    Some(addr.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn table() {
        let trusted = nets(&["127.0.0.1/32", "10.0.0.0/8", "fd00::/8"]);
        // (peer, X-Forwarded-For, expected client)
        let cases: &[(&str, Option<&str>, &str)] = &[
            // untrusted peer: its XFF is never read
            ("203.0.113.9", None, "203.0.113.9"),
            ("203.0.113.9", Some("1.1.1.1"), "203.0.113.9"),
            ("203.0.113.9", Some("127.0.0.1"), "203.0.113.9"),
            ("2001:db8::9", Some("1.1.1.1"), "2001:db8::9"),
            // trusted peer, no or empty header
            ("127.0.0.1", None, "127.0.0.1"),
            ("127.0.0.1", Some(""), "127.0.0.1"),
            ("127.0.0.1", Some(" , ,"), "127.0.0.1"),
            // trusted peer: rightmost untrusted entry
            ("127.0.0.1", Some("198.51.100.7"), "198.51.100.7"),
            ("127.0.0.1", Some("6.6.6.6, 198.51.100.7"), "198.51.100.7"),
            (
                "127.0.0.1",
                Some("6.6.6.6, 198.51.100.7, 10.1.2.3"),
                "198.51.100.7",
            ),
            (
                "127.0.0.1",
                Some("6.6.6.6,198.51.100.7,10.1.2.3,10.9.9.9"),
                "198.51.100.7",
            ),
            // a forged trusted-looking entry left of the real client is not reached
            ("127.0.0.1", Some("10.0.0.1, 198.51.100.7"), "198.51.100.7"),
            // all trusted: leftmost
            ("127.0.0.1", Some("10.0.0.5, 10.0.0.6"), "10.0.0.5"),
            // malformed entries stop the walk at the nearest known hop
            ("127.0.0.1", Some("198.51.100.7, unknown"), "127.0.0.1"),
            (
                "127.0.0.1",
                Some("198.51.100.7, garbage, 10.0.0.6"),
                "10.0.0.6",
            ),
            ("127.0.0.1", Some("unknown, 198.51.100.7"), "198.51.100.7"),
            ("127.0.0.1", Some("fe80::1%eth0"), "127.0.0.1"),
            ("127.0.0.1", Some("1.2.3.4.5"), "127.0.0.1"),
            // spaces, tabs, empty items
            (
                "127.0.0.1",
                Some("  198.51.100.7\t,  10.0.0.6  "),
                "198.51.100.7",
            ),
            ("127.0.0.1", Some("198.51.100.7,,10.0.0.6,"), "198.51.100.7"),
            // ports and brackets
            ("127.0.0.1", Some("198.51.100.7:5555"), "198.51.100.7"),
            ("127.0.0.1", Some("[2001:db8::7]:443"), "2001:db8::7"),
            ("127.0.0.1", Some("[2001:db8::7]"), "2001:db8::7"),
            ("127.0.0.1", Some("2001:db8::7"), "2001:db8::7"),
            ("127.0.0.1", Some("2001:db8::7, fd00::1"), "2001:db8::7"),
            ("127.0.0.1", Some("10.0.0.6:8080"), "10.0.0.6"),
            // IPv4-mapped peers and entries count as IPv4
            ("::ffff:127.0.0.1", Some("198.51.100.7"), "198.51.100.7"),
            ("::ffff:203.0.113.9", Some("1.1.1.1"), "203.0.113.9"),
            (
                "127.0.0.1",
                Some("::ffff:198.51.100.7, ::ffff:10.0.0.1"),
                "198.51.100.7",
            ),
            // trusted IPv6 peer
            ("fd00::2", Some("198.51.100.7"), "198.51.100.7"),
        ];
        for (peer, xff, want) in cases {
            assert_eq!(
                client_ip(ip(peer), *xff, &trusted),
                ip(want),
                "peer {peer} xff {xff:?}"
            );
        }
    }

    #[test]
    fn nothing_trusted_means_the_peer() {
        assert_eq!(
            client_ip(ip("127.0.0.1"), Some("1.1.1.1"), &[]),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn several_header_lines_form_one_list() {
        let trusted = nets(&["127.0.0.1/32", "10.0.0.0/8"]);
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", "6.6.6.6, 198.51.100.7".parse().unwrap());
        h.append("x-forwarded-for", "10.0.0.6".parse().unwrap());
        assert_eq!(
            client_ip_from_headers(ip("127.0.0.1"), &h, &trusted),
            ip("198.51.100.7")
        );

        // The last line is the newest: its untrusted entry wins.
        h.append("x-forwarded-for", "192.0.2.1".parse().unwrap());
        assert_eq!(
            client_ip_from_headers(ip("127.0.0.1"), &h, &trusted),
            ip("192.0.2.1")
        );

        assert_eq!(
            client_ip_from_headers(ip("127.0.0.1"), &HeaderMap::new(), &trusted),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn non_utf8_line_is_malformed() {
        let trusted = nets(&["127.0.0.1/32", "10.0.0.0/8"]);
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", "198.51.100.7".parse().unwrap());
        h.append(
            "x-forwarded-for",
            http::HeaderValue::from_bytes(b"\xff1.2.3.4").unwrap(),
        );
        assert_eq!(
            client_ip_from_headers(ip("127.0.0.1"), &h, &trusted),
            ip("127.0.0.1")
        );
    }
}
