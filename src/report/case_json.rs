//! A report's `case.json`: the replay schema ([`CaseFile`]: `schema`,
//! `program`, `mem`, `recorded`, and for a native case `prog_type` and
//! `maps`), so that `bpfdiff replay` reads it, plus
//! fields for readers and tools: `name`, `title`, `signature`, `backends`,
//! `outcomes` (this run's), `differences`, `status`, `environment`, `seen`
//! (where it was seen before and now) and `replay` (the command).

use super::{Report, ReportError};
use crate::replay::record::{CaseFile, CaseRecord, CASE_SCHEMA};
use serde_json::{json, Value};
use std::path::Path;

/// An existing `case.json` as JSON, or `None` when there is none.
pub fn read_existing(path: &Path) -> Result<Option<Value>, ReportError> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(None);
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| ReportError::Existing {
            path: path.to_path_buf(),
            why: format!("line {}: not JSON: {e}", e.line()),
        })
}

/// `diverges` or `not seen here` for the primary difference.
pub fn status(report: &Report) -> String {
    if report.diverges_now {
        "diverges".to_string()
    } else {
        "recorded; does not diverge here".to_string()
    }
}

/// This run as a `seen` entry.
fn seen_now(report: &Report) -> Value {
    let outcomes: serde_json::Map<String, Value> = report
        .outcomes
        .iter()
        .map(|o| (o.backend.clone(), Value::String(o.summary())))
        .collect();
    json!({
        "environment": report.environment,
        "status": status(report),
        "outcomes": outcomes,
    })
}

/// The `seen` history: the existing entries, with the one from the same
/// kernel release replaced by this run (appended when there is none).
pub fn merge_seen(existing: Option<&Value>, report: &Report) -> Vec<Value> {
    let mut seen: Vec<Value> = existing
        .and_then(|e| e.get("seen"))
        .and_then(|s| s.as_array())
        .cloned()
        .unwrap_or_default();
    let now = seen_now(report);
    let release = |v: &Value| v["environment"]["kernel_release"].clone();
    match seen.iter_mut().find(|v| release(v) == release(&now)) {
        Some(entry) => *entry = now,
        None => seen.push(now),
    }
    seen
}

/// The file's text (pretty JSON, keys sorted, a final newline).
pub fn render(report: &Report) -> String {
    let recorded = if report.record.differences.is_empty() {
        CaseRecord::Agrees("agrees".to_string())
    } else {
        CaseRecord::Differences(report.record.differences.clone())
    };
    let file = CaseFile {
        schema: CASE_SCHEMA,
        program: report
            .case
            .program
            .to_bytes()
            .chunks(8)
            .map(crate::hex::to_hex)
            .collect(),
        mem: crate::hex::to_hex(&report.case.input),
        prog_type: (report.case.prog_type != bpfdiff_engine::prog_type::ProgType::Input)
            .then(|| report.case.prog_type.name().to_string()),
        maps: (!report.case.maps.is_empty())
            .then(|| bpfdiff_engine::maps::text::write_maps(&report.case.maps)),
        recorded,
    };
    let mut v = serde_json::to_value(&file).expect("a case file serializes");
    let s = &report.signature;
    let extra = json!({
        "name": report.name,
        "title": report.title,
        "signature": {
            "slug": s.slug(),
            "canonical": s.canonical(),
            "reference": s.reference,
            "backend": s.backend,
            "aspect": s.aspect,
            "class": s.class,
            "rows": s.rows,
        },
        "backends": report.backends,
        "outcomes": report.outcomes,
        "differences": report.differences.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
        "status": status(report),
        "environment": report.environment,
        "seen": report.seen,
        "source": report.source,
        "replay": format!("bpfdiff replay {}", report.dir.display()),
    });
    if let (Some(obj), Value::Object(more)) = (v.as_object_mut(), extra) {
        obj.extend(more);
    }
    let mut text = serde_json::to_string_pretty(&v).expect("JSON serializes");
    text.push('\n');
    text
}
