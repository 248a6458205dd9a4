//! Where access lines go: stderr, through one process-wide buffer that is
//! written out when it holds `FLUSH_AT` bytes, and at least every
//! `FLUSH_EVERY` by a background thread (nginx's `access_log ... buffer=
//! flush=`). A write(2) per line would cost a busy gateway more than
//! making the line; this is one write per ~100 lines.
//!
//! Lines stay whole and in order: one writer at a time takes the whole
//! buffer. If stderr blocks (a stalled log reader), the thread whose line
//! fills the buffer waits for the writer, so memory stays bounded. Lines
//! from the last `FLUSH_EVERY` before a crash or SIGKILL can be lost; a
//! SIGTERM stop waits `shutdown_timeout`, long enough for the last flush.

use std::io::Write;
use std::sync::{Mutex, MutexGuard, Once};
use std::time::Duration;

/// Write out once the buffer holds this much.
const FLUSH_AT: usize = 32 << 10;
/// The longest a line waits in the buffer.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// Lines not yet written.
static PENDING: Mutex<Vec<u8>> = Mutex::new(Vec::new());
/// The writer's buffer: held while writing, so writes happen one at a time
/// and in the order their lines were appended.
static WRITING: Mutex<Vec<u8>> = Mutex::new(Vec::new());

static STARTED: Once = Once::new();

/// Start the background flush (once per process).
pub fn start() {
    STARTED.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("access-log".into())
            .spawn(|| loop {
                std::thread::sleep(FLUSH_EVERY);
                flush();
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the access log flush; lines are written when 32 KiB are pending");
        }
    });
}

/// Queue one whole line (newline included).
pub fn append(line: &[u8]) {
    let full = {
        let mut pending = lock(&PENDING);
        pending.extend_from_slice(line);
        pending.len() >= FLUSH_AT
    };
    if full {
        flush();
    }
}

/// Write out what is pending.
pub fn flush() {
    let mut writing = lock(&WRITING);
    {
        let mut pending = lock(&PENDING);
        if pending.is_empty() {
            return;
        }
        // Swap, not copy: both buffers keep their capacity.
        std::mem::swap(&mut *pending, &mut *writing);
    }
    // A closed stderr leaves nowhere to say so.
    let _ = std::io::stderr().write_all(&writing);
    writing.clear();
}

/// A poisoned lock only means a writer panicked: the bytes are still usable.
fn lock(m: &'static Mutex<Vec<u8>>) -> MutexGuard<'static, Vec<u8>> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
