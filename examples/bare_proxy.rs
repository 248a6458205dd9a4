//! A bare Pingora passthrough proxy with Pingora's defaults (glibc malloc,
//! work-stealing runtime): the baseline of `bench/run.sh`.
//!
//! Usage: `bare_proxy LISTEN UPSTREAM THREADS`.

#[path = "support/passthrough.rs"]
mod passthrough;
#[path = "support/serve.rs"]
mod serve;

// bench/run.sh's allocation pass (feature `count-allocs`): the system
// allocator with every allocation counted, as in the gatehouse binary.
#[cfg(feature = "count-allocs")]
#[path = "../src/count_allocs.rs"]
mod count_allocs;
#[cfg(feature = "count-allocs")]
#[global_allocator]
static GLOBAL: count_allocs::Counting<std::alloc::System> =
    count_allocs::Counting(std::alloc::System);

fn main() {
    #[cfg(feature = "count-allocs")]
    count_allocs::serve_from_env();
    passthrough::run(true);
}
