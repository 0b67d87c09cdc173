//! Prints the kernel's raw level-2 verifier log of a `.data` program
//! (wrapped as the kernel backend loads it). Used to record the test data
//! in `oracle/tests/data/kernel_logs/`:
//!
//! ```text
//! cargo run -p bpfdiff-oracle --example record_kernel_log -- FILE.data > FILE.log
//! ```

use bpfdiff_oracle::backend::kernel::{KernelBackend, KernelOptions};

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: record_kernel_log FILE.data");
        std::process::exit(2);
    };
    let test = match bpfdiff_engine::data::parse_data_file(std::path::Path::new(&path)) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let mut kernel = KernelBackend::new(KernelOptions::default());
    match kernel.raw_verifier_log(&test.program, test.mem.len(), 2) {
        Ok((_, log)) => print!("{log}"),
        Err(why) => {
            eprintln!("{why}");
            std::process::exit(1);
        }
    }
}
