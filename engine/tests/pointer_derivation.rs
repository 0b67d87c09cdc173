//! A value read from pointer-derived bytes is pointer-derived, whatever
//! instruction reads it.
//!
//! RFC 9669 has no notion of a pointer: registers and memory hold numbers.
//! The engine's model (docs/oracles.md, "Pointer-derived values: where the
//! marks come from") marks every value computed from an address, because
//! addresses differ between implementations: the interpreter's are virtual
//! (`MEM_BASE`, `STACK_TOP`), the JIT's and the kernel's are host
//! addresses, and for root the kernel lets a program store a pointer and
//! read its bytes back as a number (SEMANTICS.md: "pointers may be stored
//! to memory or returned (leaks are allowed)"). A read of such bytes must
//! therefore be marked, or two correct implementations are compared as
//! numbers and "diverge" (issue 9).
//!
//! Every program here runs on the interpreter and on the JIT (checked
//! mode). The interpreter must return the value its own pointer gives and
//! mark it; the JIT, which tracks no marks, must return the value *its*
//! pointer (the host address of the input buffer) gives; and the pair must
//! agree under the comparison rule of `exec_both.rs` and `oracle::compare`
//! (values the interpreter marks are not compared as numbers).

use bpfdiff_engine::decode::Instruction;
use bpfdiff_engine::insn::Insn;
use bpfdiff_engine::interp::{self, ExecResult, Execution, DEFAULT_BUDGET, MEM_BASE};
use bpfdiff_engine::jit::{self, Mode};
use bpfdiff_engine::opcode::{self, OpcodeRow, Operation, Size, OPCODES};
use bpfdiff_engine::Program;
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Running a program on both
// ---------------------------------------------------------------------------

/// One run: the execution, the input afterwards, and the value r1 had (the
/// input's address on that backend).
struct Run {
    execution: Execution,
    mem: Vec<u8>,
    pointer: u64,
}

/// Runs `program` on copies of `input` on the interpreter and the JIT.
fn run_both(program: &Program, input: &[u8]) -> (Run, Run) {
    let mut mem = input.to_vec();
    let execution = interp::run_program(program, &mut mem, DEFAULT_BUDGET).expect("decodes");
    let interp = Run {
        execution,
        mem,
        pointer: MEM_BASE,
    };
    let mut mem = input.to_vec();
    // The JIT passes the buffer's own address in r1 (`JitProgram::run`).
    let pointer = mem.as_mut_ptr() as u64;
    let execution =
        jit::run_program(program, Mode::Checked, &mut mem, DEFAULT_BUDGET).expect("decodes");
    let jit = Run {
        execution,
        mem,
        pointer,
    };
    (interp, jit)
}

/// The comparison rule of `exec_both.rs` and `oracle::compare`: the same
/// ending, the same r0 unless the interpreter marks it, the same count, the
/// same input memory except bytes the interpreter marks.
fn agree(interp: &Run, jit: &Run) -> Result<(), String> {
    let (i, j) = (&interp.execution, &jit.execution);
    let result = match (i.result, j.result) {
        (ExecResult::Returned { r0, r0_derived }, ExecResult::Returned { r0: theirs, .. }) => {
            r0_derived || r0 == theirs
        }
        (a, b) => a == b,
    };
    if !result {
        return Err(format!("interpreter {}, JIT {}", i.result, j.result));
    }
    if i.insns_executed != j.insns_executed {
        return Err(format!(
            "instructions: interpreter {}, JIT {}",
            i.insns_executed, j.insns_executed
        ));
    }
    let marked = |b: usize| i.mem_derived.get(b).copied().unwrap_or(false);
    let differing: Vec<usize> = (0..interp.mem.len())
        .filter(|&b| !marked(b) && interp.mem[b] != jit.mem[b])
        .collect();
    if !differing.is_empty() {
        return Err(format!("unmarked bytes differ at {differing:?}"));
    }
    Ok(())
}

fn returned(e: &Execution) -> (u64, bool) {
    match e.result {
        ExecResult::Returned { r0, r0_derived } => (r0, r0_derived),
        other => panic!("expected a return, got {other}"),
    }
}

// ---------------------------------------------------------------------------
// The issue's program
// ---------------------------------------------------------------------------

#[test]
fn issue_9_packet_load_of_bytes_an_atomic_added_a_pointer_into() {
    // r1 = atomic64_fetch_add((u64 *)(r1 +7), r1)
    // r0 = *(u32 *)skb[7]
    // exit
    // with 52 bytes of input, byte 7 = 0x80: bytes 7..15 become
    // 0x80 + the input's address, and ld_abs reads four of them.
    let program = Program::new(vec![
        Insn::new(0xdb, 1, 1, 7, 0x01),
        Insn::new(0x20, 0, 0, 0, 7),
        Insn::new(0x95, 0, 0, 0, 0),
    ]);
    let mut input = [0u8; 52];
    input[7] = 0x80;
    let (interp, jit) = run_both(&program, &input);
    // Each backend reads the big-endian u32 of the low half of 0x80 + its
    // own pointer.
    let expect = |pointer: u64| {
        let bytes = pointer.wrapping_add(0x80).to_le_bytes();
        u32::from_be_bytes(bytes[..4].try_into().unwrap()) as u64
    };
    assert_eq!(returned(&interp.execution), (0x8000_0000, true));
    assert_eq!(returned(&jit.execution).0, expect(jit.pointer));
    assert_eq!(
        interp.execution.mem_derived,
        (0..52).map(|b| (7..15).contains(&b)).collect::<Vec<_>>(),
        "the atomic marks the eight bytes it added a pointer into"
    );
    if let Err(why) = agree(&interp, &jit) {
        panic!("interpreter and JIT disagree on the issue's program: {why}");
    }
}

#[test]
fn ld_ind_with_a_pointer_index_is_pointer_derived() {
    // r0 = *(u8 *)skb[r1 + 0]: the offset is the low half of the input's
    // address, so what is read (or whether the load is out of bounds and
    // the program returns 0, SEMANTICS.md) depends on the implementation.
    let program = Program::new(vec![
        Insn::new(0x50, 0, 1, 0, 0),
        Insn::new(0x95, 0, 0, 0, 0),
    ]);
    let mut input = [0u8; 8];
    input[0] = 0x42;
    let (interp, jit) = run_both(&program, &input);
    assert_eq!(
        returned(&interp.execution),
        (0x42, true),
        "MEM_BASE's low half is 0: byte 0"
    );
    let host_offset = jit.pointer as u32 as usize;
    let jit_expect = input.get(host_offset).map_or(0, |&b| b as u64);
    assert_eq!(returned(&jit.execution).0, jit_expect);
    // Not `agree`: where the JIT's offset is out of bounds its run ends at
    // the load, one instruction earlier (a path chosen by an address, which
    // no mark can hide; `oracle::compare` does not compare counts).
    assert_eq!(interp.mem, jit.mem);
}

// ---------------------------------------------------------------------------
// Every load kind
// ---------------------------------------------------------------------------

/// Where the pointer (r1, the input's address) is put before the read.
#[derive(Clone, Copy, Debug)]
enum Placement {
    /// `*(u64 *)(r1 + at) = r1`.
    StoreInput,
    /// `lock *(u64 *)(r1 + at) += r1`, as in the issue: the bytes hold
    /// the old value plus the pointer.
    AtomicAddInput,
    /// `*(u64 *)(r10 - 16) = r1`: a spill, between two stored numbers at
    /// r10-24 and r10-8.
    SpillStack,
}

/// The stack numbers around a spill (`st` sign-extends its immediate).
const BELOW_SPILL: i32 = 0x1234_5678;
const ABOVE_SPILL: i32 = -0x0bad_f00d;

/// Every row of the opcode table that reads memory into a register.
fn load_rows() -> Vec<&'static OpcodeRow> {
    use Operation as O;
    OPCODES
        .iter()
        .filter(|r| {
            matches!(
                r.operation,
                O::Load
                    | O::LoadSx
                    | O::LdAbs
                    | O::LdInd
                    | O::AtomicFetchAdd
                    | O::AtomicFetchOr
                    | O::AtomicFetchAnd
                    | O::AtomicFetchXor
                    | O::AtomicXchg
                    | O::AtomicCmpxchg
                    | O::LoadAcquire
            )
        })
        .collect()
}

fn size_bytes(row: &OpcodeRow) -> usize {
    match row.size.expect("memory rows have a size") {
        Size::B => 1,
        Size::H => 2,
        Size::W => 4,
        Size::DW => 8,
    }
}

fn is_packet(row: &OpcodeRow) -> bool {
    matches!(row.operation, Operation::LdAbs | Operation::LdInd)
}

/// A generated case: the read, where the pointer is, where the read is.
#[derive(Clone, Debug)]
struct Case {
    row: &'static OpcodeRow,
    placement: Placement,
    input: Vec<u8>,
    /// Input offset of the pointer's 8 bytes (input placements).
    at: usize,
    /// Where the read starts: an input offset, or a (negative) offset from
    /// r10 for the spill.
    read: i64,
    /// For `ld_ind`: the index register's value (the rest is in `imm`).
    index: u32,
}

/// The bytes the read sees on a backend whose r1 is `pointer`, and the
/// first of them's index.
fn image(case: &Case, pointer: u64) -> (Vec<u8>, usize) {
    match case.placement {
        Placement::StoreInput | Placement::AtomicAddInput => {
            let mut mem = case.input.clone();
            let old = u64::from_le_bytes(mem[case.at..case.at + 8].try_into().unwrap());
            let value = match case.placement {
                Placement::StoreInput => pointer,
                _ => old.wrapping_add(pointer),
            };
            mem[case.at..case.at + 8].copy_from_slice(&value.to_le_bytes());
            (mem, case.read as usize)
        }
        Placement::SpillStack => {
            // Bytes r10-24 .. r10: number, pointer, number.
            let mut mem = (BELOW_SPILL as i64 as u64).to_le_bytes().to_vec();
            mem.extend_from_slice(&pointer.to_le_bytes());
            mem.extend_from_slice(&(ABOVE_SPILL as i64 as u64).to_le_bytes());
            (mem, (case.read + 24) as usize)
        }
    }
}

/// The value the read gives on a backend whose r1 is `pointer`.
fn value_read(case: &Case, pointer: u64) -> u64 {
    let (mem, start) = image(case, pointer);
    let n = size_bytes(case.row);
    let bytes = &mem[start..start + n];
    if is_packet(case.row) {
        // Legacy packet loads read network (big-endian) order.
        return bytes.iter().fold(0, |acc, &b| (acc << 8) | b as u64);
    }
    let v = bytes
        .iter()
        .rev()
        .fold(0u64, |acc, &b| (acc << 8) | b as u64);
    if case.row.operation == Operation::LoadSx {
        let shift = 64 - 8 * n as u32;
        (((v << shift) as i64) >> shift) as u64
    } else {
        v
    }
}

fn row_of(opcode: u8, imm: i32) -> &'static OpcodeRow {
    opcode::lookup(opcode, 0, 0, imm).expect("a row of the table")
}

/// The program: put the pointer, do the read with the result in r0, exit.
/// Registers: r1 = input pointer, r3 = an atomic's operand (the fetched
/// value lands there), r4 = `ld_ind`'s index.
fn program(case: &Case, cmpxchg_r0: u64) -> Program {
    use Operation as O;
    let stxdw = row_of(0x7b, 0);
    let stdw = row_of(0x7a, 0);
    let atomic_add = row_of(0xdb, 0x00);
    let mov_imm = row_of(0xb7, 0);
    let mov_reg = row_of(0xbf, 0);
    let lddw = row_of(0x18, 0);
    let exit = row_of(0x95, 0);
    let mut p = Vec::new();
    match case.placement {
        Placement::StoreInput => p.push(Instruction::new(stxdw, 1, 1, case.at as i16, 0)),
        Placement::AtomicAddInput => p.push(Instruction::new(atomic_add, 1, 1, case.at as i16, 0)),
        Placement::SpillStack => {
            p.push(Instruction::new(stdw, 10, 0, -24, BELOW_SPILL));
            p.push(Instruction::new(stdw, 10, 0, -8, ABOVE_SPILL));
            p.push(Instruction::new(stxdw, 10, 1, -16, 0));
        }
    }
    let base = match case.placement {
        Placement::SpillStack => 10,
        _ => 1,
    };
    let off = case.read as i16;
    let row = case.row;
    match row.operation {
        O::Load | O::LoadSx | O::LoadAcquire => p.push(Instruction::new(row, 0, base, off, 0)),
        O::LdAbs => p.push(Instruction::new(row, 0, 0, 0, case.read as i32)),
        O::LdInd => {
            p.push(Instruction::new(mov_imm, 4, 0, 0, case.index as i32));
            let imm = case.read - case.index as i64;
            p.push(Instruction::new(row, 0, 4, 0, imm as i32));
        }
        O::AtomicCmpxchg => {
            // r0 differs from the old value on both backends: no exchange.
            p.push(Instruction::wide(lddw, 0, cmpxchg_r0));
            p.push(Instruction::new(mov_imm, 3, 0, 0, 7));
            p.push(Instruction::new(row, base, 3, off, 0));
        }
        _ => {
            // The operand that leaves memory as it is (xchg stores 7).
            let operand = if row.operation == O::AtomicFetchAnd {
                -1
            } else {
                i32::from(row.operation == O::AtomicXchg) * 7
            };
            p.push(Instruction::new(mov_imm, 3, 0, 0, operand));
            p.push(Instruction::new(row, base, 3, off, 0));
            p.push(Instruction::new(mov_reg, 0, 3, 0, 0));
        }
    }
    p.push(Instruction::new(exit, 0, 0, 0, 0));
    Program::from_instructions(&p)
}

/// A cmpxchg comparand equal to neither backend's old value.
fn comparand(case: &Case, jit_pointer: u64) -> u64 {
    let olds = [value_read(case, MEM_BASE), value_read(case, jit_pointer)];
    (0x5a5a_5a5a_5a5a_5a5au64..)
        .find(|c| !olds.contains(c) && !olds.contains(&(c & 0xffff_ffff)))
        .expect("a value unequal to two others exists")
}

/// Cases whose read overlaps the pointer's bytes (`overlap`) or does not.
fn arb_case(overlap: bool) -> impl Strategy<Value = Case> {
    let rows = load_rows();
    (
        0..rows.len(),
        0..3usize,
        prop::collection::vec(any::<u8>(), 16..=48),
        any::<u64>(),
        any::<u64>(),
        0u32..64,
    )
        .prop_filter_map("no such read", move |(r, place, input, a, b, index)| {
            let row = rows[r];
            let n = size_bytes(row) as i64;
            let placement = match place {
                0 => Placement::StoreInput,
                1 => Placement::AtomicAddInput,
                _ if is_packet(row) => return None,
                _ => Placement::SpillStack,
            };
            let len = input.len() as i64;
            let at = a % (len as u64 - 7);
            // The pointer's bytes and the range reads may start in.
            let (ptr, lo, hi) = match placement {
                Placement::SpillStack => (-16i64, -24i64, -n),
                _ => (at as i64, 0, len - n),
            };
            let starts: Vec<i64> = (lo..=hi)
                .filter(|&s| (s < ptr + 8 && s + n > ptr) == overlap)
                .collect();
            if starts.is_empty() {
                return None;
            }
            let read = starts[(b % starts.len() as u64) as usize];
            Some(Case {
                row,
                placement,
                input,
                at: at as usize,
                read,
                index: index.min(read.max(0) as u32),
            })
        })
}

/// Runs `case`; checks each backend's value and the interpreter's mark.
fn check(case: &Case, want_derived: bool) -> Result<(), TestCaseError> {
    // The JIT's input is this buffer, so its address is known before the
    // program is built (a cmpxchg comparand must avoid both old values).
    let mut jit_mem = case.input.clone();
    let jit_pointer = jit_mem.as_mut_ptr() as u64;
    let program = program(case, comparand(case, jit_pointer));
    let mut interp_mem = case.input.clone();
    let i = interp::run_program(&program, &mut interp_mem, DEFAULT_BUDGET).expect("decodes");
    let j =
        jit::run_program(&program, Mode::Checked, &mut jit_mem, DEFAULT_BUDGET).expect("decodes");
    let interp = Run {
        execution: i,
        mem: interp_mem,
        pointer: MEM_BASE,
    };
    let jit = Run {
        execution: j,
        mem: jit_mem,
        pointer: jit_pointer,
    };
    let listing = bpfdiff_engine::asm::kernel::disassemble(&program).unwrap_or_default();
    let (r0, derived) = returned(&interp.execution);
    prop_assert_eq!(
        (r0, derived),
        (value_read(case, interp.pointer), want_derived),
        "interpreter, {:?}:\n{}",
        case,
        listing
    );
    prop_assert_eq!(
        returned(&jit.execution).0,
        value_read(case, jit.pointer),
        "JIT, {:?}:\n{}",
        case,
        listing
    );
    if let Err(why) = agree(&interp, &jit) {
        prop_assert!(false, "{}: {:?}:\n{}", why, case, listing);
    }
    Ok(())
}

/// `PROPTEST_CASES` sets the number of cases; the default keeps `cargo
/// test` quick.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// Every load kind, reading at least one byte of a stored, atomically
    /// added or spilled pointer: the interpreter marks the value.
    #[test]
    fn a_read_of_pointer_bytes_is_pointer_derived(case in arb_case(true)) {
        check(&case, true)?;
    }

    /// The same reads beside the pointer's bytes are numbers, compared as
    /// numbers (the marks are per byte, not per region).
    #[test]
    fn a_read_beside_pointer_bytes_is_a_number(case in arb_case(false)) {
        check(&case, false)?;
    }
}

#[test]
fn every_load_kind_is_covered() {
    // One row per kind and size: LDX B/H/W/DW, LDSX B/H/W, LD_ABS and
    // LD_IND B/H/W, the five fetching atomics and cmpxchg in 32 and 64
    // bits, load-acquire B/H/W/DW.
    let rows = load_rows();
    assert_eq!(rows.len(), 4 + 3 + 3 + 3 + 2 * 6 + 4, "{rows:?}");
}
