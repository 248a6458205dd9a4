//! The bare Pingora passthrough with gatehouse's server tuning (mimalloc,
//! no work stealing, one single-threaded service per thread), so `bench/run.sh` can show how much of gatehouse's
//! standing comes from tuning and how much its own work costs.
//!
//! Usage: `bare_proxy_tuned LISTEN UPSTREAM THREADS`.

#[path = "support/passthrough.rs"]
mod passthrough;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    passthrough::run(false);
}
