//! The bpf_conformance plugin protocol, so that the upstream conformance
//! runner (and uBPF's fuzzer, as its external VM) can drive any bpfdiff
//! backend: the program as hex bytes on standard input, the memory as hex
//! bytes in the first argument, r0 in hex on standard output, errors on
//! standard error with a non-zero exit.

use crate::hex::{parse_hex_bytes, HexError};
use bpfdiff_engine::program::TruncatedProgram;
use bpfdiff_engine::Program;
use bpfdiff_oracle::{Backend, Execution, Verdict};
use thiserror::Error;

/// Why a plugin request produced no r0.
#[derive(Debug, Error)]
pub enum PluginError {
    /// The program text is not hex.
    #[error("program on stdin: line {}, column {}: {}", .0.line, .0.column, .0.kind)]
    ProgramHex(HexError),
    /// The memory argument is not hex.
    #[error("memory argument: column {}: {}", .0.column, .0.kind)]
    MemoryHex(HexError),
    /// The program is not a whole number of instructions.
    #[error("program on stdin: {0}")]
    Truncated(TruncatedProgram),
    /// The backend refused the program.
    #[error("{backend} rejected the program (errno {errno}): {reason}")]
    Rejected {
        /// The backend.
        backend: String,
        /// Its errno.
        errno: i32,
        /// Its reason.
        reason: String,
    },
    /// The program did not return.
    #[error("{backend}: {execution}")]
    DidNotReturn {
        /// The backend.
        backend: String,
        /// What happened instead.
        execution: String,
    },
}

/// Runs one plugin request on `backend`: returns r0.
pub fn serve_request(
    backend: &mut dyn Backend,
    program_hex: &str,
    memory_hex: Option<&str>,
) -> Result<u64, PluginError> {
    let bytes = parse_hex_bytes(program_hex).map_err(PluginError::ProgramHex)?;
    let program = Program::from_bytes(&bytes).map_err(PluginError::Truncated)?;
    let mem = match memory_hex {
        Some(text) => parse_hex_bytes(text).map_err(PluginError::MemoryHex)?,
        None => Vec::new(),
    };
    let outcome = backend.run(&program, &mem);
    if let Verdict::Rejected { errno, reason, .. } = outcome.verdict {
        return Err(PluginError::Rejected {
            backend: outcome.backend,
            errno,
            reason,
        });
    }
    match outcome.execution {
        Execution::Returned { r0, .. } => Ok(r0.bits),
        other => Err(PluginError::DidNotReturn {
            backend: outcome.backend,
            execution: other.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfdiff_oracle::backend::interp::InterpBackend;

    #[test]
    fn the_upstream_encoding_is_understood() {
        // bpf_conformance sends "b7  00  00  00  2a  00  00  00  95  ..." with
        // two spaces between bytes; memory likewise as an argument.
        let mut b = InterpBackend::default();
        let prog = "bf  20  00  00  00  00  00  00  95  00  00  00  00  00  00  00  ";
        assert_eq!(
            serve_request(&mut b, prog, Some("00  01  02  ")).unwrap(),
            3
        );
        assert_eq!(serve_request(&mut b, prog, None).unwrap(), 0);
        assert!(matches!(
            serve_request(&mut b, "b7 00", None),
            Err(PluginError::Truncated(_))
        ));
        assert!(matches!(
            serve_request(&mut b, "zz", None),
            Err(PluginError::ProgramHex(_))
        ));
        let bad = "8f  00  00  00  00  00  00  00  ";
        let e = serve_request(&mut b, bad, None).unwrap_err();
        assert!(e.to_string().contains("unknown opcode 0x8f"), "{e}");
    }
}
