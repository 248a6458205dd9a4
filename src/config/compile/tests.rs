//! Loading gateway.toml end to end: the SPEC example, defaults, and a table
//! of bad configs each checked by file, line and key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use http::Method;
use ipnet::IpNet;

mod http2;
mod oidc;
mod store;
mod upstream_tls;

use super::auth::weak_secret;
use super::load;
use crate::config::{
    Config, ConfigError, Diagnostic, SameSite, SigningSecret, StoreBackend, TokenAlgorithm,
};
use crate::policy::routes::Access;
use crate::policy::{LimitKey, Upstream};
use crate::store::GcraRule;

/// A temp directory holding the files configs name, so `load` can
/// check them: keys/signing.pem, users.toml, certs/{cert,key}.pem.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "keys/signing.pem",
            "users.toml",
            "certs/cert.pem",
            "certs/key.pem",
        ] {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "placeholder\n").unwrap();
        }
        Fixture { dir }
    }
    fn path(&self) -> PathBuf {
        self.dir.path().join("gateway.toml")
    }
    fn load(&self, text: &str) -> Result<Config, ConfigError> {
        std::fs::write(self.path(), text).unwrap();
        load(&self.path())
    }
}

/// The smallest valid config, by section; a test snippet replaces the
/// sections whose headers it contains and comes first, so its line
/// numbers are the file's.
const BASE: &[(&str, &str)] = &[
    ("[server]\n", "[server]\nlisten = \"127.0.0.1:8080\"\n"),
    ("[users]\n", "[users]\nfile = \"users.toml\"\n"),
    (
        "[tokens]\n",
        "[tokens]\nsigning_key_file = \"keys/signing.pem\"\n",
    ),
    (
        "[upstreams.app]\n",
        "[upstreams.app]\naddr = \"127.0.0.1:3000\"\n",
    ),
    (
        "[[routes]]\n",
        "[[routes]]\npath = \"/**\"\nupstream = \"app\"\n",
    ),
];

fn with_base(snippet: &str) -> String {
    let mut text = snippet.to_owned();
    for (header, part) in BASE {
        if !snippet.contains(header) {
            text.push('\n');
            text.push_str(part);
        }
    }
    text
}

const SPEC_EXAMPLE: &str = r#"
[server]
listen = "127.0.0.1:8080"            # plain HTTP listener (optional if tls_listen is set)
tls_listen = "0.0.0.0:8443"          # optional TLS listener
tls_cert = "certs/cert.pem"          # PEM chain
tls_key = "certs/key.pem"
threads = 2
trusted_proxies = ["127.0.0.1/32"]   # only these peers' X-Forwarded-For is believed
public_url = "https://app.example.com"   # used for redirects and cookie Secure default
shutdown_timeout = "10s"             # drain time on SIGTERM

[admin]
listen = "127.0.0.1:9090"            # optional: Prometheus /metrics, never on the public listener

[store]
backend = "memory"                   # "memory" (embedded default) | "redis"
url = "redis://127.0.0.1:6379/0"     # for redis; rediss:// for TLS
key_prefix = "gh:"

[users]
file = "users.toml"                  # see section 3

[tokens]
issuer = "gatehouse"
audience = "apps"
algorithm = "EdDSA"                  # EdDSA | ES256 | RS256 | HS256
signing_key_file = "keys/signing.pem"   # private key (asymmetric algorithms)
# secret_env = "GATEHOUSE_JWT_SECRET"   # HS256 only; >= 32 bytes, placeholders refused
access_ttl = "15m"
refresh_ttl = "7d"
refresh_reuse_grace = "10s"          # see section 5

[session]
cookie_name = "__Host-gatehouse"
idle_timeout = "30m"
absolute_timeout = "12h"
same_site = "Lax"                    # Strict | Lax

[login]
max_failures = 5                     # per username, whether or not it exists
lockout = "15m"

[headers]                            # names of the identity headers sent upstream
user = "X-Auth-User"
email = "X-Auth-Email"
roles = "X-Auth-Roles"
strip_prefixes = ["X-Auth-"]         # client-sent headers with these prefixes are removed

[upstreams.app]
addr = "127.0.0.1:3000"

[roles]
admin  = ["*"]
editor = ["posts:read", "posts:write"]
user   = ["posts:read"]

[rate_limits.api]
key = "user"                         # ip | user | route
limit = 100
per = "1m"
burst = 20

[[routes]]                           # first match wins; no match -> 404
path = "/public/**"
upstream = "app"
auth = "public"                      # public | authenticated (default)

[[routes]]
path = "/admin/**"
methods = ["GET", "POST"]
upstream = "app"
roles = ["admin"]                    # any of these roles

[[routes]]
path = "/api/**"
upstream = "app"
permissions = ["posts:read"]         # all of these permissions
rate_limit = "api"
"#;

#[test]
fn spec_example_compiles() {
    let fx = Fixture::new();
    let cfg = fx.load(SPEC_EXAMPLE).unwrap_or_else(|e| panic!("{e}"));
    let dir = fx.dir.path();
    assert_eq!(cfg.path, fx.path());
    let s = &cfg.server;
    assert_eq!(s.listen, Some("127.0.0.1:8080".parse().unwrap()));
    assert_eq!(s.tls_listen, Some("0.0.0.0:8443".parse().unwrap()));
    assert_eq!(
        s.tls_cert.as_deref(),
        Some(dir.join("certs/cert.pem").as_path())
    );
    assert_eq!(
        s.tls_key.as_deref(),
        Some(dir.join("certs/key.pem").as_path())
    );
    assert_eq!(s.threads, 2);
    assert_eq!(
        s.trusted_proxies,
        vec!["127.0.0.1/32".parse::<IpNet>().unwrap()]
    );
    assert_eq!(s.public_origin.as_deref(), Some("https://app.example.com"));
    assert_eq!(s.shutdown_timeout, Duration::from_secs(10));
    assert_eq!(s.auth_prefix, "/auth");
    assert_eq!(s.header_timeout, Duration::from_secs(10));
    assert_eq!(s.keepalive_timeout, Duration::from_secs(75));
    assert_eq!((s.max_connections, s.max_connections_per_ip), (10_000, 256));
    assert_eq!(
        cfg.admin.as_ref().map(|a| a.listen),
        Some("127.0.0.1:9090".parse().unwrap())
    );
    assert_eq!(cfg.store.backend, StoreBackend::Memory);
    assert_eq!(cfg.store.key_prefix, "gh:");
    assert_eq!(cfg.store.timeout, Duration::from_secs(2));
    assert_eq!(cfg.users_file, Some(dir.join("users.toml")));
    let t = &cfg.tokens;
    assert_eq!(
        (t.issuer.as_str(), t.audience.as_str()),
        ("gatehouse", "apps")
    );
    assert_eq!(t.algorithm, TokenAlgorithm::EdDSA);
    assert!(matches!(&t.signing, SigningSecret::KeyFile(p) if p == &dir.join("keys/signing.pem")));
    assert_eq!(t.access_ttl, Duration::from_secs(900));
    assert_eq!(t.refresh_ttl, Duration::from_secs(7 * 86_400));
    assert_eq!(t.refresh_reuse_grace, Duration::from_secs(10));
    assert_eq!(cfg.session.cookie_name, "__Host-gatehouse");
    assert_eq!(cfg.session.refresh_cookie_name, "__Host-gatehouse-refresh");
    assert_eq!(cfg.session.same_site, SameSite::Lax);
    assert_eq!(cfg.session.idle_timeout, Duration::from_secs(1800));
    assert_eq!(cfg.session.absolute_timeout, Duration::from_secs(43_200));
    assert_eq!(cfg.login.max_failures, 5);
    assert_eq!(cfg.login.lockout, Duration::from_secs(900));
    assert_eq!(cfg.headers.user.as_str(), "x-auth-user");
    assert_eq!(cfg.headers.strip_prefixes, vec!["x-auth-".to_owned()]);

    let p = &cfg.policy;
    assert_eq!(p.upstreams.len(), 1);
    assert_eq!(p.upstream_index.get("app"), Some(&0));
    assert!(p.roles.contains("editor") && !p.roles.contains("root"));
    assert_eq!(p.rate_limits.len(), 1);
    let rl = &p.rate_limits[0];
    assert_eq!((rl.name.as_str(), rl.key), ("api", LimitKey::User));
    assert_eq!(
        rl.rule,
        GcraRule {
            limit: 100,
            period: Duration::from_secs(60),
            burst: 20
        }
    );
    let r = &p.routes.routes;
    assert_eq!(r.len(), 3);
    assert_eq!(r[0].access, Access::Public);
    assert_eq!(r[1].methods, Some(vec![Method::GET, Method::POST]));
    assert_eq!(
        r[1].access,
        Access::Authenticated {
            roles: vec!["admin".into()],
            permissions: vec![]
        }
    );
    assert_eq!(
        r[2].access,
        Access::Authenticated {
            roles: vec![],
            permissions: vec!["posts:read".into()]
        }
    );
    assert_eq!(r[2].rate_limit, Some(0));
    assert_eq!(r.iter().map(|r| r.index).collect::<Vec<_>>(), vec![0, 1, 2]);
    let found = p
        .routes
        .find(&Method::GET, Some("app.example.com"), "/api/posts")
        .map(|r| r.index);
    assert_eq!(found, Some(2));
}

#[test]
fn defaults_fill_what_is_left_out() {
    let fx = Fixture::new();
    let cfg = fx.load(&with_base("")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.server.threads, 2);
    assert_eq!(cfg.server.tls_listen, None);
    assert_eq!(cfg.server.public_origin, None);
    assert_eq!(cfg.server.auth_prefix, "/auth");
    assert!(cfg.admin.is_none());
    assert_eq!(cfg.store.backend, StoreBackend::Memory);
    assert_eq!(cfg.store.key_prefix, "gh:");
    assert_eq!(cfg.tokens.issuer, "gatehouse");
    assert_eq!(cfg.tokens.audience, "apps");
    assert_eq!(cfg.tokens.algorithm, TokenAlgorithm::EdDSA);
    assert_eq!(cfg.tokens.access_ttl, Duration::from_secs(900));
    assert_eq!(cfg.tokens.refresh_reuse_grace, Duration::from_secs(10));
    assert_eq!(cfg.session.cookie_name, "__Host-gatehouse");
    assert_eq!(cfg.session.same_site, SameSite::Lax);
    assert_eq!(cfg.login.max_failures, 5);
    let h = &cfg.headers;
    assert_eq!(
        (h.user.as_str(), h.email.as_str(), h.roles.as_str()),
        ("x-auth-user", "x-auth-email", "x-auth-roles")
    );
    assert_eq!(h.strip_prefixes, vec!["x-auth-".to_owned()]);
    let route = &cfg.policy.routes.routes[0];
    assert_eq!(
        route.access,
        Access::Authenticated {
            roles: vec![],
            permissions: vec![]
        }
    );
    assert!(!route.forward_authorization);
    assert!(!cfg.policy.upstreams[0].tls);
    assert_eq!(cfg.server.max_body, 10 * 1024 * 1024);
    assert_eq!(route.max_body, None);
    assert!(cfg.log.access);
}

#[test]
fn policy_compiles_in_file_order_with_indexes() {
    let fx = Fixture::new();
    let text = with_base(
        r#"[server]
listen = "127.0.0.1:8080"
auth_prefix = "/_gate"
public_url = "HTTPS://App.Example.com:443/"

[upstreams.zeta]
addr = "127.0.0.1:4000"
[upstreams.app]
addr = "api.internal:8443"
tls = true
[upstreams.alpha]
addr = "10.0.0.1:443"
tls = true
sni = "alpha.internal"
[upstreams.beta]
addr = "backend:443"
tls = true
sni = "Backend.Example.com"

[roles]
writer = ["posts:write"]

[rate_limits.zz]
key = "ip"
limit = 1
per = "1s"
[rate_limits.aa]
key = "route"
limit = 10
per = "1h"

[[routes]]
path = "/w/**"
methods = ["get", "Delete"]
host = "API.Example.com"
upstream = "alpha"
rate_limit = "aa"
forward_authorization = true
permissions = ["posts:write"]

[[routes]]
path = "/**"
upstream = "zeta"
rate_limit = "zz"
"#,
    );
    let cfg = fx.load(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.server.auth_prefix, "/_gate");
    assert_eq!(
        cfg.server.public_origin.as_deref(),
        Some("https://app.example.com")
    );
    let p = &cfg.policy;
    let names: Vec<&str> = p.upstreams.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["zeta", "app", "alpha", "beta"]);
    assert_eq!(p.upstream_index.get("alpha"), Some(&2));
    assert_eq!(p.upstreams[1].sni, "api.internal");
    assert_eq!(
        p.upstreams[2].sni, "alpha.internal",
        "an IP address is never SNI"
    );
    assert_eq!(p.upstreams[3].sni, "backend.example.com");
    assert_eq!(
        p.upstreams[0],
        Upstream {
            name: "zeta".into(),
            addrs: vec!["127.0.0.1:4000".into()],
            tls: false,
            sni: String::new(),
            ca_certs: None,
            balance: crate::policy::upstream::Balance::RoundRobin,
            health: None,
            resolve_every: Duration::from_secs(30),
            timeouts: Default::default(),
            protocol: crate::policy::UpstreamProtocol::Http1,
        }
    );
    let limits: Vec<&str> = p.rate_limits.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(limits, ["zz", "aa"]);
    let r0 = &p.routes.routes[0];
    assert_eq!(r0.methods, Some(vec![Method::GET, Method::DELETE]));
    assert_eq!(r0.host.as_deref(), Some("api.example.com"));
    assert_eq!(
        (r0.upstream, r0.rate_limit, r0.forward_authorization),
        (Some(2), Some(1), true)
    );
    let r1 = &p.routes.routes[1];
    assert_eq!(
        (r1.index, r1.upstream, r1.rate_limit),
        (1, Some(0), Some(0))
    );
}

#[test]
fn identity_headers_are_always_stripped() {
    let fx = Fixture::new();
    let text = with_base("[headers]\nuser = \"X-User\"\nstrip_prefixes = [\"X_Auth_\"]\n");
    let cfg = fx.load(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        cfg.headers.strip_prefixes,
        vec!["x-auth-".to_owned(), "x-user".to_owned()]
    );
    let text = with_base("[headers]\nstrip_prefixes = []\n");
    let cfg = fx.load(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        cfg.headers.strip_prefixes,
        vec!["x-auth-user", "x-auth-email", "x-auth-roles"]
    );
}

/// The one diagnostic a bad config gives, checked as printed.
fn assert_one(fx: &Fixture, snippet: &str, line: usize, key: &str, msg: &str) {
    let err = match fx.load(&with_base(snippet)) {
        Ok(_) => panic!("accepted:\n{snippet}"),
        Err(e) => e,
    };
    let want = format!("{}:{line}: {key}: ", fx.path().display());
    assert_eq!(
        err.0.len(),
        1,
        "one problem expected for\n{snippet}\ngot:\n{err}"
    );
    let got = err.to_string();
    assert!(
        got.starts_with(&want) && got.contains(msg),
        "for\n{snippet}\nwant {want}...{msg}\ngot  {got}"
    );
}

#[test]
fn bad_configs_name_file_line_and_key() {
    let fx = Fixture::new();
    const L: &str = "[server]\nlisten = \"127.0.0.1:8080\"\n";
    let server = |rest: &str| format!("{L}{rest}");
    let route = |rest: &str| format!("[[routes]]\npath = \"/**\"\nupstream = \"app\"\n{rest}");
    // (snippet, line, key, part of the message)
    let cases: Vec<(String, usize, &str, &str)> = vec![
        (server("listen_addr = \"x\"\n"), 3, "server.listen_addr", "unknown field `listen_addr`"),
        ("[servers]\nlisten = \"x\"\n".into(), 1, "servers", "unknown field `servers`"),
        ("[server]\nlisten = 8080\n".into(), 2, "server.listen", "invalid type: integer `8080`"),
        ("[server\nlisten = \"x\"\n".into(), 1, "server", "unclosed table"),
        (server("shutdown_timeout = \"10 seconds\"\n"), 3, "server.shutdown_timeout", "unknown unit"),
        (server("shutdown_timeout = \"-1s\"\n"), 3, "server.shutdown_timeout", "negative"),
        ("[server]\nlisten = \"localhost:8080\"\n".into(), 2, "server.listen", "not a socket address"),
        ("[server]\nthreads = 2\n".into(), 1, "server.listen", "no listener"),
        (server("threads = 0\n"), 3, "server.threads", "out of range"),
        (server("header_timeout = \"0s\"\n"), 3, "server.header_timeout", "greater than zero"),
        (server("header_timeout = \"10\"\n"), 3, "server.header_timeout", "no unit"),
        (server("keepalive_timeout = \"1.5s\"\n"), 3, "server.keepalive_timeout", "unknown unit"),
        (server("keepalive_timeout = \"0ms\"\n"), 3, "server.keepalive_timeout", "greater than zero"),
        (server("max_connections = 0\n"), 3, "server.max_connections", "out of range"),
        (server("max_connections = \"many\"\n"), 3, "server.max_connections", "invalid type"),
        (server("max_connections_per_ip = -1\n"), 3, "server.max_connections_per_ip", "out of range"),
        (
            server("max_connections = 10\nmax_connections_per_ip = 20\n"),
            4,
            "server.max_connections_per_ip",
            "more than max_connections (10)",
        ),
        (
            server("tls_listen = \"127.0.0.1:8443\"\ntls_key = \"certs/key.pem\"\n"),
            3,
            "server.tls_cert",
            "missing: tls_listen needs a certificate chain",
        ),
        (
            server("tls_listen = \"127.0.0.1:8443\"\ntls_cert = \"certs/nope.pem\"\ntls_key = \"certs/key.pem\"\n"),
            4,
            "server.tls_cert",
            "nope.pem cannot be read",
        ),
        (
            server("tls_listen = \"127.0.0.1:8443\"\ntls_cert = \"certs/cert.pem\"\ntls_key = \"certs\"\n"),
            5,
            "server.tls_key",
            "not a regular file",
        ),
        (server("tls_cert = \"certs/cert.pem\"\n"), 3, "server.tls_cert", "tls_listen is not"),
        (server("trusted_proxies = [\"10.0.0.0/8\", \"10.0.0.0/33\"]\n"), 3, "server.trusted_proxies[1]", "not an IP network"),
        (server("trusted_proxies = [\"0.0.0.0/0\"]\n"), 3, "server.trusted_proxies[0]", "trusts every peer"),
        (server("public_url = \"https://app.example.com/app\"\n"), 3, "server.public_url", "origin only"),
        (server("public_url = \"ftp://app.example.com\"\n"), 3, "server.public_url", "http or https"),
        (server("public_url = \"app.example.com\"\n"), 3, "server.public_url", "not an http(s) URL"),
        (server("public_url = \"https://u:p@app.example.com\"\n"), 3, "server.public_url", "user name"),
        (server("public_url = \"https://app.example.com:99999\"\n"), 3, "server.public_url", "bad port"),
        (server("auth_prefix = \"/auth/\"\n"), 3, "server.auth_prefix", "no trailing"),
        (format!("{L}[admin]\nlisten = \"127.0.0.1:8080\"\n"), 4, "admin.listen", "differ from the public"),
        (format!("{L}[admin]\n"), 3, "admin.listen", "missing"),
        ("[store]\nbackend = \"etcd\"\n".into(), 2, "store.backend", "unknown backend \"etcd\""),
        ("[store]\nbackend = \"redis\"\nurl = \"http://x:1\"\n".into(), 3, "store.url", "not a redis URL"),
        ("[store]\ntimeout = \"0s\"\n".into(), 2, "store.timeout", "greater than zero"),
        ("[store]\nlocal_cache = \"10s\"\n".into(), 2, "store.local_cache", "at most"),
        ("[users]\nfile = \"nope.toml\"\n".into(), 2, "users.file", "nope.toml cannot be read"),
        ("[users]\n".into(), 1, "users.file", "missing"),
        (
            "[tokens]\nalgorithm = \"none\"\nsigning_key_file = \"keys/signing.pem\"\n".into(),
            2,
            "tokens.algorithm",
            "unknown algorithm \"none\"; use one of EdDSA, ES256, RS256, HS256",
        ),
        ("[tokens]\nalgorithm = \"HS256\"\n".into(), 2, "tokens.secret_env", "missing: HS256 needs secret_env"),
        ("[tokens]\nalgorithm = \"ES256\"\n".into(), 2, "tokens.signing_key_file", "missing: asymmetric"),
        ("[tokens]\nsigning_key_file = \"keys/nope.pem\"\n".into(), 2, "tokens.signing_key_file", "cannot be read"),
        (
            "[tokens]\nsigning_key_file = \"keys/signing.pem\"\nsecret_env = \"X\"\n".into(),
            3,
            "tokens.secret_env",
            "only for HS256",
        ),
        (
            "[tokens]\nsigning_key_file = \"keys/signing.pem\"\naccess_ttl = \"0s\"\n".into(),
            3,
            "tokens.access_ttl",
            "greater than zero",
        ),
        (
            "[tokens]\nsigning_key_file = \"keys/signing.pem\"\nrefresh_reuse_grace = \"5m\"\n".into(),
            3,
            "tokens.refresh_reuse_grace",
            "at most 60s",
        ),
        (
            "[tokens]\nsigning_key_file = \"keys/signing.pem\"\nprevious_secret_env = \"X\"\n".into(),
            3,
            "tokens.previous_secret_env",
            "only for HS256",
        ),
        ("[passwords]\nmin_length = 0\n".into(), 2, "passwords.min_length", "out of range"),
        ("[passwords]\nmax_length = 1025\n".into(), 2, "passwords.max_length", "out of range"),
        ("[passwords]\nmin_score = 5\n".into(), 2, "passwords.min_score", "out of range"),
        (
            "[passwords]\nmin_length = 30\nmax_length = 20\n".into(),
            3,
            "passwords.max_length",
            "below min_length",
        ),
        ("[session]\nsame_site = \"None\"\n".into(), 2, "session.same_site", "CSRF"),
        ("[session]\nsame_site = \"Relaxed\"\n".into(), 2, "session.same_site", "use \"Strict\" or \"Lax\""),
        ("[session]\ncookie_name = \"gate house\"\n".into(), 2, "session.cookie_name", "not a valid cookie name"),
        (
            "[session]\nidle_timeout = \"2h\"\nabsolute_timeout = \"1h\"\n".into(),
            3,
            "session.absolute_timeout",
            "not be shorter than idle_timeout",
        ),
        ("[session]\nidle_timeout = \"13h\"\n".into(), 2, "session.idle_timeout", "not be shorter"),
        ("[session]\nstream_recheck = \"0s\"\n".into(), 2, "session.stream_recheck", "greater than zero"),
        ("[login]\nmax_failures = 0\n".into(), 2, "login.max_failures", "out of range"),
        ("[headers]\nuser = \"X Auth User\"\n".into(), 2, "headers.user", "not a valid header name"),
        ("[headers]\nroles = \"Authorization\"\n".into(), 2, "headers.roles", "gateway or HTTP itself owns"),
        ("[headers]\nemail = \"X-Auth-User\"\n".into(), 2, "headers.email", "already used"),
        ("[headers]\nstrip_prefixes = [\"C\"]\n".into(), 2, "headers.strip_prefixes[0]", "would strip the client's content-length"),
        ("[headers]\nstrip_prefixes = [\"\"]\n".into(), 2, "headers.strip_prefixes[0]", "every header"),
        ("[upstreams.app]\naddr = \"127.0.0.1\"\n".into(), 2, "upstreams.app.addr", "not host:port"),
        ("[upstreams.app]\naddr = \"::1:3000\"\n".into(), 2, "upstreams.app.addr", "brackets"),
        ("[upstreams.app]\n".into(), 1, "upstreams.app.addr", "missing"),
        ("[upstreams.app]\naddr = \"a:1\"\nsni = \"a\"\n".into(), 3, "upstreams.app.sni", "tls = true"),
        ("[upstreams.app]\naddr = \"a:1\"\nport = 1\n".into(), 3, "upstreams.app.port", "unknown field `port`"),
        ("[roles]\n\"a,b\" = []\n".into(), 2, "roles.\"a,b\"", "letters, digits"),
        ("[roles]\nuser = [\"posts read\"]\n".into(), 2, "roles.user[0]", "without spaces"),
        ("[rate_limits.api]\nkey = \"ip\"\nlimit = 0\nper = \"1m\"\n".into(), 3, "rate_limits.api.limit", "out of range"),
        ("[rate_limits.api]\nkey = \"session\"\nlimit = 1\nper = \"1m\"\n".into(), 2, "rate_limits.api.key", "unknown key \"session\""),
        ("[rate_limits.api]\nkey = \"ip\"\nlimit = 1\nper = \"0s\"\n".into(), 4, "rate_limits.api.per", "greater than zero"),
        ("[rate_limits.api]\nkey = \"ip\"\nlimit = 1\n".into(), 1, "rate_limits.api.per", "missing"),
        ("[rate_limits.api]\nkey = \"ip\"\nlimit = 5\nper = \"1m\"\nburst = -1\n".into(), 5, "rate_limits.api.burst", "out of range"),
        ("[[routes]]\npath = \"/**\"\nupstream = \"nope\"\n".into(), 3, "routes[0].upstream", "unknown upstream \"nope\""),
        ("[[routes]]\npath = \"/**\"\n".into(), 1, "routes[0].upstream", "missing"),
        ("[[routes]]\nupstream = \"app\"\n".into(), 1, "routes[0].path", "missing"),
        (route("roles = [\"root\"]\n"), 4, "routes[0].roles[0]", "unknown role \"root\""),
        (format!("[roles]\nuser = [\"a\"]\n{}", route("permissions = [\"b\"]\n")), 6, "routes[0].permissions[0]", "grants permission \"b\""),
        (route("rate_limit = \"fast\"\n"), 4, "routes[0].rate_limit", "unknown rate limit \"fast\""),
        ("[[routes]]\npath = \"/api/**/x\"\nupstream = \"app\"\n".into(), 2, "routes[0].path", "last segment"),
        ("[[routes]]\npath = \"api\"\nupstream = \"app\"\n".into(), 2, "routes[0].path", "must start with `/`"),
        (route("methods = [\"GET\", \"GTE\"]\n"), 4, "routes[0].methods[1]", "unknown method \"GTE\""),
        (route("methods = []\n"), 4, "routes[0].methods", "matches nothing"),
        (route("host = \"api.example.com:443\"\n"), 4, "routes[0].host", "no port"),
        (route("host = \"*.example.com\"\n"), 4, "routes[0].host", "no wildcards"),
        (route("auth = \"anonymous\"\n"), 4, "routes[0].auth", "\"public\" or \"authenticated\""),
        (format!("[roles]\nuser = []\n{}", route("auth = \"public\"\nroles = [\"user\"]\n")), 7, "routes[0].roles", "public route"),
        (route("forward_authorization = \"yes\"\n"), 4, "routes[0].forward_authorization", "invalid type"),
        (server("max_body = \"10 MB\"\n"), 3, "server.max_body", "unknown unit \" MB\""),
        (server("max_body = \"10\"\n"), 3, "server.max_body", "no unit"),
        (server("max_body = \"0KB\"\n"), 3, "server.max_body", "out of range (1B..=1024GB)"),
        (server("max_body = 1024\n"), 3, "server.max_body", "invalid type"),
        (route("max_body = \"1.5GB\"\n"), 4, "routes[0].max_body", "unknown unit"),
        (route("max_body = \"0B\"\n"), 4, "routes[0].max_body", "out of range (1B..=1024GB)"),
        ("[log]\naccess = \"yes\"\n".into(), 2, "log.access", "invalid type"),
        ("[log]\nerrors = true\n".into(), 2, "log.errors", "unknown field `errors`"),
        (
            "[[routes]]\npath = \"/**\"\nupstream = \"app\"\n[[routes]]\npath = \"/api/**\"\nupstream = \"app\"\n".into(),
            4,
            "routes[1]",
            "unreachable: routes[0] (line 1)",
        ),
        ("[[routes]]\npath = \"/**\"\nupstream = \"app\"\nroles = 5\n".into(), 4, "routes[0].roles", "invalid type"),
        // Forward-auth (SPEC §10).
        ("[forward_auth]\nenabled = \"yes\"\n".into(), 2, "forward_auth.enabled", "invalid type"),
        ("[forward_auth]\nenable = true\n".into(), 2, "forward_auth.enable", "unknown field `enable`"),
        ("[[routes]]\npath = \"/**\"\n".into(), 1, "routes[0].upstream", "[forward_auth] enabled = true"),
        (
            server("public_url = \"https://auth.example.com\"\n[session]\ncookie_domain = \"example.com\"\n"),
            5,
            "session.cookie_domain",
            "`__Host-` cookie",
        ),
        (
            server("public_url = \"https://auth.example.com\"\n[session]\ncookie_name = \"__Host-x\"\ncookie_domain = \"example.com\"\n"),
            5,
            "session.cookie_name",
            "use a `__Secure-` name",
        ),
        (
            server("public_url = \"https://auth.example.com\"\n[session]\ncookie_name = \"__Secure-gh\"\ncookie_domain = \"other.test\"\n"),
            6,
            "session.cookie_domain",
            "is not \"other.test\" or under it",
        ),
        (
            server("public_url = \"https://example.com.evil.test\"\n[session]\ncookie_name = \"__Secure-gh\"\ncookie_domain = \"example.com\"\n"),
            6,
            "session.cookie_domain",
            "is not \"example.com\" or under it",
        ),
        (
            server("[session]\ncookie_name = \"__Secure-gh\"\ncookie_domain = \"example.com\"\n"),
            5,
            "session.cookie_domain",
            "needs [server] public_url",
        ),
        (
            server("public_url = \"https://auth.example.com\"\n[session]\ncookie_name = \"__Secure-gh\"\ncookie_domain = \"exa mple.com\"\n"),
            6,
            "session.cookie_domain",
            "not a domain name",
        ),
    ];
    for (snippet, line, key, msg) in &cases {
        assert_one(&fx, snippet, *line, key, msg);
    }
}

#[test]
fn forward_auth_keys() {
    let fx = Fixture::new();
    let text = with_base(
        "[server]\nlisten = \"127.0.0.1:8080\"\npublic_url = \"https://auth.example.com\"\n\
         [session]\ncookie_name = \"__Secure-gh\"\ncookie_domain = \".Example.com\"\n\
         [forward_auth]\nenabled = true\n\
         [[routes]]\npath = \"/decided/**\"\n\
         [[routes]]\npath = \"/**\"\nupstream = \"app\"\n",
    );
    let cfg = fx.load(&text).expect("forward-auth config");
    assert!(cfg.forward_auth.enabled);
    assert_eq!(cfg.session.cookie_domain.as_deref(), Some("example.com"));
    let routes = &cfg.policy.routes.routes;
    assert_eq!(routes[0].upstream, None, "decided only");
    assert_eq!(routes[1].upstream, Some(0));
    // Off by default.
    let cfg = fx.load(&with_base("")).expect("base config");
    assert!(!cfg.forward_auth.enabled);
    assert_eq!(cfg.session.cookie_domain, None);
}

#[test]
fn hs256_secret_from_env() {
    let fx = Fixture::new();
    let good = "kJ8v2Qm9xT4rW7zN1pL6sD3fH5gY0aBc";
    let cases: &[(&str, Option<&str>, Option<&str>)] = &[
        ("GH_TEST_HS_MISSING_5f1c", None, Some("is not set")),
        (
            "GH_TEST_HS_SHORT_5f1c",
            Some("kJ8v2Qm9xT4rW7zN"),
            Some("16 bytes; HS256 needs at least 32"),
        ),
        (
            "GH_TEST_HS_CHANGEME_5f1c",
            Some("changeme-changeme-changeme-changeme"),
            Some("placeholder"),
        ),
        (
            "GH_TEST_HS_YOURS_5f1c",
            Some("your-secret-key-goes-here-please!!"),
            Some("placeholder"),
        ),
        (
            "GH_TEST_HS_SAME_5f1c",
            Some("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
            Some("too few characters"),
        ),
        (
            "GH_TEST_HS_EXAMPLE_5f1c",
            Some("Example-Key-0123456789-abcdefghijk"),
            Some("placeholder"),
        ),
        ("GH_TEST_HS_GOOD_5f1c", Some(good), None),
    ];
    for (env, value, want) in cases {
        if let Some(v) = value {
            std::env::set_var(env, v);
        }
        let snippet = format!("[tokens]\nalgorithm = \"HS256\"\nsecret_env = \"{env}\"\n");
        match (fx.load(&with_base(&snippet)), want) {
            (Ok(cfg), None) => match &cfg.tokens.signing {
                SigningSecret::Hmac { env: e, secret } => {
                    assert_eq!((e.as_str(), secret.0.as_slice()), (*env, good.as_bytes()));
                    let debug = format!("{:?}", cfg.tokens);
                    assert!(!debug.contains(good), "secret leaked into Debug: {debug}");
                }
                other => panic!("{other:?}"),
            },
            (Err(e), Some(w)) => {
                let got = e.to_string();
                let prefix = format!("{}:3: tokens.secret_env: ", fx.path().display());
                assert!(got.starts_with(&prefix) && got.contains(w), "{env}: {got}");
                assert!(
                    value.is_none_or(|v| !got.contains(v)),
                    "secret echoed: {got}"
                );
            }
            (r, w) => panic!("{env}: want {w:?}, got {:?}", r.map(|_| ())),
        }
    }
}

#[test]
fn all_problems_reported_together_in_file_order() {
    let fx = Fixture::new();
    let text = with_base(
        "[server]\nlisten = \"nope\"\nshutdown_timeout = \"1y\"\n\n[session]\nsame_site = \"None\"\n\n[[routes]]\npath = \"/x\"\nupstream = \"ghost\"\nroles = [\"root\"]\n",
    );
    let err = fx.load(&text).expect_err("bad config accepted");
    let got: Vec<(usize, &str)> = err.0.iter().map(|d| (d.line, d.key.as_str())).collect();
    assert_eq!(
        got,
        vec![
            (2, "server.listen"),
            (3, "server.shutdown_timeout"),
            (6, "session.same_site"),
            (10, "routes[0].upstream"),
            (11, "routes[0].roles[0]"),
        ],
        "{err}"
    );
    assert_eq!(err.to_string().lines().count(), 5);
}

#[test]
fn syntax_errors_all_reported() {
    let fx = Fixture::new();
    let err = fx
        .load("[server]\nlisten = \n\n[tokens]\nissuer = gatehouse\n")
        .expect_err("accepted");
    let lines: Vec<usize> = err.0.iter().map(|d| d.line).collect();
    assert!(lines.contains(&2) && lines.contains(&5), "{err}");
}

#[test]
fn no_routes_is_an_error() {
    let fx = Fixture::new();
    let text = "[server]\nlisten = \"127.0.0.1:8080\"\n[users]\nfile = \"users.toml\"\n[tokens]\nsigning_key_file = \"keys/signing.pem\"\n";
    let err = fx.load(text).expect_err("accepted");
    assert_eq!(
        err.0,
        vec![Diagnostic {
            file: fx.path(),
            line: 0,
            key: "routes".into(),
            message: "no [[routes]]: every request would be 404; add at least one route".into(),
        }]
    );
}

#[test]
fn missing_config_file_is_line_zero() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.toml");
    let err = load(&path).expect_err("loaded a missing file");
    assert_eq!(err.0.len(), 1);
    assert_eq!((err.0[0].line, err.0[0].key.as_str()), (0, "(file)"));
    assert!(
        err.to_string()
            .starts_with(&format!("{}:0: (file): cannot read:", path.display())),
        "{err}"
    );
}

#[test]
fn weak_secret_table() {
    let cases: &[(&str, bool)] = &[
        ("kJ8v2Qm9xT4rW7zN1pL6sD3fH5gY0aBc", false),
        ("0123456789abcdef0123456789abcdef", false),
        ("short", true),
        ("CHANGE_ME_CHANGE_ME_CHANGE_ME_CHANGE_ME", true),
        ("my-super-secret-signing-key-for-jwt", true),
        ("placeholder-0123456789-0123456789-x", true),
        ("abababababababababababababababababab", true),
        ("TODO: put a real key here 1234567890", true),
    ];
    for (s, weak) in cases {
        assert_eq!(weak_secret(s).is_some(), *weak, "{s}");
    }
}

/// The repo's demo gateway.toml and users file load as shipped (with a
/// stand-in signing key, which is generated and never committed).
#[test]
fn demo_files_load() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("keys")).unwrap();
    std::fs::create_dir_all(dir.path().join("examples")).unwrap();
    std::fs::write(dir.path().join("keys/signing.pem"), "stand-in\n").unwrap();
    for f in ["gateway.toml", "examples/demo-users.toml"] {
        std::fs::copy(root.join(f), dir.path().join(f)).unwrap();
    }
    let cfg = load(&dir.path().join("gateway.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.server.listen, Some("127.0.0.1:8080".parse().unwrap()));
    assert_eq!(cfg.store.backend, StoreBackend::Memory);
    assert_eq!(cfg.policy.routes.routes.len(), 4);
    let roles = &cfg.policy.roles;
    let users =
        crate::config::users::load_configured(cfg.users_file.as_deref(), &|r| roles.contains(r))
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(users.len(), 3);
    let argon = argon2::Argon2::default();
    for (name, role, disabled) in [
        ("alice", "admin", false),
        ("bob", "user", false),
        ("carol", "user", true),
    ] {
        let u = users.get(name).unwrap();
        assert_eq!(
            (u.roles.as_slice(), u.disabled),
            (&[role.to_owned()][..], disabled)
        );
        let hash = argon2::password_hash::PasswordHash::new(&u.password_hash).unwrap();
        let pass = format!("{name}-demo-pass");
        use argon2::PasswordVerifier;
        assert!(
            argon.verify_password(pass.as_bytes(), &hash).is_ok(),
            "{name}'s demo password"
        );
        assert!(argon.verify_password(b"wrong", &hash).is_err());
    }
}

#[test]
fn slow_client_limits_are_read() {
    let fx = Fixture::new();
    let text = with_base(
        "[server]\nlisten = \"127.0.0.1:8080\"\nheader_timeout = \"1500ms\"\nkeepalive_timeout = \"2s\"\nmax_connections = 50\nmax_connections_per_ip = 5\n",
    );
    let cfg = fx.load(&text).unwrap_or_else(|e| panic!("{e}"));
    let s = &cfg.server;
    assert_eq!(s.header_timeout, Duration::from_millis(1500));
    assert_eq!(s.keepalive_timeout, Duration::from_secs(2));
    assert_eq!((s.max_connections, s.max_connections_per_ip), (50, 5));
}

#[test]
fn body_limits_and_access_log_are_read() {
    let fx = Fixture::new();
    let text = "[server]\nlisten = \"127.0.0.1:8080\"\nmax_body = \"512KB\"\n\
        [log]\naccess = false\n\
        [[routes]]\npath = \"/upload/**\"\nupstream = \"app\"\nmax_body = \"1GB\"\n\
        [[routes]]\npath = \"/**\"\nupstream = \"app\"\n";
    let cfg = fx.load(&with_base(text)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.server.max_body, 512 * 1024);
    assert!(!cfg.log.access);
    let routes = &cfg.policy.routes.routes;
    assert_eq!(routes[0].max_body, Some(1 << 30));
    assert_eq!(routes[1].max_body, None);
}

#[test]
fn owner_routes_compile() {
    let fx = Fixture::new();
    let text = "[roles]\nadmin = [\"*\"]\nuser = []\n\
        [[routes]]\npath = \"/users/{uid}/**\"\nupstream = \"app\"\n\
        owner = { uid = \"id\" }\nowner_bypass_roles = [\"admin\"]\n\
        [[routes]]\npath = \"/o/{org}/m/{mail}\"\nupstream = \"app\"\nroles = [\"user\"]\n\
        owner = { mail = \"email\", org = \"username\" }\n\
        [[routes]]\npath = \"/**\"\nupstream = \"app\"\n";
    let cfg = fx.load(&with_base(text)).unwrap_or_else(|e| panic!("{e}"));
    let routes = &cfg.policy.routes.routes;
    assert!(routes[0].owner.is_some() && routes[1].owner.is_some());
    assert!(routes[2].owner.is_none());
    let names: Vec<&str> = routes[1].pattern.capture_names().collect();
    assert_eq!(names, ["org", "mail"]);
}

#[test]
fn bad_owner_routes_name_file_line_and_key() {
    let fx = Fixture::new();
    let roles = "[roles]\nadmin = [\"*\"]\nuser = []\n";
    let route = |path: &str, rest: &str| {
        format!("{roles}[[routes]]\npath = \"{path}\"\nupstream = \"app\"\n{rest}[[routes]]\npath = \"/**\"\nupstream = \"app\"\n")
    };
    // (snippet, line, key, part of the message)
    let cases: Vec<(String, usize, &str, &str)> = vec![
        (
            route("/users/{uid}/**", "owner = { id = \"id\" }\n"),
            7,
            "routes[0].owner.id",
            "{id} is not captured by path \"/users/{uid}/**\"",
        ),
        (
            route("/users/*/**", "owner = { uid = \"id\" }\n"),
            7,
            "routes[0].owner.uid",
            "{uid} is not captured",
        ),
        (
            route("/a/{uid}/b/{uid}", "owner = { uid = \"id\" }\n"),
            5,
            "routes[0].path",
            "capture {uid} appears twice",
        ),
        (
            route("/users/{uid}/**", "owner = { uid = \"sub\" }\n"),
            7,
            "routes[0].owner.uid",
            "unknown identity field \"sub\"",
        ),
        (
            route("/users/{uid}/**", "owner = { uid = \"ID\" }\n"),
            7,
            "routes[0].owner.uid",
            "use \"id\", \"username\" or \"email\"",
        ),
        (
            route("/users/{uid}/**", "owner = {}\n"),
            7,
            "routes[0].owner",
            "empty",
        ),
        (
            route("/users/{uid}/**", "owner = \"id\"\n"),
            7,
            "routes[0].owner",
            "invalid type",
        ),
        (
            route(
                "/users/{uid}/**",
                "owner = { uid = \"id\" }\nowner_bypass_roles = [\"root\"]\n",
            ),
            8,
            "routes[0].owner_bypass_roles[0]",
            "unknown role \"root\"",
        ),
        (
            route("/users/{uid}/**", "owner_bypass_roles = [\"admin\"]\n"),
            7,
            "routes[0].owner_bypass_roles",
            "needs owner",
        ),
        (
            route(
                "/users/{uid}/**",
                "auth = \"public\"\nowner = { uid = \"id\" }\n",
            ),
            8,
            "routes[0].owner",
            "public route",
        ),
        (
            route("/users/x{uid}", ""),
            5,
            "routes[0].path",
            "whole segment",
        ),
        (
            route("/users/{u-id}", ""),
            5,
            "routes[0].path",
            "letters, digits and `_`",
        ),
        (
            route("/users/{1d}", ""),
            5,
            "routes[0].path",
            "not starting with a digit",
        ),
        (
            route("/users/{}", ""),
            5,
            "routes[0].path",
            "capture name {}",
        ),
        (
            route("/users/{uid", ""),
            5,
            "routes[0].path",
            "whole segment",
        ),
    ];
    for (snippet, line, key, msg) in &cases {
        assert_one(&fx, snippet, *line, key, msg);
    }
}

#[test]
fn upstream_pool_keys() {
    let fx = Fixture::new();
    let text = "[upstreams.app]\naddrs = [\"127.0.0.1:3000\", \"127.0.0.1:3001\"]\n\
        balance = \"consistent\"\nread_timeout = \"5s\"\nresolve_every = \"10s\"\n\
        [upstreams.app.health]\npath = \"/healthz\"\ninterval = \"2s\"\nunhealthy_after = 2\n\
        [upstreams.one]\naddr = \"127.0.0.1:4000\"\n\
        [[routes]]\npath = \"/slow/**\"\nupstream = \"app\"\ntimeout = \"90s\"\n\
        [[routes]]\npath = \"/**\"\nupstream = \"one\"\n";
    let cfg = fx.load(&with_base(text)).unwrap_or_else(|e| panic!("{e}"));
    let app = &cfg.policy.upstreams[cfg.policy.upstream_index["app"]];
    assert_eq!(app.addrs, ["127.0.0.1:3000", "127.0.0.1:3001"]);
    assert_eq!(app.balance, crate::policy::upstream::Balance::Consistent);
    assert_eq!(app.timeouts.read, Duration::from_secs(5));
    assert_eq!(app.timeouts.connect, Duration::from_secs(2), "default");
    assert_eq!(app.resolve_every, Duration::from_secs(10));
    let h = app.health.as_ref().expect("health");
    assert_eq!(h.path.as_deref(), Some("/healthz"));
    assert_eq!((h.unhealthy_after, h.healthy_after), (2, 2));
    assert_eq!(h.timeout, Duration::from_secs(1), "default");
    // One address: no checks unless asked; several: TCP checks by default.
    let one = &cfg.policy.upstreams[cfg.policy.upstream_index["one"]];
    assert!(one.health.is_none());
    assert_eq!(
        cfg.policy.routes.routes[0].timeout,
        Some(Duration::from_secs(90))
    );
    let text = "[upstreams.app]\naddrs = [\"127.0.0.1:3000\", \"127.0.0.1:3001\"]\n";
    let cfg = fx.load(&with_base(text)).unwrap();
    let h = cfg.policy.upstreams[0]
        .health
        .clone()
        .expect("default checks");
    assert_eq!(h.path, None, "TCP");
    assert_eq!(h.interval, Duration::from_secs(5));
}

#[test]
fn bad_upstream_pool_keys_name_file_line_and_key() {
    let fx = Fixture::new();
    let up = |rest: &str| format!("[upstreams.app]\n{rest}");
    let two = "addrs = [\"127.0.0.1:1\", \"127.0.0.1:2\"]\n";
    // (snippet, line, key, part of the message)
    let cases: Vec<(String, usize, &str, &str)> = vec![
        (
            up("addr = \"127.0.0.1:1\"\naddrs = [\"127.0.0.1:2\"]\n"),
            3,
            "upstreams.app.addrs",
            "either addr or addrs",
        ),
        (up("addrs = []\n"), 2, "upstreams.app.addrs", "list 1 to"),
        (
            up("addrs = [\"127.0.0.1:1\", \"127.0.0.1:1\"]\n"),
            2,
            "upstreams.app.addrs[1]",
            "listed twice",
        ),
        (
            up("addrs = [\"127.0.0.1:1\", \"nope\"]\n"),
            2,
            "upstreams.app.addrs[1]",
            "not host:port",
        ),
        (
            up(&format!("{two}balance = \"least_conn\"\n")),
            3,
            "upstreams.app.balance",
            "unknown balance \"least_conn\"",
        ),
        (
            up(&format!("{two}connect_timeout = \"0s\"\n")),
            3,
            "upstreams.app.connect_timeout",
            "greater than zero",
        ),
        (
            up(&format!("{two}read_timeout = \"soon\"\n")),
            3,
            "upstreams.app.read_timeout",
            "",
        ),
        (
            up(&format!(
                "{two}[upstreams.app.health]\npath = \"healthz\"\n"
            )),
            4,
            "upstreams.app.health.path",
            "absolute path",
        ),
        (
            up(&format!(
                "{two}[upstreams.app.health]\nunhealthy_after = 0\n"
            )),
            4,
            "upstreams.app.health.unhealthy_after",
            "out of range",
        ),
        (
            up(&format!("{two}[upstreams.app.health]\nport = 1\n")),
            4,
            "upstreams.app.health.port",
            "unknown field `port`",
        ),
        (
            "[[routes]]\npath = \"/**\"\nupstream = \"app\"\ntimeout = \"0s\"\n".into(),
            4,
            "routes[0].timeout",
            "greater than zero",
        ),
    ];
    for (snippet, line, key, msg) in &cases {
        assert_one(&fx, snippet, *line, key, msg);
    }
}

/// `[passwords]` and the rotation keys compile to what the pages and the
/// key loader read (SPEC §14).
#[test]
fn passwords_and_previous_keys() {
    let fx = Fixture::new();
    let cfg = fx.load(&with_base("")).expect("defaults");
    assert_eq!(
        cfg.passwords,
        crate::auth::password_policy::PasswordPolicy::default()
    );
    assert!(!cfg.tokens.previous_keys.explicit);
    assert!(
        cfg.tokens.previous_keys.paths[0].ends_with("keys/previous"),
        "{:?}",
        cfg.tokens.previous_keys
    );
    let cfg = fx
        .load(&with_base(
            "[passwords]\nmin_length = 8\nmax_length = 64\nmin_score = 2\n",
        ))
        .expect("passwords");
    assert_eq!(
        (
            cfg.passwords.min_length,
            cfg.passwords.max_length,
            cfg.passwords.min_score
        ),
        (8, 64, 2)
    );
    let good = "7f3c9a1e5b2d8f4a6c0e9b3d7a1f5c8e2b6d0a4f";
    std::env::set_var("GH_TEST_PREVIOUS_5f1c", good);
    let cfg = fx
        .load(&with_base(
            "[tokens]\nalgorithm = \"HS256\"\nsecret_env = \"GH_TEST_PREVIOUS_5f1c\"\nprevious_secret_env = \"GH_TEST_PREVIOUS_5f1c\"\n",
        ))
        .expect("hs256");
    assert_eq!(
        cfg.tokens.previous_secret.map(|s| s.0),
        Some(good.as_bytes().to_vec())
    );
}
