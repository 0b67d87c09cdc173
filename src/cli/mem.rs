//! `--mem HEX` and `--mem-file FILE`: the input memory of a program, shared
//! by every command that runs one (`run`, `diff`).

use anyhow::anyhow;
use bpfdiff::hex::{parse_hex_bytes, HexError};
use clap::Args;
use std::path::{Path, PathBuf};

/// The input memory options.
#[derive(Debug, Args)]
pub struct MemArgs {
    /// Input memory as hex bytes (`aabb11`, "aa bb 11" or `0xaabb11`; bytes
    /// in written order); replaces a `.data` file's `-- mem`. r1 points to it
    /// and r2 holds its length.
    #[arg(long, value_name = "HEX", conflicts_with = "mem_file")]
    pub mem: Option<String>,
    /// Read the input memory as hex text from a file (the syntax of `--mem`
    /// and of a `-- mem` section, over any number of lines; `#` starts a
    /// comment). For memory too large for the command line.
    #[arg(long, value_name = "FILE")]
    pub mem_file: Option<PathBuf>,
}

impl MemArgs {
    /// The memory the options give, else `from_file` (a `.data` file's
    /// `-- mem`), else none.
    pub fn resolve(&self, from_file: Option<Vec<u8>>) -> anyhow::Result<Vec<u8>> {
        match (&self.mem, &self.mem_file) {
            (Some(hex), _) => parse_hex_bytes(hex).map_err(|e| mem_arg_error(hex, &e)),
            (None, Some(file)) => read_mem_file(file),
            (None, None) => Ok(from_file.unwrap_or_default()),
        }
    }
}

/// `--mem: column 5: ...` (the line too when the argument spans lines).
fn mem_arg_error(text: &str, e: &HexError) -> anyhow::Error {
    if text.lines().count() > 1 {
        anyhow!("--mem: line {}, column {}: {}", e.line, e.column, e.kind)
    } else {
        anyhow!("--mem: column {}: {}", e.column, e.kind)
    }
}

fn read_mem_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow!("{}: cannot read: {e}", path.display()))?;
    parse_hex_bytes(&text)
        .map_err(|e| anyhow!("{}:{}:{}: {}", path.display(), e.line, e.column, e.kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_errors_name_the_column() {
        let e = parse_hex_bytes("00 1z").unwrap_err();
        assert_eq!(
            mem_arg_error("00 1z", &e).to_string(),
            "--mem: column 5: `z` is not a hex digit"
        );
        let e = parse_hex_bytes("00\n1z").unwrap_err();
        assert_eq!(
            mem_arg_error("00\n1z", &e).to_string(),
            "--mem: line 2, column 2: `z` is not a hex digit"
        );
    }
}
