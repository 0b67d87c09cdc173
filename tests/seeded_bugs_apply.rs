//! The seeded bugs of `scripts/seeded_bugs/` (docs/fuzzing.md, "Seeded
//! bugs") still apply to the tree: a patch that no longer applies would
//! make `scripts/seeded_bugs.sh` measure nothing for that bug.

use std::path::Path;
use std::process::Command;

#[test]
fn every_seeded_bug_patch_applies_to_the_tree() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !root.join(".git").exists() {
        println!("SKIPPED: not a git checkout, `git apply --check` has no tree to check against");
        return;
    }
    let mut patches: Vec<_> = std::fs::read_dir(root.join("scripts/seeded_bugs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "patch"))
        .collect();
    patches.sort();
    assert!(patches.len() >= 8, "{} patches", patches.len());
    let failing: Vec<String> = patches
        .iter()
        .filter_map(|p| {
            let out = Command::new("git")
                .arg("-C")
                .arg(root)
                .args(["apply", "--check"])
                .arg(p)
                .output()
                .expect("run git");
            (!out.status.success()).then(|| {
                format!(
                    "{}: {}",
                    p.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                )
            })
        })
        .collect();
    assert!(failing.is_empty(), "{}", failing.join("\n"));
}
