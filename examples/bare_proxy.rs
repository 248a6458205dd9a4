//! A bare Pingora passthrough proxy with Pingora's defaults (glibc malloc,
//! work-stealing runtime): the baseline of `bench/run.sh`.
//!
//! Usage: `bare_proxy LISTEN UPSTREAM THREADS`.

#[path = "support/passthrough.rs"]
mod passthrough;

fn main() {
    passthrough::run(true);
}
