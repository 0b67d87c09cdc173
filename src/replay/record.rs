//! The recorded outcome of a case: which differences from the engine
//! interpreter each backend showed when the case was last triaged, and on
//! which versions.
//!
//! In a `.data` file the record is a set of `#@` comment lines, so that
//! bpf_conformance and `bpfdiff run` read the file as before (`#` starts a
//! comment): one JSON object per line for each recorded difference, or the
//! line `#@ agrees` when every backend agreed.
//!
//! ```text
//! #@ {"backend": "rbpf", "aspect": "verdict", "rule": "rbpf-refuses-atomics"}
//! #@ {"backend": "kernel", "aspect": "r0", "rule": "kernel-atomic-fetch-stack-precision", "seen_on": ["6.18.1"], "not_seen_on": ["6.18.44-fc-v1252"]}
//! ```
//!
//! A report's `case.json` holds the same entries under `recorded` (or the
//! string `"agrees"`), next to its program and input.

use serde::{Deserialize, Serialize};

/// The prefix of a record line in a `.data` file.
pub const DATA_PREFIX: &str = "#@";

/// The `case.json` schema version this build reads and writes.
pub const CASE_SCHEMA: u32 = 1;

/// The aspect of an [`Alternative`] that says "or no difference at all"
/// (a panic that only a debug build of rbpf has: a release build agrees).
pub const NO_DIFFERENCE: &str = "none";

/// Another form the same recorded difference may take (for instance a
/// panic in a debug build of rbpf where a release build returns). The
/// aspect [`NO_DIFFERENCE`] allows the backend to agree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alternative {
    /// The aspect.
    pub aspect: String,
    /// The rule expected to explain it (none: unexplained).
    #[serde(default)]
    pub rule: Option<String>,
}

/// One recorded difference between the engine interpreter and a backend.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedDifference {
    /// The backend that differs.
    pub backend: String,
    /// The aspect (`verdict`, `ending`, `r0`, …).
    pub aspect: String,
    /// The known rule that explains it, or none for an unexplained one.
    #[serde(default)]
    pub rule: Option<String>,
    /// Other forms the same difference may take.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub or: Vec<Alternative>,
    /// Versions of the backend (the kernel's `uname -r`, `rbpf 0.4.1`) on
    /// which the difference was seen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seen_on: Vec<String>,
    /// Versions on which it was replayed and did not occur (fixed there).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_seen_on: Vec<String>,
}

impl RecordedDifference {
    /// True when an observed difference with this aspect and rule is this
    /// recorded one (or one of its alternatives).
    pub fn accepts(&self, aspect: &str, rule: Option<&str>) -> bool {
        (self.aspect == aspect && self.rule.as_deref() == rule)
            || self
                .or
                .iter()
                .any(|a| a.aspect == aspect && a.rule.as_deref() == rule)
    }

    /// The rules this difference's forms name (its own, then its
    /// alternatives'), the forms without a rule left out.
    pub fn rules(&self) -> impl Iterator<Item = &str> {
        std::iter::once(&self.rule)
            .chain(self.or.iter().map(|a| &a.rule))
            .filter_map(|r| r.as_deref())
    }

    /// True when an alternative allows the backend to agree instead.
    pub fn may_agree(&self) -> bool {
        self.or.iter().any(|a| a.aspect == NO_DIFFERENCE)
    }

    /// True when the difference is expected on backend version `version`:
    /// everywhere except where it was recorded as not seen.
    pub fn expected_on(&self, version: &str) -> bool {
        !self.not_seen_on.iter().any(|v| v == version)
    }

    /// `kernel r0 [kernel-atomic-fetch-stack-precision]`.
    pub fn describe(&self) -> String {
        let rule = |r: &Option<String>| match r {
            Some(r) => format!(" [{r}]"),
            None => " [no rule]".to_string(),
        };
        let mut s = format!("{} {}{}", self.backend, self.aspect, rule(&self.rule));
        for a in &self.or {
            s.push_str(&format!(" or {}{}", a.aspect, rule(&a.rule)));
        }
        s
    }
}

/// A case's record: the differences it showed, or none at all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// The recorded differences; empty when the backends agreed.
    pub differences: Vec<RecordedDifference>,
}

/// A malformed record line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordError {
    /// The 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// The record in the `#@` lines of a `.data` file's text: `Ok(None)` when
/// it has none.
pub fn parse_data_record(text: &str) -> Result<Option<Record>, RecordError> {
    let mut record: Option<Record> = None;
    let mut agrees = false;
    for (i, line) in text.lines().enumerate() {
        let Some(body) = line.trim_start().strip_prefix(DATA_PREFIX) else {
            continue;
        };
        let body = body.trim();
        let err = |message: String| RecordError {
            line: i + 1,
            message,
        };
        let entry = record.get_or_insert_with(Record::default);
        if body == "agrees" {
            agrees = true;
        } else {
            let d: RecordedDifference = serde_json::from_str(body).map_err(|e| {
                err(format!(
                    "a `{DATA_PREFIX}` line holds `agrees` or a recorded difference as JSON: {e}"
                ))
            })?;
            entry.differences.push(d);
        }
        if agrees && !entry.differences.is_empty() {
            return Err(err(
                "`#@ agrees` and recorded differences contradict each other".to_string(),
            ));
        }
    }
    Ok(record)
}

/// The record as `#@` lines for a `.data` file.
pub fn data_record_lines(record: &Record) -> String {
    if record.differences.is_empty() {
        return format!("{DATA_PREFIX} agrees\n");
    }
    record
        .differences
        .iter()
        .map(|d| {
            format!(
                "{DATA_PREFIX} {}\n",
                serde_json::to_string(d).expect("a record serializes")
            )
        })
        .collect()
}

/// The `recorded` field of a `case.json`: `"agrees"` or a list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CaseRecord {
    /// `"agrees"`.
    Agrees(String),
    /// The recorded differences.
    Differences(Vec<RecordedDifference>),
}

impl CaseRecord {
    /// The record it stands for; an error for a string other than `agrees`.
    pub fn to_record(&self) -> Result<Record, String> {
        match self {
            CaseRecord::Agrees(s) if s == "agrees" => Ok(Record::default()),
            CaseRecord::Agrees(s) => Err(format!(
                "`recorded` is `\"agrees\"` or a list of differences, not `\"{s}\"`"
            )),
            CaseRecord::Differences(d) => Ok(Record {
                differences: d.clone(),
            }),
        }
    }
}

/// The part of a report's `case.json` that replay reads. Other fields (the
/// outcomes, the signature, the environment) are for readers and tools and
/// are kept as they are.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CaseFile {
    /// The schema version ([`CASE_SCHEMA`]).
    pub schema: u32,
    /// The program, one slot per string: 16 hex digits, its 8 bytes in
    /// memory order.
    pub program: Vec<String>,
    /// The input memory as hex bytes; for a packet program type, the
    /// packet as `BPF_PROG_TEST_RUN` gets it.
    #[serde(default)]
    pub mem: String,
    /// The program type (`xdp`, `sched_cls`, ...; docs/program-types.md);
    /// absent for the harness's input model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prog_type: Option<String>,
    /// The maps with their initial contents, as the lines of a `-- maps`
    /// section; absent when the program has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maps: Option<String>,
    /// The recorded outcome.
    pub recorded: CaseRecord,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_lines_round_trip_and_are_comments_to_the_data_reader() {
        let text = "# a test\n#@ {\"backend\": \"rbpf\", \"aspect\": \"verdict\", \"rule\": \"r\"}\n#@ {\"backend\": \"kernel\", \"aspect\": \"r0\", \"rule\": null, \"not_seen_on\": [\"6.1.2\"]}\n-- asm\nmov %r0, 1\nexit\n-- result\n0x1\n";
        let record = parse_data_record(text).unwrap().unwrap();
        assert_eq!(record.differences.len(), 2);
        assert!(record.differences[0].accepts("verdict", Some("r")));
        assert!(!record.differences[1].expected_on("6.1.2"));
        assert!(record.differences[1].expected_on("6.1.3"));
        let again = parse_data_record(&data_record_lines(&record))
            .unwrap()
            .unwrap();
        assert_eq!(again, record);
        let test = bpfdiff_engine::data::parse_data(text).unwrap();
        assert_eq!(test.program.len(), 2);
    }

    #[test]
    fn bad_record_lines_name_their_line() {
        let e = parse_data_record("# x\n#@ {\"backend\": \"rbpf\"}\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("aspect"), "{}", e.message);
        let e = parse_data_record("#@ agrees\n#@ {\"backend\": \"rbpf\", \"aspect\": \"r0\"}\n")
            .unwrap_err();
        assert_eq!(e.line, 2);
        assert_eq!(parse_data_record("# none\n").unwrap(), None);
        assert_eq!(
            parse_data_record("#@ agrees\n").unwrap(),
            Some(Record::default())
        );
    }
}
