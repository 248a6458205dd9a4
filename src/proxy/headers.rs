//! (stub until the policy branch is merged)
use std::net::IpAddr;

use pingora::http::RequestHeader;

use crate::auth::Identity;
use crate::config::HeaderConfig;

pub fn sanitize_request(_req: &mut RequestHeader, _cfg: &HeaderConfig, _peer_trusted: bool) {
    todo!()
}
pub fn strip_cookies(_req: &mut RequestHeader, _names: &[&str]) {
    todo!()
}
pub fn set_forwarded(_req: &mut RequestHeader, _client_ip: IpAddr, _proto: &str, _host: &str, _peer_trusted: bool) {
    todo!()
}
pub fn inject_identity(_req: &mut RequestHeader, _cfg: &HeaderConfig, _identity: &Identity) {
    todo!()
}
