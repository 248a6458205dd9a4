//! Authentication: passwords, tokens, keys, sessions, refresh tokens, and the
//! per-request check of a cookie or bearer token against the store.

pub mod check;
pub mod identity;
pub mod keys;
pub mod password;
pub mod refresh;
pub mod session;
pub mod tokens;

pub use identity::{AuthMethod, Identity};
