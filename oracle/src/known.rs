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
    /// The aspect (`verdict`, `ending`, `r0`, `memory`, `fault-kind`,
    /// `fault-pc`, `unsafe-accepted`, `crash`).
    pub aspect: String,
    /// The rule applies only when the program uses one of these opcode-table
    /// rows (by `OpcodeRow::name()` or mnemonic); empty = any program.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub program_uses: Vec<String>,
    /// The rule applies only when the program uses every one of these
    /// opcode-table rows (by `OpcodeRow::name()` or mnemonic).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires_all_of: Vec<String>,
    /// The rule applies only when the difference's detail contains this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail_contains: Option<String>,
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
#[derive(Clone, Debug, PartialEq, Eq)]
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
            let needle = format!("\"{}\"", rule.name);
            let line = text
                .lines()
                .position(|l| l.contains(&needle))
                .map_or(1, |i| i + 1);
            return Err(KnownRulesError::KernelRuleWithoutVersion {
                path: origin.to_string(),
                line,
                name: rule.name.clone(),
            });
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

    /// True when `rule` explains difference `d` of `program` on the kernel
    /// `release` (for kernel rules; see [`KnownRule::applies_on_kernel`]).
    pub fn rule_matches(
        rule: &KnownRule,
        program: &Program,
        d: &Difference,
        release: Option<&str>,
    ) -> bool {
        if rule.backend != d.backend || rule.aspect != d.aspect.name() {
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
        if let Some(pattern) = &rule.detail_matches {
            if !wildcard_match(pattern, &d.detail) {
                return false;
            }
        }
        if rule.program_uses.is_empty() && rule.requires_all_of.is_empty() {
            return true;
        }
        let Ok(decoded) = program.decode() else {
            return false;
        };
        let uses = |u: &String| {
            decoded
                .iter()
                .any(|(_, i)| *u == i.row.name() || u == i.row.mnemonic)
        };
        (rule.program_uses.is_empty() || rule.program_uses.iter().any(uses))
            && rule.requires_all_of.iter().all(uses)
    }

    /// Marks each difference that a rule explains, counting the match. When
    /// more than one rule matches, the first is used and the ambiguity is
    /// recorded for the summary.
    pub fn apply(&mut self, program: &Program, comparison: &mut Comparison) {
        let Comparison::Diverge { differences } = comparison else {
            return;
        };
        for d in differences.iter_mut() {
            let release = self.kernel_release.as_deref();
            let matching: Vec<usize> = (0..self.rules.len())
                .filter(|&i| Self::rule_matches(&self.rules[i], program, d, release))
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
            .zip(&self.hits)
            .filter(|(_, &n)| n > 0)
            .map(|(r, n)| {
                format!(
                    "\n  {} ({} on {}): {n} match(es) — {}",
                    r.name, r.aspect, r.backend, r.reason
                )
            })
            .collect();
        let ambiguous: Vec<String> = self
            .ambiguous
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
        rules.apply(&p, &mut c);
        assert_eq!(known_of(&c), None, "a fixed kernel's difference is new");
        rules.set_kernel_release(Some("6.18.1-x".into()));
        let mut c = r0_difference("kernel", "0x1 vs 0x2");
        rules.apply(&p, &mut c);
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
        rules.apply(&p, &mut c);
        assert_eq!(known_of(&c).as_deref(), Some("exact"));
        let mut c = r0_difference("rbpf", "0x1 vs 0x3");
        rules.apply(&p, &mut c);
        assert_eq!(known_of(&c), None, "another value is another divergence");
        r.requires_all_of.push("add_imm".into());
        let mut rules = KnownRules::new(vec![r]);
        let mut c = r0_difference("rbpf", "0x1 vs 0x2");
        rules.apply(&p, &mut c);
        assert_eq!(known_of(&c), None, "the program lacks add_imm");
    }

    #[test]
    fn a_difference_two_rules_match_is_reported_as_ambiguous() {
        let mut rules = KnownRules::new(vec![rule("first", "a"), rule("second", "b")]);
        let p = program(&MOV_EXIT);
        let mut c = r0_difference("rbpf", "0x1 vs 0x2");
        rules.apply(&p, &mut c);
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
