//! The background service behind the upstream pools (SPEC §11): each pool's
//! health checks every `health.interval` and re-resolution every
//! `resolve_every`, on the pools of the policy in force (a reload swaps them;
//! unchanged pools keep their state and their schedule).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;

use crate::state::AppState;
use crate::upstream::Pool;

/// How often the schedule is looked at; finer than any sensible interval.
const TICK: Duration = Duration::from_millis(100);

pub struct UpstreamChecks {
    pub state: Arc<AppState>,
}

/// When a pool is next due for each job.
struct Due {
    check: Instant,
    resolve: Instant,
}

#[async_trait]
impl BackgroundService for UpstreamChecks {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        // Keyed by the pool's address: the same pool object across reloads.
        let mut due: HashMap<usize, Due> = HashMap::new();
        loop {
            let live = self.state.live.load_full();
            let now = Instant::now();
            let mut jobs = Vec::new();
            for pool in live.pools.iter() {
                let u = pool.config();
                let d = due.entry(key(pool)).or_insert(Due {
                    check: now,
                    resolve: now + u.resolve_every,
                });
                let check = u.health.as_ref().is_some_and(|h| {
                    let run = d.check <= now;
                    if run {
                        d.check = now + h.interval;
                    }
                    run
                });
                let resolve = d.resolve <= now;
                if resolve {
                    d.resolve = now + u.resolve_every;
                }
                if check || resolve {
                    let pool = pool.clone();
                    jobs.push(async move {
                        if resolve {
                            pool.refresh().await;
                        }
                        if check {
                            pool.check().await;
                        }
                    });
                }
            }
            due.retain(|k, _| live.pools.iter().any(|p| key(p) == *k));
            tokio::select! {
                _ = futures_util::future::join_all(jobs) => {}
                _ = shutdown.changed() => return,
            }
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

fn key(pool: &Arc<Pool>) -> usize {
    Arc::as_ptr(pool) as usize
}
