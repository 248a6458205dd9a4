//! `[[oidc]]` as compiled (SPEC §13): one OpenID Connect provider.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The client secret (from `client_secret_env`): never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(pub String);

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, Clone)]
pub struct OidcProviderConfig {
    /// `[a-z0-9-]+`, in the endpoint URLs and in identity ids.
    pub id: String,
    /// The login button's label.
    pub name: String,
    /// Exactly as configured: the ID token's `iss` must equal it.
    pub issuer: String,
    pub client_id: String,
    /// None: a public client (PKCE alone).
    pub client_secret: Option<ClientSecret>,
    pub scopes: Vec<String>,
    pub username_claim: String,
    pub roles_claim: String,
    /// Provider group -> gatehouse role; only mapped groups give roles.
    pub role_map: BTreeMap<String, String>,
    /// Roles of a user none of whose groups map.
    pub default_roles: Vec<String>,
    /// Lower-case; "example.com" exactly, ".example.com" its subdomains.
    pub allowed_email_domains: Vec<String>,
    /// Where the provider sends the browser after RP-initiated logout
    /// (a path on this gateway, or an absolute URL).
    pub post_logout_redirect: String,
    /// A private CA trusted for this provider only.
    pub ca_file: Option<PathBuf>,
    /// A login whose username names a local user becomes that user's session.
    pub link_local: bool,
}

#[cfg(test)]
impl OidcProviderConfig {
    /// A provider `corp` at `https://idp.example.com` for client `gh`, no
    /// roles mapped: the unit tests' starting point.
    pub(crate) fn example() -> Self {
        OidcProviderConfig {
            id: "corp".into(),
            name: "Corp".into(),
            issuer: "https://idp.example.com".into(),
            client_id: "gh".into(),
            client_secret: None,
            scopes: vec!["openid".into()],
            username_claim: "preferred_username".into(),
            roles_claim: "groups".into(),
            role_map: std::collections::BTreeMap::new(),
            default_roles: vec![],
            allowed_email_domains: vec![],
            post_logout_redirect: "/".into(),
            ca_file: None,
            link_local: false,
        }
    }
}
