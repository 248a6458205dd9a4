//! Authentication: passwords, tokens, keys, sessions, refresh tokens, API
//! keys, TOTP, and the per-request check of a cookie, bearer token or API
//! key against the store.

pub mod apikey;
pub mod authenticator;
pub mod check;
pub mod external;
pub mod history;
pub mod identity;
pub mod keys;
pub mod oidc;
pub mod password;
pub mod password_policy;
pub mod refresh;
pub mod role_names;
pub mod session;
pub mod settings;
pub mod stream;
pub mod tokens;
pub mod totp;
pub mod users;
pub mod verified;

pub use authenticator::Authenticator;
pub use identity::{AuthMethod, Identity, Person};
pub use role_names::RoleNames;
