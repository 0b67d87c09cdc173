//! An x86-64 JIT compiler for the engine, bit-exact with the interpreter.
//!
//! [`JitProgram::compile`] turns a [`Program`] into native code with
//! `dynasmrt`, reading the opcode table through the decoder (no opcode
//! bytes are matched here); [`JitProgram::run`] runs it on an input memory
//! and returns the interpreter's [`Execution`] type, so tests and oracles
//! can swap the two.
//!
//! # Modes
//!
//! - [`Mode::Checked`] (the default): every load, store and atomic is
//!   checked against exactly the interpreter's regions (the input memory,
//!   and the stack of the live frames: frame 0 down to the current depth),
//!   and only against those its base register may be derived from
//!   (`provenance`, computed when compiling; the interpreter's rule),
//!   faults carry the interpreter's [`FaultKind`], pc and size, and the
//!   instruction budget is checked where the interpreter checks it (taken
//!   backward jumps and local calls). The generated code never touches
//!   memory outside those regions.
//! - [`Mode::Unchecked`]: no bounds checks and no budget, for programs a
//!   verifier accepted. Constructing it needs a [`Verified`] token, whose
//!   constructor is `unsafe`: an unchecked program that accesses memory out
//!   of bounds is undefined behaviour.
//!
//! Both modes keep the faults that are part of the semantics (bad jump
//! targets when taken, falling off the end, call depth, unknown helpers,
//! unsupported instructions) and the legacy packet loads' bounds check.
//!
//! # Agreement with the interpreter
//!
//! - Results, faults (kind, pc, size, jump targets, helper ids) and the
//!   input memory after the run are the interpreter's.
//! - Addresses are host addresses: r1, r10 and `ld_imm64` src 2 values
//!   differ from the interpreter's virtual ones (values of `ld_imm64` src 4
//!   do not: they are `CODE_BASE + 8 * slot` in both). A memory fault's
//!   `addr` is mapped back to the interpreter's virtual address when it lies
//!   within 2 GiB of the input memory or the stack (pointer plus offset, the
//!   usual case); otherwise it is the host address.
//! - The JIT tracks no pointer-derived marks: `r0_derived` is always false
//!   and `mem_derived` always empty; compare with the interpreter's marks.
//!   `uninit_stack_read` is always `None`.
//! - `insns_executed` is exact in checked mode and whenever the program can
//!   call a helper (helpers read the count as their clock); unchecked
//!   programs without helper calls do not count and report 0.
//!
//! # Code shape
//!
//! eBPF registers live in host registers (r0–r5 in rax, rdi, rsi, rdx,
//! r9, r8; r6–r9 in rbx, r13–r15; r10 in rbp); rcx counts the
//! budget down, one `sub` per basic block; a taken backward jump tests its
//! sign. A bounds check is a `lea`/`sub`/`cmp`/`jae` against the region's
//! base and limit in the context (accesses through an unmodified r10 or r1
//! need none or one `cmp`). A local call is a host `call` that saves only
//! the r6–r10 its callee can change and clears only the stack bytes the
//! callee can read (`frames`); subprogram entries and loop heads are
//! 16-byte aligned. Exits (faults, out of budget) are out-of-line stubs
//! that record a site index and leave through the trampoline. Code pages
//! are never writable and executable at once: the code is assembled in an
//! ordinary vector and copied into a slot of a per-thread pool of memory
//! mapped twice, once read+write and once read+execute; it runs from the
//! second view and is never modified while a program owns it (slots of
//! dropped programs are reused, see `code_memory` and `code_pool`).
#![cfg(target_arch = "x86_64")]
// dynasm's macro converts dynamic register numbers with `.into()`.
#![allow(clippy::useless_conversion)]

mod alu;
mod analysis;
mod code_memory;
mod code_pool;
mod compile;
mod context;
mod control;
mod dual_map;
mod dump;
mod frames;
mod helper;
mod memory;
mod provenance;
mod regs;
mod stack;

use crate::decode::DecodeError;
use crate::interp::{Execution, MAX_FRAMES, MEM_BASE, STACK_SIZE};
use crate::program::Program;
use compile::{Compiled, Features};
use context::{Context, ACCESS_SIZES, MAX_BUDGET, NO_SITE};

/// A promise that a program was accepted by a verifier, needed to compile
/// it without bounds checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verified(());

impl Verified {
    /// Asserts that the programs compiled with this token never access
    /// memory outside the input memory and their live stack frames.
    ///
    /// # Safety
    ///
    /// Running an unchecked program that breaks this promise reads or
    /// writes arbitrary host memory.
    pub unsafe fn assume() -> Verified {
        Verified(())
    }
}

/// How much the generated code checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Bounds checks and budget, like the interpreter.
    #[default]
    Checked,
    /// No bounds checks and no budget, for verified programs.
    Unchecked(Verified),
}

/// A program compiled to x86-64 code, ready to run any number of times.
pub struct JitProgram {
    compiled: Compiled,
    mode: Mode,
}

impl std::fmt::Debug for JitProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JitProgram")
            .field("mode", &self.mode)
            .field("code_size", &self.code_size())
            .finish()
    }
}

impl JitProgram {
    /// Decodes and compiles `program`. Fails on the first undecodable slot;
    /// everything that decodes compiles (instructions that cannot execute
    /// fault when reached, as in the interpreter).
    pub fn compile(program: &Program, mode: Mode) -> Result<JitProgram, DecodeError> {
        JitProgram::compile_with(program, mode, Features::detect())
    }

    fn compile_with(
        program: &Program,
        mode: Mode,
        features: Features,
    ) -> Result<JitProgram, DecodeError> {
        let compiled = compile::compile(program, mode == Mode::Checked, features)?;
        Ok(JitProgram { compiled, mode })
    }

    /// The mode the program was compiled in.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Bytes of generated code.
    pub fn code_size(&self) -> usize {
        self.compiled.code.len()
    }

    /// Runs the program on `mem` (modified in place) with an instruction
    /// budget; r1 points to `mem` and r2 holds its length (both 0 when it is
    /// empty), as in the interpreter.
    #[inline]
    pub fn run(&self, mem: &mut [u8], budget: u64) -> Execution {
        let top = stack::frame0_top();
        let len = mem.len() as u64;
        let budget = budget.min(MAX_BUDGET);
        // Without input no access to it is valid; its base is then the
        // interpreter's, so `ld_imm64` src 2 gives the same value.
        let mem_ptr = if mem.is_empty() {
            MEM_BASE
        } else {
            mem.as_mut_ptr() as u64
        };
        let frame = STACK_SIZE as u64;
        let mut ctx = Context {
            mem_ptr,
            mem_len: len,
            mem_lim: ACCESS_SIZES.map(|s| (len + 1).saturating_sub(s)),
            stack_low: top - frame,
            stack_lim: ACCESS_SIZES.map(|s| frame + 1 - s),
            stack_top: top,
            last_frame_top: top - ((MAX_FRAMES - 1) * STACK_SIZE) as u64,
            budget,
            site: NO_SITE,
            callx_table: self.compiled.callx_table.as_ptr() as u64,
            ..Context::default()
        };
        let r1 = if len > 0 { mem_ptr } else { 0 };
        // SAFETY: `entry` is the trampoline emitted by `compile`, which
        // restores every callee-saved register. In checked mode the code
        // only touches `ctx`, this thread's stack memory (no other run
        // uses it meanwhile; each frame's readable bytes are cleared when
        // it is entered) and `mem`, all live for this call; in unchecked
        // mode the `Verified` promise covers the accesses.
        let stopped = unsafe { (self.compiled.entry)(&mut ctx, r1, len, budget) };
        context::execution(&ctx, stopped, &self.compiled.sites, self.compiled.counting)
    }
}

/// Compiles and runs `program` once.
pub fn run_program(
    program: &Program,
    mode: Mode,
    mem: &mut [u8],
    budget: u64,
) -> Result<Execution, DecodeError> {
    Ok(JitProgram::compile(program, mode)?.run(mem, budget))
}

/// The generated machine code of `program`, disassembled (Intel syntax)
/// with each stretch under the eBPF instruction it comes from, like
/// `bpftool prog dump jited`: the runtime glue first, then every
/// instruction, then the out-of-line stubs.
pub fn dump(program: &Program, mode: Mode) -> Result<String, DecodeError> {
    let jit = JitProgram::compile(program, mode)?;
    Ok(dump::render(&jit.compiled))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Instruction;
    use crate::insn::Insn;
    use crate::interp::{run_program as interp_run, ExecResult, DEFAULT_BUDGET};
    use crate::opcode::{Operation, Source, OPCODES};

    /// Permissions of the mapping that contains `addr` in /proc/self/maps.
    fn permissions_of(addr: u64) -> Option<String> {
        let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
        maps.lines().find_map(|line| {
            let (range, rest) = line.split_once(' ')?;
            let (start, end) = range.split_once('-')?;
            let start = u64::from_str_radix(start, 16).ok()?;
            let end = u64::from_str_radix(end, 16).ok()?;
            (start <= addr && addr < end).then(|| rest.split(' ').next().unwrap_or("").to_string())
        })
    }

    #[test]
    fn code_pages_are_never_writable_and_executable() {
        // The brief's W^X rule: finalised code is read+execute only.
        let program = Program::new(vec![
            Insn::new(0xb7, 0, 0, 0, 1),
            Insn::new(0x95, 0, 0, 0, 0),
        ]);
        let jit = JitProgram::compile(&program, Mode::Checked).unwrap();
        let addr = jit.compiled.entry as usize as u64;
        if let Some(perms) = permissions_of(addr) {
            assert!(perms.starts_with("r-x"), "code mapped {perms}");
        }
        assert_eq!(
            jit.run(&mut [], DEFAULT_BUDGET).result,
            ExecResult::Returned {
                r0: 1,
                r0_derived: false
            }
        );
    }

    /// The /proc/self/maps line of the mapping that contains `addr`.
    fn mapping_of(addr: u64) -> Option<String> {
        let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
        maps.lines()
            .find(|line| {
                let range = line.split(' ').next().unwrap_or("");
                let Some((start, end)) = range.split_once('-') else {
                    return false;
                };
                let start = u64::from_str_radix(start, 16).unwrap_or(u64::MAX);
                let end = u64::from_str_radix(end, 16).unwrap_or(0);
                start <= addr && addr < end
            })
            .map(str::to_string)
    }

    #[test]
    fn code_runs_from_a_shared_read_execute_view_whose_twin_is_not_executable() {
        // W^X without mprotect: the code's mapping is read+execute and
        // shared; the only other mapping of the same file (same device and
        // inode) is read+write and not executable.
        let program = Program::new(vec![
            Insn::new(0xb7, 0, 0, 0, 3),
            Insn::new(0x95, 0, 0, 0, 0),
        ]);
        let jit = JitProgram::compile(&program, Mode::Checked).unwrap();
        let line = mapping_of(jit.compiled.entry as usize as u64).expect("code is mapped");
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields[1], "r-xs", "{line}");
        let (dev, inode) = (fields[3], fields[4]);
        assert_ne!(inode, "0", "{line}: not file-backed");
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let twins: Vec<&str> = maps
            .lines()
            .filter(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.len() > 4 && f[3] == dev && f[4] == inode
            })
            .collect();
        let perms: Vec<&str> = twins
            .iter()
            .map(|l| l.split_whitespace().nth(1).unwrap())
            .collect();
        assert_eq!(perms.len(), 2, "{twins:?}");
        assert!(
            perms.contains(&"r-xs") && perms.contains(&"rw-s"),
            "{twins:?}"
        );
        assert_eq!(
            jit.run(&mut [], DEFAULT_BUDGET).result,
            ExecResult::Returned {
                r0: 3,
                r0_derived: false
            }
        );
    }

    #[test]
    fn a_program_compiled_into_a_dropped_program_s_slot_runs_its_own_code() {
        // Slots are reused; stale code must never run: A's slot goes to B
        // (this thread's pool, last in first out) and B returns B's value.
        let returning = |v| {
            Program::new(vec![
                Insn::new(0xb7, 0, 0, 0, v),
                Insn::new(0x95, 0, 0, 0, 0),
            ])
        };
        let a = JitProgram::compile(&returning(1), Mode::Checked).unwrap();
        assert_eq!(
            a.run(&mut [], DEFAULT_BUDGET).result,
            ExecResult::Returned {
                r0: 1,
                r0_derived: false
            }
        );
        let slot = a.compiled.code.ptr(dynasmrt::AssemblyOffset(0));
        drop(a);
        let b = JitProgram::compile(&returning(2), Mode::Checked).unwrap();
        assert_eq!(b.compiled.code.ptr(dynasmrt::AssemblyOffset(0)), slot);
        assert_eq!(
            b.run(&mut [], DEFAULT_BUDGET).result,
            ExecResult::Returned {
                r0: 2,
                r0_derived: false
            }
        );
    }

    #[test]
    fn threads_compiling_and_dropping_never_disturb_each_other_s_code() {
        // Slots have one owner: while one thread runs a shared program,
        // others compile, run and drop theirs over and over.
        let shared = JitProgram::compile(
            &Program::new(vec![
                Insn::new(0xb7, 0, 0, 0, 77),
                Insn::new(0x95, 0, 0, 0, 0),
            ]),
            Mode::Checked,
        )
        .unwrap();
        std::thread::scope(|s| {
            for t in 0..3i32 {
                let shared = &shared;
                s.spawn(move || {
                    for i in 0..300i32 {
                        let v = t * 1000 + i;
                        let own = JitProgram::compile(
                            &Program::new(vec![
                                Insn::new(0xb7, 0, 0, 0, v),
                                Insn::new(0x95, 0, 0, 0, 0),
                            ]),
                            Mode::Checked,
                        )
                        .unwrap();
                        for (jit, want) in [(&own, v), (shared, 77)] {
                            assert_eq!(
                                jit.run(&mut [], DEFAULT_BUDGET).result,
                                ExecResult::Returned {
                                    r0: want as u64,
                                    r0_derived: false
                                }
                            );
                        }
                    }
                });
            }
        });
    }

    #[test]
    fn shifts_without_bmi2_agree_with_the_interpreter() {
        // SEMANTICS.md: shift amounts are masked (65 → 1, 33 → 1) and 32-bit
        // results zero-extended, also on CPUs without shlx/shrx/sarx.
        let shifts = OPCODES.iter().filter(|r| {
            matches!(
                r.operation,
                Operation::Lsh | Operation::Rsh | Operation::Arsh
            ) && r.source == Source::Reg
        });
        let ld = crate::opcode::lookup(0x18, 0, 0, 0).unwrap();
        for row in shifts {
            for amount in [0u64, 1, 31, 32, 33, 63, 64, 65] {
                for (dst, src) in [(0u8, 2u8), (3, 0), (6, 3)] {
                    let mut insns = Instruction::wide(ld, dst, 0x8000_0000_8000_0001).encode();
                    insns.extend(Instruction::wide(ld, src, amount).encode());
                    insns.extend(Instruction::new(row, dst, src, 0, 0).encode());
                    insns.push(Insn::new(0xbf, 0, dst, 0, 0));
                    insns.push(Insn::new(0x95, 0, 0, 0, 0));
                    let program = Program::new(insns);
                    let want = interp_run(&program, &mut [], DEFAULT_BUDGET).unwrap();
                    for bmi2 in [false, true] {
                        let jit = JitProgram::compile_with(
                            &program,
                            Mode::Checked,
                            Features { bmi2, avx: bmi2 },
                        )
                        .unwrap();
                        assert_eq!(
                            jit.run(&mut [], DEFAULT_BUDGET),
                            want,
                            "{} by {amount}, bmi2 {bmi2}",
                            row.name()
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn frames_are_zeroed_without_avx_too() {
        // interp/mod.rs: every frame starts zeroed; the SSE path of
        // enter_frame (CPUs without AVX) as well as the AVX one.
        let program = Program::new(vec![
            Insn::new(0x85, 0, 1, 0, 2), // call +2 (dirties frame 1)
            Insn::new(0x85, 0, 1, 0, 4), // call +4 (reads frame 1)
            Insn::new(0x95, 0, 0, 0, 0),
            Insn::new(0x7a, 10, 0, -8, 7),
            Insn::new(0x7a, 10, 0, -512, 9),
            Insn::new(0x95, 0, 0, 0, 0),
            Insn::new(0x79, 0, 10, -8, 0),
            Insn::new(0x79, 1, 10, -512, 0),
            Insn::new(0x0f, 0, 1, 0, 0),
            Insn::new(0x95, 0, 0, 0, 0),
        ]);
        let want = interp_run(&program, &mut [], DEFAULT_BUDGET).unwrap();
        assert_eq!(
            want.result,
            ExecResult::Returned {
                r0: 0,
                r0_derived: false
            }
        );
        assert_jit_agrees_with_and_without_avx(&program, &want, "");
    }

    /// Runs `program` on the checked JIT with AVX off and on (frame
    /// clearing has a code path for each) and asserts it ends like the
    /// interpreter's `want`.
    fn assert_jit_agrees_with_and_without_avx(program: &Program, want: &Execution, case: &str) {
        for avx in [false, true] {
            let features = Features { bmi2: true, avx };
            let jit = JitProgram::compile_with(program, Mode::Checked, features).unwrap();
            let got = jit.run(&mut [], DEFAULT_BUDGET);
            assert_eq!(
                (got.result, got.insns_executed),
                (want.result, want.insns_executed),
                "{case} avx {avx}"
            );
        }
    }

    #[test]
    fn frames_read_as_zero_where_their_code_reads_whatever_ran_there_before() {
        // interp/mod.rs: every frame starts zeroed. A first callee dirties
        // its frame; a second one at the same depth reads down to `lowest`,
        // so only that much is cleared for it (every clearing width).
        let dirty: Vec<Insn> = (1..=64)
            .map(|k| Insn::new(0x7a, 10, 0, -8 * k, 0x11))
            .chain([Insn::new(0xb7, 6, 0, 0, 66), Insn::new(0x95, 0, 0, 0, 0)])
            .collect();
        for lowest in [-8i16, -16, -24, -32, -40, -64, -136, -504, -512] {
            let mut insns = vec![
                Insn::new(0xb7, 6, 0, 0, 6),      // r6 = 6
                Insn::new(0x85, 0, 1, 0, 3),      // call dirty (5)
                Insn::new(0x85, 0, 1, 0, 2 + 66), // call read (71)
                Insn::new(0x0f, 0, 6, 0, 0),      // r0 += r6 (6: restored)
                Insn::new(0x95, 0, 0, 0, 0),
            ];
            insns.extend(&dirty);
            insns.extend([
                Insn::new(0x79, 0, 10, lowest, 0),
                Insn::new(0x79, 1, 10, -8, 0),
                Insn::new(0x0f, 0, 1, 0, 0),
                Insn::new(0x71, 1, 10, lowest + 7, 0),
                Insn::new(0x0f, 0, 1, 0, 0),
                Insn::new(0x95, 0, 0, 0, 0),
            ]);
            let program = Program::new(insns);
            let want = interp_run(&program, &mut [], DEFAULT_BUDGET).unwrap();
            assert_eq!(
                want.result,
                ExecResult::Returned {
                    r0: 6,
                    r0_derived: false
                },
                "reads down to {lowest}"
            );
            let case = format!("reads down to {lowest},");
            assert_jit_agrees_with_and_without_avx(&program, &want, &case);
        }
    }

    #[test]
    fn frame_0_reads_as_zero_after_a_run_that_dirtied_it() {
        // interp/mod.rs: frame 0 starts zeroed on every run, also when the
        // previous run on this thread wrote it.
        let dirty = Program::new(vec![
            Insn::new(0x7a, 10, 0, -8, 0x11),
            Insn::new(0x7a, 10, 0, -512, 0x11),
            Insn::new(0x95, 0, 0, 0, 0),
        ]);
        let read = Program::new(vec![
            Insn::new(0x79, 0, 10, -8, 0),
            Insn::new(0x95, 0, 0, 0, 0),
        ]);
        let dirty = JitProgram::compile(&dirty, Mode::Checked).unwrap();
        let read = JitProgram::compile(&read, Mode::Checked).unwrap();
        for _ in 0..2 {
            dirty.run(&mut [], DEFAULT_BUDGET);
            assert_eq!(
                read.run(&mut [], DEFAULT_BUDGET).result,
                ExecResult::Returned {
                    r0: 0,
                    r0_derived: false
                }
            );
        }
    }

    #[test]
    fn every_row_compiles_in_both_modes() {
        // Everything that decodes compiles; what cannot run faults when reached.
        // SAFETY: the programs are compiled, never run, in unchecked mode.
        let unchecked = Mode::Unchecked(unsafe { Verified::assume() });
        for row in OPCODES {
            let ins = Instruction::new(row, 1, 2, 0, 1);
            let mut insns = ins.encode();
            insns.push(Insn::new(0x95, 0, 0, 0, 0));
            let program = Program::new(insns);
            for mode in [Mode::Checked, unchecked] {
                let jit = JitProgram::compile(&program, mode).unwrap();
                assert!(jit.code_size() > 0, "{}", row.name());
            }
        }
    }

    #[test]
    fn compiled_programs_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<JitProgram>();
        let program = Program::new(vec![
            Insn::new(0xbf, 0, 2, 0, 0),
            Insn::new(0x95, 0, 0, 0, 0),
        ]);
        let jit = JitProgram::compile(&program, Mode::Checked).unwrap();
        std::thread::scope(|s| {
            for len in 1..4usize {
                let jit = &jit;
                s.spawn(move || {
                    let r = jit.run(&mut vec![0; len], DEFAULT_BUDGET).result;
                    assert_eq!(
                        r,
                        ExecResult::Returned {
                            r0: len as u64,
                            r0_derived: false
                        }
                    );
                });
            }
        });
    }

    #[test]
    fn decode_errors_are_reported_like_the_interpreter_s() {
        let program = Program::new(vec![
            Insn::new(0xb7, 0, 0, 0, 0),
            Insn::new(0x8f, 0, 0, 0, 0),
        ]);
        let e = JitProgram::compile(&program, Mode::Checked).unwrap_err();
        assert_eq!(e.to_string(), "insn 1: unknown opcode 0x8f");
    }
}
