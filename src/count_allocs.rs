//! Allocation counting for `bench/run.sh` (cargo feature `count-allocs`),
//! so the benchmark can report allocations per request (issue 14).
//!
//! A module of the `gatehouse` *binary*, not of the library (which keeps
//! `#![forbid(unsafe_code)]`): a `GlobalAlloc` needs an `unsafe impl`, and
//! this file holds the only unsafe code of the project. It only forwards to
//! the wrapped allocator. The bare Pingora examples include this same file
//! (`#[path]`) so their counts are comparable.
//!
//! Counted: every `alloc`, `alloc_zeroed` and `realloc` call (a `realloc`
//! is a new allocation as far as the cost goes); frees are not counted. The
//! counter is one relaxed atomic shared by all threads, which costs a little
//! per allocation: the benchmark times a normal build and counts with this
//! one in a separate pass.
//!
//! The count is read over loopback: with `GATEHOUSE_ALLOC_COUNTER=IP:PORT`
//! in the environment, a thread listens there and answers every connection
//! with the total so far (`<decimal>\n`) and closes it. Nothing listens
//! without that variable, and a normal build has none of this.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Allocation calls since the process started.
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

/// The environment variable naming the loopback address of the counter.
pub const ADDR_ENV: &str = "GATEHOUSE_ALLOC_COUNTER";

/// `A` with every allocation counted.
pub struct Counting<A>(pub A);

// SAFETY: every method forwards its arguments unchanged to the wrapped
// allocator, which upholds `GlobalAlloc`'s contract; the counter allocates
// nothing.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded as received (see above).
        unsafe { self.0.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded as received.
        unsafe { self.0.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded as received.
        unsafe { self.0.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as received.
        unsafe { self.0.dealloc(ptr, layout) }
    }
}

/// Serve the counter on `$GATEHOUSE_ALLOC_COUNTER` from a background thread,
/// if that is set. A bad address or a port in use ends the process: the
/// benchmark asked for a counter it would otherwise wait for in vain.
pub fn serve_from_env() {
    let Some(addr) = std::env::var_os(ADDR_ENV) else {
        return;
    };
    let addr = addr.to_string_lossy().into_owned();
    let listener = match std::net::TcpListener::bind(&addr) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("{ADDR_ENV}={addr}: cannot listen: {e}");
            std::process::exit(2);
        }
    };
    std::thread::Builder::new()
        .name("alloc-counter".into())
        .spawn(move || {
            for mut conn in listener.incoming().flatten() {
                let total = ALLOCATIONS.load(Ordering::Relaxed);
                // The reader may have gone already; nothing to do then.
                let _ = writeln!(conn, "{total}");
            }
        })
        .expect("spawn the allocation counter thread");
}
