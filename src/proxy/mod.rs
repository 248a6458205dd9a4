//! Pingora ProxyHttp
pub mod headers;
