//! What `bpfdiff run` prints about one execution: a line of text, or a JSON
//! object for scripts.

use crate::hex::to_hex;
use bpfdiff_engine::interp::{ExecResult, Execution};
use bpfdiff_oracle::hex_u64;
use serde::Serialize;

/// How a run ended, as the JSON `result` field spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResultKind {
    /// The program exited and r0 holds its result.
    Returned,
    /// Execution stopped on a fault.
    Fault,
    /// The instruction budget ran out.
    OutOfBudget,
}

/// A fault, as the JSON `fault` object spells it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FaultReport {
    /// The fault kind's stable name (`out-of-bounds`, `unknown-helper`, ...).
    pub kind: &'static str,
    /// Slot index of the faulting instruction.
    pub pc: usize,
    /// The address accessed, the jump target or the helper id, in hex.
    pub addr: String,
    /// The access size in bytes (memory faults), else 0.
    pub size: u8,
}

/// Everything one run observed, in the shape `bpfdiff run --json` prints.
///
/// 64-bit values are hex strings (`"0x2a"`) so that no JSON reader rounds them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunReport {
    /// How the run ended.
    pub result: ResultKind,
    /// r0 in hex when the program returned, else `null`.
    pub r0: Option<String>,
    /// True when r0 derives from a pointer (its value is not comparable
    /// between implementations).
    pub r0_derived: bool,
    /// The fault, when there was one, else `null`.
    pub fault: Option<FaultReport>,
    /// Instructions executed (an `ld_imm64` counts once).
    pub insns_executed: u64,
    /// The input memory after the run, as hex with no separators.
    pub mem_after: String,
    /// Offsets of the memory bytes that hold (part of) a pointer after the run.
    pub mem_derived: Vec<usize>,
    /// The first instruction that read stack bytes its frame never wrote
    /// (the engine reads zeros, the kernel garbage), else `null`.
    pub uninit_stack_read: Option<usize>,
}

impl RunReport {
    /// Builds the report of `execution`, which ran on `mem_after`.
    pub fn new(execution: &Execution, mem_after: &[u8]) -> RunReport {
        let (result, r0, r0_derived, fault) = match execution.result {
            ExecResult::Returned { r0, r0_derived } => (
                ResultKind::Returned,
                Some(hex_u64::to_text(r0)),
                r0_derived,
                None,
            ),
            ExecResult::Fault(f) => (
                ResultKind::Fault,
                None,
                false,
                Some(FaultReport {
                    kind: f.kind.name(),
                    pc: f.pc,
                    addr: hex_u64::to_text(f.addr),
                    size: f.size,
                }),
            ),
            ExecResult::OutOfBudget => (ResultKind::OutOfBudget, None, false, None),
        };
        RunReport {
            result,
            r0,
            r0_derived,
            fault,
            insns_executed: execution.insns_executed,
            mem_after: to_hex(mem_after),
            mem_derived: execution
                .mem_derived
                .iter()
                .enumerate()
                .filter_map(|(i, &d)| d.then_some(i))
                .collect(),
            uninit_stack_read: execution.uninit_stack_read,
        }
    }

    /// The report as one line of JSON.
    pub fn to_json(&self) -> String {
        // Serializing plain strings, numbers and booleans cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The one-line text form: `0x2a`, `0x100000000 (pointer-derived)`,
/// `fault: ... (insn N)` or `out of budget`.
pub fn render_text(execution: &Execution) -> String {
    execution.result.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfdiff_engine::interp::{Fault, FaultKind};

    fn execution(result: ExecResult) -> Execution {
        Execution {
            result,
            insns_executed: 3,
            uninit_stack_read: None,
            mem_derived: Vec::new(),
        }
    }

    #[test]
    fn returned_value_in_text_and_json() {
        let e = execution(ExecResult::Returned {
            r0: 42,
            r0_derived: false,
        });
        assert_eq!(render_text(&e), "0x2a");
        assert_eq!(
            RunReport::new(&e, &[0xaa, 0x01]).to_json(),
            r#"{"result":"returned","r0":"0x2a","r0_derived":false,"fault":null,"insns_executed":3,"mem_after":"aa01","mem_derived":[],"uninit_stack_read":null}"#
        );
    }

    #[test]
    fn pointer_derived_marks_are_shown() {
        let mut e = execution(ExecResult::Returned {
            r0: 0x1_0000_0000,
            r0_derived: true,
        });
        e.mem_derived = vec![false, true, true];
        e.uninit_stack_read = Some(2);
        assert_eq!(render_text(&e), "0x100000000 (pointer-derived)");
        let report = RunReport::new(&e, &[0, 0, 0]);
        assert!(report.r0_derived);
        assert_eq!(report.mem_derived, [1, 2]);
        assert_eq!(report.uninit_stack_read, Some(2));
    }

    #[test]
    fn fault_and_budget() {
        let fault = Fault {
            kind: FaultKind::OutOfBounds,
            pc: 4,
            addr: 0x1_0000_0006,
            size: 4,
        };
        let e = execution(ExecResult::Fault(fault));
        assert!(render_text(&e).starts_with("fault: "));
        let json = RunReport::new(&e, &[]).to_json();
        assert!(json.contains(r#""result":"fault""#), "{json}");
        assert!(
            json.contains(
                r#""fault":{"kind":"out-of-bounds","pc":4,"addr":"0x100000006","size":4}"#
            ),
            "{json}"
        );
        assert!(json.contains(r#""r0":null"#), "{json}");
        let e = execution(ExecResult::OutOfBudget);
        assert_eq!(render_text(&e), "out of budget");
        assert!(RunReport::new(&e, &[])
            .to_json()
            .contains(r#""result":"out-of-budget""#));
    }
}
