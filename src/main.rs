//! The `famlink` command: a thin layer over the engine library.

mod cli;

/// mimalloc rather than the system allocator: under fifty concurrent searches glibc's
/// malloc and free took an eighth of the service's CPU (a profile of `famlink serve`
/// under `bench-http`), with per-thread arenas contending.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::run()
}
