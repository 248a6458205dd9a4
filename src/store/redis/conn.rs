//! The connection one store call runs on: a node's (a fixed URL or the
//! master the sentinels name: `source.rs`), or a Redis Cluster's (SPEC
//! §12), which sends every command to the node that owns its key's slot and
//! follows `MOVED`, `ASK` and topology changes by itself (redis-rs
//! `cluster_async`). The store's logic runs unchanged on either.

use std::time::Duration;

use arc_swap::ArcSwapOption;
use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{Cmd, FromRedisValue, Pipeline, RedisFuture, RedisResult, Value};

use crate::store::StoreError;

#[derive(Clone)]
pub enum Conn {
    Node(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Node(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }
    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Node(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }
    fn get_db(&self) -> i64 {
        match self {
            Conn::Node(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

impl Conn {
    /// `WAIT replicas timeout` where the write to `key` went: on a node,
    /// the same multiplexed connection (WAIT covers this client's writes);
    /// in a cluster, the master of `key`'s slot (redis-rs would otherwise
    /// ask every master and take the least). Returns the replicas that
    /// confirmed.
    pub async fn wait(&mut self, key: &str, replicas: u32, within: Duration) -> RedisResult<i64> {
        let mut cmd = redis::cmd("WAIT");
        cmd.arg(replicas).arg(within.as_millis().max(1) as u64);
        match self {
            Conn::Node(c) => cmd.query_async(c).await,
            Conn::Cluster(c) => {
                let route =
                    SingleNodeRoutingInfo::SpecificNode(Route::with_key(key, SlotAddr::Master));
                let v = c.route_command(cmd, RoutingInfo::SingleNode(route)).await?;
                Ok(i64::from_redis_value(v)?)
            }
        }
    }
}

/// A Redis Cluster's connection, made on first use and kept: redis-rs
/// refreshes the slot map and reconnects nodes under it, so one connection
/// (multiplexed, cheap to clone) serves every thread.
pub struct ClusterConnector {
    client: ClusterClient,
    conn: ArcSwapOption<ClusterConnection>,
    connecting: tokio::sync::Mutex<()>,
}

impl ClusterConnector {
    pub fn new(client: ClusterClient) -> Self {
        ClusterConnector {
            client,
            conn: ArcSwapOption::empty(),
            connecting: tokio::sync::Mutex::new(()),
        }
    }

    /// The connection, connecting (bounded by `within`) when there is none
    /// yet: a cluster that is down at start only fails calls until it is up.
    pub async fn get(&self, within: Duration) -> Result<ClusterConnection, StoreError> {
        if let Some(c) = self.conn.load_full() {
            return Ok((*c).clone());
        }
        let _one = self.connecting.lock().await;
        if let Some(c) = self.conn.load_full() {
            return Ok((*c).clone());
        }
        let c = match tokio::time::timeout(within, self.client.get_async_connection()).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                return Err(StoreError::Unavailable(format!(
                    "redis cluster: {:?}",
                    e.kind()
                )))
            }
            Err(_) => return Err(StoreError::Timeout),
        };
        self.conn.store(Some(std::sync::Arc::new(c.clone())));
        Ok(c)
    }
}
