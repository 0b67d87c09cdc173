//! Reading a program from a file in one of the formats users already have:
//! bpf_conformance `.data` tests, raw bytecode, kernel (`bpftool`) assembly
//! and the bpf_conformance assembly dialect.

use bpfdiff_engine::asm::{self, AsmError};
use bpfdiff_engine::data::{self, DataError, Expected};
use bpfdiff_engine::prog_type::ProgType;
use bpfdiff_engine::program::TruncatedProgram;
use bpfdiff_engine::{DecodeError, Program};
use std::fmt;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// A program file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InputFormat {
    /// A bpf_conformance test (`.data`): program, input memory, expected result.
    Data,
    /// Raw bytecode, 8 little-endian bytes per slot (`.bin`, `.raw`, `.bpf`).
    Raw,
    /// Kernel syntax as `bpftool prog dump xlated` prints it (`.s`, `.asm`, `.txt`).
    KernelAsm,
    /// The bpf_conformance assembly dialect (`.casm`).
    ConformanceAsm,
}

impl InputFormat {
    /// Every format, in the order the help text lists them.
    pub const ALL: [InputFormat; 4] = [
        InputFormat::Data,
        InputFormat::Raw,
        InputFormat::KernelAsm,
        InputFormat::ConformanceAsm,
    ];

    /// The format a file name's extension stands for, if any.
    pub fn from_path(path: &Path) -> Option<InputFormat> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "data" => InputFormat::Data,
            "bin" | "raw" | "bpf" => InputFormat::Raw,
            "s" | "asm" | "txt" => InputFormat::KernelAsm,
            "casm" => InputFormat::ConformanceAsm,
            _ => return None,
        })
    }

    /// The name used on the command line (`--format NAME`).
    pub const fn name(self) -> &'static str {
        match self {
            InputFormat::Data => "data",
            InputFormat::Raw => "raw",
            InputFormat::KernelAsm => "asm",
            InputFormat::ConformanceAsm => "conformance-asm",
        }
    }
}

impl fmt::Display for InputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A program read from a file, with what the file said about its input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramInput {
    /// The program; every slot decodes.
    pub program: Program,
    /// The input memory the file supplies (`.data` files only).
    pub mem: Option<Vec<u8>>,
    /// The expected outcome the file states (`.data` files only).
    pub expected: Option<Expected>,
    /// The program type a `.data` file names (`-- prog-type`).
    pub prog_type: Option<ProgType>,
    /// The packet a `.data` file gives (`-- packet`).
    pub packet: Option<Vec<u8>>,
    /// The maps a `.data` file declares (`-- maps`).
    pub maps: Vec<bpfdiff_engine::maps::MapDef>,
}

/// Why a program file could not be used. Every variant names the file and,
/// where one exists, the line or instruction index.
#[derive(Debug, Error)]
pub enum InputError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// No format was given and the extension does not name one.
    #[error(
        "{}: cannot tell the format from the file name; use --format data|raw|asm|conformance-asm \
         (extensions: .data, .bin/.raw/.bpf, .s/.asm/.txt, .casm)",
        path.display()
    )]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// A text format that is not valid UTF-8.
    #[error("{}:{line}: not valid UTF-8 text", path.display())]
    NotText {
        /// The file.
        path: PathBuf,
        /// 1-based line of the first invalid byte.
        line: usize,
    },
    /// Raw bytecode whose length is not a multiple of 8.
    #[error(
        "{}: insn {}: truncated: {} of 8 bytes present ({} bytes is not a multiple of 8)",
        path.display(), source.index, source.rest, source.len
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Where the bytes stop.
        source: TruncatedProgram,
    },
    /// A slot that does not decode (unknown opcode, reserved field set, ...).
    #[error("{}: {source}", path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// The slot index and what is wrong with it.
        source: DecodeError,
    },
    /// An assembly error.
    #[error("{}:{}: {}", path.display(), source.line, source.kind)]
    Asm {
        /// The file.
        path: PathBuf,
        /// The line and what is wrong with it.
        source: AsmError,
    },
    /// A malformed `.data` file; the error names the file and the line.
    #[error("{source}")]
    Data {
        /// The file and line, and what is wrong with them.
        source: DataError,
    },
    /// The program has no instructions.
    #[error("{}: the program is empty", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

/// Reads the program in `path`; `format` overrides the extension.
///
/// The program is decoded once so that a bad slot is reported here, with its
/// index, rather than when it runs.
pub fn read_program(path: &Path, format: Option<InputFormat>) -> Result<ProgramInput, InputError> {
    let input = read_program_undecoded(path, format)?;
    input
        .program
        .decode()
        .map_err(|source| InputError::Decode {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(input)
}

/// Reads the program in `path` as [`read_program`] does, but without
/// decoding it: for `diff`, where a program the engine refuses (a reserved
/// field, an unknown opcode) is still compared, since whether another
/// implementation accepts it is the question.
pub fn read_program_undecoded(
    path: &Path,
    format: Option<InputFormat>,
) -> Result<ProgramInput, InputError> {
    let bytes = std::fs::read(path).map_err(|source| InputError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let format = match format.or_else(|| InputFormat::from_path(path)) {
        Some(f) => f,
        None => {
            return Err(InputError::UnknownFormat {
                path: path.to_path_buf(),
            })
        }
    };
    let input = parse_program(&bytes, format, path)?;
    if input.program.is_empty() {
        return Err(InputError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(input)
}

/// Reads the program in `path` for a comparison across backends: like
/// [`read_program`], but a slot that does not decode is not bad input. It
/// is part of what is compared (the engine refuses it, and every other
/// backend must too); the decode error is returned beside the program so
/// that the caller can say so.
pub fn read_program_for_comparison(
    path: &Path,
    format: Option<InputFormat>,
) -> Result<(ProgramInput, Option<InputError>), InputError> {
    let input = read_program_undecoded(path, format)?;
    let why = input
        .program
        .decode()
        .err()
        .map(|source| InputError::Decode {
            path: path.to_path_buf(),
            source,
        });
    Ok((input, why))
}

/// Parses file contents in `format`; `path` is only used in error messages.
/// Does not decode the program (see [`read_program`]).
pub fn parse_program(
    bytes: &[u8],
    format: InputFormat,
    path: &Path,
) -> Result<ProgramInput, InputError> {
    let path_buf = || path.to_path_buf();
    let program_only = |program| ProgramInput {
        program,
        mem: None,
        expected: None,
        prog_type: None,
        packet: None,
        maps: Vec::new(),
    };
    match format {
        InputFormat::Raw => Program::from_bytes(bytes)
            .map(program_only)
            .map_err(|source| InputError::Truncated {
                path: path_buf(),
                source,
            }),
        InputFormat::KernelAsm => asm::kernel::assemble(as_text(bytes, path)?)
            .map(program_only)
            .map_err(|source| InputError::Asm {
                path: path_buf(),
                source,
            }),
        InputFormat::ConformanceAsm => asm::conformance::assemble(as_text(bytes, path)?)
            .map(program_only)
            .map_err(|source| InputError::Asm {
                path: path_buf(),
                source,
            }),
        InputFormat::Data => {
            let test = data::parse_data(as_text(bytes, path)?).map_err(|e| InputError::Data {
                source: e.with_path(path),
            })?;
            Ok(ProgramInput {
                program: test.program,
                mem: Some(test.mem),
                expected: Some(test.expected),
                prog_type: Some(test.prog_type),
                packet: test.packet,
                maps: test.maps,
            })
        }
    }
}

fn as_text<'a>(bytes: &'a [u8], path: &Path) -> Result<&'a str, InputError> {
    std::str::from_utf8(bytes).map_err(|e| InputError::NotText {
        path: path.to_path_buf(),
        line: 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str) -> &Path {
        Path::new(name)
    }

    #[test]
    fn format_follows_the_extension() {
        assert_eq!(
            InputFormat::from_path(p("t/add.data")),
            Some(InputFormat::Data)
        );
        for raw in ["x.bin", "x.raw", "x.BPF"] {
            assert_eq!(
                InputFormat::from_path(p(raw)),
                Some(InputFormat::Raw),
                "{raw}"
            );
        }
        for asm in ["x.s", "x.asm", "x.txt"] {
            assert_eq!(InputFormat::from_path(p(asm)), Some(InputFormat::KernelAsm));
        }
        assert_eq!(
            InputFormat::from_path(p("x.casm")),
            Some(InputFormat::ConformanceAsm)
        );
        assert_eq!(InputFormat::from_path(p("x.o")), None);
        assert_eq!(InputFormat::from_path(p("noext")), None);
    }

    #[test]
    fn raw_bytes_truncated_name_the_instruction() {
        let bytes = [0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0];
        let e = parse_program(&bytes, InputFormat::Raw, p("f.bin")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.bin: insn 1: truncated: 3 of 8 bytes present (11 bytes is not a multiple of 8)"
        );
    }

    #[test]
    fn raw_program_reads_slots() {
        let bytes = [0xb7, 0, 0, 0, 42, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
        let input = parse_program(&bytes, InputFormat::Raw, p("f.bin")).unwrap();
        assert_eq!(input.program.len(), 2);
        assert_eq!(input.program.insns[0].imm, 42);
        assert!(input.mem.is_none() && input.expected.is_none());
    }

    #[test]
    fn undecodable_slot_is_reported_with_its_index() {
        let dir = std::env::temp_dir().join(format!("bpfdiff-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("bad.bin");
        // mov r0, 0; then 0x8f (NEG X form: an unknown opcode, SEMANTICS.md).
        std::fs::write(
            &file,
            [0xb7, 0, 0, 0, 0, 0, 0, 0, 0x8f, 0, 0, 0, 0, 0, 0, 0],
        )
        .unwrap();
        let e = read_program(&file, None).unwrap_err();
        assert!(matches!(e, InputError::Decode { .. }), "{e}");
        assert!(
            e.to_string()
                .ends_with("bad.bin: insn 1: unknown opcode 0x8f"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_and_unknown_files() {
        let e = read_program(p("/nonexistent/x.bin"), None).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/nonexistent/x.bin: cannot read: "),
            "{e}"
        );
        let e = read_program(p("/nonexistent/x.o"), None).unwrap_err();
        assert!(
            matches!(e, InputError::Read { .. }),
            "a missing file is reported first"
        );
        let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        let e = read_program(&here, None).unwrap_err();
        assert!(matches!(e, InputError::UnknownFormat { .. }), "{e}");
    }

    #[test]
    fn non_utf8_text_names_the_line() {
        let e = parse_program(b"exit\n\xff\n", InputFormat::KernelAsm, p("f.s")).unwrap_err();
        assert_eq!(e.to_string(), "f.s:2: not valid UTF-8 text");
    }

    #[test]
    fn assembly_errors_carry_file_and_line() {
        let e = parse_program(
            b"r0 = 0\nfrobnicate r1\nexit\n",
            InputFormat::KernelAsm,
            p("f.s"),
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("f.s:2: "), "{e}");
        let e = parse_program(
            b"mov %r0, 0\nfrob %r1\n",
            InputFormat::ConformanceAsm,
            p("f.casm"),
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("f.casm:2: "), "{e}");
    }
}
