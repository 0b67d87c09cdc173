//! Stable divergence signatures.
//!
//! A signature names the class of a divergence, not the instance: the two
//! backends involved (reference and other), the aspect that differs, and
//! what makes the class distinct: the opcode-table rows the (minimized)
//! program uses, apart from the glue rows every minimized program may hold
//! ([`GLUE_ROWS`]: `exit`, constant loads and `ja`), and for endings,
//! faults, crashes and refusals the fault kind or the error class (the
//! refusal's errno and its reason with every number, instruction name and
//! field name left out, [`refusal_class`]). A verdict difference is classed by the two verdicts
//! (`accepted`, or the refusal's class), not by how the accepting side's
//! run ended. Values (r0, memory bytes, instruction indexes)
//! are left out, so two findings of the same bug with different immediates
//! or registers get the same signature, and a different bug in the same
//! aspect (other opcode rows, another fault kind, another error class) gets
//! a different one. Signatures are meant for minimized programs: an
//! unminimized program's incidental rows would split one bug into many.

use bpfdiff_engine::prog_type::ProgType;
use bpfdiff_engine::Program;
use bpfdiff_oracle::known::KERNEL_BACKEND;
use bpfdiff_oracle::{Difference, Execution, Outcome, Verdict, VERIFIER_BACKEND};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// The signature of one difference.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Signature {
    /// The reference backend (normally `interp`).
    pub reference: String,
    /// The backend that differs from it.
    pub backend: String,
    /// The aspect (`verdict`, `ending`, `r0`, `memory`, `fault-kind`,
    /// `fault-pc`, `unsafe-accepted`, `crash`).
    pub aspect: String,
    /// What distinguishes the class within the aspect (fault kinds, error
    /// class); empty for `r0` and `memory`, which the rows distinguish.
    pub class: String,
    /// The opcode-table rows the program uses (`OpcodeRow::name()`) apart
    /// from [`GLUE_ROWS`], sorted; empty when the program does not decode.
    pub rows: Vec<String>,
    /// The program type of a native case (`xdp`, `sched_cls`, ...; see
    /// docs/program-types.md); empty for the harness's input model, so
    /// input-model signatures keep their canonical text and hash.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prog_type: String,
}

/// The name of a Linux errno the kernel's loader returns.
pub fn errno_name(errno: i32) -> String {
    match errno {
        1 => "EPERM".into(),
        7 => "E2BIG".into(),
        13 => "EACCES".into(),
        14 => "EFAULT".into(),
        22 => "EINVAL".into(),
        95 => "EOPNOTSUPP".into(),
        524 => "ENOTSUPP".into(),
        n => format!("errno {n}"),
    }
}

/// `text` with every number (decimal, or hex with `0x`) replaced by `N`,
/// so that instruction indexes, registers and offsets do not split a class.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            if c == '0' && chars.peek() == Some(&'x') {
                chars.next();
                while chars.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                    chars.next();
                }
            }
            while chars.peek().is_some_and(|c| c.is_ascii_digit()) {
                chars.next();
            }
            out.push('N');
        } else {
            out.push(c);
        }
    }
    out
}

/// A refusal reason as a class: numbers replaced by `N` ([`normalize`]),
/// and the instance's details left out: an `insn N:` prefix, the
/// instruction's name before its opcode (`smod (N)`), parenthesised words
/// (`(div/sdiv)`) and which operand field a message names (`imm = N`), so
/// that the same check failing on another instruction or field is one
/// class (the signature's rows name the instructions).
pub fn refusal_class(reason: &str) -> String {
    let text = normalize(reason);
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut out: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        let next = words.get(i + 1).copied();
        let grouped = w.starts_with('(') && w.ends_with(')');
        if (w == "insn" && next == Some("N:")) || next == Some("(N)") {
            i += 2;
        } else if grouped && !w.contains('#') {
            i += 1;
        } else if matches!(w, "imm" | "off" | "src" | "dst") && next == Some("=") {
            i += 3;
        } else {
            out.push(w);
            i += 1;
        }
    }
    out.join(" ")
}

fn ending_class(o: &Outcome) -> String {
    match (&o.verdict, &o.execution) {
        (Verdict::Rejected { errno, reason, .. }, _) => {
            if *errno == 0 {
                format!("refused: {}", refusal_class(reason))
            } else {
                format!("refused {}: {}", errno_name(*errno), refusal_class(reason))
            }
        }
        (_, Execution::Fault { kind, .. }) => format!("fault {kind}"),
        (_, Execution::Crashed { what }) => format!("crashed: {}", normalize(what)),
        (_, Execution::Withheld { engine_fault }) => {
            format!("withheld: {}", normalize(engine_fault))
        }
        (_, e) => e.kind_name().to_string(),
    }
}

fn verdict_class(o: &Outcome) -> String {
    match &o.verdict {
        Verdict::Rejected { .. } => ending_class(o),
        Verdict::Accepted => "accepted".to_string(),
        Verdict::Unknown => "unknown".to_string(),
    }
}

/// The part of a signature's class that the reference's outcome gives for
/// a difference in `aspect`: its verdict for `verdict`, nothing for
/// `crash` (the crash is the other backend's alone), else how it ended.
/// The minimizer checks it on the engine before running anything else.
pub fn reference_class(aspect: &str, reference: &Outcome) -> Option<String> {
    match aspect {
        "crash" => None,
        "verdict" => Some(verdict_class(reference)),
        _ => Some(ending_class(reference)),
    }
}

/// Rows a signature leaves out: `exit`, which every program has, the
/// constant loads (`dst = imm` in 64 and 32 bits, `ld_imm64` of a number)
/// and `ja`, which the minimizer writes itself or cannot shrink further,
/// so that one bug minimized from two starting points gets one signature.
pub const GLUE_ROWS: [&str; 5] = ["exit", "mov_imm", "mov32_imm", "lddw", "ja"];

/// The opcode-table rows of `program` that a signature names: those it
/// uses apart from [`GLUE_ROWS`], sorted.
pub fn signature_rows(program: &Program) -> Vec<String> {
    rows_used(program)
        .into_iter()
        .filter(|r| !GLUE_ROWS.contains(&r.as_str()))
        .collect()
}

/// The opcode-table rows `program` uses, sorted and deduplicated.
pub fn rows_used(program: &Program) -> Vec<String> {
    let Ok(decoded) = program.decode() else {
        return Vec::new();
    };
    let rows: BTreeSet<String> = decoded
        .iter()
        .map(|(_, i)| i.row.name().to_string())
        .collect();
    rows.into_iter().collect()
}

impl Signature {
    /// The signature of difference `d` found for `program`, with `outcomes`
    /// the outcomes of the run (reference first).
    pub fn of(program: &Program, outcomes: &[Outcome], d: &Difference) -> Signature {
        // The engine verifier's differences are with the kernel's verdict.
        let reference = if d.backend == VERIFIER_BACKEND {
            outcomes.iter().find(|o| o.backend == KERNEL_BACKEND)
        } else {
            outcomes.first()
        };
        let other = outcomes.iter().find(|o| o.backend == d.backend);
        let class = match d.aspect.name() {
            "r0" | "memory" | "maps" => String::new(),
            "verdict-class" => format!(
                "{} | {}",
                reference.and_then(Outcome::reject_class).unwrap_or("?"),
                other.and_then(Outcome::reject_class).unwrap_or("?")
            ),
            "crash" => other.map(ending_class).unwrap_or_default(),
            "verdict" => format!(
                "{} | {}",
                reference.map(verdict_class).unwrap_or_default(),
                other.map(verdict_class).unwrap_or_default()
            ),
            _ => format!(
                "{} | {}",
                reference.map(ending_class).unwrap_or_default(),
                other.map(ending_class).unwrap_or_default()
            ),
        };
        Signature {
            reference: reference.map(|o| o.backend.clone()).unwrap_or_default(),
            backend: d.backend.clone(),
            aspect: d.aspect.name().to_string(),
            class,
            rows: signature_rows(program),
            prog_type: String::new(),
        }
    }

    /// The signature of difference `d` of a case of program type `t`
    /// ([`Signature::of`], with the type recorded unless it is `input`).
    pub fn of_type(
        t: ProgType,
        program: &Program,
        outcomes: &[Outcome],
        d: &Difference,
    ) -> Signature {
        let mut s = Signature::of(program, outcomes, d);
        if t != ProgType::Input {
            s.prog_type = t.name().to_string();
        }
        s
    }

    /// The canonical text the hash is taken of.
    pub fn canonical(&self) -> String {
        let mut text = format!(
            "{} vs {} / {} / {} / {}",
            self.reference,
            self.backend,
            self.aspect,
            self.class,
            self.rows.join(",")
        );
        if !self.prog_type.is_empty() {
            text.push_str(&format!(" / prog-type {}", self.prog_type));
        }
        text
    }

    /// A 64-bit FNV-1a hash of [`Signature::canonical`]: stable across
    /// builds, platforms and Rust versions.
    pub fn hash64(&self) -> u64 {
        self.canonical()
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            })
    }

    /// A folder name: `<backend>-<aspect>-<8 hex digits of the hash>`
    /// (`kernel-r0-1a2b3c4d`).
    pub fn slug(&self) -> String {
        format!(
            "{}-{}-{:08x}",
            self.backend,
            self.aspect,
            self.hash64() >> 32
        )
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} vs {} {}",
            self.slug(),
            self.reference,
            self.backend,
            self.aspect
        )?;
        if !self.class.is_empty() {
            write!(f, " ({})", self.class)?;
        }
        write!(f, "; rows {}", self.rows.join(" "))?;
        if !self.prog_type.is_empty() {
            write!(f, "; prog-type {}", self.prog_type)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfdiff_engine::asm::kernel::assemble;
    use bpfdiff_oracle::{Aspect, Value};

    fn returned(backend: &str, r0: u64) -> Outcome {
        Outcome {
            backend: backend.into(),
            verdict: Verdict::Accepted,
            execution: Execution::Returned {
                r0: Value {
                    bits: r0,
                    derived: false,
                },
                mem: Vec::new(),
                mem_derived: Vec::new(),
                regs: None,
            },
        }
    }

    fn r0_signature(asm: &str, reference: u64, other: u64) -> Signature {
        let program = assemble(asm).unwrap();
        let outcomes = [returned("interp", reference), returned("rbpf", other)];
        let d = Difference {
            backend: "rbpf".into(),
            aspect: Aspect::R0,
            detail: format!("0x{reference:x} vs 0x{other:x}"),
            known: None,
        };
        Signature::of(&program, &outcomes, &d)
    }

    fn verdict_signature(asm: &str, errno: i32, reason: &str) -> Signature {
        let program = assemble(asm).unwrap();
        let outcomes = [
            returned("interp", 1),
            Outcome::rejected("kernel", errno, reason, None),
        ];
        let d = Difference {
            backend: "kernel".into(),
            aspect: Aspect::Verdict,
            detail: format!("interp accepts; kernel refuses: {reason}"),
            known: None,
        };
        Signature::of(&program, &outcomes, &d)
    }

    // Issue 13: a native case's signature names its program type, so the
    // same difference as xdp and as tc are two classes; the input model's
    // canonical text (and so every saved hash) is unchanged.
    #[test]
    fn native_signatures_record_the_program_type() {
        let program = assemble("r0 = *(u32 *)(r1 + 4)\nexit\n").unwrap();
        let outcomes = [returned("interp", 0), returned("kernel", 2)];
        let d = Difference {
            backend: "kernel".into(),
            aspect: Aspect::R0,
            detail: "0x0 vs 0x2".into(),
            known: None,
        };
        let input = Signature::of_type(ProgType::Input, &program, &outcomes, &d);
        assert_eq!(input, Signature::of(&program, &outcomes, &d));
        assert!(!input.canonical().contains("prog-type"));
        let xdp = Signature::of_type(ProgType::Xdp, &program, &outcomes, &d);
        let tc = Signature::of_type(ProgType::SchedCls, &program, &outcomes, &d);
        assert!(
            xdp.canonical().ends_with(" / prog-type xdp"),
            "{}",
            xdp.canonical()
        );
        assert_ne!(xdp.slug(), tc.slug());
        assert!(tc.to_string().contains("prog-type sched_cls"));
    }

    // RFC 9669 §4.1: a 32-bit MOD by zero leaves the low 32 bits of dst,
    // zero-extended; rbpf 0.4.1 keeps all 64 bits. Two findings of that bug
    // with other registers and immediates.
    const MOD32_A: &str = "r1 = 0xffffffff00001234 ll\nw1 %= 0\nr0 = r1\nexit\n";
    const MOD32_B: &str = "r3 = 0x8000000000000099 ll\nw3 %= 0\nr0 = r3\nexit\n";
    // RFC 9669 §4.3: a 64-bit JEQ sign-extends its immediate; rbpf 0.4.1
    // zero-extends it. A different bug, in the same aspect (r0 on rbpf).
    const JEQ: &str = "w1 = -1\nr0 = 0\nif r1 == -1 goto +1\nr0 = 1\nexit\n";

    #[test]
    fn two_findings_of_one_bug_share_a_signature() {
        let a = r0_signature(MOD32_A, 0x1234, 0xffff_ffff_0000_1234);
        let b = r0_signature(MOD32_B, 0x99, 0x8000_0000_0000_0099);
        assert_eq!(a, b);
        assert_eq!(a.slug(), b.slug());
        assert!(a.slug().starts_with("rbpf-r0-"), "{}", a.slug());
    }

    #[test]
    fn another_bug_in_the_same_aspect_gets_another_signature() {
        let a = r0_signature(MOD32_A, 0x1234, 0xffff_ffff_0000_1234);
        let c = r0_signature(JEQ, 1, 0);
        assert_eq!((a.backend.as_str(), a.aspect.as_str()), ("rbpf", "r0"));
        assert_eq!((c.backend.as_str(), c.aspect.as_str()), ("rbpf", "r0"));
        assert_ne!(a, c);
        assert_ne!(a.slug(), c.slug());
    }

    #[test]
    fn refusals_differ_by_error_class_not_by_numbers() {
        let p = "r0 = 1\nexit\n";
        let a = verdict_signature(p, 13, "R2 !read_ok (insn 5)");
        let b = verdict_signature(p, 13, "R7 !read_ok (insn 12)");
        let c = verdict_signature(p, 22, "R2 !read_ok (insn 5)");
        let d = verdict_signature(p, 13, "invalid stack off=-520 size=8");
        assert_eq!(a, b);
        assert_ne!(a, c, "EACCES and EINVAL are different classes");
        assert_ne!(a, d);
        assert!(
            a.class.contains("refused EACCES: RN !read_ok (insn N)"),
            "{}",
            a.class
        );
        // The same check on another instruction or field is one class.
        assert_eq!(
            refusal_class("insn 2: smod (0x9f) uses reserved field imm = 7 (must be 0)"),
            refusal_class("insn 5: xor (0xaf) uses reserved field off = 1 (must be 0)")
        );
        assert_eq!(
            refusal_class("insn 1: opcode 0x37 (div/sdiv) has no form with off = 2"),
            "opcode N has no form with"
        );
    }

    #[test]
    fn the_slug_is_stable() {
        // FNV-1a of the canonical text: the same on every build.
        let s = r0_signature(JEQ, 1, 0);
        assert_eq!(s.slug(), format!("rbpf-r0-{:08x}", s.hash64() >> 32));
        assert_eq!(s.slug(), r0_signature(JEQ, 1, 0).slug());
        assert_eq!(normalize("insn #5 at 0x1f, r10"), "insn #N at N, rN");
    }
}
