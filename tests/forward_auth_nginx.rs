//! Forward-auth through a real front proxy (SPEC §10): Debian's nginx with `auth_request`, configured by the README's nginx snippet verbatim,
//! in front of the echo upstream, with gatehouse deciding. The scenarios
//! live in common::fauth, shared with the other front proxy.

mod common;

use common::fauth::{self, FrontRig};
use common::front::Kind;

#[tokio::test]
async fn browser_is_sent_to_login_and_lands_back_on_the_original_url() {
    let rig = FrontRig::start(Kind::Nginx).await;
    fauth::browser_logs_in_and_lands_back(&rig).await;
}

#[tokio::test]
async fn cookie_and_bearer_reach_the_app_with_identity_headers() {
    let rig = FrontRig::start(Kind::Nginx).await;
    fauth::cookie_and_bearer_reach_the_app(&rig).await;
}

#[tokio::test]
async fn client_identity_headers_never_reach_the_app() {
    let rig = FrontRig::start(Kind::Nginx).await;
    fauth::spoofed_identity_never_reaches_the_app(&rig).await;
}

#[tokio::test]
async fn refusals_as_the_front_proxy_passes_them() {
    let rig = FrontRig::start(Kind::Nginx).await;
    fauth::refusals_pass_through(&rig, Kind::Nginx).await;
}

#[tokio::test]
async fn logout_is_effective_at_once() {
    let rig = FrontRig::start(Kind::Nginx).await;
    fauth::logout_is_effective_at_once(&rig).await;
}

#[tokio::test]
async fn deciding_endpoints_are_closed_to_clients() {
    let rig = FrontRig::start(Kind::Nginx).await;
    fauth::deciding_endpoints_are_closed_to_clients(&rig).await;
}
