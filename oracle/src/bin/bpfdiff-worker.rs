//! The oracle worker as a standalone binary (used by this crate's tests;
//! the `bpfdiff` CLI serves the same role itself).

fn main() {
    let serving =
        std::env::args().nth(1).as_deref() == Some(bpfdiff_oracle::backend::worker::WORKER_ARG);
    if !serving {
        eprintln!(
            "usage: bpfdiff-worker {}",
            bpfdiff_oracle::backend::worker::WORKER_ARG
        );
        std::process::exit(2);
    }
    if let Err(e) = bpfdiff_oracle::backend::worker::serve() {
        eprintln!("bpfdiff-worker: {e}");
        std::process::exit(1);
    }
}
