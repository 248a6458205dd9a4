//! The contract on a 3-master Redis Cluster (SPEC §12): the store built from
//! `[store] cluster`, so every script and multi-key step must land on one
//! slot (the cluster refuses `CROSSSLOT` otherwise, and `one_slot` asserts
//! it on every call in debug builds).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::TIMEOUT;
use crate::store::{RedisStore, Store, StoreBackend, StoreConfig};

#[path = "cluster_nodes.rs"]
mod cluster_nodes;
pub(crate) use cluster_nodes::ClusterNodes;

pub(crate) struct ClusterDeployment {
    pub nodes: ClusterNodes,
}

impl ClusterDeployment {
    pub fn spawn() -> Self {
        ClusterDeployment {
            nodes: ClusterNodes::spawn(3),
        }
    }

    pub fn config(&self, prefix: &str) -> StoreConfig {
        StoreConfig {
            backend: StoreBackend::Redis,
            url: String::new(),
            key_prefix: prefix.into(),
            timeout: TIMEOUT,
            local_cache: Duration::ZERO,
            sentinels: Vec::new(),
            sentinel_master: String::new(),
            cluster: self.nodes.seeds(),
            tls: false,
            ca_pem: None,
            wait_replicas: 0,
            username: None,
            password: None,
        }
    }

    /// A store on the cluster, once it answers.
    pub async fn store(&self, prefix: &str) -> RedisStore {
        Self::store_on(&self.config(prefix)).await
    }

    /// A store with `cfg` (this cluster's seeds), once it answers.
    pub async fn store_on(cfg: &StoreConfig) -> RedisStore {
        let s = RedisStore::from_config(cfg).expect("cluster store");
        let deadline = Instant::now() + Duration::from_secs(10);
        while s.ping().await.is_err() {
            assert!(
                Instant::now() < deadline,
                "the cluster store never answered"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        s
    }
}

/// Every Lua script the Redis store has (each `src/store/*.lua` file) runs
/// on the cluster in the contract's behaviours, so none of them touches a
/// key outside its first key's slot (`one_slot`, checked on each call, and
/// the cluster's own `CROSSSLOT` refusal).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_script_runs_on_one_slot_in_a_cluster() {
    let d = ClusterDeployment::spawn();
    let store = |p: &'static str| {
        let d = &d;
        async move { Arc::new(d.store(p).await) as Arc<dyn Store> }
    };
    super::sessions_crud(store("c1:").await).await;
    super::refresh_rotation(store("c2:").await).await;
    super::gcra_limits(store("c3:").await).await;
    super::api_keys(store("c4:").await).await;
    super::user_locks(store("c5:").await).await;
    super::totp_records(store("c6:").await).await;
    super::login_history_bounded(store("c7:").await).await;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/store");
    let mut scripts = 0;
    for entry in std::fs::read_dir(dir).expect("src/store") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "lua") {
            let text = std::fs::read_to_string(&path).expect("script");
            let hash = redis::Script::new(&text).get_hash().to_string();
            assert!(
                crate::store::redis::slot_audit::ran(&hash),
                "{} never ran in the cluster contract",
                path.display()
            );
            scripts += 1;
        }
    }
    assert!(scripts >= 15, "found only {scripts} scripts in {dir}");
}

/// `password_env` / `username` on a cluster whose nodes require a password:
/// the store signs in to every node it is sent to; without the password
/// nothing gets in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_with_a_password() {
    let d = ClusterDeployment {
        nodes: ClusterNodes::spawn_with(3, Some("cl-pw-91d2")),
    };
    let with = RedisStore::from_config(&StoreConfig {
        username: Some("default".into()),
        password: Some(crate::store::RedisPassword("cl-pw-91d2".into())),
        ..d.config("gh:")
    })
    .expect("store");
    let deadline = Instant::now() + Duration::from_secs(10);
    while with.ping().await.is_err() {
        assert!(Instant::now() < deadline, "never in with the password");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    super::sessions_crud(Arc::new(with)).await;
    let without = RedisStore::from_config(&d.config("gh:")).expect("store");
    assert!(without.ping().await.is_err(), "in without the password");
}

/// `wait_replicas` on a cluster: the write and its `WAIT` go to the master
/// of the key's slot together. These masters have no replicas, so a login
/// is `Unconfirmed` (0 of 1), and still applied there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_replicas_on_a_cluster_goes_to_the_slots_master() {
    use crate::store::SessionStore;
    let d = ClusterDeployment::spawn();
    let s = ClusterDeployment::store_on(&StoreConfig {
        wait_replicas: 1,
        ..d.config("gh:")
    })
    .await;
    let now = crate::store::unix_now();
    let rec = super::session("w1", "u1", now, now + super::HOUR);
    match s.create_session(&rec, super::IDLE).await {
        Err(crate::store::StoreError::Unconfirmed {
            wanted: 1,
            confirmed: 0,
        }) => {}
        other => panic!("{other:?}"),
    }
    assert!(s.get_session(&rec.sid).await.expect("get").is_some());
}
