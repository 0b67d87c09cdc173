//! `bpfdiff replay`: runs every report and regression case again on every
//! available backend and compares what happens now with what was recorded.
//!
//! Each case is a `.data` file with a record in `#@` comment lines, or a
//! report folder's `case.json` (see [`record`]). Each ends in one status:
//!
//! - `as-recorded`: it diverges (or agrees) as recorded;
//! - `fixed`: a recorded difference no longer occurs (and nothing new does);
//!   for the kernel it says "fixed on this kernel (uname -r …)";
//! - `changed`: it diverges differently: a new or different difference, a
//!   difference recorded as fixed on this version that is back, or an
//!   engine result that no longer meets the `.data` expectation;
//! - `not-run`: it could not be checked, with the reason (a backend it
//!   needs is unavailable or not selected, no record, the program runs too
//!   long).

pub mod junit;
pub mod record;

use crate::environment::Environment;
use crate::fuzz_glue::{kernel_unavailable, DiffHarness};
use crate::gen::Case;
use crate::signature::Signature;
use bpfdiff_engine::data::{self, DataError, Expected};
use bpfdiff_engine::hex::parse_hex_bytes;
use bpfdiff_engine::maps::MapDef;
use bpfdiff_engine::prog_type::ProgType;
use bpfdiff_engine::{Insn, Program};
use bpfdiff_oracle::known::{is_other_kernel_backend, KERNEL_BACKEND};
use bpfdiff_oracle::registry::{self, RegistryError};
use bpfdiff_oracle::{Comparison, Difference, Execution, KnownRules, Outcome, Verdict};
use record::{CaseFile, Record, RecordedDifference, CASE_SCHEMA};
use serde::Serialize;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Exit code when some case changed (or a case recorded as fixed diverges
/// again).
pub const EXIT_CHANGED: u8 = 1;
/// Exit code when no case changed but some recorded divergence is fixed:
/// the record (and report, rule) needs an update.
pub const EXIT_FIXED: u8 = 4;
/// Exit code when no case could be run at all.
pub const EXIT_NOTHING_RUN: u8 = 3;

/// The default paths: the reports and the regression corpus.
pub const DEFAULT_PATHS: [&str; 2] = ["reports", "corpus/regressions"];

/// A case that cannot be replayed because its file is bad, or a bad
/// backend selection.
#[derive(Debug, Error)]
pub enum ReplayError {
    /// A path could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A malformed `.data` file.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A malformed record or `case.json`.
    #[error("{path}:{line}: {message}")]
    Record {
        /// The file.
        path: String,
        /// The 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// No case under the paths.
    #[error(
        "no case to replay under {0} (expected `.data` files or report folders with a case.json)"
    )]
    NoCases(String),
    /// A bad backend selection.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The backends do not start with the engine interpreter.
    #[error("replay compares with the engine interpreter: --backends must start with `interp` (got `{0}`)")]
    NoReference(String),
}

/// One replayable case.
#[derive(Clone, Debug)]
pub struct ReplayCase {
    /// Where it came from.
    pub path: PathBuf,
    /// The program.
    pub program: Program,
    /// The input memory (for a packet type, the packet).
    pub mem: Vec<u8>,
    /// The program type (`Input`: the harness's model).
    pub prog_type: ProgType,
    /// The maps, with their initial contents.
    pub maps: Vec<MapDef>,
    /// The recorded outcome, if the file has one.
    pub record: Option<Record>,
    /// The engine's expected result (`.data` files).
    pub expected: Option<Expected>,
    /// A fuzz artifact (raw fuzz-target input bytes): its implied record is
    /// "a divergence no rule explains" (the target crashed on it).
    pub artifact: bool,
}

/// The status of a replayed case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Diverges (or agrees) as recorded.
    AsRecorded,
    /// A recorded difference no longer occurs.
    Fixed,
    /// Diverges differently.
    Changed,
    /// Not checked.
    NotRun,
}

impl Status {
    /// The kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Status::AsRecorded => "as-recorded",
            Status::Fixed => "fixed",
            Status::Changed => "changed",
            Status::NotRun => "not-run",
        }
    }
}

/// A difference observed now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Observed {
    /// The backend.
    pub backend: String,
    /// The aspect.
    pub aspect: String,
    /// Reference side, then the backend's, in words.
    pub detail: String,
    /// The rule that explains it, if any.
    pub rule: Option<String>,
    /// Its signature's slug.
    pub signature: String,
}

/// What replaying one case gave.
#[derive(Clone, Debug, Serialize)]
pub struct CaseResult {
    /// The case's path.
    pub path: String,
    /// Its status.
    pub status: Status,
    /// Why it has that status (one line each; for `as-recorded`, what was
    /// checked).
    pub reasons: Vec<String>,
    /// The recorded differences (`null` when the file has no record).
    pub recorded: Option<Vec<RecordedDifference>>,
    /// The differences observed now.
    pub observed: Vec<Observed>,
    /// Every backend's outcome.
    pub outcomes: Vec<Outcome>,
}

/// A rule that matched no replayed case on a backend that ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StaleRule {
    /// The rule.
    pub name: String,
    /// Its backend.
    pub backend: String,
    /// Why it matched nothing.
    pub why: String,
}

/// The case files under `paths`: each `.data` file, and each folder's
/// `case.json` (a folder with a `case.json` is one case; its other files,
/// `repro.data` included, are not replayed again). Sorted.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ReplayError> {
    let mut out = Vec::new();
    for path in paths {
        let io = |source| ReplayError::Io {
            path: path.display().to_string(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        if meta.is_file() {
            out.push(path.clone());
        } else {
            walk(path, &mut out)?;
        }
    }
    out.sort();
    out.dedup();
    if out.is_empty() {
        let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(ReplayError::NoCases(names.join(", ")));
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), ReplayError> {
    let io = |source| ReplayError::Io {
        path: dir.display().to_string(),
        source,
    };
    let case_json = dir.join("case.json");
    if case_json.is_file() {
        out.push(case_json);
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io)?;
    entries.sort();
    for p in entries {
        let hidden = p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if p.is_dir() {
            walk(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "data") || is_artifact_name(&p) {
            out.push(p);
        }
    }
    Ok(())
}

/// Reads one case file (`.data` or `case.json`).
pub fn load(path: &Path) -> Result<ReplayCase, ReplayError> {
    let name = path.display().to_string();
    let text = if is_fuzz_artifact(path) {
        String::new()
    } else {
        std::fs::read_to_string(path).map_err(|source| ReplayError::Io {
            path: name.clone(),
            source,
        })?
    };
    let record_err = |line, message| ReplayError::Record {
        path: name.clone(),
        line,
        message,
    };
    if path.extension().is_some_and(|e| e == "json") {
        let file: CaseFile = serde_json::from_str(&text)
            .map_err(|e| record_err(e.line(), format!("not a replayable case.json: {e}")))?;
        if file.schema != CASE_SCHEMA {
            return Err(record_err(
                1,
                format!(
                    "case.json schema {} is not the one this build reads ({CASE_SCHEMA})",
                    file.schema
                ),
            ));
        }
        let mut insns = Vec::with_capacity(file.program.len());
        for (i, slot) in file.program.iter().enumerate() {
            let bytes = parse_hex_bytes(slot).ok().filter(|b| b.len() == 8);
            let Some(bytes) = bytes else {
                return Err(record_err(
                    1,
                    format!("program slot {i}: `{slot}` is not 8 bytes of hex"),
                ));
            };
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes);
            insns.push(Insn::from_bytes(b));
        }
        let mem = parse_hex_bytes(&file.mem)
            .map_err(|e| record_err(1, format!("mem: bad hex at column {}", e.column)))?;
        let record = file.recorded.to_record().map_err(|m| record_err(1, m))?;
        let prog_type = match file.prog_type.as_deref() {
            None => ProgType::Input,
            Some(name) => {
                ProgType::parse(name).map_err(|e| record_err(1, format!("prog_type: {e}")))?
            }
        };
        let maps = match file.maps.as_deref() {
            None => Vec::new(),
            Some(text) => {
                let lines: Vec<(usize, &str)> =
                    text.lines().enumerate().map(|(i, l)| (i + 1, l)).collect();
                bpfdiff_engine::maps::text::parse_maps(&lines)
                    .map_err(|e| record_err(1, format!("maps, line {}: {}", e.line, e.reason)))?
            }
        };
        return Ok(ReplayCase {
            path: path.to_path_buf(),
            program: Program::new(insns),
            mem,
            prog_type,
            maps,
            record: Some(record),
            expected: None,
            artifact: false,
        });
    }
    if is_fuzz_artifact(path) {
        let bytes = std::fs::read(path).map_err(|source| ReplayError::Io {
            path: name.clone(),
            source,
        })?;
        let case = Case::from_fuzz_bytes(&bytes, crate::fuzz_glue::knobs());
        return Ok(ReplayCase {
            path: path.to_path_buf(),
            program: case.program,
            mem: case.input,
            prog_type: case.prog_type,
            maps: case.maps,
            record: None,
            expected: None,
            artifact: true,
        });
    }
    let test = data::parse_data(&text).map_err(|e| e.with_path(path))?;
    let record = record::parse_data_record(&text).map_err(|e| record_err(e.line, e.message))?;
    // A native type runs on its packet (64 zero bytes when the file has
    // none, as `run --prog-type` does) or, for `syscall`, its ctx in
    // `-- mem`.
    let mem = if test.prog_type.has_packet() {
        test.packet
            .unwrap_or_else(|| vec![0; bpfdiff_engine::prog_type::env::DEFAULT_PACKET_LEN])
    } else {
        test.mem
    };
    Ok(ReplayCase {
        path: path.to_path_buf(),
        program: test.program,
        mem,
        prog_type: test.prog_type,
        maps: test.maps,
        record,
        expected: Some(test.expected),
        artifact: false,
    })
}

/// File-name prefixes of the inputs libFuzzer saves when a target fails.
pub const ARTIFACT_PREFIXES: [&str; 5] = ["crash-", "timeout-", "oom-", "leak-", "slow-unit-"];

/// True when the file name is one libFuzzer gives an artifact.
fn is_artifact_name(path: &Path) -> bool {
    path.file_name().is_some_and(|n| {
        let n = n.to_string_lossy();
        ARTIFACT_PREFIXES.iter().any(|a| n.starts_with(a))
    })
}

/// True when `path` is read as raw fuzz-target input (a libFuzzer artifact
/// or corpus file) rather than a `.data` file or a `case.json`: any file
/// without one of those two extensions.
pub fn is_fuzz_artifact(path: &Path) -> bool {
    !path.extension().is_some_and(|e| e == "data" || e == "json")
}

/// Why the engine's outcome does not meet a `.data` expectation, if it
/// does not.
pub fn engine_mismatch(expected: &Expected, engine: &Outcome) -> Option<String> {
    match (expected, &engine.verdict, &engine.execution) {
        (Expected::Result(want), Verdict::Accepted, Execution::Returned { r0, .. }) => {
            (r0.bits != *want).then(|| format!("r0 = 0x{:x}, expected 0x{want:x}", r0.bits))
        }
        (Expected::Error(text), Verdict::Rejected { reason, .. }, _) => {
            (!reason.contains(text)).then(|| format!("refused with `{reason}`, expected `{text}`"))
        }
        (Expected::Error(text), _, Execution::Fault { kind, detail, .. }) => (!kind.contains(text)
            && !detail.contains(text))
        .then(|| format!("faulted with `{detail}`, expected `{text}`")),
        (want, _, _) => Some(format!("{}, expected {want:?}", engine.summary())),
    }
}

/// Runs cases on the backends and classifies them.
pub struct Replayer {
    harness: DiffHarness,
    rules: KnownRules,
    env: Environment,
    running: Vec<String>,
    unavailable: Vec<(String, String)>,
    named_by_records: Vec<(Vec<String>, String)>,
    /// Rules of record entries that allow an agreement, from cases that
    /// agreed: what they describe did not happen in this build (rbpf's
    /// release build wraps where its debug build panics), so matching
    /// nothing does not make them stale.
    agreed_as_allowed: Vec<String>,
}

impl Replayer {
    /// Backends `names` (default: every backend; the first must be
    /// `interp`), with `rules`. A kernel backend that cannot run here is
    /// left out, and cases that need it are not run, with the reason.
    pub fn new(
        names: Option<&str>,
        mut rules: KnownRules,
        env: Environment,
    ) -> Result<Replayer, ReplayError> {
        let names = match names {
            Some(spec) => registry::parse_list(spec)?,
            None => registry::BACKEND_NAMES
                .iter()
                .map(|s| s.to_string())
                .collect(),
        };
        if names.first().map(String::as_str) != Some("interp") {
            return Err(ReplayError::NoReference(names.join(",")));
        }
        let mut running = Vec::new();
        let mut unavailable = Vec::new();
        for n in names {
            match (n.as_str(), kernel_unavailable()) {
                ("kernel", Some(why)) => unavailable.push((n, why)),
                _ => running.push(n),
            }
        }
        rules.set_kernel_release(env.kernel_release.clone());
        let harness = DiffHarness::new(&running, KnownRules::default(), true)?;
        Ok(Replayer {
            harness,
            rules,
            env,
            running,
            unavailable,
            named_by_records: Vec::new(),
            agreed_as_allowed: Vec::new(),
        })
    }

    /// The backends that run.
    pub fn running(&self) -> &[String] {
        &self.running
    }

    /// The selected backends that cannot run here, with why.
    pub fn unavailable(&self) -> &[(String, String)] {
        &self.unavailable
    }

    /// The environment.
    pub fn environment(&self) -> &Environment {
        &self.env
    }

    /// The rules, with their match counts over the cases replayed so far.
    pub fn rules(&self) -> &KnownRules {
        &self.rules
    }

    /// Rules named by record entries that allow an agreement, in cases
    /// whose backend agreed (so far): they matched nothing, and are not
    /// stale for it.
    pub fn agreed_as_allowed(&self) -> &[String] {
        &self.agreed_as_allowed
    }

    fn why_not_running(&self, backend: &str) -> String {
        match self.unavailable.iter().find(|(n, _)| n == backend) {
            Some((_, why)) => format!("backend {backend} unavailable: {why}"),
            None => format!("backend {backend} not selected"),
        }
    }

    /// Replays one case.
    pub fn replay(&mut self, case: &ReplayCase) -> CaseResult {
        let path = case.path.display().to_string();
        let mut result = CaseResult {
            path: path.clone(),
            status: Status::NotRun,
            reasons: Vec::new(),
            recorded: case.record.as_ref().map(|r| r.differences.clone()),
            observed: Vec::new(),
            outcomes: Vec::new(),
        };
        if case.artifact {
            return self.replay_artifact(case, result);
        }
        let Some(record) = &case.record else {
            result.reasons.push(format!(
                "no recorded outcome (add `{}` lines, see docs/triage.md)",
                record::DATA_PREFIX
            ));
            return result;
        };
        for d in &record.differences {
            let forms: Vec<String> = d.rules().map(String::from).collect();
            self.named_by_records.push((forms, path.clone()));
        }
        let comparison = self.compare(case, &mut result);
        let (differences, skipped) = match &comparison {
            Comparison::Diverge { differences } => (differences.clone(), Vec::new()),
            Comparison::Agree { skipped } => (Vec::new(), skipped.clone()),
            Comparison::Inconclusive { why } => {
                result.reasons.extend(why.iter().cloned());
                return result;
            }
        };
        result.observed = observed(case, &result.outcomes, &differences);
        let (mut changed, mut fixed, mut unchecked, mut fine) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        if let (Some(want), Some(engine)) = (&case.expected, result.outcomes.first()) {
            if let Some(why) = engine_mismatch(want, engine) {
                changed.push(format!("the engine {why}"));
            }
        }
        let mut claimed = vec![false; result.observed.len()];
        for r in &record.differences {
            if !self.running.contains(&r.backend) {
                unchecked.push(format!(
                    "{}: {}",
                    r.describe(),
                    self.why_not_running(&r.backend)
                ));
                continue;
            }
            let withheld = result
                .outcomes
                .iter()
                .find_map(|o| match (&o.verdict, &o.execution) {
                    (Verdict::Rejected { .. }, _) => None,
                    (_, Execution::NotRun { why }) if o.backend == r.backend => Some(why.clone()),
                    _ => None,
                });
            if let Some(why) = withheld {
                unchecked.push(format!("{}: not compared: {why}", r.describe()));
                continue;
            }
            if let Some(s) = skipped
                .iter()
                .find(|s| s.starts_with(&format!("{}:", r.backend)))
            {
                unchecked.push(format!("{}: not compared: {s}", r.describe()));
                continue;
            }
            let version = self.env.backend_version(&r.backend);
            let hit = result.observed.iter().enumerate().find(|(i, o)| {
                !claimed[*i] && o.backend == r.backend && r.accepts(&o.aspect, o.rule.as_deref())
            });
            let expected = r.expected_on(&version);
            let here = if r.backend == "kernel" {
                format!("this kernel (uname -r {version})")
            } else {
                version.clone()
            };
            match (expected, hit) {
                (true, Some((i, _))) => {
                    claimed[i] = true;
                    fine.push(format!("{}: diverges as recorded", r.describe()));
                }
                (false, None) => fine.push(format!(
                    "{}: does not occur on {here}, as recorded (fixed here)",
                    r.describe()
                )),
                (false, Some((i, o))) => {
                    claimed[i] = true;
                    changed.push(format!(
                        "{}: recorded as fixed on {here}, diverges again: {}",
                        r.describe(),
                        o.detail
                    ));
                }
                (true, None) if r.may_agree() => {
                    // Only a backend that differed in nothing agreed; an
                    // unexplained difference is reported below as a change.
                    if !result.observed.iter().any(|o| o.backend == r.backend) {
                        self.agreed_as_allowed.extend(r.rules().map(String::from));
                    }
                    fine.push(format!(
                        "{}: agrees on {here}, a form the record allows",
                        r.describe()
                    ))
                }
                (true, None) => fixed.push(format!(
                    "FIXED on {here}: {} no longer diverges",
                    r.describe()
                )),
            }
        }
        // A recorded `kernel` difference claims the same difference on the
        // other kernel backends (guests, host variants) when its rule
        // matched there: only a rule marked `every_kernel` (a divergence
        // that does not depend on the kernel's version) can.
        for (i, o) in result.observed.iter().enumerate() {
            let Some(rule) = o.rule.as_deref() else {
                continue;
            };
            if claimed[i] || !is_other_kernel_backend(&o.backend) {
                continue;
            }
            let recorded = record
                .differences
                .iter()
                .any(|r| r.backend == KERNEL_BACKEND && r.accepts(&o.aspect, Some(rule)));
            if recorded {
                claimed[i] = true;
                fine.push(format!(
                    "{} {} [{rule}]: diverges as the recorded kernel difference does (a rule for every kernel)",
                    o.backend, o.aspect
                ));
            }
        }
        for (o, _) in result.observed.iter().zip(&claimed).filter(|(_, &c)| !c) {
            let rule = o
                .rule
                .as_deref()
                .map_or("no rule".to_string(), |r| format!("rule {r}"));
            changed.push(format!(
                "not recorded: {} {}: {} ({rule}, signature {})",
                o.backend, o.aspect, o.detail, o.signature
            ));
        }
        result.status = if !changed.is_empty() {
            Status::Changed
        } else if !fixed.is_empty() {
            Status::Fixed
        } else if !unchecked.is_empty() {
            Status::NotRun
        } else {
            Status::AsRecorded
        };
        if record.differences.is_empty() && changed.is_empty() {
            fine.push("all backends agree, as recorded".to_string());
        }
        result.reasons = [changed, fixed, unchecked, fine].concat();
        result
    }

    /// Runs `case` on every backend, keeps the outcomes in `result` and
    /// returns the comparison with the rules applied.
    fn compare(&mut self, case: &ReplayCase, result: &mut CaseResult) -> Comparison {
        let check = self.harness.check_without_rules(&Case {
            prog_type: case.prog_type,
            maps: case.maps.clone(),
            ..Case::new(case.program.clone(), case.mem.clone())
        });
        let mut comparison = check.comparison;
        self.rules.apply(&case.program, &case.mem, &mut comparison);
        result.outcomes = check.outcomes;
        comparison
    }

    /// Replays a fuzz artifact: `as-recorded` while some difference no
    /// rule explains still occurs (the finding reproduces), `fixed` when
    /// none does, `not-run` when the case is inconclusive.
    fn replay_artifact(&mut self, case: &ReplayCase, mut result: CaseResult) -> CaseResult {
        let comparison = self.compare(case, &mut result);
        let differences = match &comparison {
            Comparison::Diverge { differences } => differences.clone(),
            Comparison::Agree { .. } => Vec::new(),
            Comparison::Inconclusive { why } => {
                result
                    .reasons
                    .push("fuzz artifact: inconclusive".to_string());
                result.reasons.extend(why.iter().cloned());
                return result;
            }
        };
        result.observed = observed(case, &result.outcomes, &differences);
        let new: Vec<String> = result
            .observed
            .iter()
            .filter(|o| o.rule.is_none())
            .map(|o| {
                format!(
                    "fuzz artifact reproduces: {} {}: {} (no rule, signature {})",
                    o.backend, o.aspect, o.detail, o.signature
                )
            })
            .collect();
        if new.is_empty() {
            result.status = Status::Fixed;
            result.reasons.push(format!(
                "FIXED: the fuzz artifact no longer diverges on {} ({} difference(s), all explained by rules)",
                self.running.join(","),
                result.observed.len()
            ));
        } else {
            result.status = Status::AsRecorded;
            result.reasons = new;
        }
        result
    }

    /// True when `rule` is one of several forms a record allows for one
    /// difference (release and debug builds of rbpf) and another form
    /// matched.
    fn another_form_matched(&self, rule: &str) -> bool {
        let hits = |name: &str| {
            self.rules
                .rules()
                .iter()
                .zip(self.rules.hits())
                .any(|(r, &n)| r.name == name && n > 0)
        };
        self.named_by_records.iter().any(|(forms, _)| {
            forms.len() > 1 && forms.iter().any(|f| f == rule) && forms.iter().any(|f| hits(f))
        })
    }

    /// The rules on running backends that matched none of the cases
    /// replayed, each with why.
    pub fn stale_rules(&self) -> Vec<StaleRule> {
        let release = self.rules.kernel_release();
        self.rules
            .rules()
            .iter()
            .zip(self.rules.hits())
            .filter(|(r, &n)| n == 0 && self.running.contains(&r.backend))
            .filter(|(r, _)| !self.another_form_matched(&r.name))
            .filter(|(r, _)| !self.agreed_as_allowed.contains(&r.name))
            .map(|(r, _)| {
                let named: Vec<&str> = self
                    .named_by_records
                    .iter()
                    .filter(|(forms, _)| forms.contains(&r.name))
                    .map(|(_, p)| p.as_str())
                    .collect();
                let why = if !r.applies_on_kernel(release) {
                    format!(
                        "does not apply on this kernel ({}): recorded as not seen here or fixed in {}",
                        release.unwrap_or("unknown"),
                        r.fixed_in.as_deref().unwrap_or("-")
                    )
                } else if !named.is_empty() {
                    format!("named by the record of {}, matched nothing", named.join(", "))
                } else {
                    "no replayed case exercises it".to_string()
                };
                StaleRule {
                    name: r.name.clone(),
                    backend: r.backend.clone(),
                    why,
                }
            })
            .collect()
    }
}

/// The exit code for `results`: [`EXIT_CHANGED`] when some case changed,
/// else [`EXIT_FIXED`] when some case is fixed, else [`EXIT_NOTHING_RUN`]
/// when no case ran, else 0.
pub fn exit_code(results: &[CaseResult]) -> u8 {
    let any = |s| results.iter().any(|r| r.status == s);
    if any(Status::Changed) {
        EXIT_CHANGED
    } else if any(Status::Fixed) {
        EXIT_FIXED
    } else if results.iter().all(|r| r.status == Status::NotRun) {
        EXIT_NOTHING_RUN
    } else {
        0
    }
}

/// `N case(s): a as-recorded, f fixed, c changed, n not-run`.
pub fn summary_line(results: &[CaseResult]) -> String {
    let count = |s| results.iter().filter(|r| r.status == s).count();
    format!(
        "{} case(s): {} as-recorded, {} fixed, {} changed, {} not-run",
        results.len(),
        count(Status::AsRecorded),
        count(Status::Fixed),
        count(Status::Changed),
        count(Status::NotRun)
    )
}

/// The differences of a replay as they are reported: with the rule that
/// explains each and its signature.
fn observed(case: &ReplayCase, outcomes: &[Outcome], differences: &[Difference]) -> Vec<Observed> {
    differences
        .iter()
        .map(|d| Observed {
            backend: d.backend.clone(),
            aspect: d.aspect.name().to_string(),
            detail: d.detail.clone(),
            rule: d.known.clone(),
            signature: Signature::of_type(case.prog_type, &case.program, outcomes, d).slug(),
        })
        .collect()
}
