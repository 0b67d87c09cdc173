//! Findings on disk, written as they are found: one `.data` file per new
//! divergence group (its smallest example so far), and the checkpoint.
//! Every file is written to a hidden temporary file in the same folder and
//! renamed into place, so a killed campaign leaves only whole files (and
//! `bpfdiff triage`, which skips hidden files, never reads a partial one).

use super::checkpoint::{Checkpoint, CHECKPOINT_FILE};
use super::tally::{CampaignSummary, Example};
use super::{CampaignConfig, CampaignError};
use crate::fuzz_glue::regression_data;
use crate::gen::Tier;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically: a hidden temporary file next to it,
/// synced, then renamed over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp_name = format!(".{name}.{}.tmp", std::process::id());
    let tmp = match dir {
        Some(d) => d.join(tmp_name),
        None => PathBuf::from(tmp_name),
    };
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The file name of a group's example.
pub fn example_file(backend: &str, aspect: &str, seed: u64, tier: Tier, index: u64) -> String {
    format!("{backend}-{aspect}-seed{seed}-{tier}-case{index}.data")
}

/// The save folder and the example file of each group in it.
#[derive(Debug)]
pub struct Findings {
    dir: Option<PathBuf>,
    current: BTreeMap<(String, String), PathBuf>,
}

impl Findings {
    /// Creates the folder (when saving) and notes the files of `summary`'s
    /// groups (those of a checkpoint being resumed).
    pub fn new(dir: Option<PathBuf>, summary: &CampaignSummary) -> Result<Findings, CampaignError> {
        let mut current = BTreeMap::new();
        if let Some(d) = &dir {
            std::fs::create_dir_all(d).map_err(|source| CampaignError::Save {
                path: d.display().to_string(),
                source,
            })?;
            for ((backend, aspect), g) in &summary.new {
                let name = example_file(
                    backend,
                    aspect,
                    summary.seed,
                    summary.tier,
                    g.smallest.index,
                );
                current.insert((backend.clone(), aspect.clone()), d.join(name));
            }
        }
        Ok(Findings { dir, current })
    }

    /// Saves `example` as the group's file, replacing its previous one.
    pub fn found(
        &mut self,
        key: &(String, String),
        example: &Example,
        seed: u64,
        tier: Tier,
    ) -> Result<(), CampaignError> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        // An empty program has no `.data` form; generators never make one.
        let Some(data) = regression_data(&example.case) else {
            return Ok(());
        };
        let path = dir.join(example_file(&key.0, &key.1, seed, tier, example.index));
        let header = format!(
            "# bpfdiff campaign --seed {seed} --tier {tier} case {}: {}\n",
            example.index,
            example.detail.replace("--", "- -")
        );
        write_atomic(&path, (header + &data).as_bytes()).map_err(|source| CampaignError::Save {
            path: path.display().to_string(),
            source,
        })?;
        if let Some(old) = self.current.insert(key.clone(), path.clone()) {
            if old != path {
                match std::fs::remove_file(&old) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(CampaignError::Save {
                            path: old.display().to_string(),
                            source: e,
                        })
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Writes the checkpoint of `summary` (when saving).
    pub fn checkpoint(
        &self,
        config: &CampaignConfig,
        summary: &CampaignSummary,
    ) -> Result<(), CampaignError> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let path = dir.join(CHECKPOINT_FILE);
        let text =
            serde_json::to_vec(&Checkpoint::of(config, summary)).expect("a checkpoint serializes");
        write_atomic(&path, &text).map_err(|source| CampaignError::Save {
            path: path.display().to_string(),
            source,
        })
    }

    /// The example files, by group.
    pub fn saved(&self) -> Vec<PathBuf> {
        self.current.values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_atomic_write_leaves_no_temporary_file() {
        let dir = std::env::temp_dir().join(format!("bpfdiff-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.data");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("x.data")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
