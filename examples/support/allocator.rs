//! The allocator of the tuned bench proxies (`bare_proxy_tuned`,
//! `bare_proxy_required`): mimalloc, as in the gatehouse binary; with the
//! feature `count-allocs` (bench/run.sh's allocation pass) every allocation
//! is counted.

#[cfg(not(feature = "count-allocs"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(feature = "count-allocs")]
#[path = "../../src/count_allocs.rs"]
mod count_allocs;
#[cfg(feature = "count-allocs")]
#[global_allocator]
static GLOBAL: count_allocs::Counting<mimalloc::MiMalloc> =
    count_allocs::Counting(mimalloc::MiMalloc);

/// Serve the allocation count where bench/run.sh asks for it (a no-op
/// without `count-allocs`).
pub fn serve_count_from_env() {
    #[cfg(feature = "count-allocs")]
    count_allocs::serve_from_env();
}
