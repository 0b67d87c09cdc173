//! A campaign JSON summary as the page reads it. Every section is optional:
//! summaries written before the timeline, signatures and coverage existed
//! still render, with "no data" in place of the missing charts. Fields the
//! page does not draw are ignored.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The summary schema this page reads (`"schema": 1`).
pub const SCHEMA: u64 = 1;

/// Why a summary could not be turned into a page.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PageError {
    /// The file could not be read.
    #[error("{path}: cannot read: {message}")]
    Read {
        /// The file.
        path: String,
        /// The operating system's reason.
        message: String,
    },
    /// The text is not JSON, or a section has the wrong shape.
    #[error("{path}:{line}:{column}: not a campaign summary: {message}")]
    Json {
        /// The file (`<summary>` when parsed from text).
        path: String,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// serde_json's account of the problem.
        message: String,
    },
    /// The summary declares a schema this page does not know.
    #[error(
        "{path}: summary schema {found} is not supported (this bpfdiff reads schema {SCHEMA})"
    )]
    Schema {
        /// The file.
        path: String,
        /// The schema the file declares.
        found: u64,
    },
}

impl PageError {
    /// The same error, naming `path` as its file.
    pub fn in_file(self, path: &Path) -> PageError {
        let path = path.display().to_string();
        match self {
            PageError::Read { message, .. } => PageError::Read { path, message },
            PageError::Json {
                line,
                column,
                message,
                ..
            } => PageError::Json {
                path,
                line,
                column,
                message,
            },
            PageError::Schema { found, .. } => PageError::Schema { path, found },
        }
    }
}

/// One point of the campaign's timeline: the totals at `elapsed_s`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// Seconds since the campaign started.
    pub elapsed_s: f64,
    /// Programs run so far.
    pub programs: u64,
    /// New divergences so far.
    #[serde(default)]
    pub diverge_new: u64,
    /// Known divergences so far.
    #[serde(default)]
    pub diverge_known: u64,
}

/// How often one divergence signature was seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureCount {
    /// The signature (see `bpfdiff::signature`).
    pub signature: String,
    /// Cases with this signature.
    pub count: u64,
    /// Whether a known-divergence rule explains it.
    #[serde(default)]
    pub known: bool,
    /// The rule's name, when known.
    #[serde(default)]
    pub rule: Option<String>,
}

/// How many programs exercised one opcode-table row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowCount {
    /// The row's name.
    pub row: String,
    /// Programs (or instructions) that hit it.
    pub count: u64,
}

/// Opcode-row coverage of the campaign.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// Rows in the opcode table.
    pub rows_total: u64,
    /// Rows hit at least once.
    pub rows_hit: u64,
    /// Per-row counts (may list only the rows that were hit).
    #[serde(default)]
    pub rows: Vec<RowCount>,
}

/// What the page shows of one campaign summary.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CampaignPageData {
    /// The summary schema, when declared.
    #[serde(default)]
    pub schema: Option<u64>,
    /// The campaign seed, as written (a number or a `"0x…"` string).
    #[serde(default)]
    pub seed: Option<serde_json::Value>,
    /// The generator tier.
    #[serde(default)]
    pub tier: Option<String>,
    /// Backends, reference first.
    #[serde(default)]
    pub backends: Option<Vec<String>>,
    /// Programs run.
    #[serde(default)]
    pub programs: Option<u64>,
    /// Wall-clock seconds.
    #[serde(default)]
    pub elapsed_s: Option<f64>,
    /// Programs per second over the whole run.
    #[serde(default)]
    pub programs_per_s: Option<f64>,
    /// Cases with a new divergence.
    #[serde(default)]
    pub diverge_new: Option<u64>,
    /// Cases whose divergences are all known.
    #[serde(default)]
    pub diverge_known: Option<u64>,
    /// Totals over time, oldest first.
    #[serde(default)]
    pub timeline: Option<Vec<TimelinePoint>>,
    /// Divergences by signature.
    #[serde(default)]
    pub signatures: Option<Vec<SignatureCount>>,
    /// Opcode-row coverage.
    #[serde(default)]
    pub coverage: Option<Coverage>,
    /// Where the campaign ran (kernel, rbpf, bpfdiff commit), as written.
    #[serde(default)]
    pub environment: Option<BTreeMap<String, serde_json::Value>>,
}

impl CampaignPageData {
    /// Parses a summary. The timeline is put in time order, signatures new
    /// first and then most frequent first (so that a rare new finding is
    /// never hidden below many known ones), and rows most frequent first,
    /// so that the page is the same whatever order the writer used.
    pub fn parse(text: &str) -> Result<CampaignPageData, PageError> {
        let json_error = |e: serde_json::Error| PageError::Json {
            path: "<summary>".to_string(),
            line: e.line(),
            column: e.column(),
            message: strip_position(&e.to_string()),
        };
        // First the syntax, then the shape: serde would also read a struct
        // from a JSON array, which no summary is.
        let value: serde_json::Value = serde_json::from_str(text).map_err(json_error)?;
        if !value.is_object() {
            return Err(PageError::Json {
                path: "<summary>".to_string(),
                line: 1,
                column: 1,
                message: "the top level is not a JSON object".to_string(),
            });
        }
        let mut data: CampaignPageData = serde_json::from_str(text).map_err(json_error)?;
        if let Some(found) = data.schema.filter(|&s| s != SCHEMA) {
            return Err(PageError::Schema {
                path: "<summary>".to_string(),
                found,
            });
        }
        if let Some(t) = &mut data.timeline {
            t.sort_by(|a, b| a.elapsed_s.total_cmp(&b.elapsed_s));
        }
        if let Some(s) = &mut data.signatures {
            s.sort_by(|a, b| {
                (a.known, std::cmp::Reverse(a.count), &a.signature).cmp(&(
                    b.known,
                    std::cmp::Reverse(b.count),
                    &b.signature,
                ))
            });
        }
        if let Some(c) = &mut data.coverage {
            c.rows
                .sort_by(|a, b| b.count.cmp(&a.count).then(a.row.cmp(&b.row)));
        }
        Ok(data)
    }

    /// The seed as text: `0x…` strings as written, numbers in hex.
    pub fn seed_text(&self) -> Option<String> {
        match self.seed.as_ref()? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(match n.as_u64() {
                Some(v) => format!("{v:#x}"),
                None => n.to_string(),
            }),
            other => Some(other.to_string()),
        }
    }
}

/// serde_json appends " at line L column C"; the error already says where.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn todays_summary_without_the_new_sections_parses() {
        let d = CampaignPageData::parse(
            r#"{"seed":"0x2a","tier":"mix","backends":["interp","jit"],"programs":10,
                "elapsed_s":0.5,"programs_per_s":20.0,"agree":10,"verdicts":{}}"#,
        )
        .unwrap();
        assert_eq!(d.seed_text().as_deref(), Some("0x2a"));
        assert_eq!(d.programs, Some(10));
        assert!(d.timeline.is_none() && d.signatures.is_none() && d.coverage.is_none());
    }

    #[test]
    fn bad_json_names_line_and_column() {
        let e = CampaignPageData::parse("{\n  \"programs\": 1,\n  oops\n}").unwrap_err();
        let e = e.in_file(Path::new("s.json"));
        let text = e.to_string();
        assert!(
            text.starts_with("s.json:3:3: not a campaign summary: "),
            "{text}"
        );
        assert!(!text.contains(" at line "), "{text}");
    }

    #[test]
    fn a_section_of_the_wrong_shape_is_an_error() {
        let e = CampaignPageData::parse(r#"{"timeline": {"elapsed_s": 1}}"#).unwrap_err();
        assert!(matches!(e, PageError::Json { line: 1, .. }), "{e}");
        let e = CampaignPageData::parse("[1, 2]").unwrap_err();
        assert!(matches!(e, PageError::Json { .. }), "{e}");
    }

    #[test]
    fn another_schema_is_refused() {
        let e = CampaignPageData::parse(r#"{"schema": 2}"#).unwrap_err();
        assert_eq!(
            e.in_file(Path::new("x.json")).to_string(),
            "x.json: summary schema 2 is not supported (this bpfdiff reads schema 1)"
        );
    }

    #[test]
    fn sections_are_put_in_a_stable_order() {
        let d = CampaignPageData::parse(
            r#"{"schema":1,"seed":42,
                "timeline":[{"elapsed_s":2,"programs":20},{"elapsed_s":1,"programs":10}],
                "signatures":[{"signature":"a","count":1,"known":false,"rule":null},
                              {"signature":"b","count":5,"known":true,"rule":"r"},
                              {"signature":"c","count":3,"known":false,"rule":null}],
                "coverage":{"rows_total":3,"rows_hit":2,"rows":[{"row":"x","count":1},{"row":"y","count":9}]}}"#,
        )
        .unwrap();
        assert_eq!(d.seed_text().as_deref(), Some("0x2a"));
        let t = d.timeline.unwrap();
        assert_eq!(t[0].elapsed_s, 1.0);
        let order: Vec<String> = d
            .signatures
            .unwrap()
            .into_iter()
            .map(|g| g.signature)
            .collect();
        assert_eq!(order, ["c", "a", "b"], "new first, then by count");
        assert_eq!(d.coverage.unwrap().rows[0].row, "y");
    }
}
