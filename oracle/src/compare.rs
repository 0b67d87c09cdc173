//! Comparing outcomes: `Agree`, `Diverge` or `Inconclusive`.
//!
//! The first outcome is the reference (normally the engine interpreter);
//! every other outcome is compared with it. Values marked pointer-derived on
//! either side are never compared as numbers.

use crate::backend::{Capabilities, Checking};
use crate::outcome::{Execution, Outcome, Verdict};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Which aspect of two outcomes differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Aspect {
    /// One accepted, the other refused.
    Verdict,
    /// Both verifiers refused, with different error classes.
    VerdictClass,
    /// Different kinds of ending (returned vs fault, …).
    Ending,
    /// Both returned, with different r0.
    R0,
    /// Both returned, with different memory.
    Memory,
    /// Both returned, with different map contents after the run (key by
    /// key, `map_contents::diff_maps`; native program types with maps).
    Maps,
    /// Both faulted, with different fault kinds.
    FaultKind,
    /// Both faulted with the same kind at different instructions.
    FaultPc,
    /// The kernel verifier accepted a program the engine saw fault.
    UnsafeAccepted,
    /// The backend crashed.
    Crash,
    /// A concrete value of the run lies outside the abstract state the
    /// kernel's verifier printed for that instruction (its level-2 log), or
    /// the run reaches an instruction the kernel explored no path to: a
    /// kernel verifier soundness finding (`diff --kernel-states`, sampled
    /// in campaigns).
    KernelState,
}

impl Aspect {
    /// The kebab-case name used in rules and reports.
    pub fn name(self) -> &'static str {
        match self {
            Aspect::Verdict => "verdict",
            Aspect::VerdictClass => "verdict-class",
            Aspect::Ending => "ending",
            Aspect::R0 => "r0",
            Aspect::Memory => "memory",
            Aspect::Maps => "maps",
            Aspect::FaultKind => "fault-kind",
            Aspect::FaultPc => "fault-pc",
            Aspect::UnsafeAccepted => "unsafe-accepted",
            Aspect::Crash => "crash",
            Aspect::KernelState => "kernel-state",
        }
    }
}

/// One difference between the reference and another backend.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    /// The backend that differs from the reference.
    pub backend: String,
    /// What differs.
    pub aspect: Aspect,
    /// Reference side, then the other side, in words.
    pub detail: String,
    /// The known-divergence rule that explains it, if any.
    pub known: Option<String>,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: {}",
            self.backend,
            self.aspect.name(),
            self.detail
        )?;
        if let Some(rule) = &self.known {
            write!(f, " [known: {rule}]")?;
        }
        Ok(())
    }
}

/// The result of comparing outcomes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "comparison", rename_all = "kebab-case")]
pub enum Comparison {
    /// Every compared backend agrees with the reference.
    Agree {
        /// Backends left out of the comparison, with why.
        skipped: Vec<String>,
    },
    /// At least one difference.
    Diverge {
        /// Every difference found.
        differences: Vec<Difference>,
    },
    /// Nothing could be compared soundly.
    Inconclusive {
        /// Why.
        why: Vec<String>,
    },
}

impl Comparison {
    /// True when some difference is not explained by a known rule.
    pub fn has_new_divergence(&self) -> bool {
        match self {
            Comparison::Diverge { differences } => differences.iter().any(|d| d.known.is_none()),
            _ => false,
        }
    }
}

/// Reference fault kinds that mean "the reference cannot model this", not
/// "the program is wrong": what another backend does there is not compared.
const ENGINE_LIMITS: &[&str] = &["unsupported", "unknown-helper"];

/// True when a reference fault of this kind is a limit of the engine (an
/// instruction or helper it cannot execute), not a property of the program.
pub fn is_engine_limit(fault_kind: &str) -> bool {
    ENGINE_LIMITS.contains(&fault_kind)
}

/// One memory byte for a difference's detail: `0x4e`, or `absent` when the
/// memory of that side is shorter.
fn byte_text(b: Option<&u8>) -> String {
    match b {
        Some(b) => format!("0x{b:02x}"),
        None => "absent".to_string(),
    }
}

fn fault_text(e: &Execution) -> String {
    e.to_string()
}

/// Compares `other` with `reference`; returns the differences, or the
/// reason the pair cannot be compared.
pub fn compare_pair(
    reference: &Outcome,
    reference_uninit_stack_read: Option<usize>,
    other: &Outcome,
    other_caps: &Capabilities,
) -> Result<Vec<Difference>, String> {
    let diff = |aspect, detail: String| Difference {
        backend: other.backend.clone(),
        aspect,
        detail,
        known: None,
    };
    if let Execution::NotRun { why } = &other.execution {
        if !other.verdict.is_rejected() {
            return Err(format!("{}: {why}", other.backend));
        }
    }
    match (&reference.verdict, &other.verdict) {
        (Verdict::Rejected { reason, .. }, Verdict::Accepted) => {
            return Ok(vec![diff(
                Aspect::Verdict,
                format!(
                    "{} refuses ({reason}); {} accepts",
                    reference.backend, other.backend
                ),
            )]);
        }
        (Verdict::Rejected { .. }, _) => return Ok(Vec::new()),
        (_, Verdict::Rejected { errno, reason, .. }) => {
            return if other_caps.checking == Checking::Safety {
                Err(format!(
                    "{} verifier rejected it (errno {errno}): {reason}",
                    other.backend
                ))
            } else {
                Ok(vec![diff(
                    Aspect::Verdict,
                    format!(
                        "{} accepts; {} refuses: {reason}",
                        reference.backend, other.backend
                    ),
                )])
            };
        }
        _ => {}
    }
    let (r, o) = (&reference.execution, &other.execution);
    match (r, o) {
        (_, Execution::Withheld { engine_fault }) => {
            return Ok(vec![diff(
                Aspect::UnsafeAccepted,
                format!(
                    "{} verifier accepted a program the engine saw fault: {engine_fault}",
                    other.backend
                ),
            )]);
        }
        (_, Execution::Crashed { what }) => return Ok(vec![diff(Aspect::Crash, what.clone())]),
        _ => {}
    }
    if let (Some(pc), false) = (reference_uninit_stack_read, other_caps.zeroed_stack) {
        return Err(format!(
            "the program reads uninitialised stack (insn {pc}); {} does not zero its stack",
            other.backend
        ));
    }
    if let Execution::Fault { kind, detail, .. } = r {
        let same_kind = matches!(o, Execution::Fault { kind: k, .. } if k == kind);
        if ENGINE_LIMITS.contains(&kind.as_str()) && !same_kind {
            return Err(format!(
                "the reference cannot execute this program: {detail}"
            ));
        }
    }
    let mut out = Vec::new();
    match (r, o) {
        (
            Execution::Returned {
                r0: ra,
                mem: ma,
                mem_derived: da,
                ..
            },
            Execution::Returned {
                r0: rb,
                mem: mb,
                mem_derived: db,
                ..
            },
        ) => {
            if !ra.derived && !rb.derived && ra.bits != rb.bits {
                out.push(diff(
                    Aspect::R0,
                    format!("0x{:x} vs 0x{:x}", ra.bits, rb.bits),
                ));
            }
            let marked = |d: &Vec<bool>, i: usize| d.get(i).copied().unwrap_or(false);
            let differing: Vec<usize> = (0..ma.len().max(mb.len()))
                .filter(|&i| !marked(da, i) && !marked(db, i) && ma.get(i) != mb.get(i))
                .collect();
            if let Some(&first) = differing.first() {
                out.push(diff(
                    Aspect::Memory,
                    format!(
                        "{} byte(s) differ; first mem[0x{first:x}]: {} vs {}",
                        differing.len(),
                        byte_text(ma.get(first)),
                        byte_text(mb.get(first))
                    ),
                ));
            }
        }
        (
            Execution::Fault {
                kind: ka, pc: pa, ..
            },
            Execution::Fault {
                kind: kb, pc: pb, ..
            },
        ) => {
            if ka != kb && ka != "other" && kb != "other" {
                out.push(diff(
                    Aspect::FaultKind,
                    format!("{} vs {}", fault_text(r), fault_text(o)),
                ));
            } else if let (Some(a), Some(b)) = (pa, pb) {
                if a != b {
                    out.push(diff(
                        Aspect::FaultPc,
                        format!("{} vs {}", fault_text(r), fault_text(o)),
                    ));
                }
            }
        }
        (
            Execution::OutOfBudget | Execution::TimedOut { .. },
            Execution::OutOfBudget | Execution::TimedOut { .. },
        ) => {}
        (Execution::OutOfBudget, _) => {
            return Err(format!(
                "the engine's budget ran out; {} reached {}",
                other.backend,
                o.kind_name()
            ))
        }
        _ => out.push(diff(
            Aspect::Ending,
            format!("{} vs {}", fault_text(r), fault_text(o)),
        )),
    }
    Ok(out)
}

/// Compares every outcome after the first with the first.
pub fn compare(
    reference: &Outcome,
    reference_uninit_stack_read: Option<usize>,
    others: &[(Outcome, Capabilities)],
) -> Comparison {
    let mut differences = Vec::new();
    let mut skipped = Vec::new();
    for (other, caps) in others {
        match compare_pair(reference, reference_uninit_stack_read, other, caps) {
            Ok(d) => differences.extend(d),
            Err(why) => skipped.push(why),
        }
    }
    if !differences.is_empty() {
        Comparison::Diverge { differences }
    } else if !others.is_empty() && skipped.len() == others.len() {
        Comparison::Inconclusive { why: skipped }
    } else {
        Comparison::Agree { skipped }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Value;

    fn caps(zeroed_stack: bool) -> Capabilities {
        Capabilities {
            checking: Checking::Encoding,
            full_r0: true,
            memory_after: true,
            zeroed_stack,
        }
    }

    fn returned(backend: &str, r0: u64, derived: bool, mem: Vec<u8>) -> Outcome {
        Outcome {
            backend: backend.into(),
            verdict: Verdict::Accepted,
            execution: Execution::Returned {
                r0: Value { bits: r0, derived },
                mem,
                mem_derived: Vec::new(),
                regs: None,
            },
        }
    }

    #[test]
    fn pointer_derived_r0_is_not_compared() {
        let a = returned("interp", 0x1_0000_0000, true, vec![]);
        let b = returned("other", 0xffff_8880_0000_0000, false, vec![]);
        assert!(matches!(
            compare(&a, None, &[(b, caps(true))]),
            Comparison::Agree { .. }
        ));
    }

    #[test]
    fn uninitialised_stack_reads_are_inconclusive_on_backends_that_do_not_zero() {
        let a = returned("interp", 0, false, vec![]);
        let b = returned("kernel", 0x1234, false, vec![]);
        assert!(matches!(
            compare(&a, Some(3), &[(b.clone(), caps(false))]),
            Comparison::Inconclusive { .. }
        ));
        assert!(matches!(
            compare(&a, Some(3), &[(b, caps(true))]),
            Comparison::Diverge { .. }
        ));
    }

    #[test]
    fn memory_differences_name_the_offset_and_bytes_in_hex() {
        let a = returned("interp", 0, false, vec![1, 2, 3, 0x56, 9]);
        let b = returned("other", 0, false, vec![1, 2, 3, 0x4e, 8]);
        let Comparison::Diverge { differences } = compare(&a, None, &[(b, caps(true))]) else {
            panic!("no divergence")
        };
        assert_eq!(differences[0].aspect, Aspect::Memory);
        assert_eq!(
            differences[0].detail,
            "2 byte(s) differ; first mem[0x3]: 0x56 vs 0x4e"
        );
        let short = returned("other", 0, false, vec![1, 2, 3, 0x56]);
        let a = returned("interp", 0, false, vec![1, 2, 3, 0x56, 9]);
        let Comparison::Diverge { differences } = compare(&a, None, &[(short, caps(true))]) else {
            panic!("no divergence")
        };
        assert_eq!(
            differences[0].detail,
            "1 byte(s) differ; first mem[0x4]: 0x09 vs absent"
        );
    }

    #[test]
    fn outcomes_serialize_r0_and_registers_as_hex_strings() {
        let mut o = returned("interp", u64::MAX, false, vec![]);
        if let Execution::Returned { regs, .. } = &mut o.execution {
            *regs = Some(vec![Value {
                bits: 1 << 60,
                derived: true,
            }]);
        }
        let json = serde_json::to_value(&o).unwrap();
        assert_eq!(json["execution"]["r0"]["bits"], "0xffffffffffffffff");
        assert_eq!(json["execution"]["regs"][0]["bits"], "0x1000000000000000");
        let back: Outcome = serde_json::from_value(json).unwrap();
        assert_eq!(back, o);
    }
}
