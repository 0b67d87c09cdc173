//! What the generators may produce: ISA groups, program sizes, input sizes,
//! and an optional list of allowed operations.
//!
//! The environment variable [`ALLOWED_OPS_ENV`] (`BPFDIFF_ALLOWED_OPS`)
//! restricts every tier to the rows it names, like wasmtime's
//! `FUZZGEN_ALLOWED_OPS`: a comma-separated list of row names
//! (`OpcodeRow::name()`, e.g. `add_imm`, `jeq32_reg`, `lock_fetch_add`),
//! mnemonics (`add`, `sdiv32`, `ldxdw`: both source forms) or group names
//! (`base32`, `atomic64`, `divmul64`, …). An item with a leading `-`
//! removes rows (`-atomic32,-atomic64,-ldxsw`); a list of removals only
//! starts from every row. The verifier-aware tier still
//! emits the scaffolding every program needs (`exit`, `mov` of a constant
//! to initialise registers, stack initialisation stores).

use bpfdiff_engine::opcode::{Group, OpcodeRow, OPCODES};
use std::ops::RangeInclusive;
use thiserror::Error;

/// The environment variable that restricts every tier's operations.
pub const ALLOWED_OPS_ENV: &str = "BPFDIFF_ALLOWED_OPS";

/// Every conformance group, in table order.
pub const ALL_GROUPS: [Group; 8] = [
    Group::Base32,
    Group::Base64,
    Group::Atomic32,
    Group::Atomic64,
    Group::Divmul32,
    Group::Divmul64,
    Group::Packet,
    Group::Callx,
];

/// A bad `BPFDIFF_ALLOWED_OPS` value.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum KnobsError {
    /// A name that is neither a row name, a mnemonic nor a group.
    #[error("{ALLOWED_OPS_ENV}: `{name}` (item {index}) is not a row name, mnemonic or group of the opcode table")]
    UnknownOp {
        /// The name as written.
        name: String,
        /// Its 1-based position in the list.
        index: usize,
    },
    /// The list leaves no operation.
    #[error("{ALLOWED_OPS_ENV} is set but leaves no operation")]
    Empty,
}

/// The generators' settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Knobs {
    /// ISA groups the generated instructions may come from.
    pub groups: Vec<Group>,
    /// Program size in slots (raw and grammar tiers) or in body
    /// instructions per function (verifier-aware tier).
    pub program_len: RangeInclusive<usize>,
    /// Input memory size in bytes.
    pub input_len: RangeInclusive<usize>,
    /// When set, only these rows (indices into [`OPCODES`]) may be chosen.
    pub allowed_ops: Option<Vec<usize>>,
    /// Most local subprograms (verifier-aware tier).
    pub max_subprograms: usize,
    /// Allow bounded loops (verifier-aware tier).
    pub loops: bool,
    /// Allow calls of helpers 5 and 7 (verifier-aware tier).
    pub helpers: bool,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            groups: ALL_GROUPS.to_vec(),
            program_len: 1..=24,
            input_len: 0..=64,
            allowed_ops: None,
            max_subprograms: 3,
            loops: true,
            helpers: true,
        }
    }
}

/// Parses a `BPFDIFF_ALLOWED_OPS` list into row indices. An item with a
/// leading `-` removes rows; a list of removals only starts from every row.
pub fn parse_allowed_ops(spec: &str) -> Result<Vec<usize>, KnobsError> {
    let items: Vec<(usize, &str)> = spec
        .split(',')
        .map(str::trim)
        .enumerate()
        .filter(|(_, name)| !name.is_empty())
        .collect();
    if items.is_empty() {
        return Err(KnobsError::Empty);
    }
    let only_removals = items.iter().all(|(_, name)| name.starts_with('-'));
    let mut allowed = vec![only_removals; OPCODES.len()];
    for (i, item) in items {
        let (remove, name) = match item.strip_prefix('-') {
            Some(rest) => (true, rest.trim()),
            None => (false, item),
        };
        let mut matched = false;
        for (index, row) in OPCODES.iter().enumerate() {
            if row.name() == name || row.mnemonic == name || row.group.name() == name {
                allowed[index] = !remove;
                matched = true;
            }
        }
        if !matched {
            return Err(KnobsError::UnknownOp {
                name: name.to_string(),
                index: i + 1,
            });
        }
    }
    let rows: Vec<usize> = (0..OPCODES.len()).filter(|&i| allowed[i]).collect();
    if rows.is_empty() {
        return Err(KnobsError::Empty);
    }
    Ok(rows)
}

impl Knobs {
    /// Default knobs restricted by `BPFDIFF_ALLOWED_OPS` when it is set.
    pub fn from_env() -> Result<Knobs, KnobsError> {
        Knobs::default().with_env()
    }

    /// These knobs restricted by `BPFDIFF_ALLOWED_OPS` when it is set.
    pub fn with_env(mut self) -> Result<Knobs, KnobsError> {
        if let Ok(spec) = std::env::var(ALLOWED_OPS_ENV) {
            self.allowed_ops = Some(parse_allowed_ops(&spec)?);
        }
        Ok(self)
    }

    /// Restricts the operations to a `BPFDIFF_ALLOWED_OPS`-style list.
    pub fn with_allowed_ops(mut self, spec: &str) -> Result<Knobs, KnobsError> {
        self.allowed_ops = Some(parse_allowed_ops(spec)?);
        Ok(self)
    }

    /// True when `row` may be generated.
    pub fn allows(&self, row: &OpcodeRow) -> bool {
        if !self.groups.contains(&row.group) {
            return false;
        }
        match &self.allowed_ops {
            None => true,
            Some(rows) => rows.iter().any(|&i| std::ptr::eq(&OPCODES[i], row)),
        }
    }

    /// Every row that may be generated.
    pub fn rows(&self) -> Vec<&'static OpcodeRow> {
        OPCODES.iter().filter(|r| self.allows(r)).collect()
    }

    /// True when the operations are restricted by a list.
    pub fn is_restricted(&self) -> bool {
        self.allowed_ops.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfdiff_engine::opcode::Operation;

    #[test]
    fn names_mnemonics_and_groups_select_rows() {
        let rows = parse_allowed_ops("add_imm, sdiv32").unwrap();
        let names: Vec<&str> = rows.iter().map(|&i| OPCODES[i].name()).collect();
        assert_eq!(
            names,
            ["sdiv32_imm", "sdiv32_reg", "add_imm"],
            "table order"
        );
        let atomics = parse_allowed_ops("atomic64").unwrap();
        assert!(atomics.iter().all(|&i| OPCODES[i].group == Group::Atomic64));
        assert!(!atomics.is_empty());
        let without = parse_allowed_ops("-atomic32,-atomic64,-ldxsw").unwrap();
        assert!(without.iter().all(|&i| !matches!(
            OPCODES[i].group,
            Group::Atomic32 | Group::Atomic64
        ) && OPCODES[i].name() != "ldxsw"));
        assert_eq!(
            without.len() + 16 + 12 + 1,
            OPCODES.len(),
            "16 atomic32, 12 atomic64, ldxsw"
        );
    }

    #[test]
    fn bad_lists_name_the_item() {
        assert_eq!(
            parse_allowed_ops("add,frobnicate"),
            Err(KnobsError::UnknownOp {
                name: "frobnicate".into(),
                index: 2
            })
        );
        assert_eq!(parse_allowed_ops(" , "), Err(KnobsError::Empty));
        assert_eq!(parse_allowed_ops("add,-add"), Err(KnobsError::Empty));
    }

    #[test]
    fn allows_respects_groups_and_list() {
        let k = Knobs::default().with_allowed_ops("mov").unwrap();
        assert!(k.rows().iter().all(|r| r.operation == Operation::Mov));
        let k = Knobs {
            groups: vec![Group::Base32],
            ..Knobs::default()
        };
        assert!(k.rows().iter().all(|r| r.group == Group::Base32));
    }
}
