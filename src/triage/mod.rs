//! `bpfdiff triage`: from a pile of saved cases (campaign `--save`
//! output, fuzz artifacts, crash files) to one report per new divergence.
//!
//! Every case is run on the chosen backends. Cases whose differences are
//! all explained by known rules are counted under those rules; cases that
//! agree are counted as no longer diverging. The others are minimized,
//! smallest first, each with the same predicate as `bpfdiff minimize`,
//! and grouped by the [`Signature`] of their minimized program (a
//! signature is meant for minimized programs: incidental opcode rows of a
//! large program would split one bug into many). Each group's smallest
//! minimized case gets a report ([`crate::report`]); the folder is written
//! only when something in it changed, so a second run changes nothing.

use crate::fuzz_glue::DiffHarness;
use crate::minimize::case_file::CaseFormat;
use crate::minimize::{minimize, Case, DiffPredicate};
use crate::report::{self, differences_of, Written};
use crate::signature::Signature;
use bpfdiff_oracle::KnownRules;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What triage did with a group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum GroupStatus {
    /// A report folder was created.
    NewReportWritten {
        /// Its folder.
        report: String,
    },
    /// The report folder existed; `updated` when a file in it changed.
    ReportExists {
        /// Its folder.
        report: String,
        /// Whether a file changed.
        updated: bool,
    },
    /// Every difference is explained by these known rules.
    Known {
        /// The rules.
        rules: Vec<String>,
    },
    /// The backends agree on it now.
    NoLongerDiverges,
}

impl GroupStatus {
    /// The table's status column.
    pub fn text(&self) -> String {
        match self {
            GroupStatus::NewReportWritten { report } => format!("new report written: {report}"),
            GroupStatus::ReportExists {
                report,
                updated: false,
            } => {
                format!("report exists: {report}")
            }
            GroupStatus::ReportExists {
                report,
                updated: true,
            } => {
                format!("report exists (updated): {report}")
            }
            GroupStatus::Known { rules } => format!("known rule {}", rules.join(", ")),
            GroupStatus::NoLongerDiverges => "no longer diverges".to_string(),
        }
    }
}

/// One row of the table.
#[derive(Clone, Debug, Serialize)]
pub struct Group {
    /// The signature's slug; `known: RULES` or `agrees` for the others.
    pub signature: String,
    /// The signature in full, for new divergences.
    pub canonical: Option<String>,
    /// Cases in the group.
    pub count: usize,
    /// The first case file (in path order).
    pub first_seen: String,
    /// Slots of the smallest case as found.
    pub smallest_slots: usize,
    /// Slots of its minimized form (new divergences).
    pub minimized_slots: Option<usize>,
    /// What was done.
    #[serde(flatten)]
    pub status: GroupStatus,
}

/// The case files under `paths`: files given by name, and the files of a
/// format bpfdiff reads found recursively in folders, in path order.
pub fn collect(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out)?;
            } else if CaseFormat::from_path(&p).is_some()
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out)?;
        } else {
            std::fs::metadata(p)?;
            out.push(p.clone());
        }
    }
    Ok(out)
}

struct Found {
    path: PathBuf,
    case: Case,
}

/// Runs triage over `files` on `backends` with `rules`, writing reports
/// under `reports_dir`; `note` receives progress lines.
pub fn triage(
    files: &[PathBuf],
    backends: &[String],
    rules: &KnownRules,
    reports_dir: &Path,
    note: &mut dyn FnMut(&str),
) -> anyhow::Result<Vec<Group>> {
    let mut harness = DiffHarness::new(backends, rules.clone(), false)?;
    let mut known: BTreeMap<Vec<String>, Vec<Found>> = BTreeMap::new();
    let mut agrees: Vec<Found> = Vec::new();
    let mut new: Vec<Found> = Vec::new();
    for path in files {
        let (case, _) = report::read_case_with_record(path)?;
        let check = harness.check(&case);
        let differences = differences_of(&check.comparison);
        let found = Found {
            path: path.clone(),
            case,
        };
        if differences.is_empty() {
            agrees.push(found);
        } else if differences.iter().all(|d| d.known.is_some()) {
            let mut names: Vec<String> =
                differences.iter().filter_map(|d| d.known.clone()).collect();
            names.sort();
            names.dedup();
            known.entry(names).or_default().push(found);
        } else {
            new.push(found);
        }
    }

    // New divergences: minimize, smallest first, and group by signature.
    new.sort_by(|a, b| {
        (a.case.program.len(), a.case.input.len(), &a.path).cmp(&(
            b.case.program.len(),
            b.case.input.len(),
            &b.path,
        ))
    });
    let mut groups: BTreeMap<String, (Signature, Case, Vec<Found>)> = BTreeMap::new();
    for f in new {
        let (mut predicate, _) = DiffPredicate::new(backends, rules.clone(), &f.case)?;
        let min = minimize(f.case.clone(), &mut predicate, &mut |_| {});
        let check = harness.check(&min.case);
        let differences = differences_of(&check.comparison);
        let Some(d) = differences
            .iter()
            .find(|d| d.known.is_none())
            .or_else(|| differences.first())
        else {
            continue;
        };
        let sig = Signature::of_type(min.case.prog_type, &min.case.program, &check.outcomes, d);
        note(&format!(
            "triage: {}: {} → {} slots: {}",
            f.path.display(),
            f.case.program.len(),
            min.case.program.len(),
            sig
        ));
        groups
            .entry(sig.slug())
            .or_insert_with(|| (sig, min.case, Vec::new()))
            .2
            .push(f);
    }

    let mut rows = Vec::new();
    for (slug, (sig, min_case, mut found)) in groups {
        let smallest = &found[0];
        let source = format!(
            "minimized by `bpfdiff triage` from `{}` ({} slots → {})",
            smallest.path.display(),
            smallest.case.program.len(),
            min_case.program.len()
        );
        let smallest_slots = smallest.case.program.len();
        let r = report::build(
            min_case.clone(),
            None,
            backends,
            rules.clone(),
            Some(source),
            None,
            reports_dir,
        )?;
        let name = r.name.clone();
        let status = match report::write(&r, reports_dir)? {
            Written::New => GroupStatus::NewReportWritten { report: name },
            Written::Updated => GroupStatus::ReportExists {
                report: name,
                updated: true,
            },
            Written::Unchanged => GroupStatus::ReportExists {
                report: name,
                updated: false,
            },
        };
        found.sort_by(|a, b| a.path.cmp(&b.path));
        rows.push(Group {
            signature: slug,
            canonical: Some(sig.canonical()),
            count: found.len(),
            first_seen: found[0].path.display().to_string(),
            smallest_slots,
            minimized_slots: Some(min_case.program.len()),
            status,
        });
    }
    for (rules, found) in known {
        rows.push(plain_row(
            format!("known: {}", rules.join(", ")),
            &found,
            GroupStatus::Known { rules },
        ));
    }
    if !agrees.is_empty() {
        rows.push(plain_row(
            "agrees".to_string(),
            &agrees,
            GroupStatus::NoLongerDiverges,
        ));
    }
    Ok(rows)
}

fn plain_row(signature: String, found: &[Found], status: GroupStatus) -> Group {
    Group {
        signature,
        canonical: None,
        count: found.len(),
        first_seen: found
            .iter()
            .map(|f| f.path.display().to_string())
            .min()
            .unwrap_or_default(),
        smallest_slots: found
            .iter()
            .map(|f| f.case.program.len())
            .min()
            .unwrap_or(0),
        minimized_slots: None,
        status,
    }
}

/// The table `bpfdiff triage` prints.
pub fn table(groups: &[Group]) -> String {
    let mut rows = vec![[
        "signature".to_string(),
        "count".to_string(),
        "first seen".to_string(),
        "smallest".to_string(),
        "status".to_string(),
    ]];
    for g in groups {
        let size = match g.minimized_slots {
            Some(m) => format!("{} → {m} slots", g.smallest_slots),
            None => format!("{} slots", g.smallest_slots),
        };
        rows.push([
            g.signature.clone(),
            g.count.to_string(),
            g.first_seen.clone(),
            size,
            g.status.text(),
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (c, w) in widths.iter().enumerate() {
            if c == 4 {
                line.push_str(&r[c]);
            } else {
                let pad = w - r[c].chars().count();
                line.push_str(&r[c]);
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
