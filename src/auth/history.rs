//! Sign-in history (SPEC §14): every attempt for a known user is kept
//! (newest first, `KEEP` per user, `refresh_ttl` long), and a successful
//! sign-in from a device never seen before is marked: a device is the
//! client's IPv4 /24 (IPv6 /64) with the user agent's family, the user
//! agent without its version numbers, so a browser update is not a new
//! device but another network or browser is.

use std::net::IpAddr;
use std::time::Duration;

use crate::store::{LoginEvent, Store, StoreError};

/// Attempts kept per user.
pub const KEEP: usize = 50;

/// What an attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Failed,
    Lockout,
    MfaFailed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::Lockout => "lockout",
            Outcome::MfaFailed => "mfa_failed",
        }
    }
}

/// One attempt, as the endpoint saw it.
pub struct Attempt<'a> {
    pub user_id: &'a str,
    pub ip: &'a str,
    pub user_agent: &'a str,
    pub outcome: Outcome,
    pub provider: &'a str,
    pub now: i64,
}

/// Record an attempt; for a successful one, whether it came from a new
/// device (no earlier successful sign-in in the kept history had its key).
pub async fn record(store: &dyn Store, a: &Attempt<'_>, ttl: Duration) -> Result<bool, StoreError> {
    let device = device_key(a.ip, a.user_agent);
    let new_device = if a.outcome == Outcome::Ok {
        let earlier = store.login_history(a.user_id, KEEP).await?;
        !earlier
            .iter()
            .any(|e| e.result == "ok" && e.device == device)
    } else {
        false
    };
    let event = LoginEvent {
        time: a.now,
        ip: a.ip.to_owned(),
        user_agent: a.user_agent.to_owned(),
        result: a.outcome.as_str().to_owned(),
        provider: a.provider.to_owned(),
        new_device,
        device,
    };
    store.push_login(a.user_id, &event, KEEP, ttl).await?;
    Ok(new_device)
}

/// `<network>|<user-agent family>`.
pub fn device_key(ip: &str, user_agent: &str) -> String {
    format!("{}|{}", network(ip), ua_family(user_agent))
}

/// The IPv4 /24 or IPv6 /64 holding `ip` (the text itself if unparsable).
pub fn network(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => ipnet::Ipv4Net::new(v4, 24)
            .map(|n| n.trunc().to_string())
            .unwrap_or_default(),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => network(&v4.to_string()),
            None => ipnet::Ipv6Net::new(v6, 64)
                .map(|n| n.trunc().to_string())
                .unwrap_or_default(),
        },
        Err(_) => ip.to_owned(),
    }
}

/// The user agent with its version numbers removed: digits, and the dots
/// and underscores between them, are dropped.
pub fn ua_family(ua: &str) -> String {
    let chars: Vec<char> = ua.chars().collect();
    let digit = |i: Option<usize>| {
        i.and_then(|i| chars.get(i))
            .is_some_and(char::is_ascii_digit)
    };
    let mut out = String::with_capacity(ua.len());
    for (i, c) in chars.iter().enumerate() {
        let separator = matches!(c, '.' | '_') && (digit(i.checked_sub(1)) || digit(Some(i + 1)));
        if !c.is_ascii_digit() && !separator {
            out.push(*c);
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ua_family_drops_versions() {
        let cases = [
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0.6099.109 Safari/537.36",
                "Mozilla/ (X; Linux x) AppleWebKit/ Chrome/ Safari/",
            ),
            ("curl/8.5.0", "curl/"),
            ("Firefox/121.0", "Firefox/"),
            ("Mac OS X 10_15_7", "Mac OS X"),
            ("", ""),
        ];
        for (ua, want) in cases {
            assert_eq!(ua_family(ua), want, "{ua}");
        }
        assert_eq!(
            ua_family("Chrome/120.0.1 Safari"),
            ua_family("Chrome/121.3.9 Safari")
        );
        assert_ne!(ua_family("Chrome/120"), ua_family("Firefox/120"));
    }

    #[test]
    fn networks() {
        assert_eq!(network("192.0.2.77"), "192.0.2.0/24");
        assert_eq!(network("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
        assert_eq!(network("::ffff:192.0.2.9"), "192.0.2.0/24");
        assert_eq!(network("junk"), "junk");
    }

    #[test]
    fn device_keys() {
        assert_eq!(
            device_key("10.1.2.3", "curl/8.0"),
            device_key("10.1.2.200", "curl/8.5")
        );
        assert_ne!(
            device_key("10.1.2.3", "curl/8.0"),
            device_key("10.1.3.3", "curl/8.0")
        );
    }

    #[tokio::test]
    async fn new_devices_are_marked() {
        let store = crate::store::MemoryStore::new();
        let ttl = Duration::from_secs(60);
        let at = |ip, ua, outcome| Attempt {
            user_id: "u1",
            ip,
            user_agent: ua,
            outcome,
            provider: "local",
            now: 1,
        };
        let s: &dyn Store = &store;
        assert!(!record(s, &at("10.0.0.1", "a/1", Outcome::Failed), ttl)
            .await
            .unwrap_or(true));
        assert!(record(s, &at("10.0.0.1", "a/1", Outcome::Ok), ttl)
            .await
            .unwrap_or(false));
        assert!(!record(s, &at("10.0.0.9", "a/2", Outcome::Ok), ttl)
            .await
            .unwrap_or(true));
        assert!(record(s, &at("10.0.1.9", "a/2", Outcome::Ok), ttl)
            .await
            .unwrap_or(false));
        let h = s.login_history("u1", 10).await.unwrap_or_default();
        assert_eq!(h.len(), 4);
        assert_eq!(h[0].ip, "10.0.1.9");
        assert!(h[0].new_device && !h[1].new_device && h[2].new_device && !h[3].new_device);
    }
}
