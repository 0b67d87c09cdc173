//! Divergence reports: `bpfdiff report CASE` and `bpfdiff triage` write
//! one folder per divergence signature in the format reports/README.md
//! describes: `report.md` ([`markdown`]), `case.json` ([`case_json`],
//! the replay schema plus outcomes, signature, environment and history),
//! `repro.data` (the case with its `#@` record), and for kernel findings
//! `selftest.c` ([`selftest`]) and `verifier.log`.
//!
//! Output is deterministic: files are rendered from the case, the outcomes
//! and the environment only (no timestamps), so regenerating a report
//! changes nothing unless something observable changed. A case that no
//! longer diverges here but carries a record (a `.data` file's `#@` lines
//! or a `case.json`'s `recorded`) still gets a report: its primary
//! difference is the first recorded one, and the report says that it was
//! not seen here. What cannot be derived (an analysis, upstream links) is
//! kept between the hand-kept markers of `report.md`, and an existing
//! `case.json`'s `title` and `seen` history are carried over.

pub mod case_json;
pub mod index;
pub mod markdown;
pub mod selftest;

use crate::environment::Environment;
use crate::fuzz_glue::DiffHarness;
use crate::minimize::Case;
use crate::replay::record::{Record, RecordedDifference};
use crate::signature::{signature_rows, Signature};
use bpfdiff_oracle::backend::kernel::{KernelBackend, KernelOptions};
use bpfdiff_oracle::registry::RegistryError;
use bpfdiff_oracle::{Comparison, Difference, KnownRules, Outcome};
use std::path::{Path, PathBuf};

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A bad backend selection.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The case neither diverges nor carries a record of a divergence.
    #[error(
        "nothing to report: the case does not diverge on {backends} and records no divergence"
    )]
    NothingToReport {
        /// The backends.
        backends: String,
    },
    /// A file could not be read or written.
    #[error("{}: {what}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// The reason.
        source: std::io::Error,
    },
    /// An existing `case.json` could not be read.
    #[error("{}: {why}", path.display())]
    Existing {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
}

/// Everything a report folder is rendered from.
#[derive(Clone, Debug)]
pub struct Report {
    /// The folder name (the signature's slug unless given).
    pub name: String,
    /// The folder, as the user named it (`reports/NAME`).
    pub dir: PathBuf,
    /// A one-line title (carried over from an existing `case.json`).
    pub title: String,
    /// The case.
    pub case: Case,
    /// Where it came from (`minimized from FILE (N slots)`), if known.
    pub source: Option<String>,
    /// The backends run, reference first.
    pub backends: Vec<String>,
    /// Each backend's outcome here.
    pub outcomes: Vec<Outcome>,
    /// The differences here (with known rules applied).
    pub differences: Vec<Difference>,
    /// The difference the report is about.
    pub primary: RecordedDifference,
    /// Whether the primary difference occurs here.
    pub diverges_now: bool,
    /// The signature of the primary difference.
    pub signature: Signature,
    /// The record written to `case.json` and `repro.data`.
    pub record: Record,
    /// Where it ran now.
    pub environment: Environment,
    /// The kernel's level-2 verifier log, when the kernel is involved.
    pub verifier_log: Option<String>,
    /// Where it was seen before (from an existing `case.json`) and now.
    pub seen: Vec<serde_json::Value>,
    /// The hand-kept part of an existing `report.md`.
    pub hand_kept: Option<String>,
}

/// The difference a report is about: the first recorded one, else the
/// first one no known rule explains, else the first.
pub fn primary_difference(
    record: Option<&Record>,
    differences: &[Difference],
) -> Option<RecordedDifference> {
    if let Some(d) = record.and_then(|r| r.differences.first()) {
        return Some(d.clone());
    }
    let d = differences
        .iter()
        .find(|d| d.known.is_none())
        .or_else(|| differences.first())?;
    Some(RecordedDifference {
        backend: d.backend.clone(),
        aspect: d.aspect.name().to_string(),
        rule: d.known.clone(),
        or: Vec::new(),
        seen_on: Vec::new(),
        not_seen_on: Vec::new(),
    })
}

/// The differences of a comparison (none unless it diverges).
pub fn differences_of(c: &Comparison) -> Vec<Difference> {
    match c {
        Comparison::Diverge { differences } => differences.clone(),
        _ => Vec::new(),
    }
}

fn push_unique(list: &mut Vec<String>, v: &str) {
    if !list.iter().any(|x| x == v) {
        list.push(v.to_string());
    }
}

/// The kernel's verifier log for `case` (level 2, instruction numbers of
/// the wrapped program), without lines that vary from load to load.
fn kernel_log(case: &Case) -> Option<String> {
    let mut k = KernelBackend::new(KernelOptions {
        log_on_reject: false,
    });
    let (_, log) = k
        .raw_verifier_log(&case.program, case.input.len(), 2)
        .ok()?;
    let kept: String = log
        .lines()
        .filter(|l| !l.starts_with("verification time"))
        .map(|l| format!("{}\n", mask_kernel_addresses(l)))
        .collect();
    Some(kept)
}

/// `line` with every kernel address (`0xffff` and 12 more hex digits, a
/// map's address in an `ld_imm64`) replaced by `0xffff<addr>`: addresses
/// change from load to load, and a report must not.
pub fn mask_kernel_addresses(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find("0xffff") {
        let tail = &rest[at + 6..];
        let digits = tail.chars().take_while(|c| c.is_ascii_hexdigit()).count();
        out.push_str(&rest[..at]);
        if digits == 12 {
            out.push_str("0xffff<addr>");
            rest = &tail[12..];
        } else {
            out.push_str("0xffff");
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

/// Runs `case` on `backends` with `rules` and gathers what its report
/// needs; `existing` is the folder a previous report may be in (its title,
/// history and hand-kept notes are carried over).
pub fn build(
    case: Case,
    record: Option<Record>,
    backends: &[String],
    rules: KnownRules,
    source: Option<String>,
    name: Option<String>,
    reports_dir: &Path,
) -> Result<Report, ReportError> {
    let mut harness = DiffHarness::new(backends, rules, true)?;
    let check = harness.check(&case);
    let mut outcomes = check.outcomes.clone();
    for o in &mut outcomes {
        if let bpfdiff_oracle::Verdict::Rejected { log, .. } = &mut o.verdict {
            *log = None;
        }
    }
    let differences = differences_of(&check.comparison);
    let record = record.filter(|r| !r.differences.is_empty());
    let primary = primary_difference(record.as_ref(), &differences).ok_or_else(|| {
        ReportError::NothingToReport {
            backends: backends.join(","),
        }
    })?;
    let observed = differences
        .iter()
        .find(|d| d.backend == primary.backend && d.aspect.name() == primary.aspect);
    let diverges_now = observed.is_some();
    let signature = match observed {
        Some(d) => Signature::of_type(case.prog_type, &case.program, &outcomes, d),
        None => Signature {
            reference: backends.first().cloned().unwrap_or_default(),
            backend: primary.backend.clone(),
            aspect: primary.aspect.clone(),
            class: String::new(),
            rows: signature_rows(&case.program),
            prog_type: if case.prog_type == bpfdiff_engine::prog_type::ProgType::Input {
                String::new()
            } else {
                case.prog_type.name().to_string()
            },
        },
    };
    let name = name.unwrap_or_else(|| signature.slug());
    let environment = Environment::detect();
    let dir = reports_dir.join(&name);
    let existing = case_json::read_existing(&dir.join("case.json"))?;
    let hand_kept = markdown::read_hand_kept(&dir.join("report.md"));

    // The record: the given one with this run's version added to the
    // primary difference, else the differences seen here.
    let version = environment.backend_version(&primary.backend);
    let record = match record {
        Some(mut r) => {
            let p = &mut r.differences[0];
            if diverges_now {
                p.not_seen_on.retain(|v| v != &version);
                push_unique(&mut p.seen_on, &version);
            } else {
                p.seen_on.retain(|v| v != &version);
                push_unique(&mut p.not_seen_on, &version);
            }
            r
        }
        None => Record {
            differences: differences
                .iter()
                .map(|d| RecordedDifference {
                    backend: d.backend.clone(),
                    aspect: d.aspect.name().to_string(),
                    rule: d.known.clone(),
                    or: Vec::new(),
                    seen_on: vec![environment.backend_version(&d.backend)],
                    not_seen_on: Vec::new(),
                })
                .collect(),
        },
    };
    // The primary difference as recorded (with its versions).
    let primary = record
        .differences
        .iter()
        .find(|d| d.backend == primary.backend && d.aspect == primary.aspect)
        .cloned()
        .unwrap_or(primary);
    let kernel_involved = backends.iter().any(|b| b == "kernel")
        && (primary.backend == "kernel" || differences.iter().any(|d| d.backend == "kernel"));
    let verifier_log = kernel_involved.then(|| kernel_log(&case)).flatten();
    let title = existing
        .as_ref()
        .and_then(|e| e.get("title"))
        .and_then(|t| t.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| markdown::default_title(&signature));
    let mut report = Report {
        dir: dir.clone(),
        name,
        title,
        case,
        source,
        backends: backends.to_vec(),
        outcomes,
        differences,
        primary,
        diverges_now,
        signature,
        record,
        environment,
        verifier_log,
        seen: Vec::new(),
        hand_kept,
    };
    report.seen = case_json::merge_seen(existing.as_ref(), &report);
    Ok(report)
}

/// What writing a report did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Written {
    /// The folder did not exist.
    New,
    /// It existed and some file changed.
    Updated,
    /// It existed and nothing changed.
    Unchanged,
}

/// The files of `report`, by name.
pub fn render(report: &Report) -> Vec<(&'static str, String)> {
    let mut files = vec![
        ("report.md", markdown::render(report)),
        ("case.json", case_json::render(report)),
        ("repro.data", repro_data(report)),
    ];
    if report.primary.backend == "kernel" {
        let expect = match report.outcomes.first() {
            Some(o) => match (&o.verdict, &o.execution) {
                (bpfdiff_oracle::Verdict::Rejected { reason, .. }, _) => {
                    selftest::Expectation::Refused(Some(reason.clone()))
                }
                (_, bpfdiff_oracle::Execution::Returned { r0, .. }) => {
                    selftest::Expectation::Returns(r0.bits)
                }
                _ => selftest::Expectation::Refused(None),
            },
            None => selftest::Expectation::Refused(None),
        };
        files.push((
            "selftest.c",
            selftest::render(
                &report.name,
                &report.title,
                &report.case.program,
                report.case.prog_type,
                &report.case.input,
                &expect,
            ),
        ));
    }
    if let Some(log) = &report.verifier_log {
        files.push(("verifier.log", log.clone()));
    }
    files
}

/// `repro.data`: a header naming the report, the `#@` record, and the
/// case with the engine's answer as its expectation.
pub fn repro_data(report: &Report) -> String {
    let mut out = format!(
        "# bpfdiff report {}: {}\n# signature {}\n",
        report.name,
        report.title,
        report.signature.canonical()
    );
    out.push_str(&crate::replay::record::data_record_lines(&report.record));
    match crate::fuzz_glue::regression_data(&report.case) {
        Some(data) => out.push_str(&data),
        None => out.push_str("# (an empty program has no .data form)\n"),
    }
    out
}

/// Writes the report's files into `reports_dir/NAME/`, only those whose
/// contents changed.
pub fn write(report: &Report, reports_dir: &Path) -> Result<Written, ReportError> {
    let dir = reports_dir.join(&report.name);
    let new = !dir.exists();
    std::fs::create_dir_all(&dir).map_err(|source| ReportError::Io {
        path: dir.clone(),
        what: "cannot create",
        source,
    })?;
    let mut changed = false;
    for (file, text) in render(report) {
        let path = dir.join(file);
        if std::fs::read_to_string(&path).ok().as_deref() == Some(text.as_str()) {
            continue;
        }
        std::fs::write(&path, text).map_err(|source| ReportError::Io {
            path: path.clone(),
            what: "cannot write",
            source,
        })?;
        changed = true;
    }
    Ok(match (new, changed) {
        (true, _) => Written::New,
        (false, true) => Written::Updated,
        (false, false) => Written::Unchanged,
    })
}

/// Reads a case file in any format `bpfdiff minimize` reads, with its
/// record: a `.data` file's `#@` lines or a `case.json`'s `recorded`.
pub fn read_case_with_record(path: &Path) -> anyhow::Result<(Case, Option<Record>)> {
    use crate::minimize::case_file::{read_case, CaseFormat};
    let case = read_case(path, None)?;
    let record = match CaseFormat::from_path(path) {
        Some(CaseFormat::Json) => {
            let text = std::fs::read_to_string(path)?;
            match serde_json::from_str::<crate::replay::record::CaseFile>(&text) {
                Ok(f) => Some(
                    f.recorded
                        .to_record()
                        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
                ),
                Err(_) => None,
            }
        }
        Some(CaseFormat::Program(crate::input::InputFormat::Data)) => {
            let text = std::fs::read_to_string(path)?;
            crate::replay::record::parse_data_record(&text)
                .map_err(|e| anyhow::anyhow!("{}:{}: {}", path.display(), e.line, e.message))?
        }
        _ => None,
    };
    Ok((case, record))
}
