//! Case files: reading a case from any format users have (`.data`, raw
//! bytecode, kernel or bpf_conformance assembly, `case.json` as campaign
//! reports and `reports/*/case.json` hold it, fuzz artifacts) and writing
//! a minimized case in the format an output file's extension names.

use super::Case;
use crate::fuzz_glue::{program_text, regression_data};
use crate::gen::{Knobs, KnobsError};
use crate::hex::{parse_hex_bytes, to_hex};
use crate::input::{parse_program, InputError, InputFormat};
use bpfdiff_engine::asm::kernel;
use bpfdiff_engine::prog_type::ProgType;
use bpfdiff_engine::Program;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// A case file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CaseFormat {
    /// A program format `bpfdiff run` reads (`.data` also carries memory).
    Program(InputFormat),
    /// `case.json`: `program` (hex slots, a list or one string) and `mem`
    /// (or `input`) as hex.
    Json,
    /// A fuzz target's input (the generator's bytes, see [`Case::from_fuzz_bytes`]).
    Fuzz,
}

impl CaseFormat {
    /// The format of `path`: its extension, or [`CaseFormat::Fuzz`] for a
    /// file under a `fuzz/artifacts` directory.
    pub fn from_path(path: &Path) -> Option<CaseFormat> {
        let under_artifacts = path
            .components()
            .collect::<Vec<_>>()
            .windows(2)
            .any(|w| w[0].as_os_str() == "fuzz" && w[1].as_os_str() == "artifacts");
        if under_artifacts {
            return Some(CaseFormat::Fuzz);
        }
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        {
            return Some(CaseFormat::Json);
        }
        InputFormat::from_path(path).map(CaseFormat::Program)
    }
}

/// Why a case file could not be read or written. Every variant names the
/// file (and the line or instruction where there is one).
#[derive(Debug, Error)]
pub enum CaseFileError {
    /// A program file error (names file and line or instruction).
    #[error(transparent)]
    Input(#[from] InputError),
    /// The format cannot be told from the name.
    #[error(
        "{}: cannot tell the format from the file name; use --format data|raw|asm|conformance-asm|json|fuzz-diff",
        .0.display()
    )]
    UnknownFormat(PathBuf),
    /// The file cannot be read or written.
    #[error("{}: {what}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Reading or writing.
        what: &'static str,
        /// The reason.
        source: std::io::Error,
    },
    /// A malformed `case.json`.
    #[error("{}{}: {why}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Json {
        /// The file.
        path: PathBuf,
        /// The line, when known.
        line: Option<usize>,
        /// What is wrong.
        why: String,
    },
    /// `BPFDIFF_ALLOWED_OPS` is malformed (fuzz inputs use the knobs).
    #[error(transparent)]
    Knobs(#[from] KnobsError),
    /// The program is empty.
    #[error("{}: the program is empty", .0.display())]
    Empty(PathBuf),
    /// The output extension names no format.
    #[error("{}: cannot tell the output format from the extension; use .data, .bin, .s or .json", .0.display())]
    UnknownOutput(PathBuf),
    /// The program cannot be written as assembly.
    #[error("{}: {why}", path.display())]
    Unwritable {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
}

/// Reads the case in `path`; `format` overrides the name.
pub fn read_case(path: &Path, format: Option<CaseFormat>) -> Result<Case, CaseFileError> {
    let format = format
        .or_else(|| CaseFormat::from_path(path))
        .ok_or_else(|| CaseFileError::UnknownFormat(path.to_path_buf()))?;
    let bytes = std::fs::read(path).map_err(|source| CaseFileError::Io {
        path: path.to_path_buf(),
        what: "cannot read",
        source,
    })?;
    let case = match format {
        CaseFormat::Program(f) => {
            let input = parse_program(&bytes, f, path)?;
            // A native case keeps its type, its packet (or, for `syscall`,
            // its ctx in `-- mem`) and its maps: run as the input model it
            // would be another program.
            match input.prog_type {
                Some(t) if t != ProgType::Input => {
                    // Without `-- packet`: the 64 zero bytes `run
                    // --prog-type` and the conformance tests use.
                    let data = if t.has_packet() {
                        input.packet.unwrap_or_else(|| {
                            vec![0; bpfdiff_engine::prog_type::env::DEFAULT_PACKET_LEN]
                        })
                    } else {
                        input.mem.unwrap_or_default()
                    };
                    Case::native_with_maps(input.program, data, t, input.maps)
                }
                _ => Case {
                    maps: input.maps,
                    ..Case::new(input.program, input.mem.unwrap_or_default())
                },
            }
        }
        CaseFormat::Json => json_case(&bytes, path)?,
        CaseFormat::Fuzz => Case::from_fuzz_bytes(&bytes, &Knobs::from_env()?),
    };
    if case.program.is_empty() {
        return Err(CaseFileError::Empty(path.to_path_buf()));
    }
    Ok(case)
}

fn json_case(bytes: &[u8], path: &Path) -> Result<Case, CaseFileError> {
    let bad = |line, why: String| CaseFileError::Json {
        path: path.to_path_buf(),
        line,
        why,
    };
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| bad(Some(e.line()), e.to_string()))?;
    let program_hex = match value.get("program").or_else(|| value.get("program_hex")) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Array(words)) => {
            let mut s = String::new();
            for (i, w) in words.iter().enumerate() {
                match w.as_str() {
                    Some(w) if w.len() == 16 => s.push_str(w),
                    _ => {
                        return Err(bad(
                            None,
                            format!("program[{i}]: expected 16 hex digits (the slot's 8 bytes)"),
                        ))
                    }
                }
            }
            s
        }
        _ => {
            return Err(bad(
                None,
                "no `program` (a list of hex slots or one hex string)".to_string(),
            ))
        }
    };
    let program_bytes =
        parse_hex_bytes(&program_hex).map_err(|e| bad(None, format!("program: {e}")))?;
    let program = Program::from_bytes(&program_bytes).map_err(|t| {
        bad(
            None,
            format!(
                "program: insn {}: truncated: {} of 8 bytes present",
                t.index, t.rest
            ),
        )
    })?;
    let mem = match value.get("mem").or_else(|| value.get("input")) {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(serde_json::Value::String(s)) => {
            parse_hex_bytes(s).map_err(|e| bad(None, format!("mem: {e}")))?
        }
        Some(_) => return Err(bad(None, "mem: expected a hex string".to_string())),
    };
    // A report's native case: its type and maps (`mem` is the packet).
    let prog_type = match value.get("prog_type") {
        None | Some(serde_json::Value::Null) => ProgType::Input,
        Some(serde_json::Value::String(name)) => {
            ProgType::parse(name).map_err(|e| bad(None, format!("prog_type: {e}")))?
        }
        Some(_) => return Err(bad(None, "prog_type: expected a name".to_string())),
    };
    let maps = match value.get("maps") {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(serde_json::Value::String(text)) => {
            let lines: Vec<(usize, &str)> =
                text.lines().enumerate().map(|(i, l)| (i + 1, l)).collect();
            bpfdiff_engine::maps::text::parse_maps(&lines)
                .map_err(|e| bad(None, format!("maps, line {}: {}", e.line, e.reason)))?
        }
        Some(_) => return Err(bad(None, "maps: expected `-- maps` lines".to_string())),
    };
    Ok(Case {
        prog_type,
        maps,
        ..Case::new(program, mem)
    })
}

/// An output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// `.data`: program, memory and the engine's result as the expectation.
    Data,
    /// `.bin`: raw bytecode (no memory).
    Raw,
    /// `.s`: kernel syntax (no memory).
    KernelAsm,
    /// `.json`: `case.json`.
    Json,
}

impl OutputFormat {
    /// The format `path`'s extension names.
    pub fn from_path(path: &Path) -> Result<OutputFormat, CaseFileError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        Ok(match ext.as_deref() {
            Some("data") => OutputFormat::Data,
            Some("bin" | "raw" | "bpf") => OutputFormat::Raw,
            Some("s" | "asm" | "txt") => OutputFormat::KernelAsm,
            Some("json") => OutputFormat::Json,
            _ => return Err(CaseFileError::UnknownOutput(path.to_path_buf())),
        })
    }

    /// True when the format stores the input memory.
    pub fn keeps_memory(self) -> bool {
        matches!(self, OutputFormat::Data | OutputFormat::Json)
    }
}

/// The case as the contents of a file of `format`; `extra` is added to a
/// JSON case (outcomes, divergence, …). `path` is only used in errors.
pub fn render_case(
    case: &Case,
    format: OutputFormat,
    extra: serde_json::Map<String, serde_json::Value>,
    path: &Path,
) -> Result<Vec<u8>, CaseFileError> {
    Ok(match format {
        OutputFormat::Raw => case.program.to_bytes(),
        OutputFormat::KernelAsm => kernel::disassemble(&case.program)
            .map_err(|e| CaseFileError::Unwritable {
                path: path.to_path_buf(),
                why: format!("the program has no assembly form ({e}); write .bin, .data or .json"),
            })?
            .into_bytes(),
        OutputFormat::Data => regression_data(case)
            .ok_or_else(|| CaseFileError::Empty(path.to_path_buf()))?
            .into_bytes(),
        OutputFormat::Json => {
            let mut obj = serde_json::Map::new();
            let words: Vec<serde_json::Value> = case
                .program
                .insns
                .iter()
                .map(|i| to_hex(&i.to_bytes()).into())
                .collect();
            obj.insert("program".into(), words.into());
            obj.insert("mem".into(), to_hex(&case.input).into());
            obj.insert(
                "program_text".into(),
                program_text(&case.program)
                    .lines()
                    .collect::<Vec<_>>()
                    .into(),
            );
            obj.extend(extra);
            let mut text = serde_json::to_string_pretty(&serde_json::Value::Object(obj))
                .expect("JSON values serialize");
            text.push('\n');
            text.into_bytes()
        }
    })
}

/// Writes `case` to `path` in the format its extension names.
pub fn write_case(
    case: &Case,
    path: &Path,
    extra: serde_json::Map<String, serde_json::Value>,
) -> Result<(), CaseFileError> {
    let bytes = render_case(case, OutputFormat::from_path(path)?, extra, path)?;
    std::fs::write(path, bytes).map_err(|source| CaseFileError::Io {
        path: path.to_path_buf(),
        what: "cannot write",
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfdiff_engine::Insn;

    fn sample() -> Case {
        Case::new(
            Program::new(vec![
                Insn::new(0xb7, 0, 0, 0, 7),
                Insn::new(0x95, 0, 0, 0, 0),
            ]),
            vec![1, 0xab],
        )
    }

    /// A native case (type, packet, maps) survives a `.data` file: read as
    /// the input model it would be another program.
    #[test]
    fn a_native_data_case_keeps_its_type_packet_and_maps() {
        let dir = std::env::temp_dir().join(format!("bpfdiff-native-case-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let maps = bpfdiff_engine::data::parse_data(
            "-- maps\narray key=4 value=8 entries=2\n-- asm\nexit\n-- result\n0x0\n",
        )
        .unwrap()
        .maps;
        assert_eq!(maps.len(), 1);
        let case = Case::native_with_maps(
            sample().program,
            vec![0x5a; 64],
            ProgType::Xdp,
            maps.clone(),
        );
        let path = dir.join("native.data");
        write_case(&case, &path, serde_json::Map::new()).unwrap();
        let back = read_case(&path, None).unwrap();
        assert_eq!(back.prog_type, ProgType::Xdp);
        assert_eq!(back.input, vec![0x5a; 64], "the packet");
        assert_eq!(back.maps, maps);
        assert_eq!(back.program, case.program);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn formats_follow_names() {
        let f = |p: &str| CaseFormat::from_path(Path::new(p));
        assert_eq!(f("x/case.json"), Some(CaseFormat::Json));
        assert_eq!(f("fuzz/artifacts/diff/crash-12ab"), Some(CaseFormat::Fuzz));
        assert_eq!(f("a.data"), Some(CaseFormat::Program(InputFormat::Data)));
        assert_eq!(f("crash-12ab"), None);
        assert!(OutputFormat::from_path(Path::new("o.elf")).is_err());
    }

    #[test]
    fn every_output_format_reads_back() {
        let dir = std::env::temp_dir().join(format!("bpfdiff-case-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let case = sample();
        for (name, keeps) in [
            ("c.data", true),
            ("c.json", true),
            ("c.bin", false),
            ("c.s", false),
        ] {
            let path = dir.join(name);
            write_case(&case, &path, serde_json::Map::new()).unwrap();
            let back = read_case(&path, None).unwrap();
            assert_eq!(back.program, case.program, "{name}");
            let mem = if keeps {
                case.input.clone()
            } else {
                Vec::new()
            };
            assert_eq!(back.input, mem, "{name}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn report_case_json_reads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("reports/kernel-atomic-fetch-stack-precision/case.json");
        let case = read_case(&path, None).unwrap();
        assert_eq!(case.program.len(), 11);
        assert_eq!(case.input, vec![1]);
    }

    #[test]
    fn bad_json_names_the_file_and_what_is_wrong() {
        let e = json_case(b"{\"program\": [\"b7\"]}", Path::new("c.json")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "c.json: program[0]: expected 16 hex digits (the slot's 8 bytes)"
        );
        let e = json_case(b"{\n\"program\": ", Path::new("c.json")).unwrap_err();
        assert!(e.to_string().starts_with("c.json:2: "), "{e}");
    }

    #[test]
    fn fuzz_literal_cases_read() {
        let dir = std::env::temp_dir().join(format!("bpfdiff-fuzz-case-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("crash-1");
        std::fs::write(&path, sample().to_fuzz_bytes()).unwrap();
        assert_eq!(read_case(&path, Some(CaseFormat::Fuzz)).unwrap(), sample());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
