//! The agent that runs inside a qemu guest of the kernel matrix
//! (docs/kernel-matrix.md): the guest's `/init` starts it; it serves the
//! host's guest backend on the second serial line.

fn main() {
    if let Err(e) = bpfdiff_oracle::backend::guest::agent::serve() {
        eprintln!("bpfdiff-agent: {e}");
        std::process::exit(1);
    }
}
