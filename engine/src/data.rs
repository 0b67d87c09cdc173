//! bpf_conformance `.data` test files: reading and writing.
//!
//! Read the way upstream's `bpf_test_parser.cc` reads them: a trailing `\r`
//! is dropped and `#` starts a comment anywhere on a line; a line containing
//! `--` switches section by the first keyword it contains, checked in the
//! order `asm`, `result`, `mem`, `raw`, `no register offset` and ` c`
//! (both ignored sections), `error`; any other `--` line is an error. Within
//! a section, `asm` lines are the program in [`crate::asm::conformance`]
//! syntax, `raw` holds 64-bit instruction words (`0x` hex or decimal) and
//! overrides `asm`, `mem` holds hex bytes in the syntax of [`crate::hex`]
//! (`00 11`, `0011`, `0x0011`; no `mem` means empty memory). A result is hex
//! if it contains `0x`, else decimal.
//!
//! bpfdiff's extensions: `-- prog-type`, `-- packet` (docs/program-types.md)
//! and `-- verdict`, the kernel verifier's verdict on the program as the
//! kernel backend loads it: one line, `accepted` or `rejected CLASS` with
//! an optional `: MESSAGE` (CLASS a [`RejectClass`] name, MESSAGE the
//! kernel's last log line). No `-- verdict` means accepted. Upstream skips
//! a file with a `--` line it does not know, but treats a header that
//! contains ` c` as an ignored section, so [`write_data`] writes the
//! header as [`VERDICT_HEADER`], which upstream ignores with its value.
//!
//! Where upstream would misread silently, this parser refuses with the line:
//! blank (whitespace-only) lines are skipped in every section rather than
//! clobbering a result; a section header that appears twice (`-- result`
//! after `-- result`), or a second value line in `result` or `error`, is an
//! error rather than "the last one wins"; and numbers must be well-formed to
//! their end.

use crate::asm::{conformance, AsmErrorKind};
use crate::hex::{parse_hex_bytes, HexErrorKind};
use crate::insn::Insn;
use crate::maps::text::{parse_maps, write_maps};
use crate::maps::MapDef;
use crate::prog_type::{ProgType, UnknownProgType};
use crate::program::Program;
use crate::verifier::RejectClass;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// One bpf_conformance test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataTest {
    /// The program (from `-- raw` if present, else assembled from `-- asm`).
    pub program: Program,
    /// The input memory (`-- mem`), empty when there is none.
    pub mem: Vec<u8>,
    /// What the test expects.
    pub expected: Expected,
    /// The `-- asm` section as read (comments and blank lines removed), if any.
    pub asm: Option<String>,
    /// True when the program came from a `-- raw` section.
    pub has_raw: bool,
    /// The program type (`-- prog-type`, a bpfdiff extension; `Input`
    /// when absent). docs/program-types.md.
    pub prog_type: ProgType,
    /// The packet (`-- packet`, hex bytes like `-- mem`; a bpfdiff
    /// extension), `None` when absent.
    pub packet: Option<Vec<u8>>,
    /// The maps (`-- maps`, a bpfdiff extension; docs/program-types.md):
    /// map `i` is `ld_imm64 src=1 imm=i`.
    pub maps: Vec<MapDef>,
    /// The kernel verifier's verdict (`-- verdict`), `None` when absent
    /// (accepted).
    pub verdict: Option<ExpectedVerdict>,
}

/// The header [`write_data`] gives a `-- verdict` section: it contains
/// ` c`, so upstream's parser reads it as an ignored section (as it does
/// `-- c`) instead of skipping the whole file as an unknown directive.
pub const VERDICT_HEADER: &str = "-- verdict (kernel; bpf_conformance ignores it as a c section)";

/// The kernel verifier's verdict a test records (`-- verdict`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ExpectedVerdict {
    /// `accepted`.
    Accepted,
    /// `rejected CLASS` or `rejected CLASS: MESSAGE`.
    Rejected {
        /// The class of the kernel's message.
        class: RejectClass,
        /// The kernel's message (its last log line), when recorded.
        message: Option<String>,
    },
}

impl std::fmt::Display for ExpectedVerdict {
    /// The value line of a `-- verdict` section.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExpectedVerdict::Accepted => f.write_str("accepted"),
            ExpectedVerdict::Rejected {
                class,
                message: None,
            } => write!(f, "rejected {class}"),
            ExpectedVerdict::Rejected {
                class,
                message: Some(m),
            } => write!(f, "rejected {class}: {m}"),
        }
    }
}

/// What a test expects of a run.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Expected {
    /// The program returns this r0 (`-- result`).
    Result(u64),
    /// The runtime fails with this message (`-- error`). Takes precedence
    /// over a `-- result` in the same file, as the expected error is what
    /// upstream checks when the runtime fails.
    Error(String),
}

/// A malformed `.data` file. Every variant that has a place names the
/// 1-based line of the `.data` file and, when read from disk, its path.
#[derive(Debug, Error)]
pub enum DataError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A `--` line with no known keyword.
    #[error("{}unknown directive `{text}`", place(path, *line))]
    UnknownDirective {
        /// The file, when known.
        path: Option<PathBuf>,
        /// The directive's line.
        line: usize,
        /// The line as written.
        text: String,
    },
    /// Neither `-- result` nor `-- error` has a value.
    #[error("{}no `-- result` or `-- error` value in the file", place(path, *line))]
    NoExpectation {
        /// The file, when known.
        path: Option<PathBuf>,
        /// The last line of the file.
        line: usize,
    },
    /// The test has no instructions.
    #[error("{}no instructions", place(path, *line))]
    NoInstructions {
        /// The file, when known.
        path: Option<PathBuf>,
        /// The `-- asm`/`-- raw` line, else the last line of the file.
        line: usize,
    },
    /// The `-- result` value is not a number.
    #[error("{}invalid result `{text}`: {reason}", place(path, *line))]
    BadResult {
        /// The file, when known.
        path: Option<PathBuf>,
        /// The result's line.
        line: usize,
        /// The value as written.
        text: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The `-- verdict` value is not `accepted` or `rejected CLASS[: MESSAGE]`.
    #[error("{}invalid verdict `{text}`: {reason}", place(path, *line))]
    BadVerdict {
        /// The file, when known.
        path: Option<PathBuf>,
        /// The value's line.
        line: usize,
        /// The value as written.
        text: String,
        /// Why it was refused.
        reason: String,
    },
    /// A `-- mem` line is not hex bytes.
    #[error("{}invalid memory: column {column}: {kind}", place(path, *line))]
    BadMemory {
        /// The file, when known.
        path: Option<PathBuf>,
        /// The line.
        line: usize,
        /// The 1-based column where the problem starts.
        column: usize,
        /// What is wrong.
        kind: HexErrorKind,
    },
    /// The `-- prog-type` value is not a known program type.
    #[error("{}{kind}", place(path, *line))]
    BadProgType {
        /// The file, when known.
        path: Option<PathBuf>,
        /// The value's line.
        line: usize,
        /// What is wrong.
        kind: UnknownProgType,
    },
    /// A `-- maps` line is malformed, or a map definition is refused.
    #[error("{}invalid maps: {reason}", place(path, *line))]
    BadMaps {
        /// The file, when known.
        path: Option<PathBuf>,
        /// The line.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A section header (`-- result`, `-- asm`, ...) appears a second time.
    #[error(
        "{}second `-- {section}` section (the first is at line {first}); \
         a test has at most one",
        place(path, *line)
    )]
    DuplicateSection {
        /// The file, when known.
        path: Option<PathBuf>,
        /// The second header's line.
        line: usize,
        /// The section's keyword.
        section: &'static str,
        /// The first header's line.
        first: usize,
    },
    /// A `-- result` or `-- error` section with more than one value line.
    #[error(
        "{}second value in the `-- {section}` section (the first is at line {first}); \
         a test expects one",
        place(path, *line)
    )]
    DuplicateValue {
        /// The file, when known.
        path: Option<PathBuf>,
        /// The second value's line.
        line: usize,
        /// The section's keyword.
        section: &'static str,
        /// The first value's line.
        first: usize,
    },
    /// A `-- raw` token is not a 64-bit word.
    #[error("{}invalid raw instruction word `{token}`: {reason}", place(path, *line))]
    BadRaw {
        /// The file, when known.
        path: Option<PathBuf>,
        /// The token's line.
        line: usize,
        /// The token.
        token: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The `-- asm` section does not assemble.
    #[error("{}{kind}", place(path, *line))]
    Asm {
        /// The file, when known.
        path: Option<PathBuf>,
        /// The line in the `.data` file.
        line: usize,
        /// What is wrong.
        kind: AsmErrorKind,
    },
}

/// `path:line: ` or `line N: `.
fn place(path: &Option<PathBuf>, line: usize) -> String {
    match path {
        Some(p) => format!("{}:{line}: ", p.display()),
        None => format!("line {line}: "),
    }
}

impl DataError {
    /// The 1-based line in the `.data` file, when the error has one.
    pub fn line(&self) -> Option<usize> {
        match self {
            DataError::Read { .. } => None,
            DataError::UnknownDirective { line, .. }
            | DataError::NoExpectation { line, .. }
            | DataError::NoInstructions { line, .. }
            | DataError::BadResult { line, .. }
            | DataError::BadVerdict { line, .. }
            | DataError::BadMemory { line, .. }
            | DataError::BadProgType { line, .. }
            | DataError::BadMaps { line, .. }
            | DataError::DuplicateSection { line, .. }
            | DataError::DuplicateValue { line, .. }
            | DataError::BadRaw { line, .. }
            | DataError::Asm { line, .. } => Some(*line),
        }
    }

    /// The file, when known.
    pub fn path(&self) -> Option<&Path> {
        match self {
            DataError::Read { path, .. } => Some(path),
            DataError::UnknownDirective { path, .. }
            | DataError::NoExpectation { path, .. }
            | DataError::NoInstructions { path, .. }
            | DataError::BadResult { path, .. }
            | DataError::BadVerdict { path, .. }
            | DataError::BadMemory { path, .. }
            | DataError::BadProgType { path, .. }
            | DataError::BadMaps { path, .. }
            | DataError::DuplicateSection { path, .. }
            | DataError::DuplicateValue { path, .. }
            | DataError::BadRaw { path, .. }
            | DataError::Asm { path, .. } => path.as_deref(),
        }
    }

    /// The same error, naming `file` as its path.
    pub fn with_path(self, file: &Path) -> DataError {
        let mut e = self;
        match &mut e {
            DataError::Read { .. } => {}
            DataError::UnknownDirective { path, .. }
            | DataError::NoExpectation { path, .. }
            | DataError::NoInstructions { path, .. }
            | DataError::BadResult { path, .. }
            | DataError::BadVerdict { path, .. }
            | DataError::BadMemory { path, .. }
            | DataError::BadProgType { path, .. }
            | DataError::BadMaps { path, .. }
            | DataError::DuplicateSection { path, .. }
            | DataError::DuplicateValue { path, .. }
            | DataError::BadRaw { path, .. }
            | DataError::Asm { path, .. } => *path = Some(file.to_path_buf()),
        }
        e
    }
}

/// The sections of a `.data` file.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Ignore,
    Asm,
    Raw,
    Result,
    Mem,
    Error,
    ProgType,
    Packet,
    Maps,
    Verdict,
}

/// The section a `--` line switches to, by upstream's keyword order.
fn directive(line: &str) -> Option<Section> {
    [
        // bpfdiff's extensions first: their keywords contain none of
        // upstream's.
        ("prog-type", Section::ProgType),
        ("packet", Section::Packet),
        ("maps", Section::Maps),
        ("verdict", Section::Verdict),
        ("asm", Section::Asm),
        ("result", Section::Result),
        ("mem", Section::Mem),
        ("raw", Section::Raw),
        ("no register offset", Section::Ignore),
        (" c", Section::Ignore),
        ("error", Section::Error),
    ]
    .into_iter()
    .find(|(keyword, _)| line.contains(keyword))
    .map(|(_, section)| section)
}

/// A line's number and its text (comment removed).
type Numbered<'a> = (usize, &'a str);

/// The lines of each section, as collected before interpretation.
#[derive(Default)]
struct Sections<'a> {
    asm: Vec<Numbered<'a>>,
    asm_header: Option<usize>,
    raw: Vec<Numbered<'a>>,
    raw_header: Option<usize>,
    mem: Vec<Numbered<'a>>,
    result: Option<Numbered<'a>>,
    error: Option<Numbered<'a>>,
    prog_type: Option<Numbered<'a>>,
    verdict: Option<Numbered<'a>>,
    verdict_header: Option<usize>,
    packet: Vec<Numbered<'a>>,
    packet_header: Option<usize>,
    maps: Vec<Numbered<'a>>,
    last_line: usize,
}

impl Section {
    /// The keyword, for messages (`None` for the ignored sections, which may repeat).
    fn keyword(self) -> Option<&'static str> {
        match self {
            Section::Ignore => None,
            Section::Asm => Some("asm"),
            Section::Raw => Some("raw"),
            Section::Result => Some("result"),
            Section::Mem => Some("mem"),
            Section::Error => Some("error"),
            Section::ProgType => Some("prog-type"),
            Section::Packet => Some("packet"),
            Section::Maps => Some("maps"),
            Section::Verdict => Some("verdict"),
        }
    }
}

/// Stores the value line of a `result` or `error` section; a second one is an error.
fn set_value<'a>(
    slot: &mut Option<Numbered<'a>>,
    entry: Numbered<'a>,
    section: &'static str,
) -> Result<(), DataError> {
    if let Some((first, _)) = *slot {
        return Err(DataError::DuplicateValue {
            path: None,
            line: entry.0,
            section,
            first,
        });
    }
    *slot = Some(entry);
    Ok(())
}

fn split_sections(text: &str) -> Result<Sections<'_>, DataError> {
    let mut sections = Sections::default();
    let mut section = Section::Ignore;
    let mut headers: HashMap<&'static str, usize> = HashMap::new();
    for (index, raw_line) in text.lines().enumerate() {
        let number = index + 1;
        sections.last_line = number;
        let line = raw_line.strip_suffix('\r').unwrap_or(raw_line);
        let line = line.split('#').next().unwrap_or("").trim_end();
        if line.contains("--") {
            section = directive(line).ok_or_else(|| DataError::UnknownDirective {
                path: None,
                line: number,
                text: line.trim().to_string(),
            })?;
            if let Some(keyword) = section.keyword() {
                if let Some(&first) = headers.get(keyword) {
                    return Err(DataError::DuplicateSection {
                        path: None,
                        line: number,
                        section: keyword,
                        first,
                    });
                }
                headers.insert(keyword, number);
            }
            match section {
                Section::Asm => sections.asm_header = Some(number),
                Section::Raw => sections.raw_header = Some(number),
                Section::Packet => sections.packet_header = Some(number),
                Section::Verdict => sections.verdict_header = Some(number),
                _ => {}
            }
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let entry = (number, line);
        match section {
            Section::Asm => sections.asm.push(entry),
            Section::Raw => sections.raw.push(entry),
            Section::Mem => sections.mem.push(entry),
            Section::Result => set_value(&mut sections.result, entry, "result")?,
            Section::Error => set_value(&mut sections.error, entry, "error")?,
            Section::ProgType => set_value(&mut sections.prog_type, entry, "prog-type")?,
            Section::Packet => sections.packet.push(entry),
            Section::Maps => sections.maps.push(entry),
            Section::Verdict => set_value(&mut sections.verdict, entry, "verdict")?,
            Section::Ignore => {}
        }
    }
    sections.last_line = sections.last_line.max(1);
    Ok(sections)
}

/// Reads an unsigned 64-bit number: `0x` hex, or decimal; a leading `-`
/// negates modulo 2^64 as upstream's `strtoull` does.
fn parse_u64(text: &str, hex: bool) -> Result<u64, &'static str> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let value = if hex {
        let h = digits
            .strip_prefix("0x")
            .ok_or("expected 0x before hex digits")?;
        if h.is_empty() || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("expected hex digits");
        }
        u64::from_str_radix(h, 16).map_err(|_| "does not fit 64 bits")?
    } else {
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err("expected a decimal number or 0x hex");
        }
        digits.parse::<u64>().map_err(|_| "does not fit 64 bits")?
    };
    Ok(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

fn parse_result(line: usize, text: &str) -> Result<u64, DataError> {
    let text = text.trim();
    parse_u64(text, text.contains("0x")).map_err(|reason| DataError::BadResult {
        path: None,
        line,
        text: text.to_string(),
        reason,
    })
}

fn parse_verdict(line: usize, text: &str) -> Result<ExpectedVerdict, DataError> {
    let text = text.trim();
    let bad = |reason: String| DataError::BadVerdict {
        path: None,
        line,
        text: text.to_string(),
        reason,
    };
    if text == "accepted" {
        return Ok(ExpectedVerdict::Accepted);
    }
    let Some(rest) = text.strip_prefix("rejected ") else {
        return Err(bad(
            "expected `accepted` or `rejected CLASS[: MESSAGE]`".into()
        ));
    };
    let (name, message) = match rest.split_once(':') {
        Some((name, message)) => (name.trim(), Some(message.trim().to_string())),
        None => (rest.trim(), None),
    };
    let class = RejectClass::from_name(name).ok_or_else(|| {
        let known: Vec<&str> = RejectClass::ALL.iter().map(|c| c.as_str()).collect();
        bad(format!(
            "unknown class `{name}` (known: {})",
            known.join(", ")
        ))
    })?;
    Ok(ExpectedVerdict::Rejected {
        class,
        message: message.filter(|m| !m.is_empty()),
    })
}

fn parse_raw(lines: &[Numbered<'_>]) -> Result<Vec<Insn>, DataError> {
    let mut insns = Vec::new();
    for &(line, text) in lines {
        for token in text.split_whitespace() {
            let word = if token.starts_with("0x") {
                parse_u64(token, true)
            } else if token.bytes().all(|b| b.is_ascii_digit()) {
                parse_u64(token, false)
            } else {
                Err("expected a 0x hex or decimal 64-bit word")
            };
            let word = word.map_err(|reason| DataError::BadRaw {
                path: None,
                line,
                token: token.to_string(),
                reason,
            })?;
            insns.push(Insn::from_u64(word));
        }
    }
    Ok(insns)
}

fn parse_mem(lines: &[Numbered<'_>]) -> Result<Vec<u8>, DataError> {
    let mut mem = Vec::new();
    for &(line, text) in lines {
        let bytes = parse_hex_bytes(text).map_err(|e| DataError::BadMemory {
            path: None,
            line,
            column: e.column,
            kind: e.kind,
        })?;
        mem.extend(bytes);
    }
    Ok(mem)
}

fn assemble_lines(lines: &[Numbered<'_>]) -> Result<(Program, String), DataError> {
    let text: String = lines.iter().map(|(_, l)| format!("{l}\n")).collect();
    let program = conformance::assemble(&text).map_err(|e| DataError::Asm {
        path: None,
        line: lines
            .get(e.line.saturating_sub(1))
            .or(lines.last())
            .map_or(1, |(n, _)| *n),
        kind: e.kind,
    })?;
    Ok((program, text))
}

/// Parses the text of a `.data` file.
pub fn parse_data(text: &str) -> Result<DataTest, DataError> {
    let sections = split_sections(text)?;
    let last = sections.last_line;
    if sections.result.is_none() && sections.error.is_none() {
        return Err(DataError::NoExpectation {
            path: None,
            line: last,
        });
    }
    let result = sections
        .result
        .map(|(line, text)| parse_result(line, text))
        .transpose()?;
    let expected = match (sections.error, result) {
        (Some((_, text)), _) => Expected::Error(text.trim().to_string()),
        (None, Some(value)) => Expected::Result(value),
        (None, None) => Expected::Result(0),
    };
    let has_raw = !sections.raw.is_empty();
    let (program, asm) = if has_raw {
        // Upstream does not assemble `-- asm` when `-- raw` is present.
        let asm = sections
            .asm_header
            .map(|_| sections.asm.iter().map(|(_, l)| format!("{l}\n")).collect());
        (Program::new(parse_raw(&sections.raw)?), asm)
    } else {
        let (program, asm) = assemble_lines(&sections.asm)?;
        (program, sections.asm_header.map(|_| asm))
    };
    if program.is_empty() {
        return Err(DataError::NoInstructions {
            path: None,
            line: sections.raw_header.or(sections.asm_header).unwrap_or(last),
        });
    }
    let prog_type = match sections.prog_type {
        Some((line, text)) => ProgType::parse(text).map_err(|kind| DataError::BadProgType {
            path: None,
            line,
            kind,
        })?,
        None => ProgType::Input,
    };
    let packet = match sections.packet_header {
        Some(_) => Some(parse_mem(&sections.packet)?),
        None => None,
    };
    let verdict = match (sections.verdict, sections.verdict_header) {
        (Some((line, text)), _) => Some(parse_verdict(line, text)?),
        (None, Some(line)) => {
            return Err(DataError::BadVerdict {
                path: None,
                line,
                text: String::new(),
                reason: "the `-- verdict` section has no value".into(),
            })
        }
        (None, None) => None,
    };
    let maps = parse_maps(&sections.maps).map_err(|e| DataError::BadMaps {
        path: None,
        line: e.line,
        reason: e.reason,
    })?;
    Ok(DataTest {
        maps,
        program,
        mem: parse_mem(&sections.mem)?,
        expected,
        asm,
        has_raw,
        prog_type,
        packet,
        verdict,
    })
}

/// Reads and parses a `.data` file; errors name the path.
pub fn parse_data_file(path: &Path) -> Result<DataTest, DataError> {
    let text = std::fs::read_to_string(path).map_err(|source| DataError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_data(&text).map_err(|e| e.with_path(path))
}

/// Writes a test as a `.data` file that upstream's parser (and
/// [`parse_data`]) reads back to the same program, memory and expectation.
///
/// The program is written as `-- asm` when it decodes, else as `-- raw`
/// words. An expected error is written on one line (line breaks become
/// spaces); a message containing `#` or `--`, or an empty one, cannot be
/// represented in the format and will not read back the same.
pub fn write_data(test: &DataTest) -> String {
    let mut out = String::new();
    if test.prog_type != ProgType::Input {
        let _ = writeln!(out, "-- prog-type\n{}", test.prog_type);
    }
    if let Some(packet) = &test.packet {
        out.push_str("-- packet\n");
        write_hex_lines(&mut out, packet);
    }
    if !test.maps.is_empty() {
        out.push_str("-- maps\n");
        out.push_str(&write_maps(&test.maps));
    }
    match conformance::disassemble(&test.program) {
        Ok(asm) => {
            out.push_str("-- asm\n");
            out.push_str(&asm);
        }
        Err(_) => {
            out.push_str("-- raw\n");
            for insn in &test.program.insns {
                let _ = writeln!(out, "0x{:016x}", insn.to_u64());
            }
        }
    }
    if !test.mem.is_empty() {
        out.push_str("-- mem\n");
        write_hex_lines(&mut out, &test.mem);
    }
    match &test.expected {
        Expected::Result(value) => {
            let _ = write!(out, "-- result\n0x{value:x}\n");
        }
        Expected::Error(message) => {
            let one_line: String = message
                .chars()
                .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
                .collect();
            let _ = writeln!(out, "-- error\n{}", one_line.trim());
        }
    }
    if let Some(verdict) = &test.verdict {
        // A message this format cannot carry (`#` starts a comment, `--` a
        // section) is left out: the class alone is recorded.
        let verdict = match verdict {
            ExpectedVerdict::Rejected {
                class,
                message: Some(m),
            } if m.contains('#') || m.contains("--") || m.contains(['\n', '\r']) => {
                ExpectedVerdict::Rejected {
                    class: *class,
                    message: None,
                }
            }
            v => v.clone(),
        };
        let _ = writeln!(out, "{VERDICT_HEADER}\n{verdict}");
    }
    out
}

/// Hex bytes, 8 per line.
fn write_hex_lines(out: &mut String, bytes: &[u8]) {
    for chunk in bytes.chunks(8) {
        let line: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        out.push_str(&line.join(" "));
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_strategies::arb_instruction;
    use proptest::prelude::*;

    fn parse(text: &str) -> DataTest {
        parse_data(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    fn parse_err(text: &str) -> DataError {
        parse_data(text).expect_err(text)
    }

    #[test]
    fn prog_type_and_packet_sections_round_trip() {
        let text =
            "-- prog-type\ntc\n-- packet\n00 11 22\n-- asm\nmov %r0, 1\nexit\n-- result\n0x1\n";
        let t = parse(text);
        assert_eq!(t.prog_type, ProgType::SchedCls);
        assert_eq!(t.packet, Some(vec![0x00, 0x11, 0x22]));
        let again = parse(&write_data(&t));
        assert_eq!(again.prog_type, ProgType::SchedCls);
        assert_eq!(again.packet, t.packet);
        assert_eq!(again.program, t.program);
        // Without the sections: the input model, no packet.
        let plain = parse("-- asm\nexit\n-- result\n0\n");
        assert_eq!(
            (plain.prog_type, plain.packet.clone()),
            (ProgType::Input, None)
        );
        assert!(!write_data(&plain).contains("prog-type"));
        match parse_err("-- prog-type\nkprobe\n-- asm\nexit\n-- result\n0\n") {
            DataError::BadProgType { line: 2, .. } => {}
            e => panic!("{e}"),
        }
    }

    #[test]
    fn reads_an_upstream_test() {
        let t = parse(
            "# Copyright\n\
             -- asm\n\
             mov %r0, 1 # one\n\
             \n\
             exit\n\
             -- mem\n\
             00 11 ff\n\
             0x22\n\
             -- result\n\
             0x1\n",
        );
        assert_eq!(
            t.program.insns,
            vec![Insn::new(0xb7, 0, 0, 0, 1), Insn::new(0x95, 0, 0, 0, 0)]
        );
        assert_eq!(t.mem, vec![0x00, 0x11, 0xff, 0x22]);
        assert_eq!(t.expected, Expected::Result(1));
        assert_eq!(t.asm.as_deref(), Some("mov %r0, 1\nexit\n"));
        assert!(!t.has_raw);
    }

    #[test]
    fn upstream_quirks() {
        // Raw overrides asm, and the asm is not even assembled.
        let t = parse("-- asm\nnot an instruction\n-- raw\n0x0000000000000095\n-- result\n7\n");
        assert!(t.has_raw);
        assert_eq!(t.program.insns, vec![Insn::new(0x95, 0, 0, 0, 0)]);
        assert_eq!(t.expected, Expected::Result(7), "decimal without 0x");
        // Raw words may be decimal; several per line.
        let t = parse("-- raw\n149 149\n-- result\n0x0\n");
        assert_eq!(t.program.len(), 2);
        // Ignored sections: `no register offset` and ` c`.
        let t = parse(
            "-- asm\nexit\n-- result\n0x2\n-- no register offset\ncall instruction\n-- c\nint x;\n",
        );
        assert_eq!(t.expected, Expected::Result(2));
        // CRLF line ends; a comment anywhere.
        let t = parse("-- asm\r\nexit\r\n-- result\r\n# one value\r\n0x10 # sixteen\r\n");
        assert_eq!(t.expected, Expected::Result(0x10));
        // `-1` reads as strtoull does.
        let t = parse("-- asm\nexit\n-- result\n-1\n");
        assert_eq!(t.expected, Expected::Result(u64::MAX));
        // An error takes precedence over a result and keeps its text.
        let t = parse("-- asm\nexit\n-- result\n0x0\n-- error\nbad things happened  \n");
        assert_eq!(t.expected, Expected::Error("bad things happened".into()));
        // No mem: empty memory.
        assert!(parse("-- asm\nexit\n-- result\n0\n").mem.is_empty());
        // Keyword order: a `--` line mentioning asm is asm even if it says more.
        let t = parse("-- asm (result follows)\nexit\n-- result\n3\n");
        assert_eq!(t.expected, Expected::Result(3));
    }

    #[test]
    fn errors_name_the_data_file_line() {
        let e = parse_err("-- asm\nexit\n-- bogus\n-- result\n1\n");
        assert_eq!(e.line(), Some(3));
        assert!(matches!(e, DataError::UnknownDirective { .. }), "{e}");
        let e = parse_err("-- asm\nexit\n\n");
        assert!(matches!(e, DataError::NoExpectation { line: 3, .. }), "{e}");
        let e = parse_err("# nothing\n-- asm\n# still nothing\n-- result\n1\n");
        assert!(
            matches!(e, DataError::NoInstructions { line: 2, .. }),
            "{e}"
        );
        let e = parse_err("-- asm\nexit\n-- result\n0xzz\n");
        assert!(matches!(e, DataError::BadResult { line: 4, .. }), "{e}");
        let e = parse_err("-- asm\nexit\n-- result\n12 apples\n");
        assert!(matches!(e, DataError::BadResult { line: 4, .. }), "{e}");
        let e = parse_err("-- asm\nexit\n-- mem\n00 11\n22 xy\n-- result\n1\n");
        assert!(matches!(e, DataError::BadMemory { line: 5, .. }), "{e}");
        let e = parse_err("-- asm\nexit\n-- mem\n100\n-- result\n1\n");
        assert!(matches!(e, DataError::BadMemory { line: 4, .. }), "{e}");
        assert_eq!(
            e.to_string(),
            "line 4: invalid memory: column 1: `100` has an odd number of hex digits (each byte takes two)"
        );
        let e = parse_err("-- raw\n0x95\n0xq\n-- result\n1\n");
        assert!(matches!(e, DataError::BadRaw { line: 3, .. }), "{e}");
        let e = parse_err("-- raw\n-1\n-- result\n1\n");
        assert!(matches!(e, DataError::BadRaw { line: 2, .. }), "{e}");
        // The asm error's line is the line in the .data file, past comments and blanks.
        let e = parse_err("# header\n-- asm\n# c\nmov %r0, 1\n\nmov %r0\nexit\n-- result\n1\n");
        assert_eq!(e.line(), Some(6), "{e}");
        assert!(matches!(
            e,
            DataError::Asm {
                kind: AsmErrorKind::OperandCount { .. },
                ..
            }
        ));
        assert_eq!(e.to_string(), "line 6: `mov` takes 2 operand(s), found 1");
        let e = parse_err("-- asm\nja nowhere\nexit\n-- result\n1\n");
        assert_eq!(e.line(), Some(2));
    }

    #[test]
    fn verdict_sections_read_write_and_refuse_bad_values() {
        let t = parse("-- asm\nexit\n-- result\n0\n");
        assert_eq!(t.verdict, None);
        let t = parse(&format!(
            "-- asm\nexit\n-- result\n0\n{VERDICT_HEADER}\nrejected division-by-zero: div by zero\n"
        ));
        let want = ExpectedVerdict::Rejected {
            class: RejectClass::DivisionByZero,
            message: Some("div by zero".into()),
        };
        assert_eq!(t.verdict, Some(want.clone()));
        assert_eq!(parse(&write_data(&t)), t);
        // A bare `-- verdict` header reads too; `accepted` and a class alone.
        let t = parse("-- asm\nexit\n-- result\n0\n-- verdict\naccepted\n");
        assert_eq!(t.verdict, Some(ExpectedVerdict::Accepted));
        let t = parse("-- verdict\nrejected unreachable-insn\n-- asm\nexit\n-- result\n0\n");
        assert!(matches!(
            t.verdict,
            Some(ExpectedVerdict::Rejected { message: None, .. })
        ));
        // A message the format cannot carry is written as the class alone.
        let mut t = t;
        t.verdict = Some(ExpectedVerdict::Rejected {
            class: RejectClass::UnknownHelper,
            message: Some("invalid func unknown#99".into()),
        });
        assert!(write_data(&t).ends_with("section)\nrejected unknown-helper\n"));
        let e = parse_err("-- asm\nexit\n-- result\n0\n-- verdict\nrefused\n");
        assert_eq!(e.line(), Some(6));
        let e = parse_err("-- asm\nexit\n-- result\n0\n-- verdict\nrejected nope: x\n");
        assert!(
            e.to_string()
                .starts_with("line 6: invalid verdict `rejected nope: x`: unknown class `nope`"),
            "{e}"
        );
        let e = parse_err("-- asm\nexit\n-- result\n0\n-- verdict\n");
        assert_eq!(e.line(), Some(5));
    }

    #[test]
    fn the_verdict_header_is_an_ignored_section_upstream() {
        // Upstream's bpf_test_parser.cc tries, in order, `asm`, `result`,
        // `mem`, `raw`, `no register offset` and ` c` (ignored) before
        // `error`; an unknown `--` line makes it skip the whole file.
        let upstream = [
            "asm",
            "result",
            "mem",
            "raw",
            "no register offset",
            " c",
            "error",
        ];
        let first = upstream.iter().find(|k| VERDICT_HEADER.contains(*k));
        assert_eq!(first, Some(&" c"));
        assert!(directive(VERDICT_HEADER) == Some(Section::Verdict));
    }

    #[test]
    fn mem_accepts_the_syntax_of_mem_and_mem_file() {
        // Spaced, packed and 0x-prefixed bytes, as `--mem` and `--mem-file` take them.
        let t = parse("-- asm\nexit\n-- mem\naabb\n0xccdd ee,ff\n-- result\n0\n");
        assert_eq!(t.mem, [0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
    }

    #[test]
    fn a_repeated_section_or_value_is_an_error_naming_its_line() {
        let e = parse_err("-- asm\nexit\n-- result\n1\n-- result\n2\n");
        assert!(
            matches!(
                e,
                DataError::DuplicateSection {
                    line: 5,
                    first: 3,
                    section: "result",
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(
            e.to_string(),
            "line 5: second `-- result` section (the first is at line 3); a test has at most one"
        );
        for section in ["asm", "raw", "mem", "error"] {
            let text = format!("-- {section}\n-- result\n1\n-- {section}\n");
            let e = parse_err(&text);
            assert!(
                matches!(e, DataError::DuplicateSection { line: 4, .. }),
                "{section}: {e}"
            );
        }
        let e = parse_err("-- asm\nexit\n-- result\n1\n0x10\n");
        assert!(
            matches!(
                e,
                DataError::DuplicateValue {
                    line: 5,
                    first: 4,
                    ..
                }
            ),
            "{e}"
        );
        let e = parse_err("-- asm\nexit\n-- error\none\ntwo\n");
        assert!(
            matches!(e, DataError::DuplicateValue { line: 5, .. }),
            "{e}"
        );
        // The ignored sections may repeat.
        parse("-- asm\nexit\n-- c\nx\n-- result\n1\n-- c\ny\n");
    }

    #[test]
    fn missing_file_names_the_path() {
        let path = Path::new("/nonexistent/bpfdiff/test.data");
        let e = parse_data_file(path).unwrap_err();
        assert!(matches!(e, DataError::Read { .. }));
        assert_eq!(e.path(), Some(path));
        assert!(
            e.to_string()
                .starts_with("/nonexistent/bpfdiff/test.data: "),
            "{e}"
        );
    }

    #[test]
    fn file_errors_carry_path_and_line() {
        let dir = std::env::temp_dir().join(format!("bpfdiff-data-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.data");
        std::fs::write(&path, "-- asm\nexit\n-- result\nnope\n").unwrap();
        let e = parse_data_file(&path).unwrap_err();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(e.line(), Some(4));
        assert_eq!(e.path(), Some(path.as_path()));
        assert!(
            e.to_string()
                .starts_with(&format!("{}:4: ", path.display())),
            "{e}"
        );
    }

    #[test]
    fn writes_the_upstream_layout() {
        let t = DataTest {
            program: Program::new(vec![
                Insn::new(0xb7, 0, 0, 0, 1),
                Insn::new(0x95, 0, 0, 0, 0),
            ]),
            mem: (0..10).collect(),
            expected: Expected::Result(0x1),
            asm: None,
            has_raw: false,
            prog_type: ProgType::Input,
            packet: None,
            maps: Vec::new(),
            verdict: None,
        };
        assert_eq!(
            write_data(&t),
            "-- asm\nmov %r0, 1\nexit\n\
             -- mem\n00 01 02 03 04 05 06 07\n08 09\n\
             -- result\n0x1\n"
        );
        let t = DataTest {
            program: Program::new(vec![Insn::new(0x8f, 0, 0, 0, 0)]),
            mem: vec![],
            expected: Expected::Error("unknown\nopcode".into()),
            asm: None,
            has_raw: true,
            prog_type: ProgType::Input,
            packet: None,
            maps: Vec::new(),
            verdict: None,
        };
        assert_eq!(
            write_data(&t),
            "-- raw\n0x000000000000008f\n-- error\nunknown opcode\n"
        );
    }

    fn arb_valid_program() -> impl Strategy<Value = Program> {
        proptest::collection::vec(arb_instruction(), 1..20)
            .prop_map(|ins| Program::from_instructions(&ins))
    }

    fn arb_program() -> impl Strategy<Value = Program> {
        prop_oneof![
            arb_valid_program(),
            proptest::collection::vec(any::<u64>(), 1..20)
                .prop_map(|w| Program::new(w.into_iter().map(Insn::from_u64).collect())),
        ]
    }

    fn arb_expected() -> impl Strategy<Value = Expected> {
        prop_oneof![
            any::<u64>().prop_map(Expected::Result),
            "[a-zA-Z0-9_:.()'=+ -]{0,40}[a-zA-Z0-9]".prop_filter_map("no --", |s| {
                let s = s.trim().to_string();
                (!s.contains("--")).then_some(Expected::Error(s))
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn parse_inverts_write(
            program in arb_program(),
            mem in proptest::collection::vec(any::<u8>(), 0..40),
            expected in arb_expected(),
        ) {
            let test = DataTest { program, mem, expected, asm: None, has_raw: false, prog_type: ProgType::Input, packet: None, maps: Vec::new(), verdict: None };
            let text = write_data(&test);
            let back = parse_data(&text).map_err(|e| format!("{e}\n{text}"));
            prop_assert!(back.is_ok(), "{:?}", back);
            let back = back.unwrap();
            prop_assert_eq!(&back.program, &test.program, "{}", text);
            prop_assert_eq!(&back.mem, &test.mem);
            prop_assert_eq!(&back.expected, &test.expected);
            prop_assert_eq!(back.has_raw, test.program.decode().is_err());
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
            let _ = parse_data(&text);
        }
    }
}
