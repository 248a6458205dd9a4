//! A real 3-master Redis Cluster (the same harness the store's contract
//! tests use: src/store/contract/cluster_nodes.rs) and the `[store]` keys
//! that point a gateway at it.

#[path = "../../src/store/contract/cluster_nodes.rs"]
mod nodes;

pub use nodes::ClusterNodes;

use super::gateway::GatewayBuilder;

/// `[store] cluster = [...]` as TOML.
pub fn seeds_toml(c: &ClusterNodes) -> String {
    let quoted: Vec<String> = c.seeds().iter().map(|s| format!("\"{s}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

/// `b` on the cluster `c`.
pub fn on_cluster(b: GatewayBuilder, c: &ClusterNodes) -> GatewayBuilder {
    b.set("store", "backend", "\"redis\"")
        .unset("store", "url")
        .set("store", "cluster", &seeds_toml(c))
        .set("store", "timeout", "\"1s\"")
}
