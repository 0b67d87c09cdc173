//! Known divergences: named, explained rules that mark a difference as
//! already triaged. Rules are data (JSON: the project's
//! `corpus/known-divergences.json`, which the `bpfdiff` binary embeds, plus
//! any file a user names); each match is counted and shown in every summary,
//! so nothing is dropped silently. The list grows only from divergences that
//! were observed and triaged.

use crate::compare::{Comparison, Difference};
use bpfdiff_engine::Program;
use serde::{Deserialize, Serialize};
use std::path::Path;
use thiserror::Error;

/// One triaged divergence.
///
/// Every condition given must hold for a difference to match. A rule should
/// be as specific as the minimized divergence it was written for (backend,
/// aspect, the opcode rows involved, the exact values where they are
/// stable), so that it cannot hide a different bug.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownRule {
    /// A short unique name (kebab-case).
    pub name: String,
    /// Why the backends differ and which side is right.
    pub reason: String,
    /// The backend whose difference this explains.
    pub backend: String,
    /// The aspect (`verdict`, `ending`, `r0`, `memory`, `maps`,
    /// `fault-kind`, `fault-pc`, `unsafe-accepted`, `crash`).
    pub aspect: String,
    /// The rule applies only when the program uses one of these opcode-table
    /// rows (by `OpcodeRow::name()` or mnemonic); empty = any program.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub program_uses: Vec<String>,
    /// The rule applies only when the program uses every one of these
    /// opcode-table rows (by `OpcodeRow::name()` or mnemonic).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires_all_of: Vec<String>,
    /// The rule applies only when the program has, for each pattern, an
    /// instruction that matches it: one of the pattern's rows, with the
    /// operand conditions it gives (`{"rows": ["jeq_imm"], "imm":
    /// "negative"}`). Unlike `program_uses`, this names the instruction the
    /// divergence needs, not merely its opcode.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub program_has: Vec<InsnPattern>,
    /// The rule applies only when the two r0 values of the difference
    /// (reference, backend) are related in one of these ways; see
    /// [`R0Relation`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub r0_relation: Vec<R0Relation>,
    /// The rule applies only when these bug models (one, or a list applied
    /// in order), written into the program
    /// and run by the engine's interpreter on the same input, reproduces
    /// the difference exactly (aspect and detail); see
    /// [`BugModel`](crate::bug_model::BugModel).
    #[serde(default, skip_serializing_if = "crate::bug_model::Emulation::is_empty")]
    pub emulate: crate::bug_model::Emulation,
    /// The rule applies only when the backend's side of the detail names an
    /// instruction (a fault `at insn N`, an rbpf refusal `(insn #N)`) and
    /// slot N holds one of these rows: the instruction the bug is about,
    /// not another one that faults or is refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub at_insn: Vec<String>,
    /// The rule applies only when the difference's detail contains this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail_contains: Option<String>,
    /// The rule does not apply when the difference's detail contains this
    /// text (to keep apart two rules of one aspect and backend).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail_excludes: Option<String>,
    /// The rule applies only when the whole detail matches this pattern, in
    /// which `*` stands for any text (`0x1 vs 0x2` for exact r0 values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail_matches: Option<String>,
    /// Where the divergence was seen: for a kernel rule, each kernel release
    /// (`uname -r`) it was observed on. Required for kernel rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observed_on: Vec<String>,
    /// Kernel releases (`uname -r`) on which the divergence was looked for
    /// and did not happen. The rule does not apply there: a difference on
    /// such a kernel is a new divergence.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_observed_on: Vec<String>,
    /// The first upstream kernel version with the fix (`6.19`); the rule
    /// does not apply on a kernel of that version or later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_in: Option<String>,
    /// The upstream commit that fixes it, for the reader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_by: Option<String>,
    /// A `kernel` rule whose divergence does not depend on the kernel's
    /// version or settings (seen on every kernel of the matrix): it also
    /// explains the same difference on the other kernel backends
    /// (`kernel@6.1`, `kernel@6.12-interp`, `kernel-harden`, ...). Such a
    /// rule has no `fixed_in` or `not_observed_on`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub every_kernel: bool,
}

/// True for the kernel backends other than the host's plain `kernel`: a
/// guest (`kernel@6.1`, `kernel@6.12-interp`) or a host variant
/// (`kernel-harden`, `kernel-unpriv`).
pub fn is_other_kernel_backend(name: &str) -> bool {
    name.strip_prefix(KERNEL_BACKEND)
        .is_some_and(|rest| rest.starts_with('@') || rest.starts_with('-'))
}

/// One instruction a rule needs in the program: any of `rows` (by
/// `OpcodeRow::name()` or mnemonic) whose operands meet the conditions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InsnPattern {
    /// The rows (any of them).
    pub rows: Vec<String>,
    /// A condition on the `imm` field (the low half for `ld_imm64`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imm: Option<Operand>,
    /// A condition on the `off` field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub off: Option<Operand>,
    /// The destination register the instruction must name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst: Option<u8>,
    /// The instruction must name the same register as src and dst (a
    /// register compared with itself, `if r7 > r7`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub src_is_dst: bool,
}

/// A condition on an operand field, written as a string in rules files:
/// `negative`, `non-negative`, `nonzero`, or a number (`0`, `-1`, `0x10`)
/// the field must equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Operand {
    /// Less than zero (as a signed field).
    Negative,
    /// Zero or more.
    NonNegative,
    /// Anything but zero.
    Nonzero,
    /// Exactly this value.
    Equals(i64),
}

impl Operand {
    /// True when `value` meets the condition.
    pub fn holds(self, value: i64) -> bool {
        match self {
            Operand::Negative => value < 0,
            Operand::NonNegative => value >= 0,
            Operand::Nonzero => value != 0,
            Operand::Equals(v) => value == v,
        }
    }
}

impl TryFrom<String> for Operand {
    type Error = String;
    fn try_from(text: String) -> Result<Operand, String> {
        let number = |t: &str| match t.strip_prefix("0x") {
            Some(hex) => i64::from_str_radix(hex, 16).ok(),
            None => t.parse().ok(),
        };
        match text.as_str() {
            "negative" => Ok(Operand::Negative),
            "non-negative" => Ok(Operand::NonNegative),
            "nonzero" => Ok(Operand::Nonzero),
            t => {
                let (neg, digits) = t.strip_prefix('-').map_or((false, t), |d| (true, d));
                number(digits)
                    .map(|n| Operand::Equals(if neg { -n } else { n }))
                    .ok_or_else(|| {
                        format!("operand condition `{t}`: expected negative, non-negative, nonzero or a number")
                    })
            }
        }
    }
}

impl From<Operand> for String {
    fn from(o: Operand) -> String {
        match o {
            Operand::Negative => "negative".into(),
            Operand::NonNegative => "non-negative".into(),
            Operand::Nonzero => "nonzero".into(),
            Operand::Equals(v) => v.to_string(),
        }
    }
}

impl InsnPattern {
    /// True when `i` is one of the rows and meets the operand conditions.
    pub fn matches(&self, i: &bpfdiff_engine::Instruction) -> bool {
        self.rows
            .iter()
            .any(|r| *r == i.row.name() || r == i.row.mnemonic)
            && self.imm.is_none_or(|c| c.holds(i64::from(i.imm)))
            && self.off.is_none_or(|c| c.holds(i64::from(i.off)))
            && self.dst.is_none_or(|r| r == i.dst)
            && (!self.src_is_dst || i.src == i.dst)
    }
}

/// How the reference's r0 (`a`) and the backend's (`b`) of an r0
/// difference are related, for rules whose bug gives a value of a known
/// shape. In rules files: `reference-is-low32`, …
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum R0Relation {
    /// `a` is `b`'s low 32 bits, zero-extended (a missing zero-extension
    /// of a 32-bit result on the backend).
    ReferenceIsLow32,
    /// `a` is 0 and `b` a nonzero 32-bit value: the upper half of a value
    /// the reference zero-extended, read back by a 32-bit load.
    UpperHalfReadBack,
    /// `a` is `b`'s low 16 or low 32 bits, zero-extended (a missing
    /// truncation to a width).
    ReferenceIsTruncated,
    /// `a` is `b`'s low 8, 16 or 32 bits sign-extended to 64 bits, or to
    /// 32 bits and then zero-extended (a sign extension the backend did
    /// not do).
    ReferenceIsSignExtended,
    /// `b` fits in 16 or 32 bits and `a` is `b` with those bytes in the
    /// other order (a load in the wrong byte order).
    ReferenceIsByteSwapped,
    /// `a` and `b` are two different values among 0 and 1 (a condition or
    /// branch that went the other way in a program that returns a flag).
    OtherBranch,
}

impl R0Relation {
    /// True when reference value `a` and backend value `b` are related.
    pub fn holds(self, a: u64, b: u64) -> bool {
        if a == b {
            return false;
        }
        match self {
            R0Relation::ReferenceIsLow32 => a == b & 0xffff_ffff,
            R0Relation::UpperHalfReadBack => a == 0 && b <= 0xffff_ffff,
            R0Relation::ReferenceIsTruncated => a == b & 0xffff || a == b & 0xffff_ffff,
            R0Relation::ReferenceIsSignExtended => [8u32, 16, 32].iter().any(|&w| {
                let shift = 64 - w;
                let extended = ((b << shift) as i64 >> shift) as u64;
                a == extended || a == extended & 0xffff_ffff
            }),
            R0Relation::ReferenceIsByteSwapped => {
                (b <= 0xffff && a == u64::from((b as u16).swap_bytes()))
                    || (b <= 0xffff_ffff && a == u64::from((b as u32).swap_bytes()))
            }
            R0Relation::OtherBranch => a <= 1 && b <= 1,
        }
    }
}

/// The instruction index the backend's side of a difference's detail
/// names: the `at insn N` after the last ` vs ` (`r0 = 0x0 vs fault
/// out-of-bounds at insn 7` gives 7), or the `(insn #N)` of a refusal
/// after `refuses:`.
pub fn insn_named(detail: &str) -> Option<usize> {
    let number = |rest: &str| -> Option<usize> {
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        digits.parse().ok()
    };
    if let Some((_, refusal)) = detail.split_once(" refuses: ") {
        let (_, rest) = refusal.rsplit_once("(insn #")?;
        return number(rest);
    }
    let other = detail.rsplit(" vs ").next()?;
    let (_, rest) = other.split_once("at insn ")?;
    number(rest)
}

/// The two values of an r0 difference's detail (`0x1 vs 0x2`).
pub fn r0_values(detail: &str) -> Option<(u64, u64)> {
    let (a, b) = detail.split_once(" vs ")?;
    let hex = |t: &str| u64::from_str_radix(t.trim().strip_prefix("0x")?, 16).ok();
    Some((hex(a)?, hex(b)?))
}

/// The backend name of the Linux kernel, whose rules carry versions.
pub const KERNEL_BACKEND: &str = "kernel";

/// True when `text` matches `pattern`, in which `*` stands for any text
/// (including none) and everything else is literal.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// The leading numeric components of a kernel release or version
/// (`6.18.44-fc` gives `[6, 18, 44]`).
pub fn version_numbers(release: &str) -> Vec<u64> {
    let mut out = Vec::new();
    for part in release.split('.') {
        let digits: String = part.chars().take_while(|c| c.is_ascii_digit()).collect();
        match digits.parse() {
            Ok(n) => out.push(n),
            Err(_) => break,
        }
        if digits.len() != part.len() {
            break;
        }
    }
    out
}

/// The release of the running kernel (`uname -r`), if it can be read.
pub fn running_kernel_release() -> Option<String> {
    // SAFETY: uname fills the zeroed struct it is given; its fields are
    // NUL-terminated C strings.
    let mut name: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut name) } != 0 {
        return None;
    }
    let bytes: Vec<u8> = name
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8(bytes).ok()
}

impl KnownRule {
    /// True when the rule is about `backend`: its own backend, or, for an
    /// [`every_kernel`](KnownRule::every_kernel) rule, any kernel backend.
    pub fn covers_backend(&self, backend: &str) -> bool {
        self.backend == backend
            || (self.every_kernel
                && self.backend == KERNEL_BACKEND
                && is_other_kernel_backend(backend))
    }

    /// Whether the rule applies on the kernel `release`: not when the
    /// release is listed in `not_observed_on` or is at or past `fixed_in`.
    /// Rules about other backends always apply.
    pub fn applies_on_kernel(&self, release: Option<&str>) -> bool {
        if self.backend != KERNEL_BACKEND {
            return true;
        }
        let Some(release) = release else {
            return true;
        };
        if self.not_observed_on.iter().any(|r| r == release) {
            return false;
        }
        match &self.fixed_in {
            Some(fixed) => version_numbers(release) < version_numbers(fixed),
            None => true,
        }
    }
}

/// Why the rules file could not be read.
#[derive(Debug, Error)]
pub enum KnownRulesError {
    /// The file could not be read (a missing file included: a rules file
    /// that was named must exist).
    #[error("{path}: cannot read the known-divergence rules: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not valid JSON for a rule list.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The 1-based line.
        line: usize,
        /// The parser's message.
        message: String,
    },
    /// A rule names an opcode-table row that does not exist (a typo would
    /// make the rule silently match nothing).
    #[error(
        "{path}:{line}: rule `{name}` names `{row}`, which is no opcode-table row or mnemonic"
    )]
    UnknownRow {
        /// The file.
        path: String,
        /// The 1-based line of the rule's name.
        line: usize,
        /// The rule.
        name: String,
        /// The unknown row name.
        row: String,
    },
    /// An `every_kernel` rule that is not a `kernel` rule, or that limits
    /// the versions it applies to.
    #[error("{path}:{line}: rule `{name}`: `every_kernel` is for `kernel` rules without `fixed_in` or `not_observed_on` (a version-independent divergence)")]
    EveryKernelWithLimits {
        /// The file.
        path: String,
        /// The 1-based line of the rule's name.
        line: usize,
        /// The rule.
        name: String,
    },
    /// A kernel rule without the kernel versions it was observed on.
    #[error("{path}:{line}: kernel rule `{name}` has no `observed_on` (the kernel releases it was seen on)")]
    KernelRuleWithoutVersion {
        /// The file.
        path: String,
        /// The 1-based line of the rule's name.
        line: usize,
        /// The rule.
        name: String,
    },
}

/// The 1-based line of the rule called `name` in the rules file `text`
/// (the line naming it; 1 when not found).
fn rule_line(text: &str, name: &str) -> usize {
    let needle = format!("\"{name}\"");
    text.lines()
        .position(|l| l.contains(&needle))
        .map_or(1, |i| i + 1)
}

/// The rules, with a match counter per rule and the names of the sources
/// they came from (for summaries).
#[derive(Clone, Debug, Default)]
pub struct KnownRules {
    rules: Vec<KnownRule>,
    hits: Vec<u64>,
    sources: Vec<String>,
    kernel_release: Option<String>,
    ambiguous: Vec<Ambiguity>,
}

/// A difference that more than one rule matched: the first rule was used,
/// and the summary says so, so that no rule silently shadows another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ambiguity {
    /// The backend of the difference.
    pub backend: String,
    /// Its aspect.
    pub aspect: String,
    /// Every matching rule, in rule order (the first one was used).
    pub rules: Vec<String>,
    /// How many differences matched exactly these rules.
    pub count: u64,
}

impl KnownRules {
    /// Rules from a list.
    pub fn new(rules: Vec<KnownRule>) -> KnownRules {
        let hits = vec![0; rules.len()];
        KnownRules {
            rules,
            hits,
            sources: Vec::new(),
            kernel_release: running_kernel_release(),
            ambiguous: Vec::new(),
        }
    }

    /// Sets the kernel release that version-aware kernel rules are checked
    /// against (default: the running kernel's, `uname -r`).
    pub fn set_kernel_release(&mut self, release: Option<String>) {
        self.kernel_release = release;
    }

    /// The kernel release the kernel rules are checked against.
    pub fn kernel_release(&self) -> Option<&str> {
        self.kernel_release.as_deref()
    }

    /// Differences that more than one rule matched.
    pub fn ambiguous(&self) -> &[Ambiguity] {
        &self.ambiguous
    }

    /// Parses a rules list (a JSON array) from `text`; `origin` names it in
    /// errors and summaries.
    pub fn parse(text: &str, origin: &str) -> Result<KnownRules, KnownRulesError> {
        let rules: Vec<KnownRule> =
            serde_json::from_str(text).map_err(|e| KnownRulesError::Parse {
                path: origin.to_string(),
                line: e.line(),
                message: e.to_string(),
            })?;
        if let Some(rule) = rules
            .iter()
            .find(|r| r.backend == KERNEL_BACKEND && r.observed_on.is_empty())
        {
            let line = rule_line(text, &rule.name);
            return Err(KnownRulesError::KernelRuleWithoutVersion {
                path: origin.to_string(),
                line,
                name: rule.name.clone(),
            });
        }
        if let Some(rule) = rules.iter().find(|r| {
            r.every_kernel
                && (r.backend != KERNEL_BACKEND
                    || r.fixed_in.is_some()
                    || !r.not_observed_on.is_empty())
        }) {
            let line = rule_line(text, &rule.name);
            return Err(KnownRulesError::EveryKernelWithLimits {
                path: origin.to_string(),
                line,
                name: rule.name.clone(),
            });
        }
        let exists = |n: &str| {
            bpfdiff_engine::opcode::OPCODES
                .iter()
                .any(|r| r.name() == n || r.mnemonic == n)
        };
        for rule in &rules {
            let named = rule
                .program_uses
                .iter()
                .chain(&rule.requires_all_of)
                .chain(rule.program_has.iter().flat_map(|p| &p.rows))
                .chain(&rule.at_insn);
            if let Some(row) = named.into_iter().find(|n| !exists(n)) {
                return Err(KnownRulesError::UnknownRow {
                    path: origin.to_string(),
                    line: rule_line(text, &rule.name),
                    name: rule.name.clone(),
                    row: row.clone(),
                });
            }
        }
        let mut known = KnownRules::new(rules);
        known.sources.push(origin.to_string());
        Ok(known)
    }

    /// Reads a rules file (a JSON array). A missing file is an error: a file
    /// that was named but is not there must not silently mean "no rules".
    pub fn load(path: &Path) -> Result<KnownRules, KnownRulesError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| KnownRulesError::Io {
            path: origin.clone(),
            source,
        })?;
        KnownRules::parse(&text, &origin)
    }

    /// Adds `more` after these rules; a rule of `more` with the name of an
    /// existing rule replaces it (so a newer copy of the same file
    /// overrides, and naming it twice does not count matches twice).
    pub fn extend(&mut self, more: KnownRules) {
        for (rule, hits) in more.rules.into_iter().zip(more.hits) {
            match self.rules.iter().position(|r| r.name == rule.name) {
                Some(i) => {
                    self.rules[i] = rule;
                    self.hits[i] = hits;
                }
                None => {
                    self.rules.push(rule);
                    self.hits.push(hits);
                }
            }
        }
        self.sources.extend(more.sources);
    }

    /// Where the rules came from, in the order added (empty for rules built
    /// with [`KnownRules::new`] or [`Default`]).
    pub fn sources(&self) -> &[String] {
        &self.sources
    }

    /// The rules.
    pub fn rules(&self) -> &[KnownRule] {
        &self.rules
    }

    /// True when `rule` explains difference `d` of `program`, run on
    /// `input`, on the kernel `release` (for kernel rules; see
    /// [`KnownRule::applies_on_kernel`]).
    pub fn rule_matches(
        rule: &KnownRule,
        program: &Program,
        input: &[u8],
        d: &Difference,
        release: Option<&str>,
    ) -> bool {
        Self::rule_matches_decoded(rule, &LazyDecode::new(program), input, d, release)
    }

    /// [`KnownRules::rule_matches`] with the program decoded at most once
    /// for all the rules tried on it.
    fn rule_matches_decoded(
        rule: &KnownRule,
        program: &LazyDecode<'_>,
        input: &[u8],
        d: &Difference,
        release: Option<&str>,
    ) -> bool {
        Self::rule_shape_matches(rule, program, d, release)
            && (rule.emulate.is_empty() || rule.emulate.reproduces(program.program, input, d))
    }

    /// Every condition of [`KnownRules::rule_matches`] but the bug model.
    fn rule_shape_matches(
        rule: &KnownRule,
        program: &LazyDecode<'_>,
        d: &Difference,
        release: Option<&str>,
    ) -> bool {
        if !rule.covers_backend(&d.backend) || rule.aspect != d.aspect.name() {
            return false;
        }
        if !rule.applies_on_kernel(release) {
            return false;
        }
        if let Some(text) = &rule.detail_contains {
            if !d.detail.contains(text.as_str()) {
                return false;
            }
        }
        if let Some(text) = &rule.detail_excludes {
            if d.detail.contains(text.as_str()) {
                return false;
            }
        }
        if let Some(pattern) = &rule.detail_matches {
            if !wildcard_match(pattern, &d.detail) {
                return false;
            }
        }
        if !rule.r0_relation.is_empty() {
            match r0_values(&d.detail) {
                Some((a, b)) if rule.r0_relation.iter().any(|r| r.holds(a, b)) => {}
                _ => return false,
            }
        }
        if rule.program_uses.is_empty()
            && rule.requires_all_of.is_empty()
            && rule.program_has.is_empty()
            && rule.at_insn.is_empty()
        {
            return true;
        }
        let Some(decoded) = program.get() else {
            return false;
        };
        let uses = |u: &String| {
            decoded
                .iter()
                .any(|(_, i)| *u == i.row.name() || u == i.row.mnemonic)
        };
        (rule.program_uses.is_empty() || rule.program_uses.iter().any(uses))
            && rule.requires_all_of.iter().all(uses)
            && rule
                .program_has
                .iter()
                .all(|p| decoded.iter().any(|(_, i)| p.matches(i)))
            && (rule.at_insn.is_empty()
                || insn_named(&d.detail).is_some_and(|pc| {
                    decoded.iter().any(|(at, i)| {
                        *at == pc
                            && rule
                                .at_insn
                                .iter()
                                .any(|u| *u == i.row.name() || u == i.row.mnemonic)
                    })
                }))
    }

    /// Marks each difference that a rule explains, counting the match. When
    /// more than one rule matches, the first is used and the ambiguity is
    /// recorded for the summary.
    pub fn apply(&mut self, program: &Program, input: &[u8], comparison: &mut Comparison) {
        let Comparison::Diverge { differences } = comparison else {
            return;
        };
        let decoded = LazyDecode::new(program);
        for d in differences.iter_mut() {
            let release = self.kernel_release.as_deref();
            let matching: Vec<usize> = (0..self.rules.len())
                .filter(|&i| {
                    Self::rule_matches_decoded(&self.rules[i], &decoded, input, d, release)
                })
                .collect();
            let Some(&first) = matching.first() else {
                continue;
            };
            d.known = Some(self.rules[first].name.clone());
            self.hits[first] += 1;
            if matching.len() > 1 {
                let names: Vec<String> = matching
                    .iter()
                    .map(|&i| self.rules[i].name.clone())
                    .collect();
                let aspect = d.aspect.name().to_string();
                match self
                    .ambiguous
                    .iter_mut()
                    .find(|a| a.rules == names && a.backend == d.backend && a.aspect == aspect)
                {
                    Some(a) => a.count += 1,
                    None => self.ambiguous.push(Ambiguity {
                        backend: d.backend.clone(),
                        aspect,
                        rules: names,
                        count: 1,
                    }),
                }
            }
        }
    }

    /// The match count of each rule, in rule order.
    pub fn hits(&self) -> &[u64] {
        &self.hits
    }

    /// For summaries: every rule that matched, with its count and reason,
    /// then how many rules did not match.
    pub fn summary(&self) -> String {
        self.summary_with(&self.hits, &self.ambiguous)
    }

    /// [`KnownRules::summary`] with other counts: `hits` per rule, in rule
    /// order, and the ambiguous matches (a campaign's, over every session).
    pub fn summary_with(&self, hits: &[u64], ambiguous: &[Ambiguity]) -> String {
        let from = if self.sources.is_empty() {
            String::new()
        } else {
            format!(" from {}", self.sources.join(" + "))
        };
        if self.rules.is_empty() {
            return format!("known divergences: none defined{from}");
        }
        let matched: Vec<String> = self
            .rules
            .iter()
            .zip(hits)
            .filter(|(_, &n)| n > 0)
            .map(|(r, n)| {
                format!(
                    "\n  {} ({} on {}): {n} match(es) — {}",
                    r.name, r.aspect, r.backend, r.reason
                )
            })
            .collect();
        let ambiguous: Vec<String> = ambiguous
            .iter()
            .map(|a| {
                format!(
                    "\n  AMBIGUOUS: {} difference(s) on {} ({}) matched {} rules: {}; the first was used, the others would shadow it",
                    a.count,
                    a.backend,
                    a.aspect,
                    a.rules.len(),
                    a.rules.join(", ")
                )
            })
            .collect();
        format!(
            "known divergences: {} rule(s){from}, {} matched{}\n  {} rule(s) without a match{}",
            self.rules.len(),
            matched.len(),
            matched.concat(),
            self.rules.len() - matched.len(),
            ambiguous.concat()
        )
    }
}

/// A program and its decoding, done on first use (rules that look at the
/// instructions share one decoding).
struct LazyDecode<'p> {
    program: &'p Program,
    decoded: std::cell::OnceCell<Option<Vec<(usize, bpfdiff_engine::Instruction)>>>,
}

impl<'p> LazyDecode<'p> {
    fn new(program: &'p Program) -> LazyDecode<'p> {
        LazyDecode {
            program,
            decoded: std::cell::OnceCell::new(),
        }
    }

    /// The decoded instructions, or `None` when the program does not decode.
    fn get(&self) -> Option<&[(usize, bpfdiff_engine::Instruction)]> {
        self.decoded
            .get_or_init(|| self.program.decode().ok())
            .as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(name: &str, reason: &str) -> KnownRule {
        KnownRule {
            name: name.into(),
            reason: reason.into(),
            backend: "rbpf".into(),
            aspect: "r0".into(),
            ..KnownRule::default()
        }
    }

    fn r0_difference(backend: &str, detail: &str) -> Comparison {
        Comparison::Diverge {
            differences: vec![Difference {
                backend: backend.into(),
                aspect: crate::Aspect::R0,
                detail: detail.into(),
                known: None,
            }],
        }
    }

    fn known_of(c: &Comparison) -> Option<String> {
        match c {
            Comparison::Diverge { differences } => differences[0].known.clone(),
            _ => None,
        }
    }

    fn program(words: &[u64]) -> Program {
        Program::new(
            words
                .iter()
                .map(|&w| bpfdiff_engine::insn::Insn::from_u64(w))
                .collect(),
        )
    }

    // r0 = 1 (0xb7 = mov_imm, RFC 9669 §4.1); exit.
    const MOV_EXIT: [u64; 2] = [0x0000_0001_0000_00b7, 0x95];

    #[test]
    fn a_kernel_rule_must_say_which_kernels_it_was_seen_on() {
        let text = "[\n {\"name\": \"k\", \"reason\": \"r\", \"backend\": \"kernel\", \"aspect\": \"r0\"}\n]";
        let e = KnownRules::parse(text, "k.json").unwrap_err();
        assert!(
            matches!(e, KnownRulesError::KernelRuleWithoutVersion { .. }),
            "{e:?}"
        );
        assert!(
            e.to_string().starts_with("k.json:2: kernel rule `k`"),
            "{e}"
        );
        let with = text.replace("\"r0\"}", "\"r0\", \"observed_on\": [\"6.18.1\"]}");
        assert!(KnownRules::parse(&with, "k.json").is_ok());
    }

    // A version-independent kernel rule (`every_kernel`) explains the same
    // difference on the guest kernels and host variants, and only there:
    // not on another backend, and a plain kernel rule stays the host's.
    #[test]
    fn an_every_kernel_rule_covers_the_other_kernel_backends_only() {
        let mut r = rule("k", "r");
        r.backend = "kernel".into();
        r.observed_on = vec!["6.18.1-x".into()];
        assert!(r.covers_backend("kernel"));
        assert!(!r.covers_backend("kernel@6.1"));
        r.every_kernel = true;
        for b in [
            "kernel",
            "kernel@6.1",
            "kernel@6.12-interp",
            "kernel-harden",
        ] {
            assert!(r.covers_backend(b), "{b}");
        }
        for b in ["kernelx", "rbpf", "interp"] {
            assert!(!r.covers_backend(b), "{b}");
        }
        let mut rules = KnownRules::new(vec![r]);
        let p = program(&MOV_EXIT);
        let mut c = r0_difference("kernel@6.1-interp", "0x1 vs 0x2");
        rules.apply(&p, &[], &mut c);
        assert_eq!(known_of(&c), Some("k".to_string()));
        // Version limits contradict `every_kernel`: refused when read.
        let text = r#"[{"name": "k", "reason": "r", "backend": "kernel", "aspect": "r0", "observed_on": ["6.1"], "fixed_in": "6.19", "every_kernel": true}]"#;
        let e = KnownRules::parse(text, "k.json").unwrap_err();
        assert!(
            matches!(e, KnownRulesError::EveryKernelWithLimits { .. }),
            "{e:?}"
        );
        let text = r#"[{"name": "k", "reason": "r", "backend": "rbpf", "aspect": "r0", "every_kernel": true}]"#;
        assert!(KnownRules::parse(text, "k.json").is_err());
    }

    #[test]
    fn unknown_rule_fields_are_refused_rather_than_ignored() {
        let text = r#"[{"name": "a", "reason": "r", "backend": "rbpf", "aspect": "r0", "r0_value": "0x2"}]"#;
        let e = KnownRules::parse(text, "x.json").unwrap_err();
        assert!(e.to_string().contains("r0_value"), "{e}");
    }

    #[test]
    fn kernel_rules_do_not_apply_where_the_bug_was_not_seen_or_is_fixed() {
        let mut r = rule("k", "r");
        r.backend = "kernel".into();
        r.observed_on = vec!["6.18.1-x".into()];
        r.not_observed_on = vec!["6.18.44-y".into()];
        r.fixed_in = Some("6.19".into());
        assert!(r.applies_on_kernel(Some("6.18.1-x")));
        assert!(r.applies_on_kernel(Some("6.17.3")));
        assert!(!r.applies_on_kernel(Some("6.18.44-y")));
        assert!(!r.applies_on_kernel(Some("6.19.0")));
        assert!(!r.applies_on_kernel(Some("7.0.2-rc1")));
        let mut rules = KnownRules::new(vec![r]);
        let p = program(&MOV_EXIT);
        rules.set_kernel_release(Some("6.18.44-y".into()));
        let mut c = r0_difference("kernel", "0x1 vs 0x2");
        rules.apply(&p, &[], &mut c);
        assert_eq!(known_of(&c), None, "a fixed kernel's difference is new");
        rules.set_kernel_release(Some("6.18.1-x".into()));
        let mut c = r0_difference("kernel", "0x1 vs 0x2");
        rules.apply(&p, &[], &mut c);
        assert_eq!(known_of(&c).as_deref(), Some("k"));
    }

    #[test]
    fn detail_patterns_and_required_rows_narrow_a_rule() {
        assert!(wildcard_match("0x1 vs 0x2", "0x1 vs 0x2"));
        assert!(!wildcard_match("0x1 vs 0x2", "0x1 vs 0x22"));
        assert!(wildcard_match(
            "* vs 0xffffffff*",
            "0x0 vs 0xffffffff00000000"
        ));
        assert!(!wildcard_match("a*b*c", "acb"));
        assert!(wildcard_match("a*b*c", "aXbYc"));
        let mut r = rule("exact", "r");
        r.detail_matches = Some("0x1 vs 0x2".into());
        r.requires_all_of = vec!["mov_imm".into(), "exit".into()];
        let p = program(&MOV_EXIT);
        let mut rules = KnownRules::new(vec![r.clone()]);
        let mut c = r0_difference("rbpf", "0x1 vs 0x2");
        rules.apply(&p, &[], &mut c);
        assert_eq!(known_of(&c).as_deref(), Some("exact"));
        let mut c = r0_difference("rbpf", "0x1 vs 0x3");
        rules.apply(&p, &[], &mut c);
        assert_eq!(known_of(&c), None, "another value is another divergence");
        r.requires_all_of.push("add_imm".into());
        let mut rules = KnownRules::new(vec![r]);
        let mut c = r0_difference("rbpf", "0x1 vs 0x2");
        rules.apply(&p, &[], &mut c);
        assert_eq!(known_of(&c), None, "the program lacks add_imm");
    }

    #[test]
    fn operand_patterns_and_r0_relations_narrow_a_rule() {
        // RFC 9669 §4.3: `if r1 == -1` (0x15, imm -1) sign-extends its
        // immediate; a rule about zero-extension needs a negative one.
        let jeq = |imm: i32| 0x0000_0000_0001_0015u64 | (u64::from(imm as u32) << 32) | 0x0100;
        let text = r#"[{"name": "j", "reason": "r", "backend": "rbpf", "aspect": "r0",
            "program_has": [{"rows": ["jeq_imm"], "imm": "negative"}],
            "r0_relation": ["other-branch"]}]"#;
        let rules = KnownRules::parse(text, "j.json").unwrap();
        let rule = &rules.rules()[0];
        let d = |detail: &str| Difference {
            backend: "rbpf".into(),
            aspect: crate::Aspect::R0,
            detail: detail.into(),
            known: None,
        };
        let negative = program(&[jeq(-1), 0x95]);
        let positive = program(&[jeq(5), 0x95]);
        assert!(KnownRules::rule_matches(
            rule,
            &negative,
            &[],
            &d("0x0 vs 0x1"),
            None
        ));
        assert!(!KnownRules::rule_matches(
            rule,
            &positive,
            &[],
            &d("0x0 vs 0x1"),
            None
        ));
        assert!(
            !KnownRules::rule_matches(rule, &negative, &[], &d("0x0 vs 0x7"), None),
            "7 is no branch flag"
        );
        assert!(R0Relation::ReferenceIsLow32.holds(0x1234, 0xffff_ffff_0000_1234));
        assert!(!R0Relation::ReferenceIsLow32.holds(0x1234, 0xffff_ffff_0000_1235));
        assert!(R0Relation::ReferenceIsTruncated.holds(0x3412, 0x1234_3412));
        assert!(R0Relation::ReferenceIsTruncated.holds(0x1234_3412, 0x5678_1234_3412));
        assert!(R0Relation::ReferenceIsSignExtended.holds(0xffff_ffff_ffff_ff80, 0x80));
        assert!(R0Relation::ReferenceIsSignExtended.holds(0xffff_ff80, 0x1_0000_0080));
        assert!(!R0Relation::ReferenceIsSignExtended.holds(0x7f, 0x80));
        assert!(R0Relation::ReferenceIsByteSwapped.holds(0x2233, 0x3322));
        assert!(R0Relation::ReferenceIsByteSwapped.holds(0x1122_3344, 0x4433_2211));
        assert!(!R0Relation::ReferenceIsByteSwapped.holds(0x2233, 0x3323));
        assert_eq!(
            Operand::try_from("-0x10".to_string()),
            Ok(Operand::Equals(-16))
        );
        let bad = text.replace("\"negative\"", "\"small\"");
        assert!(KnownRules::parse(&bad, "j.json").is_err());
    }

    #[test]
    fn a_rule_naming_no_opcode_row_is_refused() {
        let text = "[\n{\"name\": \"t\", \"reason\": \"r\", \"backend\": \"rbpf\", \"aspect\": \"r0\", \"program_uses\": [\"mod32_immm\"]}\n]";
        let e = KnownRules::parse(text, "t.json").unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.json:2: rule `t` names `mod32_immm`, which is no opcode-table row or mnemonic"
        );
    }

    #[test]
    fn a_difference_two_rules_match_is_reported_as_ambiguous() {
        let mut rules = KnownRules::new(vec![rule("first", "a"), rule("second", "b")]);
        let p = program(&MOV_EXIT);
        let mut c = r0_difference("rbpf", "0x1 vs 0x2");
        rules.apply(&p, &[], &mut c);
        assert_eq!(known_of(&c).as_deref(), Some("first"));
        assert_eq!(rules.ambiguous().len(), 1);
        assert_eq!(rules.ambiguous()[0].rules, ["first", "second"]);
        let summary = rules.summary();
        assert!(
            summary
                .contains("AMBIGUOUS: 1 difference(s) on rbpf (r0) matched 2 rules: first, second"),
            "{summary}"
        );
    }

    #[test]
    fn a_missing_rules_file_is_an_error_naming_it() {
        let path =
            std::env::temp_dir().join(format!("bpfdiff-no-such-rules-{}.json", std::process::id()));
        let e = KnownRules::load(&path).unwrap_err();
        assert!(matches!(e, KnownRulesError::Io { .. }), "{e:?}");
        let text = e.to_string();
        assert!(text.starts_with(&path.display().to_string()), "{text}");
        assert!(text.contains("known-divergence rules"), "{text}");
    }

    #[test]
    fn extending_adds_rules_and_replaces_same_named_ones() {
        let mut base = KnownRules::parse(
            &serde_json::to_string(&vec![rule("a", "old"), rule("b", "b")]).unwrap(),
            "built-in",
        )
        .unwrap();
        let more = KnownRules::parse(
            &serde_json::to_string(&vec![rule("a", "new"), rule("c", "c")]).unwrap(),
            "extra.json",
        )
        .unwrap();
        base.extend(more);
        let names: Vec<_> = base.rules().iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(base.rules()[0].reason, "new");
        assert_eq!(base.hits(), [0, 0, 0]);
        assert_eq!(base.sources(), ["built-in", "extra.json"]);
        assert!(base
            .summary()
            .starts_with("known divergences: 3 rule(s) from built-in + extra.json, 0 matched"));
    }

    #[test]
    fn parse_errors_name_the_origin_and_line() {
        let e = KnownRules::parse("[\n  {\"name\": 1}\n]", "x.json").unwrap_err();
        assert!(e.to_string().starts_with("x.json:2: "), "{e}");
    }
}
