//! The client's IP: the socket peer, or the X-Forwarded-For entry added by the
//! nearest untrusted hop when the peer is a trusted proxy.

use std::net::IpAddr;

use ipnet::IpNet;

/// Client IP from the socket peer and, only when the peer is trusted, XFF.
pub fn client_ip(_peer: IpAddr, _xff: Option<&str>, _trusted: &[IpNet]) -> IpAddr {
    todo!("policy: client_ip")
}
