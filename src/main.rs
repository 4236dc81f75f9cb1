//! Thin entry point: everything happens in the library, so tests reach the same code.

fn main() -> std::process::ExitCode {
    cake_recon::main()
}
