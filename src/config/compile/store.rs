//! `[store]`: where state lives. One Redis node (`url`), a Sentinel
//! deployment (`sentinels` + `sentinel_master`) or a Redis Cluster
//! (`cluster` seeds), SPEC §12, with optional ACL credentials and TLS for
//! the data nodes and the number of replicas that must confirm a write.

use std::time::Duration;

use toml::Spanned;

use super::{section, Compiler};
use crate::config::raw::{self, Str};
use crate::config::{StoreBackend, StoreConfig};
use crate::store::RedisPassword;

const DEFAULT_KEY_PREFIX: &str = "gh:";
/// Longest `[store] local_cache` lifetime accepted.
const MAX_LOCAL_CACHE: Duration = Duration::from_secs(5);
const DEFAULT_STORE_TIMEOUT: Duration = Duration::from_secs(2);
/// More replicas than any deployment has is a typo, not a guarantee.
const MAX_WAIT_REPLICAS: i64 = 16;

impl Compiler<'_> {
    pub(super) fn store(&mut self, raw: Option<Spanned<raw::RawStore>>) -> StoreConfig {
        let (s, _) = section(raw);
        let backend = match &s.backend {
            None => StoreBackend::Memory,
            Some(v) => match v.get_ref().as_str() {
                "memory" => StoreBackend::Memory,
                "redis" => StoreBackend::Redis,
                other => {
                    self.d.at(
                        v.span(),
                        "store.backend",
                        format!("unknown backend {other:?}; use \"memory\" or \"redis\""),
                    );
                    StoreBackend::Memory
                }
            },
        };
        // The URL may hold a password: messages never echo it. A url with
        // the memory backend is allowed (SPEC §2's own example has one) and
        // unused.
        if let Some(v) = &s.url {
            let u = v.get_ref();
            let ok = (u.starts_with("redis://") || u.starts_with("rediss://"))
                && redis::parse_redis_url(u)
                    .is_some_and(|p| p.host_str().is_some_and(|h| !h.is_empty()));
            if !ok {
                self.d.at(
                    v.span(),
                    "store.url",
                    "not a redis URL; write redis://host:port/db (rediss:// for TLS)",
                );
            }
        }
        let sentinels = self.sentinels(&s, backend);
        let cluster = self.cluster(&s, backend);
        if backend == StoreBackend::Redis
            && s.url.is_none()
            && s.sentinels.is_none()
            && s.cluster.is_none()
        {
            let span = s.backend.as_ref().map(|b| b.span());
            self.at(
                span,
                "store.url",
                "missing: backend \"redis\" needs one of url, sentinels or cluster",
            );
        }
        let tls = s.tls.as_ref().is_some_and(|v| {
            if backend != StoreBackend::Redis {
                self.d
                    .at(v.span(), "store.tls", "only with backend = \"redis\"");
            }
            if *v.get_ref() && s.url.is_some() {
                self.d.at(
                    v.span(),
                    "store.tls",
                    "with url, write rediss:// instead (tls is for sentinels and cluster)",
                );
            }
            *v.get_ref()
        });
        let ca_pem = s.ca_file.as_ref().and_then(|v| {
            self.redis_only(v, "store.ca_file", backend);
            let path = self.readable_file(v, "store.ca_file");
            let pem = std::fs::read(&path).ok()?;
            if !pem
                .windows(27)
                .any(|w| w == b"-----BEGIN CERTIFICATE-----")
            {
                self.d.at(
                    v.span(),
                    "store.ca_file",
                    format!("{} holds no PEM certificate", path.display()),
                );
                return None;
            }
            let tls_in_use = tls || s.url.as_ref().is_some_and(|u| u.get_ref().starts_with("rediss://"));
            if !tls_in_use {
                self.d.at(
                    v.span(),
                    "store.ca_file",
                    "only with TLS to the store (a rediss:// url, or tls = true)",
                );
            }
            if s.sentinels.is_some() {
                self.d.at(
                    v.span(),
                    "store.ca_file",
                    "not with sentinels: install the CA in the system's trust store (redis-rs's sentinel client reads only that)",
                );
            }
            Some(pem)
        });
        let wait_replicas = self.int(
            s.wait_replicas.as_ref(),
            "store.wait_replicas",
            0,
            0..MAX_WAIT_REPLICAS + 1,
        );
        if let Some(v) = &s.wait_replicas {
            if backend != StoreBackend::Redis && *v.get_ref() > 0 {
                self.d.at(
                    v.span(),
                    "store.wait_replicas",
                    "only with backend = \"redis\" (memory has no replicas)",
                );
            }
        }
        let url = s
            .url
            .as_ref()
            .map(|v| v.get_ref().clone())
            .unwrap_or_default();
        let key_prefix = s
            .key_prefix
            .as_ref()
            .map_or(DEFAULT_KEY_PREFIX.to_owned(), |v| v.get_ref().clone());
        if let Some(v) = &s.key_prefix {
            if v.get_ref()
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
            {
                self.d.at(
                    v.span(),
                    "store.key_prefix",
                    "must not contain spaces or control characters",
                );
            }
        }
        let timeout = self.positive(s.timeout.as_ref(), "store.timeout", DEFAULT_STORE_TIMEOUT);
        let local_cache =
            self.duration(s.local_cache.as_ref(), "store.local_cache", Duration::ZERO);
        if local_cache > MAX_LOCAL_CACHE {
            let span = s.local_cache.as_ref().map(|v| v.span());
            self.at(
                span,
                "store.local_cache",
                "at most \"5s\": it bounds how long a lost revocation message is ignored",
            );
        }
        let username = s.username.as_ref().map(|v| {
            self.redis_only(v, "store.username", backend);
            if v.get_ref().is_empty() || v.get_ref().chars().any(char::is_whitespace) {
                self.d.at(
                    v.span(),
                    "store.username",
                    "must be a non-empty name without spaces",
                );
            }
            v.get_ref().clone()
        });
        let password = s.password_env.as_ref().and_then(|v| {
            self.redis_only(v, "store.password_env", backend);
            self.env_secret(v, "store.password_env").map(RedisPassword)
        });
        let (sentinels, sentinel_master) = sentinels.unwrap_or_default();
        StoreConfig {
            backend,
            url,
            key_prefix,
            timeout,
            local_cache,
            sentinels,
            sentinel_master,
            cluster,
            tls,
            ca_pem,
            wait_replicas: wait_replicas as u32,
            username,
            password,
        }
    }

    /// `cluster`: seed nodes, alone (not with url or sentinels).
    fn cluster(&mut self, s: &raw::RawStore, backend: StoreBackend) -> Vec<String> {
        let Some(list) = &s.cluster else {
            return Vec::new();
        };
        if backend != StoreBackend::Redis {
            self.d.at(
                list.span(),
                "store.cluster",
                "only with backend = \"redis\"",
            );
        }
        if s.url.is_some() || s.sentinels.is_some() {
            self.d.at(
                list.span(),
                "store.cluster",
                "use exactly one of url, sentinels or cluster",
            );
        }
        self.nodes(list, "store.cluster")
    }

    /// A non-empty list of `host:port` nodes.
    fn nodes(&mut self, list: &Spanned<Vec<Str>>, key: &str) -> Vec<String> {
        if list.get_ref().is_empty() {
            self.d
                .at(list.span(), key, "empty: list the nodes as \"host:port\"");
        }
        let mut addrs = Vec::new();
        for (i, a) in list.get_ref().iter().enumerate() {
            if host_port(a.get_ref()) {
                addrs.push(a.get_ref().clone());
            } else {
                self.d.at(
                    a.span(),
                    format!("{key}[{i}]"),
                    format!("{:?} is not host:port", a.get_ref()),
                );
            }
        }
        addrs
    }

    /// `sentinels` and `sentinel_master`: both or neither, and not with url.
    fn sentinels(
        &mut self,
        s: &raw::RawStore,
        backend: StoreBackend,
    ) -> Option<(Vec<String>, String)> {
        let Some(list) = &s.sentinels else {
            if let Some(m) = &s.sentinel_master {
                self.d.at(
                    m.span(),
                    "store.sentinel_master",
                    "only with sentinels (the master's name the sentinels monitor)",
                );
            }
            return None;
        };
        if backend != StoreBackend::Redis {
            self.d.at(
                list.span(),
                "store.sentinels",
                "only with backend = \"redis\"",
            );
        }
        if s.url.is_some() {
            self.d.at(
                list.span(),
                "store.sentinels",
                "use either url (one node) or sentinels, not both",
            );
        }
        let addrs = self.nodes(list, "store.sentinels");
        let master = match &s.sentinel_master {
            Some(m) => {
                let name = m.get_ref();
                if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    self.d.at(
                        m.span(),
                        "store.sentinel_master",
                        "must be a non-empty name without spaces",
                    );
                }
                name.clone()
            }
            None => {
                self.d.at(
                    list.span(),
                    "store.sentinel_master",
                    "missing: sentinels need the monitored master's name",
                );
                String::new()
            }
        };
        Some((addrs, master))
    }

    fn redis_only(&mut self, v: &Str, key: &str, backend: StoreBackend) {
        if backend != StoreBackend::Redis {
            self.d.at(v.span(), key, "only with backend = \"redis\"");
        }
    }
}

/// `host:port` with a non-empty host (a name, IPv4, or `[IPv6]`) and a
/// port in 1..=65535.
fn host_port(a: &str) -> bool {
    let Some((host, port)) = a.rsplit_once(':') else {
        return false;
    };
    let host_ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        v6.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
    };
    host_ok && port.parse::<u16>().is_ok_and(|p| p > 0)
}

#[cfg(test)]
mod tests {
    use super::host_port;

    #[test]
    fn sentinel_addresses() {
        for (a, ok) in [
            ("h1:26379", true),
            ("127.0.0.1:26379", true),
            ("[::1]:26379", true),
            ("sentinel-0.redis.svc:26379", true),
            ("h1", false),
            (":26379", false),
            ("h1:0", false),
            ("h1:65536", false),
            ("h1:port", false),
            ("redis://h1:26379", false),
            ("::1:26379", false),
            ("h 1:26379", false),
        ] {
            assert_eq!(host_port(a), ok, "{a}");
        }
    }
}
