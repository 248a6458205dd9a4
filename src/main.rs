//! The `gatehouse` binary: all the work is in the library (`cli::main`).

// mimalloc instead of glibc malloc: the proxy allocates small buffers per
// request on two threads, where glibc's arenas cost ~15% of CPU (see
// bench/README.md), and argon2's 19 MiB blocks are returned to the OS
// instead of staying resident after a login.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(gatehouse::cli::main());
}
