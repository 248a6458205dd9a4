//! Check the raw config and compile it into `Config`: every problem collected,
//! cross-references (upstream, role, rate limit names) resolved to indexes.
//!
//! Each section is compiled by one method that records problems in `Diags`
//! and returns a value anyway (defaults standing in for bad values), so one
//! run reports everything; the value is used only when nothing was reported.

mod auth;
mod headers;
mod issuers;
mod oidc;
mod owner;
mod policy;
mod server;
mod store;
#[cfg(test)]
mod tests;
mod upstreams;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use toml::Spanned;

use crate::config::diag::{self, Diags};
use crate::config::duration::parse_duration;
use crate::config::raw::{RawConfig, Str};
use crate::config::size::{parse_size, show_size};
use crate::config::{Config, ConfigError};

/// Load, validate and compile gateway.toml (not the users file or keys,
/// which `state` loads with the file-and-line context they need). Files the
/// config names (TLS cert and key, signing key, users file) must exist and be
/// readable; their contents are checked by their own loaders.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = diag::read_file(path)?;
    compile(path, &text)
}

/// Only `[passwords]` of a config file (for `gatehouse hash-password`,
/// which runs before the users file or the keys it names may exist); the
/// rest must still parse, with no unknown keys.
pub fn load_password_policy(
    path: &Path,
) -> Result<crate::auth::password_policy::PasswordPolicy, ConfigError> {
    let text = diag::read_file(path)?;
    let raw: RawConfig = diag::parse_toml(path, &text)?;
    let base = path.parent().unwrap_or(Path::new(""));
    let mut c = Compiler {
        d: Diags::new(path, &text),
        base,
    };
    let policy = c.passwords(raw.passwords);
    c.d.finish(policy)
}

/// Compile config text as if read from `path` (relative paths resolve
/// against `path`'s directory).
pub fn compile(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let mut raw: RawConfig = diag::parse_toml(path, text)?;
    // Compiled after the policy: role_map targets must name [roles] entries.
    let raw_issuers = raw
        .tokens
        .as_mut()
        .and_then(|t| t.get_mut().trusted_issuers.take());
    let base = path.parent().unwrap_or(Path::new(""));
    let mut c = Compiler {
        d: Diags::new(path, text),
        base,
    };
    let server = c.server(raw.server);
    let admin = c.admin(raw.admin, &server);
    let store = c.store(raw.store);
    let has_oidc = raw.oidc.as_ref().is_some_and(|o| !o.is_empty());
    let users_file = c.users(raw.users, has_oidc);
    let tokens = c.tokens(raw.tokens);
    let session = c.session(raw.session, &server);
    let forward_auth = c.forward_auth(raw.forward_auth);
    let log = c.log(raw.log);
    let login = c.login(raw.login);
    let passwords = c.passwords(raw.passwords);
    let headers = c.headers(raw.headers);
    let policy = c.policy(
        raw.upstreams,
        raw.roles,
        raw.rate_limits,
        raw.routes,
        forward_auth.enabled,
    );
    let trusted_issuers = c.trusted_issuers(raw_issuers, &tokens.issuer, &policy.roles);
    let oidc = c.oidc(raw.oidc, &policy.roles);
    c.d.finish(Config {
        path: path.to_path_buf(),
        server,
        admin,
        store,
        users_file,
        tokens,
        session,
        login,
        passwords,
        headers,
        forward_auth,
        log,
        trusted_issuers,
        oidc,
        policy,
    })
}

struct Compiler<'a> {
    d: Diags<'a>,
    /// Directory of the config file: relative paths resolve against it.
    base: &'a Path,
}

/// A section's contents (or its defaults if absent) and its header's place.
fn section<T: Default>(s: Option<Spanned<T>>) -> (T, Option<Range<usize>>) {
    match s {
        Some(s) => {
            let span = s.span();
            (s.into_inner(), Some(span))
        }
        None => (T::default(), None),
    }
}

impl Compiler<'_> {
    /// A problem at `span`, or with no line when the section is absent.
    fn at(&mut self, span: Option<Range<usize>>, key: impl Into<String>, msg: impl Into<String>) {
        match span {
            Some(span) => self.d.at(span, key, msg),
            None => self.d.nowhere(key, msg),
        }
    }

    fn duration(&mut self, v: Option<&Str>, key: &str, default: Duration) -> Duration {
        match v {
            None => default,
            Some(v) => match parse_duration(v.get_ref()) {
                Ok(d) => d,
                Err(e) => {
                    self.d.at(v.span(), key, e);
                    default
                }
            },
        }
    }

    /// A duration that must be more than zero.
    fn positive(&mut self, v: Option<&Str>, key: &str, default: Duration) -> Duration {
        let d = self.duration(v, key, default);
        if d.is_zero() {
            if let Some(v) = v {
                self.d.at(v.span(), key, "must be greater than zero");
            }
        }
        d
    }

    /// A size ("64KB", "10MB") within `range`, or the default.
    fn size(
        &mut self,
        v: Option<&Str>,
        key: &str,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
    ) -> u64 {
        let Some(v) = v else {
            return default;
        };
        match parse_size(v.get_ref()) {
            Ok(n) if range.contains(&n) => n,
            Ok(_) => {
                let msg = format!(
                    "{:?} is out of range ({}..={})",
                    v.get_ref(),
                    show_size(*range.start()),
                    show_size(*range.end())
                );
                self.d.at(v.span(), key, msg);
                default
            }
            Err(e) => {
                self.d.at(v.span(), key, e);
                default
            }
        }
    }

    fn socket_addr(&mut self, v: &Str, key: &str) -> Option<SocketAddr> {
        match SocketAddr::from_str(v.get_ref()) {
            Ok(a) => Some(a),
            Err(_) => {
                let msg = format!(
                    "{:?} is not a socket address; write IP:port, e.g. \"127.0.0.1:8080\" or \"[::1]:8080\"",
                    v.get_ref()
                );
                self.d.at(v.span(), key, msg);
                None
            }
        }
    }

    /// The value of the environment variable `v` names (any of the
    /// `*_env` keys), read now so that `check` and start-up fail rather
    /// than the first request. The messages name the variable, never a
    /// value.
    fn env_var(&mut self, v: &Str, key: &str) -> Option<String> {
        let env = v.get_ref();
        let problem = if env.is_empty() || env.contains(['=', '\0']) {
            format!("{env:?} is not an environment variable name")
        } else {
            match std::env::var(env) {
                Ok(value) => return Some(value),
                Err(std::env::VarError::NotPresent) => {
                    format!("environment variable {env} is not set")
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    format!("environment variable {env} is not valid UTF-8")
                }
            }
        };
        self.d.at(v.span(), key, problem);
        None
    }

    /// `env_var`, which must not be empty (a password or client secret).
    fn env_secret(&mut self, v: &Str, key: &str) -> Option<String> {
        let value = self.env_var(v, key)?;
        if value.is_empty() {
            let msg = format!("environment variable {} is empty", v.get_ref());
            self.d.at(v.span(), key, msg);
            return None;
        }
        Some(value)
    }

    /// Resolve a path against the config's directory and check it names a
    /// readable file.
    fn readable_file(&mut self, v: &Str, key: &str) -> PathBuf {
        let path = self.base.join(v.get_ref());
        if v.get_ref().is_empty() {
            self.d.at(v.span(), key, "empty path");
            return path;
        }
        let problem = match std::fs::metadata(&path) {
            Ok(m) if !m.is_file() => Some("is not a regular file".to_owned()),
            Ok(_) => std::fs::File::open(&path)
                .err()
                .map(|e| format!("cannot be read: {e}")),
            Err(e) => Some(format!("cannot be read: {e}")),
        };
        if let Some(p) = problem {
            self.d.at(v.span(), key, format!("{} {p}", path.display()));
        }
        path
    }

    /// An integer in `range`, or the default.
    fn int(&mut self, v: Option<&Spanned<i64>>, key: &str, default: i64, range: Range<i64>) -> i64 {
        match v {
            None => default,
            Some(v) if range.contains(v.get_ref()) => *v.get_ref(),
            Some(v) => {
                let msg = format!(
                    "{} is out of range ({}..={})",
                    v.get_ref(),
                    range.start,
                    range.end.saturating_sub(1)
                );
                self.d.at(v.span(), key, msg);
                default
            }
        }
    }

    fn non_empty(&mut self, v: Option<&Str>, key: &str, default: &str) -> String {
        match v {
            None => default.to_owned(),
            Some(v) if v.get_ref().trim().is_empty() => {
                self.d.at(v.span(), key, "must not be empty");
                default.to_owned()
            }
            Some(v) => v.get_ref().clone(),
        }
    }
}

/// Table entries in the order they appear in the file (their spans), so
/// indexes and messages follow the operator's order, not the alphabet.
fn in_file_order<T>(map: Option<BTreeMap<String, Spanned<T>>>) -> Vec<(String, Spanned<T>)> {
    let mut list: Vec<_> = map.unwrap_or_default().into_iter().collect();
    list.sort_by_key(|(_, v)| v.span().start);
    list
}
