//! The verified identity of a request.

/// How the request proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    Cookie,
    Bearer,
    ApiKey,
}

impl AuthMethod {
    pub fn as_str(&self) -> &'static str {
        match self {
            AuthMethod::Cookie => "cookie",
            AuthMethod::Bearer => "bearer",
            AuthMethod::ApiKey => "apikey",
        }
    }
}

/// Who made the request, after a successful check against the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user_id: String,
    pub username: String,
    pub email: String,
    pub roles: Vec<String>,
    /// Public session id, when authenticated by a session or its JWT.
    pub sid: Option<String>,
    pub method: AuthMethod,
}
