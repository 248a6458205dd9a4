//! What the upstream sees (SPEC §7): client-sent headers that could spoof an
//! identity, a path or a hop are removed; the gateway's own cookies and
//! credentials are removed; `X-Forwarded-*` and the verified identity are set.
//! And what the client sees on a proxied answer: HSTS and the security
//! headers the app left out.
//!
//! Pure functions over pingora's `RequestHeader`. Order for a proxied
//! request: compute the client IP first (it reads the trusted XFF chain);
//! `sanitize_request` next, best in `request_filter` on the downstream header
//! (it touches no credentials, and pingora then never sees a hostile
//! `Connection`); after authentication, in `upstream_request_filter`:
//! `strip_cookies`, `strip_credentials`, `set_forwarded`, and
//! `inject_identity` last, so nothing removes what we inject.
//!
//! Header names are compared lower-case with `_` folded to `-`: many stacks
//! (CGI/WSGI `HTTP_X_AUTH_USER`, Rails, PHP) make `X_Auth_User` and
//! `X-Auth-User` the same variable, the trick behind header-smuggling
//! identity bypasses of oauth2-proxy and Authelia.
//!
//! Pingora 0.9 (default `HttpUpstreamRequestPolicy`) also strips standard
//! hop-by-hop fields and Connection-nominated fields before
//! `upstream_request_filter`, and answers 400 when `Connection` nominates
//! `Host` or `X-Forwarded-For/-Host/-Proto`. We do our own pass anyway: it
//! must hold whatever peer options are set, and running it in
//! `request_filter` leaves pingora a clean `Connection` header.

use std::net::IpAddr;

use http::header::{self, HeaderName, HeaderValue};
use pingora::http::{RequestHeader, ResponseHeader, StaticHeaderName};

use crate::auth::Identity;
use crate::config::HeaderConfig;
use crate::proxy::ip_text;

/// The headers we set, as written upstream, in both forms: inserting a
/// `StaticHeaderName` allocates nothing for the name (the vendored
/// pingora-http's patch; a non-standard name given as text is copied, and
/// the copy copied again for the case map, on every insert).
static X_FORWARDED_FOR: StaticHeaderName =
    StaticHeaderName::new("X-Forwarded-For", "x-forwarded-for");
static X_FORWARDED_PROTO: StaticHeaderName =
    StaticHeaderName::new("X-Forwarded-Proto", "x-forwarded-proto");
static X_FORWARDED_HOST: StaticHeaderName =
    StaticHeaderName::new("X-Forwarded-Host", "x-forwarded-host");
/// SPEC §11: sent upstream and on every answer.
pub static X_REQUEST_ID: StaticHeaderName = StaticHeaderName::new("X-Request-Id", "x-request-id");
static STRICT_TRANSPORT_SECURITY: StaticHeaderName =
    StaticHeaderName::new("Strict-Transport-Security", "strict-transport-security");
/// `[headers] security`: set on proxied answers that lack them.
static SECURITY_HEADERS: [(StaticHeaderName, &str); 3] = [
    (
        StaticHeaderName::new("X-Content-Type-Options", "x-content-type-options"),
        "nosniff",
    ),
    (
        StaticHeaderName::new("X-Frame-Options", "x-frame-options"),
        "SAMEORIGIN",
    ),
    (
        StaticHeaderName::new("Referrer-Policy", "referrer-policy"),
        "strict-origin-when-cross-origin",
    ),
];

use crate::auth::identity::header_value;
pub use crate::auth::identity::IdentityNames;

/// Headers that carry a path or method other than the request line's. Some
/// frameworks route or authorise on them (IIS/Symfony `X-Original-URL`,
/// Envoy, Spring's `X-Forwarded-Prefix`, method-override middleware), which
/// would let a request matched as `/public` act on `/admin` (SPEC §7).
const REWRITE: &[&str] = &[
    "x-forwarded-uri",
    "x-forwarded-path",
    "x-forwarded-prefix",
    "x-original-url",
    "x-original-uri",
    "x-rewrite-url",
    "x-envoy-original-path",
    "x-forwarded-method",
    "x-original-method",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// Never forwarded, whoever sent them.
const NEVER_FORWARD: &[&str] = &[
    // Credentials for a proxy hop, not for the app.
    "proxy-authorization",
    // Hop-by-hop (RFC 9110 §7.6.1); Pingora owns the upstream connection.
    "proxy-connection",
    "keep-alive",
    // Identity headers of other auth proxies (oauth2-proxy, Authelia,
    // Grafana-style auth-proxy): an app moved behind gatehouse may still
    // trust them.
    "remote-user",
    "remote-email",
    "remote-groups",
    "remote-name",
    "x-remote-user",
    "x-forwarded-user",
    "x-forwarded-email",
    "x-forwarded-groups",
    "x-forwarded-preferred-username",
    "x-forwarded-access-token",
    "x-webauth-user",
];

/// Set by the gateway itself (SPEC §11): the client's, in any spelling, is
/// removed; `upstream_request_filter` sends the request's own id.
const GATEWAY_SET: &[&str] = &["x-request-id"];

/// Prefixes never forwarded (oauth2-proxy `X-Auth-Request-*`, Pomerium).
const NEVER_FORWARD_PREFIXES: &[&str] = &["x-auth-request-", "x-pomerium-"];

/// Hop and client-address headers: believed only from a trusted proxy
/// (SPEC §7); otherwise removed and the ones we own set by `set_forwarded`.
/// Apps use the IP ones for allow-lists, rate limits and audit.
const FORWARDING: &[&str] = &[
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-forwarded-server",
    "x-forwarded-scheme",
    "x-forwarded-ssl",
    "forwarded",
    "x-real-ip",
    "x-client-ip",
    "true-client-ip",
    "cf-connecting-ip",
    "x-cluster-client-ip",
    "front-end-https",
    "x-url-scheme",
];

/// `Connection` tokens kept: they manage the connection, not other fields.
/// `upgrade` stays so Pingora's WebSocket handling sees the handshake.
const CONNECTION_KEEP: &[&str] = &["close", "keep-alive", "upgrade"];

/// Never removed because `Connection` names them: dropping framing fields
/// invites request smuggling, `Host` is needed for routing, and pingora
/// handles `Upgrade` itself.
const CONNECTION_PROTECTED: &[&str] = &["host", "content-length", "transfer-encoding", "upgrade"];

/// Remove every client-sent header that could spoof identity, path, hop or
/// client address, and every header the client's `Connection` tries to drop.
pub fn sanitize_request(req: &mut RequestHeader, cfg: &HeaderConfig, peer_trusted: bool) {
    let (nominated, kept_tokens) = connection_tokens(req);
    let identity = [&cfg.user, &cfg.email, &cfg.roles];

    let doomed: Vec<HeaderName> = req
        .headers
        .keys()
        .filter(|name| {
            let n = name.as_str();
            let listed = |list: &[&str]| list.iter().any(|l| folded_eq(n, l));
            cfg.strip_prefixes.iter().any(|p| folded_starts_with(n, p))
                || identity.iter().any(|h| folded_eq(n, h.as_str()))
                || listed(REWRITE)
                || listed(NEVER_FORWARD)
                || listed(GATEWAY_SET)
                || NEVER_FORWARD_PREFIXES
                    .iter()
                    .any(|p| folded_starts_with(n, p))
                || (!peer_trusted && listed(FORWARDING))
                || (nominated.iter().any(|t| folded_eq(n, t)) && !listed(CONNECTION_PROTECTED))
        })
        .cloned()
        .collect();
    for name in &doomed {
        req.remove_header(name);
    }

    // Rebuild `Connection` from the kept tokens only, so no hop after us
    // can be told to drop a header we inject (`Connection: X-Auth-User`).
    req.remove_header(&header::CONNECTION);
    if !kept_tokens.is_empty() {
        let value = kept_tokens.join(", ");
        // Built from our own constants: always a valid value.
        let _ = req.insert_header(header::CONNECTION, value);
    }
}

/// All `Connection` tokens (every line, comma lists, any case, quotes and
/// spaces trimmed), split into nominated field names and the kept tokens.
fn connection_tokens(req: &RequestHeader) -> (Vec<String>, Vec<&'static str>) {
    let mut nominated = Vec::new();
    let mut kept: Vec<&'static str> = Vec::new();
    for line in req.headers.get_all(header::CONNECTION) {
        for token in line.as_bytes().split(|&b| b == b',') {
            let token = String::from_utf8_lossy(token);
            let token = token
                .trim_matches(|c: char| c.is_ascii_whitespace() || c == '"')
                .to_ascii_lowercase();
            if token.is_empty() {
                continue;
            }
            match CONNECTION_KEEP.iter().find(|k| **k == token) {
                Some(k) if !kept.contains(k) => kept.push(k),
                Some(_) => {}
                None => nominated.push(token),
            }
        }
    }
    (nominated, kept)
}

/// Rewrite the `Cookie` header(s) without the named cookies (the gateway's
/// session and refresh cookies must not reach the app, SPEC §7). Other
/// cookies pass byte for byte, joined into one `Cookie` line as RFC 9113
/// §8.2.3 asks when several arrive; the header goes if nothing is left.
pub fn strip_cookies(req: &mut RequestHeader, names: &[&str]) {
    if !req.headers.contains_key(header::COOKIE) {
        return;
    }
    let mut kept: Vec<&[u8]> = Vec::new();
    for line in req.headers.get_all(header::COOKIE) {
        for pair in line.as_bytes().split(|&b| b == b';') {
            let pair = pair.trim_ascii();
            if pair.is_empty() {
                continue;
            }
            let name = match pair.iter().position(|&b| b == b'=') {
                Some(i) => pair.get(..i).unwrap_or_default().trim_ascii(),
                None => pair,
            };
            if !names.iter().any(|n| n.as_bytes() == name) {
                kept.push(pair);
            }
        }
    }
    let value = (!kept.is_empty())
        .then(|| HeaderValue::from_bytes(&kept.join(&b"; "[..])).ok())
        .flatten();
    // On an (impossible) invalid value the header goes: better no cookies
    // than our session cookie forwarded.
    req.remove_header(&header::COOKIE);
    if let Some(value) = value {
        let _ = req.insert_header(header::COOKIE, value);
    }
}

/// Remove the gateway's own credentials: `X-API-Key` always, and
/// `Authorization` unless the route forwards it (SPEC §5, §7).
pub fn strip_credentials(req: &mut RequestHeader, forward_authorization: bool) {
    if !forward_authorization {
        req.remove_header(&header::AUTHORIZATION);
    }
    // Every spelling (`x_api_key` too), one name at a time: no list is
    // built on the common path, where there is none.
    while let Some(name) = req
        .headers
        .keys()
        .find(|name| folded_eq(name.as_str(), "x-api-key"))
        .cloned()
    {
        req.remove_header(&name);
    }
}

/// HSTS over TLS and, with `[headers] security` on, the security headers
/// the app left out (its own choices win). Static names and values: these
/// inserts allocate nothing.
pub fn secure_answer(resp: &mut ResponseHeader, tls: bool, security: bool) -> pingora::Result<()> {
    if tls {
        resp.insert_header(
            &STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        )?;
    }
    if security {
        for (name, value) in &SECURITY_HEADERS {
            if !resp.headers.contains_key(name.header_name()) {
                resp.insert_header(name, HeaderValue::from_static(value))?;
            }
        }
    }
    Ok(())
}

/// Set `X-Forwarded-For`, `-Proto` and `-Host` (SPEC §7).
///
/// `peer` is the socket peer: each hop appends the address it got the
/// request from. Behind a trusted proxy that is appended to the chain the
/// proxy sent (and the proxy's `-Proto`/`-Host`, the ones the client saw,
/// are kept when present); from anyone else the headers are replaced.
pub fn set_forwarded(
    req: &mut RequestHeader,
    peer: IpAddr,
    proto: &str,
    host: &str,
    peer_trusted: bool,
) {
    // The new value is built in one buffer: the trusted chain (if any),
    // then the peer. One allocation, the header value's own.
    let mut xff: Vec<u8> = Vec::new();
    if peer_trusted {
        for v in req.headers.get_all(X_FORWARDED_FOR.header_name()) {
            let v = v.as_bytes().trim_ascii();
            if !v.is_empty() {
                xff.extend_from_slice(v);
                xff.extend_from_slice(b", ");
            }
        }
    }
    let mut buf = [0; ip_text::MAX_LEN];
    let peer = ip_text::write(peer.to_canonical(), &mut buf);
    let value = if xff.is_empty() {
        HeaderValue::from_bytes(peer).ok()
    } else {
        xff.extend_from_slice(peer);
        HeaderValue::from_bytes(&xff).ok()
    };
    set_or_remove(req, &X_FORWARDED_FOR, value);

    for (name, ours) in [(&X_FORWARDED_PROTO, proto), (&X_FORWARDED_HOST, host)] {
        if peer_trusted && req.headers.contains_key(name.header_name()) {
            continue;
        }
        // The two schemes are static values: no allocation.
        let value = match ours {
            "https" => Some(HeaderValue::from_static("https")),
            "http" => Some(HeaderValue::from_static("http")),
            _ => header_value(ours),
        };
        set_or_remove(req, name, value);
    }
}

/// Set the identity headers: username, email, roles comma-joined (SPEC §7).
///
/// Values come from the users file, so they are checked here too: a value
/// that is not printable ASCII, or has edge spaces, is not sent (the header
/// is left absent, never half-valid); a role that is empty or contains a
/// comma is left out, so no role name can smuggle a second role.
pub fn inject_identity(req: &mut RequestHeader, names: &IdentityHeaders, identity: &Identity) {
    for (name, value) in names.0.iter().zip(identity.header_values()) {
        set_or_remove(req, name, value.clone());
    }
}

/// The configured identity header names (`[headers]`, lower case, leaked
/// once at start) as `StaticHeaderName`s, so their inserts allocate nothing.
pub struct IdentityHeaders([StaticHeaderName; 3]);

impl IdentityHeaders {
    pub fn new(names: IdentityNames) -> Self {
        IdentityHeaders(names.0.map(|n| StaticHeaderName::new(n, n)))
    }
}

/// Replace every line of `name` with `value` (an insert replaces them all),
/// or remove them all.
fn set_or_remove(req: &mut RequestHeader, name: &StaticHeaderName, value: Option<HeaderValue>) {
    match value {
        Some(value) => {
            let _ = req.insert_header(name, value);
        }
        None => {
            req.remove_header(name.header_name());
        }
    }
}

/// ASCII case-insensitive, `_` and `-` equal.
fn fold(b: u8) -> u8 {
    match b {
        b'_' => b'-',
        _ => b.to_ascii_lowercase(),
    }
}

fn folded_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| fold(x) == fold(y))
}

fn folded_starts_with(name: &str, prefix: &str) -> bool {
    name.len() >= prefix.len()
        && name
            .bytes()
            .zip(prefix.bytes())
            .all(|(x, y)| fold(x) == fold(y))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthMethod;

    fn cfg() -> HeaderConfig {
        HeaderConfig {
            user: HeaderName::from_static("x-auth-user"),
            email: HeaderName::from_static("x-auth-email"),
            roles: HeaderName::from_static("x-auth-roles"),
            strip_prefixes: vec!["x-auth-".into()],
            security: true,
        }
    }

    fn req(headers: &[(&'static str, &'static str)]) -> RequestHeader {
        let mut r = RequestHeader::build("GET", b"/", None).unwrap();
        for (n, v) in headers {
            r.append_header(*n, *v).unwrap();
        }
        r
    }

    fn alice() -> Identity {
        Identity::new(
            "u1".into(),
            "alice".into(),
            "alice@example.com".into(),
            vec!["admin".into(), "editor".into()],
            Some("s1".into()),
            AuthMethod::Cookie,
        )
    }

    fn all(r: &RequestHeader, name: &str) -> Vec<String> {
        r.headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect()
    }

    fn names(r: &RequestHeader) -> Vec<String> {
        let mut n: Vec<String> = r.headers.keys().map(|k| k.as_str().to_string()).collect();
        n.sort();
        n
    }

    #[test]
    fn strips_prefix_and_identity_headers_in_any_spelling() {
        let mut c = cfg();
        // An identity header outside the strip prefix is removed too.
        c.user = HeaderName::from_static("remote-login");
        let mut r = req(&[
            ("X_Auth_User", "root"),
            ("x-auth-user", "root"),
            ("X-AUTH-ROLES", "admin"),
            ("x_auth-email", "a@b"),
            ("X-Auth-Anything", "1"),
            ("Remote_Login", "root"),
            ("X-Authorization", "kept"),
            ("Accept", "text/html"),
        ]);
        sanitize_request(&mut r, &c, true);
        assert_eq!(names(&r), ["accept", "x-authorization"]);
    }

    #[test]
    fn strip_prefixes_are_folded_even_if_config_is_not() {
        let mut c = cfg();
        c.strip_prefixes = vec!["X_Internal_".into()];
        let mut r = req(&[
            ("x-internal-admin", "1"),
            ("X_INTERNAL_ADMIN2", "1"),
            ("x-other", "1"),
        ]);
        sanitize_request(&mut r, &c, true);
        assert_eq!(names(&r), ["x-other"]);
    }

    #[test]
    fn strips_rewrite_and_foreign_identity_headers() {
        let mut r = req(&[
            ("X-Forwarded-Uri", "/admin"),
            ("X_Forwarded_Path", "/admin"),
            ("X-Original-URL", "/admin"),
            ("x-original-uri", "/admin"),
            ("X_Rewrite_Url", "/admin"),
            ("X-Envoy-Original-Path", "/admin"),
            ("X-Forwarded-Prefix", "/admin"),
            ("X-HTTP-Method-Override", "DELETE"),
            ("Proxy-Authorization", "Basic eDp5"),
            ("Proxy-Connection", "keep-alive"),
            ("Remote-User", "root"),
            ("X-Forwarded-User", "root"),
            ("X-Auth-Request-Email", "root@x"),
            ("X-Pomerium-Claim-Email", "root@x"),
            ("User-Agent", "kube-probe/1.29"),
        ]);
        sanitize_request(&mut r, &cfg(), true);
        assert_eq!(names(&r), ["user-agent"]);
    }

    /// The gateway sends its own `X-Request-Id`; even a trusted peer's
    /// reaches the upstream only as the gateway's (validated) value.
    #[test]
    fn client_request_ids_are_removed_in_any_spelling() {
        for trusted in [false, true] {
            let mut r = req(&[
                ("X-Request-Id", "forged id"),
                ("X_Request_Id", "forged"),
                ("x-request-id", "second"),
                ("Accept", "*/*"),
            ]);
            sanitize_request(&mut r, &cfg(), trusted);
            assert_eq!(names(&r), ["accept"], "trusted {trusted}");
        }
    }

    #[test]
    fn forwarding_headers_only_believed_from_trusted_peers() {
        let headers = [
            ("X-Forwarded-For", "1.2.3.4"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "evil.example"),
            ("X_Forwarded_For", "1.2.3.4"),
            ("Forwarded", "for=1.2.3.4"),
            ("X-Real-IP", "1.2.3.4"),
            ("True-Client-IP", "1.2.3.4"),
            ("Host", "app.example"),
        ];
        let mut r = req(&headers);
        sanitize_request(&mut r, &cfg(), false);
        assert_eq!(names(&r), ["host"]);

        let mut r = req(&headers);
        sanitize_request(&mut r, &cfg(), true);
        assert_eq!(names(&r).len(), 8);
    }

    #[test]
    fn connection_nominated_headers_removed_then_identity_injected() {
        let mut r = req(&[
            ("Connection", "X-Auth-User, X-Forwarded-For"),
            ("connection", "x-custom-debug , \"X-Quoted\""),
            ("X-Custom-Debug", "1"),
            ("X-Quoted", "1"),
            ("X-Forwarded-For", "6.6.6.6"),
            ("X-Kept", "1"),
        ]);
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        sanitize_request(&mut r, &cfg(), false);
        assert_eq!(names(&r), ["x-kept"]);
        set_forwarded(&mut r, peer, "https", "app.example", false);
        inject_identity(
            &mut r,
            &IdentityHeaders::new(IdentityNames::new(&cfg().user, &cfg().email, &cfg().roles)),
            &alice(),
        );
        assert_eq!(all(&r, "x-auth-user"), ["alice"]);
        assert_eq!(all(&r, "x-forwarded-for"), ["203.0.113.9"]);
        // No `Connection` is left to make a later hop drop what we injected.
        assert!(r.headers.get("connection").is_none());
    }

    #[test]
    fn connection_keeps_only_connection_management_tokens() {
        let mut r = req(&[
            ("Connection", "Keep-Alive, TE"),
            ("Connection", "close,close, Upgrade"),
            ("Keep-Alive", "timeout=5"),
            ("TE", "trailers"),
            ("Upgrade", "websocket"),
        ]);
        sanitize_request(&mut r, &cfg(), false);
        assert_eq!(all(&r, "connection"), ["keep-alive, close, upgrade"]);
        assert_eq!(names(&r), ["connection", "upgrade"]);
    }

    #[test]
    fn connection_cannot_drop_framing_or_host() {
        let mut r = req(&[
            (
                "Connection",
                "Host, Content-Length, Transfer-Encoding, X-Trusted",
            ),
            ("Host", "app.example"),
            ("Content-Length", "5"),
            ("X-Trusted", "1"),
        ]);
        sanitize_request(&mut r, &cfg(), true);
        assert_eq!(names(&r), ["content-length", "host"]);
    }

    #[test]
    fn connection_nomination_matches_folded_names() {
        let mut r = req(&[
            ("Connection", "x_custom"),
            ("X-Custom", "1"),
            ("X_Custom", "1"),
        ]);
        sanitize_request(&mut r, &cfg(), true);
        assert!(names(&r).is_empty());
    }

    #[test]
    fn cookies() {
        let drop = ["__Host-gatehouse", "__Host-gatehouse-refresh"];
        let cases: &[(&[&str], Option<&str>)] = &[
            (&["__Host-gatehouse=s1"], None),
            (&["a=1; __Host-gatehouse=s1; b=2"], Some("a=1; b=2")),
            (
                &[
                    "__Host-gatehouse=s1;a=1",
                    "b=2;  __Host-gatehouse-refresh=r",
                ],
                Some("a=1; b=2"),
            ),
            (
                &["  a=1 ;;  ; __Host-gatehouse = s1 ;b=2  "],
                Some("a=1; b=2"),
            ),
            (&["__Host-gatehouse=s1", "__Host-gatehouse-refresh=r"], None),
            // other cookies pass byte for byte, including odd ones
            (
                &["x=\"q v\"; flag; __Host-gatehouse=s"],
                Some("x=\"q v\"; flag"),
            ),
            // names are exact: look-alikes are not ours and pass
            (
                &["__host-gatehouse=x; __Host-gatehouse2=y"],
                Some("__host-gatehouse=x; __Host-gatehouse2=y"),
            ),
            (&["a=1"], Some("a=1")),
            (&[";"], None),
        ];
        for (lines, want) in cases {
            let mut r = RequestHeader::build("GET", b"/", None).unwrap();
            for l in *lines {
                r.append_header("Cookie", l.to_string()).unwrap();
            }
            strip_cookies(&mut r, &drop);
            let got = all(&r, "cookie");
            match want {
                Some(w) => assert_eq!(got, [*w], "{lines:?}"),
                None => assert!(got.is_empty(), "{lines:?} -> {got:?}"),
            }
        }
    }

    #[test]
    fn credentials() {
        let base = [
            ("Authorization", "Bearer t"),
            ("X-API-Key", "k"),
            ("X_Api_Key", "k"),
            ("Accept", "*/*"),
        ];
        let mut r = req(&base);
        strip_credentials(&mut r, false);
        assert_eq!(names(&r), ["accept"]);
        let mut r = req(&base);
        strip_credentials(&mut r, true);
        assert_eq!(names(&r), ["accept", "authorization"]);
    }

    #[test]
    fn forwarded_replaced_for_untrusted_peer() {
        let mut r = req(&[
            ("X-Forwarded-For", "6.6.6.6"),
            ("X-Forwarded-Proto", "http"),
            ("X-Forwarded-Host", "evil"),
        ]);
        set_forwarded(
            &mut r,
            "203.0.113.9".parse().unwrap(),
            "https",
            "app.example",
            false,
        );
        assert_eq!(all(&r, "x-forwarded-for"), ["203.0.113.9"]);
        assert_eq!(all(&r, "x-forwarded-proto"), ["https"]);
        assert_eq!(all(&r, "x-forwarded-host"), ["app.example"]);
    }

    #[test]
    fn forwarded_appended_for_trusted_peer() {
        let mut r = req(&[
            ("X-Forwarded-For", "198.51.100.7, 10.0.0.1"),
            ("X-Forwarded-For", "10.0.0.2"),
            ("X-Forwarded-Proto", "https"),
        ]);
        set_forwarded(
            &mut r,
            "::ffff:127.0.0.1".parse().unwrap(),
            "http",
            "app.example",
            true,
        );
        assert_eq!(
            all(&r, "x-forwarded-for"),
            ["198.51.100.7, 10.0.0.1, 10.0.0.2, 127.0.0.1"]
        );
        // the trusted proxy saw the client's scheme; ours is only a fallback
        assert_eq!(all(&r, "x-forwarded-proto"), ["https"]);
        assert_eq!(all(&r, "x-forwarded-host"), ["app.example"]);

        let mut r = req(&[]);
        set_forwarded(&mut r, "2001:db8::1".parse().unwrap(), "https", "h", true);
        assert_eq!(all(&r, "x-forwarded-for"), ["2001:db8::1"]);
    }

    #[test]
    fn forwarded_host_never_garbage() {
        let mut r = req(&[("X-Forwarded-Host", "evil")]);
        set_forwarded(
            &mut r,
            "203.0.113.9".parse().unwrap(),
            "https",
            "bad\r\nhost",
            false,
        );
        assert!(r.headers.get("x-forwarded-host").is_none());
    }

    #[test]
    fn identity_injected_replacing_any_client_value() {
        let mut r = req(&[("X-Auth-User", "root"), ("x-auth-roles", "admin")]);
        inject_identity(
            &mut r,
            &IdentityHeaders::new(IdentityNames::new(&cfg().user, &cfg().email, &cfg().roles)),
            &alice(),
        );
        assert_eq!(all(&r, "x-auth-user"), ["alice"]);
        assert_eq!(all(&r, "x-auth-email"), ["alice@example.com"]);
        assert_eq!(all(&r, "x-auth-roles"), ["admin,editor"]);
    }

    #[test]
    fn identity_values_that_cannot_be_headers_are_omitted() {
        let who = |username: &str, roles: &[&str]| {
            Identity::new(
                "u1".into(),
                username.into(),
                String::new(),
                roles.iter().map(|r| r.to_string()).collect(),
                None,
                AuthMethod::Cookie,
            )
        };
        let names =
            IdentityHeaders::new(IdentityNames::new(&cfg().user, &cfg().email, &cfg().roles));
        let id = who(
            "alice\r\nX-Auth-Roles: admin",
            &["user,admin", "", "ed itor", "bad\n", " x"],
        );
        let mut r = req(&[
            ("X-Auth-User", "root"),
            ("X-Auth-Email", "root@x"),
            ("X-Auth-Roles", "admin"),
        ]);
        inject_identity(&mut r, &names, &id);
        assert!(r.headers.get("x-auth-user").is_none());
        assert!(r.headers.get("x-auth-email").is_none());
        // an inner space is printable and harmless; comma and edge spaces are not
        assert_eq!(all(&r, "x-auth-roles"), ["ed itor"]);

        inject_identity(&mut r, &names, &who("alice\r\nX-Auth-Roles: admin", &[]));
        assert!(r.headers.get("x-auth-roles").is_none());
        inject_identity(&mut r, &names, &who("jos\u{e9}", &[]));
        assert!(r.headers.get("x-auth-user").is_none());
    }

    #[test]
    fn wire_form_has_no_stripped_headers() {
        // Pingora keeps a case map next to the HeaderMap; removal must clear
        // both, or the stripped header would still be written.
        let mut r = req(&[
            ("X_Auth_User", "root"),
            ("Connection", "X-Auth-User"),
            ("Accept", "*/*"),
        ]);
        sanitize_request(&mut r, &cfg(), false);
        inject_identity(
            &mut r,
            &IdentityHeaders::new(IdentityNames::new(&cfg().user, &cfg().email, &cfg().roles)),
            &alice(),
        );
        let mut wire = Vec::new();
        r.header_to_h1_wire(&mut wire);
        let wire = String::from_utf8(wire).unwrap().to_ascii_lowercase();
        assert!(!wire.contains("root"), "{wire}");
        assert!(!wire.contains("connection"), "{wire}");
        assert!(wire.contains("x-auth-user: alice"), "{wire}");
    }

    #[test]
    fn answers_get_hsts_over_tls_and_only_the_security_headers_the_app_left_out() {
        let mut resp = ResponseHeader::build(200, None).unwrap();
        resp.insert_header("X-Frame-Options", "DENY").unwrap();
        secure_answer(&mut resp, true, true).unwrap();
        let get =
            |r: &ResponseHeader, n: &str| r.headers.get(n).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(
            get(&resp, "x-frame-options").as_deref(),
            Some("DENY"),
            "the app's own value wins"
        );
        assert_eq!(
            get(&resp, "x-content-type-options").as_deref(),
            Some("nosniff")
        );
        assert_eq!(
            get(&resp, "referrer-policy").as_deref(),
            Some("strict-origin-when-cross-origin")
        );
        assert_eq!(
            get(&resp, "strict-transport-security").as_deref(),
            Some("max-age=31536000; includeSubDomains")
        );
        assert_eq!(resp.headers.get_all("x-frame-options").iter().count(), 1);

        let mut plain = ResponseHeader::build(200, None).unwrap();
        secure_answer(&mut plain, false, false).unwrap();
        assert!(
            plain.headers.is_empty(),
            "no HSTS without TLS, nothing with security off"
        );
    }
}
