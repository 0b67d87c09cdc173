//! The `--known` and `--no-builtin-rules` options of the commands that
//! compare backends (`diff`, `campaign`).

use bpfdiff::known_rules;
use bpfdiff_oracle::KnownRules;
use clap::Args;

/// Which known-divergence rules to apply.
#[derive(Debug, Args)]
pub struct KnownArgs {
    /// A file of known-divergence rules (JSON) to add to the built-in ones
    /// (the project's `corpus/known-divergences.json` as of this build); a
    /// rule named like a built-in one replaces it. Repeatable. The file must
    /// exist. `none`: no rules at all. Default: the `BPFDIFF_KNOWN`
    /// environment variable, when set.
    #[arg(long, value_name = "FILE|none")]
    pub known: Vec<String>,
    /// Leave out the built-in rules: only the `--known` files apply.
    #[arg(long)]
    pub no_builtin_rules: bool,
}

impl KnownArgs {
    /// The chosen rules; a missing or malformed file is an error (exit 2).
    pub fn rules(&self) -> anyhow::Result<KnownRules> {
        let known = if self.known.is_empty() {
            known_rules::env_known()
        } else {
            self.known.clone()
        };
        Ok(known_rules::choose(&known, self.no_builtin_rules)?)
    }
}
