//! Pingora ProxyHttp
