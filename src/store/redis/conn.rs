//! The connection one store call runs on: a node's (a fixed URL or the
//! master the sentinels name: `source.rs`), or a Redis Cluster's (SPEC
//! §12), which sends every command to the node that owns its key's slot and
//! follows `MOVED`, `ASK` and topology changes by itself (redis-rs
//! `cluster_async`). The store's logic runs unchanged on either.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{Cmd, FromRedisValue, Pipeline, RedisFuture, RedisResult, Value};
use thread_local::ThreadLocal;

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

/// A Redis Cluster's connections: one per proxy thread, made there on first
/// use and kept (redis-rs refreshes the slot map and reconnects nodes under
/// it). Per thread for the reason the node connections are (`RedisStore`):
/// the connection's driver task runs on the runtime of the thread that made
/// it, so a call never waits for a wake-up from another thread.
pub struct ClusterConnector {
    client: ClusterClient,
    conns: ThreadLocal<tokio::sync::OnceCell<ClusterConnection>>,
}

impl ClusterConnector {
    pub fn new(client: ClusterClient) -> Self {
        ClusterConnector {
            client,
            conns: ThreadLocal::new(),
        }
    }

    /// This thread's connection, connecting (bounded by `within`) when there
    /// is none yet: a cluster that is down at start only fails calls until
    /// it is up.
    pub async fn get(&self, within: Duration) -> Result<ClusterConnection, StoreError> {
        let cell = self.conns.get_or(tokio::sync::OnceCell::new);
        cell.get_or_try_init(|| self.connect(within)).await.cloned()
    }

    async fn connect(&self, within: Duration) -> Result<ClusterConnection, StoreError> {
        match tokio::time::timeout(within, self.client.get_async_connection()).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(StoreError::Unavailable(format!(
                "redis cluster: {:?}",
                e.kind()
            ))),
            Err(_) => Err(StoreError::Timeout),
        }
    }
}
