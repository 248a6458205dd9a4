//! The `gatehouse` binary: all the work is in the library (`cli::main`).
// The only unsafe code is the allocation counter of the `count-allocs`
// benchmark build (src/count_allocs.rs allows it for itself).
#![deny(unsafe_code)]

#[cfg(feature = "count-allocs")]
mod count_allocs;

// mimalloc instead of glibc malloc: the proxy allocates small buffers per
// request on two threads, where glibc's arenas cost ~15% of CPU (see
// bench/README.md), and argon2's 19 MiB blocks are returned to the OS
// instead of staying resident after a login.
#[cfg(not(any(feature = "count-allocs", feature = "system-alloc")))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

// The same allocator with every allocation counted, for bench/run.sh.
#[cfg(feature = "count-allocs")]
#[global_allocator]
static GLOBAL: count_allocs::Counting<mimalloc::MiMalloc> =
    count_allocs::Counting(mimalloc::MiMalloc);

fn main() {
    #[cfg(feature = "count-allocs")]
    count_allocs::serve_from_env();
    std::process::exit(gatehouse::cli::main());
}
