//! Long-lived streams (SPEC §11): a WebSocket (any `101` upgrade), an
//! event stream, or any answer still flowing after `[session]
//! stream_recheck`, re-checks the session or API key it was granted on at
//! least that often, and is closed at the next frame in either direction
//! once it is gone. Short requests never start a watch (nothing spawned on
//! the hot path).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::auth::stream::StreamBasis;
use crate::state::AppState;

/// The watch of one stream; dropping it stops the re-checks.
pub struct StreamWatch {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct Shared {
    /// Set by a failed re-check: the next frame closes the stream.
    closed: AtomicBool,
    /// Set by client frames: the next re-check slides the idle timeout.
    client_sent: AtomicBool,
}

impl StreamWatch {
    /// Re-check `basis` every `stream_recheck` (first at once when
    /// `check_now`: a stream found long-lived after the fact).
    pub fn start(state: Arc<AppState>, basis: StreamBasis, check_now: bool) -> StreamWatch {
        let shared = Arc::new(Shared::default());
        let watched = shared.clone();
        let task = tokio::spawn(async move {
            let every = state.config.session.stream_recheck;
            if !check_now {
                tokio::time::sleep(every).await;
            }
            loop {
                if !still_open(&state, &basis, &watched).await {
                    watched.closed.store(true, Ordering::Release);
                    tracing::info!(
                        event = "stream_closed",
                        "session or API key gone: closing the stream at its next frame"
                    );
                    return;
                }
                tokio::time::sleep(every).await;
            }
        });
        StreamWatch { shared, task }
    }

    /// Whether the stream must be closed now.
    pub fn closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// The client sent a frame (its session counts as in use).
    pub fn client_sent(&self) {
        self.shared.client_sent.store(true, Ordering::Relaxed);
    }
}

impl Drop for StreamWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One re-check. A store that does not answer keeps the stream open (a
/// store outage must not cut every WebSocket; nothing can be revoked while
/// it is down either) and is tried again next time.
async fn still_open(state: &AppState, basis: &StreamBasis, shared: &Shared) -> bool {
    let slide = shared.client_sent.swap(false, Ordering::Relaxed);
    let store = match state.store().await {
        Ok(store) => store,
        Err(e) => {
            tracing::warn!(error = %e, "stream re-check: store unavailable; kept open");
            return true;
        }
    };
    let live = state.live.load();
    match state
        .auth
        .still_valid(basis, &live.users, store.as_ref(), slide)
        .await
    {
        Ok(valid) => valid,
        Err(e) => {
            tracing::warn!(error = %e, "stream re-check failed; kept open");
            true
        }
    }
}
