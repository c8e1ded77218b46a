//! The `gitdrift` binary: all logic lives in the library; this maps it to an exit code.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    gitdrift::cli::main()
}
