//! The connection one store call runs on: a node's (a fixed URL or the
//! master the sentinels name: `source.rs`), or a Redis Cluster's (SPEC
//! §12), which sends every command to the node that owns its key's slot and
//! follows `MOVED`, `ASK` and topology changes by itself (redis-rs
//! `cluster_async`). The store's logic runs unchanged on either.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, SingleNodeRoutingInfo, SlotAddr};
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
    /// `pipe` (one write) and then `WAIT replicas timeout`, sent together
    /// as one pipeline on one connection: to the node, or to the master of
    /// `key`'s slot. Sent apart, a reconnect in between (a failover) could
    /// put the WAIT on a connection that made no write, which a new master
    /// "confirms" at once. Returns the write's reply and how many replicas
    /// confirmed it. A cluster slot that moved meanwhile is an error (the
    /// caller answers 503), not followed.
    pub async fn write_and_wait(
        &mut self,
        key: &str,
        mut pipe: Pipeline,
        replicas: u32,
        within: Duration,
    ) -> RedisResult<(Value, i64)> {
        pipe.cmd("WAIT")
            .arg(replicas)
            .arg(within.as_millis().max(1) as u64);
        let replies: Vec<Value> = match self {
            Conn::Node(c) => pipe.query_async(c).await?,
            Conn::Cluster(c) => {
                let route =
                    SingleNodeRoutingInfo::SpecificNode(Route::with_key(key, SlotAddr::Master));
                c.route_pipeline(pipe, 0, 2, route).await?
            }
        };
        let mut replies = replies.into_iter();
        let (Some(reply), Some(confirmed)) = (replies.next(), replies.next()) else {
            return Err(redis::RedisError::from((
                redis::ErrorKind::UnexpectedReturnType,
                "write and WAIT answered short",
            )));
        };
        if let Value::ServerError(e) = reply {
            return Err(e.into());
        }
        Ok((reply, i64::from_redis_value(confirmed)?))
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
