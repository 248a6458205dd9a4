//! The bare Pingora passthrough with gatehouse's server tuning (mimalloc,
//! no work stealing, one single-threaded service per thread), so `bench/run.sh` can show how much of gatehouse's
//! standing comes from tuning and how much its own work costs.
//!
//! Usage: `bare_proxy_tuned LISTEN UPSTREAM THREADS`.

#[path = "support/passthrough.rs"]
mod passthrough;
#[path = "support/serve.rs"]
mod serve;

#[cfg(not(feature = "count-allocs"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

// bench/run.sh's allocation pass (feature `count-allocs`): mimalloc with
// every allocation counted, as in the gatehouse binary.
#[cfg(feature = "count-allocs")]
#[path = "../src/count_allocs.rs"]
mod count_allocs;
#[cfg(feature = "count-allocs")]
#[global_allocator]
static GLOBAL: count_allocs::Counting<mimalloc::MiMalloc> =
    count_allocs::Counting(mimalloc::MiMalloc);

fn main() {
    #[cfg(feature = "count-allocs")]
    count_allocs::serve_from_env();
    passthrough::run(false);
}
