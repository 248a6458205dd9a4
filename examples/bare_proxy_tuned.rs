//! The bare Pingora passthrough with gatehouse's server tuning (mimalloc,
//! no work stealing, one single-threaded service per thread), so `bench/run.sh` can show how much of gatehouse's
//! standing comes from tuning and how much its own work costs.
//!
//! Usage: `bare_proxy_tuned LISTEN UPSTREAM THREADS`.

#[path = "support/allocator.rs"]
mod allocator;
#[path = "support/passthrough.rs"]
mod passthrough;
#[path = "support/serve.rs"]
mod serve;

fn main() {
    allocator::serve_count_from_env();
    passthrough::run(false);
}
