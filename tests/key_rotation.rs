//! Signing key rotation (SPEC §14): `gatehouse keys rotate --dir keys` and
//! SIGHUP. A token signed before still works, the JWKS lists both keys
//! while both are valid, new tokens carry the new kid, nobody's session
//! ends; once the old key file is removed (and SIGHUP), its tokens are
//! refused.

mod common;

use std::time::{Duration, Instant};

use common::http::bearer_get;
use common::{login, Rig, StoreKind, ALICE_PW, BOB_PW};
use serde_json::Value;

fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_string())
        .collect()
}

fn token_kid(token: &str) -> String {
    use base64::Engine;
    let head = token.split('.').next().expect("header");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(head)
        .expect("base64");
    let v: Value = serde_json::from_slice(&raw).expect("json");
    v["kid"].as_str().expect("kid").to_string()
}

/// SIGHUP, then wait until the JWKS has `n` keys.
async fn reload_until(rig: &Rig, n: usize) -> Vec<String> {
    rig.gw.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let k = kids(&rig.gw.jwks().await);
        if k.len() == n {
            return k;
        }
        assert!(Instant::now() < deadline, "JWKS never had {n} keys: {k:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn rotate_and_sighup_sign_nobody_out() {
    let rig = Rig::start(StoreKind::Memory).await;
    let base = rig.base();
    let c = rig.gw.plain_client();
    let me = format!("{base}/auth/me");

    let before = login(&c, &base, "alice", ALICE_PW).await;
    let old_kid = token_kid(&before.access_token);
    assert_eq!(kids(&rig.gw.jwks().await), vec![old_kid.clone()]);

    let keys = rig.gw.dir().join("keys");
    let out = rig
        .gw
        .cli(&["keys", "rotate", "--dir", keys.to_str().expect("utf-8")]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kept = keys.join("previous").join(format!("{old_kid}.pub.pem"));
    assert!(kept.exists(), "{text}");

    let both = reload_until(&rig, 2).await;
    assert_eq!(both[1], old_kid, "the old key is still published");
    let new_kid = both[0].clone();
    assert_ne!(new_kid, old_kid);

    // The token from before still works; a new one carries the new kid.
    assert_eq!(bearer_get(&c, &me, &before.access_token).await.status, 200);
    let after = login(&c, &base, "bob", BOB_PW).await;
    assert_eq!(token_kid(&after.access_token), new_kid);
    assert_eq!(bearer_get(&c, &me, &after.access_token).await.status, 200);
    // A refresh after the rotation mints with the new key.
    let r = common::http::refresh_with_token(&c, &base, &before.refresh_token).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let refreshed = r.json()["access_token"]
        .as_str()
        .expect("token")
        .to_string();
    assert_eq!(token_kid(&refreshed), new_kid);

    // The old key removed: its tokens are refused at once, even ones that
    // passed before; sessions (cookies) and new-key tokens carry on.
    std::fs::remove_file(&kept).expect("remove old key");
    assert_eq!(reload_until(&rig, 1).await, vec![new_kid.clone()]);
    let r = bearer_get(&c, &me, &before.access_token).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(bearer_get(&c, &me, &after.access_token).await.status, 200);
    assert_eq!(bearer_get(&c, &me, &refreshed).await.status, 200);
    let cookie = common::http::cookie_get(&c, &me, &before.cookie).await;
    assert_eq!(cookie.status, 200, "the session itself lives on");
}
