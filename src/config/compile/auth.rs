//! `[tokens]`, `[session]` and `[login]`: how identities are signed,
//! kept and protected from guessing.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use toml::Spanned;

use super::{section, Compiler};
use crate::auth::password_policy::PasswordPolicy;
use crate::auth::settings::PreviousKeys;
use crate::config::raw::{self, Str};
use crate::config::{
    LoginConfig, SameSite, Secret, SessionConfig, SigningSecret, TokenAlgorithm, TokenConfig,
};

// Defaults (SPEC §2).
const DEFAULT_ISSUER: &str = "gatehouse";
const DEFAULT_AUDIENCE: &str = "apps";
const DEFAULT_ACCESS_TTL: Duration = Duration::from_secs(15 * 60);
const DEFAULT_REFRESH_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
const DEFAULT_REUSE_GRACE: Duration = Duration::from_secs(10);
/// A longer reuse grace would let a stolen, already-rotated refresh token be
/// replayed without tripping reuse detection (SPEC §5).
const MAX_REUSE_GRACE: Duration = Duration::from_secs(60);
const DEFAULT_COOKIE_NAME: &str = "__Host-gatehouse";
const DEFAULT_IDLE: Duration = Duration::from_secs(30 * 60);
const DEFAULT_ABSOLUTE: Duration = Duration::from_secs(12 * 3600);
const DEFAULT_MAX_FAILURES: i64 = 5;
const DEFAULT_LOCKOUT: Duration = Duration::from_secs(15 * 60);
/// HS256 keys shorter than the hash output are brute-forceable offline from
/// any one token (RFC 7518 §3.2 requires >= 256 bits).
const MIN_HMAC_SECRET: usize = 32;

impl Compiler<'_> {
    // ---- [tokens] ----

    pub(super) fn tokens(&mut self, raw: Option<Spanned<raw::RawTokens>>) -> TokenConfig {
        let (t, span) = section(raw);
        let issuer = self.non_empty(t.issuer.as_ref(), "tokens.issuer", DEFAULT_ISSUER);
        let audience = self.non_empty(t.audience.as_ref(), "tokens.audience", DEFAULT_AUDIENCE);
        let algorithm = match &t.algorithm {
            None => TokenAlgorithm::EdDSA,
            Some(v) => match v.get_ref().as_str() {
                "EdDSA" => TokenAlgorithm::EdDSA,
                "ES256" => TokenAlgorithm::ES256,
                "RS256" => TokenAlgorithm::RS256,
                "HS256" => TokenAlgorithm::HS256,
                other => {
                    let msg = format!(
                        "unknown algorithm {other:?}; use one of EdDSA, ES256, RS256, HS256"
                    );
                    self.d.at(v.span(), "tokens.algorithm", msg);
                    TokenAlgorithm::EdDSA
                }
            },
        };
        let alg_span = t.algorithm.as_ref().map(|v| v.span()).or(span);
        let signing = if algorithm == TokenAlgorithm::HS256 {
            if let Some(v) = &t.signing_key_file {
                self.d.at(
                    v.span(),
                    "tokens.signing_key_file",
                    "HS256 uses secret_env, not a key file",
                );
            }
            match &t.secret_env {
                Some(v) => self.hmac_secret(v, "tokens.secret_env"),
                None => {
                    self.at(
                        alg_span,
                        "tokens.secret_env",
                        "missing: HS256 needs secret_env (an environment variable name)",
                    );
                    SigningSecret::KeyFile(PathBuf::new())
                }
            }
        } else {
            if let Some(v) = &t.secret_env {
                self.d.at(
                    v.span(),
                    "tokens.secret_env",
                    "only for HS256; asymmetric algorithms use signing_key_file",
                );
            }
            match &t.signing_key_file {
                Some(v) => SigningSecret::KeyFile(self.readable_file(v, "tokens.signing_key_file")),
                None => {
                    self.at(
                        alg_span,
                        "tokens.signing_key_file",
                        "missing: asymmetric algorithms need signing_key_file (see `gatehouse keys generate`)",
                    );
                    SigningSecret::KeyFile(PathBuf::new())
                }
            }
        };
        let access_ttl = self.positive(
            t.access_ttl.as_ref(),
            "tokens.access_ttl",
            DEFAULT_ACCESS_TTL,
        );
        let refresh_ttl = self.positive(
            t.refresh_ttl.as_ref(),
            "tokens.refresh_ttl",
            DEFAULT_REFRESH_TTL,
        );
        let refresh_reuse_grace = self.duration(
            t.refresh_reuse_grace.as_ref(),
            "tokens.refresh_reuse_grace",
            DEFAULT_REUSE_GRACE,
        );
        if let Some(v) = &t.refresh_reuse_grace {
            if refresh_reuse_grace > MAX_REUSE_GRACE {
                self.d.at(
                    v.span(),
                    "tokens.refresh_reuse_grace",
                    "at most 60s: a long grace window lets a stolen rotated token be replayed undetected",
                );
            }
        }
        let previous_keys = match &t.previous_keys {
            Some(list) => PreviousKeys {
                paths: list.iter().map(|v| self.base.join(v.get_ref())).collect(),
                explicit: true,
            },
            None => match &signing {
                SigningSecret::KeyFile(f) if !f.as_os_str().is_empty() => PreviousKeys {
                    paths: vec![f.parent().unwrap_or(self.base).join("previous")],
                    explicit: false,
                },
                _ => PreviousKeys::default(),
            },
        };
        let previous_secret = match &t.previous_secret_env {
            Some(v) if algorithm != TokenAlgorithm::HS256 => {
                self.d.at(
                    v.span(),
                    "tokens.previous_secret_env",
                    "only for HS256; asymmetric algorithms use previous_keys",
                );
                None
            }
            Some(v) => match self.hmac_secret(v, "tokens.previous_secret_env") {
                SigningSecret::Hmac { secret, .. } => Some(secret),
                SigningSecret::KeyFile(_) => None,
            },
            None => None,
        };
        TokenConfig {
            issuer,
            audience,
            algorithm,
            signing,
            access_ttl,
            refresh_ttl,
            refresh_reuse_grace,
            previous_keys,
            previous_secret,
        }
    }

    /// Read the HS256 secret from the environment now, so a missing or weak
    /// secret fails `check` and start-up rather than the first login.
    fn hmac_secret(&mut self, v: &Str, key: &str) -> SigningSecret {
        let env = v.get_ref().clone();
        let fail = SigningSecret::KeyFile(PathBuf::new());
        let Some(secret) = self.env_var(v, key) else {
            return fail;
        };
        // The message names the variable, never the value.
        if let Some(why) = weak_secret(&secret) {
            self.d.at(
                v.span(),
                key,
                format!("secret in {env} {why}; generate one with `openssl rand -base64 48`"),
            );
            return fail;
        }
        SigningSecret::Hmac {
            env,
            secret: Secret(secret.into_bytes()),
        }
    }

    // ---- [session] ----

    pub(super) fn session(
        &mut self,
        raw: Option<Spanned<raw::RawSession>>,
        server: &crate::config::ServerConfig,
    ) -> SessionConfig {
        let (s, _) = section(raw);
        let cookie_name = match &s.cookie_name {
            None => DEFAULT_COOKIE_NAME.to_owned(),
            Some(v) => match check_cookie_name(v.get_ref()) {
                Ok(()) => v.get_ref().clone(),
                Err(e) => {
                    self.d.at(v.span(), "session.cookie_name", e);
                    DEFAULT_COOKIE_NAME.to_owned()
                }
            },
        };
        let refresh_cookie_name = format!("{cookie_name}-refresh");
        let csrf_cookie_name = format!("{cookie_name}-csrf");
        let idle_timeout = self.positive(
            s.idle_timeout.as_ref(),
            "session.idle_timeout",
            DEFAULT_IDLE,
        );
        let absolute_timeout = self.positive(
            s.absolute_timeout.as_ref(),
            "session.absolute_timeout",
            DEFAULT_ABSOLUTE,
        );
        if absolute_timeout < idle_timeout {
            let (v, key) = match (&s.absolute_timeout, &s.idle_timeout) {
                (Some(v), _) => (Some(v), "session.absolute_timeout"),
                (None, v) => (v.as_ref(), "session.idle_timeout"),
            };
            let msg = "absolute_timeout must not be shorter than idle_timeout";
            self.at(v.map(|v| v.span()), key, msg);
        }
        let same_site = match &s.same_site {
            None => SameSite::Lax,
            Some(v) => match v.get_ref().to_ascii_lowercase().as_str() {
                "strict" => SameSite::Strict,
                "lax" => SameSite::Lax,
                // SameSite=None would hand the CSRF defence to the Origin
                // check alone (SPEC §6).
                "none" => {
                    let msg = "\"None\" sends the session cookie with cross-site requests \
                               (CSRF); use \"Strict\" or \"Lax\"";
                    self.d.at(v.span(), "session.same_site", msg);
                    SameSite::Lax
                }
                _ => {
                    let msg = format!("unknown value {:?}; use \"Strict\" or \"Lax\"", v.get_ref());
                    self.d.at(v.span(), "session.same_site", msg);
                    SameSite::Lax
                }
            },
        };
        let cookie_domain = self.cookie_domain(&s, &cookie_name, server);
        let stream_recheck = self.positive(
            s.stream_recheck.as_ref(),
            "session.stream_recheck",
            Duration::from_secs(30),
        );
        SessionConfig {
            stream_recheck,
            cookie_name,
            cookie_domain,
            refresh_cookie_name,
            csrf_cookie_name,
            idle_timeout,
            absolute_timeout,
            same_site,
        }
    }

    /// `[session] cookie_domain` (SPEC §10): a DNS name (a leading dot is
    /// dropped, as browsers do), only with a cookie name that may carry a
    /// Domain (`__Host-` cookies must not), and covering `public_url`'s
    /// host, where the login page sets the cookie.
    fn cookie_domain(
        &mut self,
        s: &raw::RawSession,
        cookie_name: &str,
        server: &crate::config::ServerConfig,
    ) -> Option<String> {
        let v = s.cookie_domain.as_ref()?;
        let domain = v.get_ref().trim_start_matches('.').to_ascii_lowercase();
        let valid = !domain.is_empty()
            && domain.len() <= 253
            && domain.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !valid {
            let msg = format!(
                "{:?} is not a domain name (e.g. \"example.com\")",
                v.get_ref()
            );
            self.d.at(v.span(), "session.cookie_domain", msg);
            return None;
        }
        if cookie_name.starts_with("__Host-") {
            let at = s.cookie_name.as_ref().map_or(v.span(), |n| n.span());
            let key = if s.cookie_name.is_some() {
                "session.cookie_name"
            } else {
                "session.cookie_domain"
            };
            let msg = format!(
                "a `__Host-` cookie ({cookie_name:?}) cannot have a Domain; with cookie_domain \
                 use a `__Secure-` name, e.g. cookie_name = \"__Secure-gatehouse\""
            );
            self.d.at(at, key, msg);
        }
        let public_host = server.public_origin.as_deref().and_then(|o| {
            let rest = o.split_once("://")?.1;
            Some(match rest.rsplit_once(':') {
                Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h.to_owned(),
                _ => rest.to_owned(),
            })
        });
        match public_host {
            Some(h) if h == domain || h.ends_with(&format!(".{domain}")) => {}
            Some(h) => {
                let msg = format!(
                    "public_url's host {h:?} is not {domain:?} or under it: the login page \
                     could not set the cookie"
                );
                self.d.at(v.span(), "session.cookie_domain", msg);
            }
            None => {
                let msg = "needs [server] public_url (a host under this domain)";
                self.d.at(v.span(), "session.cookie_domain", msg);
            }
        }
        Some(domain)
    }

    // ---- [forward_auth] ----

    pub(super) fn forward_auth(
        &mut self,
        raw: Option<Spanned<raw::RawForwardAuth>>,
    ) -> crate::config::ForwardAuthConfig {
        let (f, _) = section(raw);
        crate::config::ForwardAuthConfig {
            enabled: f.enabled.is_some_and(|v| *v.get_ref()),
        }
    }

    // ---- [login] ----

    pub(super) fn login(&mut self, raw: Option<Spanned<raw::RawLogin>>) -> LoginConfig {
        let (l, _) = section(raw);
        let max_failures = self.int(
            l.max_failures.as_ref(),
            "login.max_failures",
            DEFAULT_MAX_FAILURES,
            1..1001,
        );
        let lockout = self.positive(l.lockout.as_ref(), "login.lockout", DEFAULT_LOCKOUT);
        LoginConfig {
            max_failures: u32::try_from(max_failures).unwrap_or(5),
            lockout,
        }
    }
}

impl Compiler<'_> {
    // ---- [passwords] ----

    pub(super) fn passwords(&mut self, raw: Option<Spanned<raw::RawPasswords>>) -> PasswordPolicy {
        let (p, _) = section(raw);
        let d = PasswordPolicy::default();
        // The login endpoint reads at most MAX_PASSWORD bytes of a password.
        let min = self.int(
            p.min_length.as_ref(),
            "passwords.min_length",
            d.min_length as i64,
            1..MAX_PASSWORD + 1,
        );
        let max = self.int(
            p.max_length.as_ref(),
            "passwords.max_length",
            d.max_length as i64,
            1..MAX_PASSWORD + 1,
        );
        let score = self.int(
            p.min_score.as_ref(),
            "passwords.min_score",
            i64::from(d.min_score),
            0..5,
        );
        if let (Some(v), true) = (&p.max_length, max < min) {
            self.d.at(
                v.span(),
                "passwords.max_length",
                format!("{max} is below min_length ({min})"),
            );
        }
        PasswordPolicy {
            min_length: usize::try_from(min).unwrap_or(d.min_length),
            max_length: usize::try_from(max.max(min)).unwrap_or(d.max_length),
            min_score: u8::try_from(score).unwrap_or(d.min_score),
        }
    }
}

/// Longest password `[passwords] max_length` may allow (the login form
/// reads no more: argon2 on megabytes is a denial of service).
const MAX_PASSWORD: i64 = 1024;

/// RFC 6265 cookie-name: an HTTP token.
fn check_cookie_name(name: &str) -> Result<(), String> {
    let token = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
    if token {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a valid cookie name (letters, digits and !#$%&'*+-.^_`|~ only)"
        ))
    }
}

/// Why an HS256 secret is unfit, if it is. Never includes the secret.
pub(super) fn weak_secret(secret: &str) -> Option<String> {
    if secret.len() < MIN_HMAC_SECRET {
        return Some(format!(
            "is {} bytes; HS256 needs at least {MIN_HMAC_SECRET}",
            secret.len()
        ));
    }
    let distinct: HashSet<u8> = secret.bytes().collect();
    if distinct.len() < 8 {
        return Some("repeats too few characters to be random".into());
    }
    let folded: String = secret
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    // Long words: anywhere (a random string holds them with negligible
    // odds); short ones only at the start.
    const ANYWHERE: &[&str] = &[
        "changeme",
        "changethis",
        "replaceme",
        "placeholder",
        "example",
        "secret",
        "password",
        "yourkey",
        "insertkey",
        "dummy",
        "sample",
    ];
    const LEADING: &[&str] = &["test", "todo", "xxx", "default", "your", "insert", "fixme"];
    let hit = ANYWHERE.iter().any(|w| folded.contains(w))
        || LEADING.iter().any(|w| folded.starts_with(w));
    hit.then(|| "looks like a placeholder".to_owned())
}
