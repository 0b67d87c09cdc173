//! The compiler driver: the runtime glue (entry trampoline, exits, frame
//! entry and exit), one pass over the instructions, then the out-of-line
//! stubs, the `callx` table and W^X finalisation.
//!
//! Instruction counting: rcx starts at the (clamped) budget and every basic
//! block subtracts its instruction count once, just before its terminating
//! jump, call or exit (or after its last instruction when it falls into
//! the next block). A site inside a block that leaves the program early
//! records how many of the block's instructions ran but were not charged
//! yet ([`Site::extra`]), so the count stays exact.

use dynasmrt::x64::X64Relocation;
use dynasmrt::{dynasm, AssemblyOffset, DynamicLabel, DynasmApi, DynasmLabelApi, VecAssembler};

use super::analysis::{falls_through, is_terminator, Analysis, Target};
use super::code_memory::CodeMemory;
use super::context::{off, Entry, Site, SiteAddr, SiteOutcome, OUT_OF_BUDGET_SITE};
use super::regs::RBP;

use crate::decode::{DecodeError, Instruction};
use crate::interp::{FaultKind, STACK_SIZE};
use crate::opcode::Class;
use crate::program::Program;

/// Emits x86-64 code into an assembler.
macro_rules! x64 {
    ($ops:expr ; $($t:tt)*) => {
        dynasm!($ops ; .arch x64 ; $($t)*)
    };
}
pub(super) use x64;

/// CPU features the code generator may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Features {
    /// BMI2 (`shlx`/`shrx`/`sarx`: shifts by any register, amount masked
    /// like eBPF's).
    pub bmi2: bool,
    /// AVX (32-byte stores to zero a new frame).
    pub avx: bool,
}

impl Features {
    /// The features of the running CPU.
    pub fn detect() -> Features {
        Features {
            bmi2: std::is_x86_feature_detected!("bmi2"),
            avx: std::is_x86_feature_detected!("avx"),
        }
    }
}

/// Which region a register probably points into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RegionHint {
    /// The input memory (r1 at entry, `ld_imm64` src 2).
    Input,
    /// The stack (r10).
    Stack,
    /// Anything.
    Unknown,
}

fn initial_hints() -> [RegionHint; 11] {
    let mut hints = [RegionHint::Unknown; 11];
    hints[1] = RegionHint::Input;
    hints[10] = RegionHint::Stack;
    hints
}

/// What a stretch of generated code belongs to (for `jit-dump`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Segment {
    /// Shared runtime code (entry, exits, frame entry and exit).
    Runtime(&'static str),
    /// The code of instruction `j` (index into the decoded instructions).
    Insn(usize),
    /// Out-of-line code of the instruction at slot `pc`.
    Stub {
        /// Slot of the instruction the stub belongs to.
        pc: usize,
        /// What the stub does.
        what: StubKind,
    },
}

/// What an out-of-line stub does (for `jit-dump`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum StubKind {
    /// Leaves the program through an exit site.
    Exit(SiteOutcome),
    /// Fixes up a division by 0 or -1 and resumes.
    Div(DivFix),
    /// A `callx` entry in the middle of a block: un-charges this many
    /// instructions.
    CallxEntry(u64),
    /// The bounds check against the region a memory access was not
    /// expected to hit.
    OtherRegion,
}

impl std::fmt::Display for StubKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StubKind::Exit(SiteOutcome::Fault(kind)) => f.write_str(kind.name()),
            StubKind::Exit(SiteOutcome::OutOfBudget) => f.write_str("out of budget"),
            StubKind::Exit(SiteOutcome::ReturnZero) => {
                f.write_str("packet load out of bounds: return 0")
            }
            StubKind::Div(fix) => write!(f, "division special case: {fix:?}"),
            StubKind::CallxEntry(k) => {
                write!(f, "callx entry: un-charge {k} instructions of the block")
            }
            StubKind::OtherRegion => f.write_str("bounds check against the other region"),
        }
    }
}

/// A compiled program.
pub(super) struct Compiled {
    /// The code, read-only and executable.
    pub code: CodeMemory,
    /// The entry trampoline (inside `code`).
    pub entry: Entry,
    /// Exit sites by index.
    pub sites: Vec<Site>,
    /// Host code address per slot for `callx` (0: not an instruction start).
    pub callx_table: Vec<u64>,
    /// True when rcx counts instructions.
    pub counting: bool,
    /// Start offset and owner of each stretch of code, in address order.
    pub layout: Vec<(usize, Segment)>,
    /// The decoded instructions (for `jit-dump`).
    pub insns: Vec<(usize, Instruction)>,
}

/// What an exit stub stores into the context's `fault_value` first.
#[derive(Clone, Copy, Debug)]
pub(super) enum StubValue {
    /// Nothing.
    None,
    /// r11 / 8 (a `callx` code offset turned into a slot).
    R11Slot,
    /// `base + disp` (an address the fast paths did not compute).
    Lea {
        /// x86 base register.
        base: u8,
        /// Displacement.
        disp: i32,
    },
}

/// What a division stub does to the destination before resuming.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum DivFix {
    /// dst = 0.
    Zero,
    /// dst unchanged.
    Keep,
    /// dst = low 32 bits of dst.
    Truncate,
    /// dst = -dst (64-bit).
    Neg64,
    /// dst = -dst (32-bit, zero-extended).
    Neg32,
}

/// A region of memory as the context describes it.
#[derive(Clone, Copy, Debug)]
pub(super) struct RegionCheck {
    /// Context offset of the region's first address.
    pub low: i32,
    /// Context offset of the limit for the access's size.
    pub lim: i32,
}

enum Stub {
    Exit {
        label: DynamicLabel,
        site: u32,
        value: StubValue,
    },
    Region {
        label: DynamicLabel,
        resume: DynamicLabel,
        fault: DynamicLabel,
        base: u8,
        disp: i32,
        region: RegionCheck,
    },
    Div {
        label: DynamicLabel,
        resume: DynamicLabel,
        dst: u8,
        fix: DivFix,
    },
}

/// Code generation state.
pub(super) struct Compiler<'a> {
    pub ops: VecAssembler<X64Relocation>,
    pub a: &'a Analysis,
    pub checked: bool,
    pub counting: bool,
    pub features: Features,
    labels: Vec<Option<DynamicLabel>>,
    sites: Vec<Site>,
    stubs: Vec<(usize, StubKind, Stub)>,
    layout: Vec<(usize, Segment)>,
    /// Slot of the instruction being compiled.
    pub pc: usize,
    /// Uncharged instructions of the current block at this point.
    pub extra: u64,
    /// Per eBPF register: the region it most likely points into, to order
    /// the bounds checks (a hint from a linear scan; correctness never
    /// depends on it).
    pub hints: [RegionHint; 11],
    /// Accesses already bounds-checked in the current block: (eBPF base
    /// register, first byte offset, one past the last). Regions cannot
    /// change inside a block (calls end blocks), so an access inside a
    /// checked range of an unchanged base needs no check. Only used when
    /// the program has no `callx`, which could enter a block midway.
    pub checked_ranges: Vec<(u8, i32, i32)>,
    pub leave: DynamicLabel,
    pub out_of_budget: DynamicLabel,
    pub enter_frame: DynamicLabel,
    start: DynamicLabel,
}

/// Compiles `program`.
pub(super) fn compile(
    program: &Program,
    checked: bool,
    features: Features,
) -> Result<Compiled, DecodeError> {
    let a = Analysis::new(program)?;
    let mut c = Compiler::new(&a, checked, features);
    let entry = c.runtime();
    for j in 0..a.insns.len() {
        c.instruction(j);
    }
    if a.insns.last().is_none_or(|(_, ins)| falls_through(ins)) {
        c.pc = a.slots;
        c.extra = 0;
        let l = c.fault(
            FaultKind::FellOffEnd,
            SiteAddr::Fixed(a.slots as u64),
            0,
            StubValue::None,
        );
        x64!(c.ops ; jmp =>l);
    }
    let mut compiled = c.finish(entry);
    compiled.insns = a.insns;
    Ok(compiled)
}

impl<'a> Compiler<'a> {
    fn new(a: &'a Analysis, checked: bool, features: Features) -> Compiler<'a> {
        // Code is assembled into a private buffer and mapped executable
        // once, at the end (W^X: never writable and executable at once).
        let n = a.insns.len();
        let mut ops = VecAssembler::new_with_capacity(0, 1024 + 48 * n, 0, 0, 8 + 3 * n, 0, 4 * n);
        let counting = checked || a.calls_helpers;
        let labels = (0..a.slots)
            .map(|_| None)
            .collect::<Vec<Option<DynamicLabel>>>();
        let mut c = Compiler {
            leave: ops.new_dynamic_label(),
            out_of_budget: ops.new_dynamic_label(),
            enter_frame: ops.new_dynamic_label(),
            start: ops.new_dynamic_label(),
            ops,
            a,
            checked,
            counting,
            features,
            labels,
            sites: Vec::new(),
            stubs: Vec::new(),
            layout: Vec::new(),
            pc: 0,
            extra: 0,
            hints: initial_hints(),
            checked_ranges: Vec::new(),
        };
        for (pc, _) in &a.insns {
            if a.is_target[*pc] || a.has_callx {
                c.labels[*pc] = Some(c.ops.new_dynamic_label());
            }
        }
        // Site 0: the shared out-of-budget exit.
        c.sites.push(Site {
            outcome: SiteOutcome::OutOfBudget,
            pc: 0,
            addr: SiteAddr::Fixed(0),
            size: 0,
            extra: 0,
        });
        c
    }

    /// The label of the instruction at `slot` (a static target, or any
    /// instruction when the program has `callx`).
    pub fn label(&self, slot: usize) -> DynamicLabel {
        self.labels[slot].expect("every jump target has a label")
    }

    fn mark(&mut self, segment: Segment) {
        self.layout.push((self.ops.offset().0, segment));
    }

    /// Entry trampoline, shared exits and frame entry/exit. Returns the entry.
    fn runtime(&mut self) -> AssemblyOffset {
        let ctx_rsp = off::SAVED_RSP;
        self.mark(Segment::Runtime(
            "entry: save host registers, load r1, r2, r10 and the budget, clear frame 0, run",
        ));
        let entry = self.ops.offset();
        let (leave, start, oob) = (self.leave, self.start, self.out_of_budget);
        // sysv64: rdi = context, rsi = r1, rdx = r2, rcx = the counter.
        x64!(self.ops
            ; push rbp ; push rbx ; push r12 ; push r13 ; push r14 ; push r15
            ; mov r12, rdi
            ; mov [r12 + ctx_rsp], rsp
            ; mov rdi, rsi
            ; mov rsi, rdx
            ; xor eax, eax ; xor edx, edx ; xor r8d, r8d ; xor r9d, r9d
            ; xor ebx, ebx ; xor r13d, r13d ; xor r14d, r14d ; xor r15d, r15d
            ; mov rbp, [r12 + off::STACK_TOP]
        );
        // What frame 0 can read must read as zero (it may hold an earlier
        // run's data).
        self.clear_frame_bytes(RBP, self.a.frames.entry.zero_bytes);
        x64!(self.ops
            ; call =>start
            // Returns `Stopped { r0: rax, counter: rdx }`.
            ; =>leave
            ; mov rdx, rcx
            ; mov rsp, [r12 + ctx_rsp]
            ; pop r15 ; pop r14 ; pop r13 ; pop r12 ; pop rbx ; pop rbp
            ; ret
        );
        self.mark(Segment::Runtime("out of budget"));
        x64!(self.ops
            ; =>oob
            ; mov QWORD [r12 + off::SITE], OUT_OF_BUDGET_SITE as i32
            ; jmp =>leave
        );
        self.frame_routines();
        // The program starts on a cache line of its own.
        self.align_with_nops(64);
        self.mark(Segment::Runtime("program"));
        x64!(self.ops ; =>start);
        entry
    }

    /// `enter_frame`, for programs whose stack escapes (see `frames`):
    /// depth + 1, r10 = the new frame's top, the new frame addressable
    /// (checked mode) and cleared whole. Uses only r11 (and xmm0/ymm0), so
    /// r10 survives for `callx`. Leaving a frame is inlined at call sites
    /// ([`Compiler::leave_frame`]). Other programs enter and leave frames
    /// inline at each call site (control.rs, `framed_call`).
    fn frame_routines(&mut self) {
        if !self.a.has_local_calls || !self.a.frames.stack_escapes {
            return;
        }
        let frame = STACK_SIZE as i32;
        let enter = self.enter_frame;
        self.mark(Segment::Runtime(
            "enter frame: depth + 1, new r10, zero the frame",
        ));
        x64!(self.ops
            ; =>enter
            ; add QWORD [r12 + off::DEPTH], 1
            ; mov rbp, [r12 + off::STACK_LOW]
            ; lea r11, [rbp - frame]
            ; mov [r12 + off::STACK_LOW], r11
        );
        if self.checked {
            for i in 0..4 {
                x64!(self.ops ; add QWORD [r12 + off::STACK_LIM + 8 * i], frame);
            }
        }
        self.clear_frame_bytes(RBP, STACK_SIZE as u32);
        x64!(self.ops ; ret);
    }

    /// Clears the `bytes` (a multiple of 8, at most a frame) just below the
    /// frame top in x86 register `top` with the widest stores available;
    /// may clear a little more of the frame. Uses xmm0/ymm0 only.
    pub fn clear_frame_bytes(&mut self, top: u8, bytes: u32) {
        let bytes = bytes.min(STACK_SIZE as u32) as i32;
        if bytes == 0 {
            return;
        }
        if bytes <= 32 {
            for k in 1..=bytes / 8 {
                x64!(self.ops ; mov QWORD [Rq(top) - 8 * k], 0);
            }
        } else if self.features.avx && bytes >= 128 {
            x64!(self.ops ; vpxor ymm0, ymm0, ymm0);
            for k in 1..=(bytes + 31) / 32 {
                x64!(self.ops ; vmovdqu [Rq(top) - 32 * k], ymm0);
            }
            // Leave the upper halves clean for the host's SSE code.
            x64!(self.ops ; vzeroupper);
        } else {
            x64!(self.ops ; xorps xmm0, xmm0);
            for k in 1..=(bytes + 15) / 16 {
                x64!(self.ops ; movups [Rq(top) - 16 * k], xmm0);
            }
        }
    }

    /// Back in the caller's frame (programs whose stack escapes): depth - 1,
    /// the callee's frame no longer addressable.
    pub fn leave_frame(&mut self) {
        let frame = STACK_SIZE as i32;
        x64!(self.ops
            ; sub QWORD [r12 + off::DEPTH], 1
            ; add QWORD [r12 + off::STACK_LOW], frame
        );
        if self.checked {
            for i in 0..4 {
                x64!(self.ops ; sub QWORD [r12 + off::STACK_LIM + 8 * i], frame);
            }
        }
    }

    /// Compiles instruction `j`.
    fn instruction(&mut self, j: usize) {
        let (pc, ins) = self.a.insns[j];
        if self.a.is_hot_target[pc] {
            self.align_with_nops(16);
        }
        if let Some(l) = self.labels[pc] {
            x64!(self.ops ; =>l);
        }
        self.mark(Segment::Insn(j));
        self.pc = pc;
        if self.a.block_start[j] == j {
            self.checked_ranges.clear();
        }
        let k = (j - self.a.block_start[j]) as u64;
        let n = self.a.block_len[j];
        self.extra = if self.counting { k + 1 } else { 0 };
        if is_terminator(&ins) {
            self.control(j, &ins, n);
            self.update_hints(&ins);
            return;
        }
        match ins.row.class {
            Class::Alu | Class::Alu64 => self.alu(&ins),
            Class::Ld => self.ld(j, &ins),
            _ => self.memory(&ins),
        }
        self.update_hints(&ins);
        if self.a.ends_block(j) {
            self.charge(n);
        }
    }

    /// Pads the code to a multiple of `alignment` with the fewest NOP
    /// instructions (control may fall through them). Subprogram entries
    /// and loop heads start aligned, which keeps a hot call/return or loop
    /// within few fetch blocks.
    fn align_with_nops(&mut self, alignment: usize) {
        // The recommended multi-byte NOPs (`nop` / `xchg ax, ax` /
        // `nop DWORD [...]` forms), by length.
        const NOPS: [&[u8]; 9] = [
            &[0x90],
            &[0x66, 0x90],
            &[0x0f, 0x1f, 0x00],
            &[0x0f, 0x1f, 0x40, 0x00],
            &[0x0f, 0x1f, 0x44, 0x00, 0x00],
            &[0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00],
            &[0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00],
            &[0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
            &[0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
        ];
        let mut pad = (alignment - self.ops.offset().0 % alignment) % alignment;
        while pad > 0 {
            let n = pad.min(NOPS.len());
            self.ops.extend(NOPS[n - 1].iter().copied());
            pad -= n;
        }
    }

    /// Follows pointer moves (`mov`, `add`, `sub` in ALU64) for the region
    /// hints; any other write makes the register's region unknown.
    fn update_hints(&mut self, ins: &Instruction) {
        use crate::opcode::{Operation as O, Source};
        let (d, s) = (usize::from(ins.dst.min(10)), usize::from(ins.src.min(10)));
        let wide = ins.row.class == Class::Alu64;
        let reg = ins.row.source == Source::Reg;
        let hint = match ins.row.operation {
            O::Mov if wide && reg => self.hints[s],
            O::Add | O::Sub if wide && !reg => self.hints[d],
            O::Add if wide && reg && self.hints[d] == RegionHint::Unknown => self.hints[s],
            O::Add | O::Sub if wide && reg => self.hints[d],
            O::LdMapValue => RegionHint::Input,
            _ => RegionHint::Unknown,
        };
        let written = ins.written_registers();
        for (r, h) in self.hints.iter_mut().enumerate() {
            if written & (1 << r) != 0 {
                *h = RegionHint::Unknown;
            }
        }
        if written & (1 << d) != 0 {
            self.hints[d] = hint;
        }
        self.checked_ranges
            .retain(|&(base, _, _)| written & (1 << base) == 0);
    }

    /// Charges the current block's `n` instructions to the counter.
    pub fn charge(&mut self, n: u64) {
        if self.counting {
            self.sub_counter(n);
        }
        self.extra = 0;
    }

    /// `sub rcx, n` (sets the flags from the new counter).
    pub fn sub_counter(&mut self, n: u64) {
        match i8::try_from(n) {
            Ok(b) => x64!(self.ops ; sub rcx, BYTE b),
            Err(_) => x64!(self.ops ; sub rcx, n as i32),
        }
    }

    /// Registers an early exit at the current instruction and returns the
    /// label of its stub.
    pub fn exit_site(
        &mut self,
        outcome: SiteOutcome,
        addr: SiteAddr,
        size: u8,
        value: StubValue,
    ) -> DynamicLabel {
        let site = self.sites.len() as u32;
        self.sites.push(Site {
            outcome,
            pc: self.pc,
            addr,
            size,
            extra: self.extra,
        });
        let label = self.ops.new_dynamic_label();
        let what = StubKind::Exit(outcome);
        self.stubs
            .push((self.pc, what, Stub::Exit { label, site, value }));
        label
    }

    /// A fault site of `kind` at the current instruction.
    pub fn fault(
        &mut self,
        kind: FaultKind,
        addr: SiteAddr,
        size: u8,
        value: StubValue,
    ) -> DynamicLabel {
        self.exit_site(SiteOutcome::Fault(kind), addr, size, value)
    }

    /// An out-of-line bounds check of the access at `base + disp` against
    /// `region`: resumes at `resume` when it is inside, else goes to `fault`.
    pub fn region_stub(
        &mut self,
        base: u8,
        disp: i32,
        region: RegionCheck,
        resume: DynamicLabel,
        fault: DynamicLabel,
    ) -> DynamicLabel {
        let label = self.ops.new_dynamic_label();
        self.stubs.push((
            self.pc,
            StubKind::OtherRegion,
            Stub::Region {
                label,
                resume,
                fault,
                base,
                disp,
                region,
            },
        ));
        label
    }

    /// An out-of-line division fix-up that resumes at `resume`.
    pub fn div_stub(&mut self, dst: u8, fix: DivFix, resume: DynamicLabel) -> DynamicLabel {
        let label = self.ops.new_dynamic_label();
        let what = StubKind::Div(fix);
        self.stubs.push((
            self.pc,
            what,
            Stub::Div {
                label,
                resume,
                dst,
                fix,
            },
        ));
        label
    }

    fn emit_stubs(&mut self) {
        let leave = self.leave;
        for (pc, what, stub) in std::mem::take(&mut self.stubs) {
            self.mark(Segment::Stub { pc, what });
            match stub {
                Stub::Exit { label, site, value } => {
                    x64!(self.ops ; =>label);
                    match value {
                        StubValue::None => {}
                        StubValue::R11Slot => x64!(self.ops ; shr r11, 3),
                        StubValue::Lea { base, disp } => {
                            x64!(self.ops ; lea r11, [Rq(base) + disp])
                        }
                    }
                    if !matches!(value, StubValue::None) {
                        x64!(self.ops ; mov [r12 + off::FAULT_VALUE], r11);
                    }
                    x64!(self.ops
                        ; mov QWORD [r12 + off::SITE], site as i32
                        ; jmp =>leave
                    );
                }
                Stub::Div {
                    label,
                    resume,
                    dst,
                    fix,
                } => {
                    x64!(self.ops ; =>label);
                    self.div_fix(dst, fix);
                    x64!(self.ops ; jmp =>resume);
                }
                Stub::Region {
                    label,
                    resume,
                    fault,
                    base,
                    disp,
                    region,
                } => {
                    x64!(self.ops
                        ; =>label
                        ; lea r10, [Rq(base) + disp]
                        ; sub r10, [r12 + region.low]
                        ; cmp r10, [r12 + region.lim]
                        ; jae =>fault
                        ; jmp =>resume
                    );
                }
            }
        }
    }

    /// `callx` entry points: for an instruction in the middle of a block,
    /// first un-charge the instructions before it (the block's count is
    /// charged whole at its end).
    fn callx_entries(&mut self) -> Vec<Option<DynamicLabel>> {
        let mut entries = vec![None; self.a.slots];
        if !self.a.has_callx {
            return entries;
        }
        for (j, (pc, _)) in self.a.insns.iter().enumerate() {
            let k = (j - self.a.block_start[j]) as i32;
            let target = self.label(*pc);
            if k == 0 || !self.counting {
                entries[*pc] = Some(target);
                continue;
            }
            self.mark(Segment::Stub {
                pc: *pc,
                what: StubKind::CallxEntry(k as u64),
            });
            let entry = self.ops.new_dynamic_label();
            x64!(self.ops
                ; =>entry
                ; add rcx, k
                ; jmp =>target
            );
            entries[*pc] = Some(entry);
        }
        entries
    }

    fn finish(mut self, entry: AssemblyOffset) -> Compiled {
        self.emit_stubs();
        let entries = self.callx_entries();
        let offsets: Vec<Option<usize>> = entries
            .iter()
            .map(|e| {
                e.map(|l| {
                    self.ops
                        .labels()
                        .resolve_dynamic(l)
                        .expect("callx entry label is bound")
                        .0
                })
            })
            .collect();
        let bytes = self
            .ops
            .finalize()
            .expect("JIT code has only bound labels and near jumps");
        let code = CodeMemory::new(&bytes);
        let base = code.ptr(AssemblyOffset(0)) as u64;
        let callx_table = offsets
            .iter()
            .map(|o| o.map_or(0, |o| base + o as u64))
            .collect();
        // SAFETY: the code at `entry` is the trampoline emitted by
        // `runtime`: it follows the sysv64 convention, takes the context
        // pointer and returns `Stopped` in rax:rdx. It stays mapped as long
        // as `code`, which `Compiled` owns next to the pointer.
        let entry: Entry = unsafe { std::mem::transmute(code.ptr(entry)) };
        Compiled {
            code,
            entry,
            sites: self.sites,
            callx_table,
            counting: self.counting,
            layout: self.layout,
            insns: Vec::new(),
        }
    }

    /// The target of instruction `j`.
    pub fn target(&self, j: usize) -> Target {
        self.a.targets[j]
    }
}
