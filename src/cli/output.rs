//! Writing to standard output without panicking when the reader goes away
//! (`bpfdiff disasm big.bin | head`).

use std::io::{self, Write};

/// Writes `text` to standard output. A closed pipe ends output quietly;
/// any other failure is an error.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(anyhow::anyhow!("cannot write to standard output: {e}"))
        }
        _ => Ok(()),
    }
}

/// Writes `line` and a newline to standard output (see [`print`]).
pub fn println(line: &str) -> anyhow::Result<()> {
    print(&format!("{line}\n"))
}
