//! The exploration pass (`do_check` of Linux 6.18 `kernel/bpf/verifier.c`):
//! every path from the entry is followed instruction by instruction on
//! the abstract state, with branches the state decides skipped
//! (`is_branch_taken`), the other branch pushed with refined bounds
//! (`reg_set_min_max`), and state pruning at prune points
//! (`is_state_visited`).
//!
//! Pruning is sound by construction: a state is pruned only when it is
//! contained in a fully explored state at the same instruction
//! (`regsafe`/`stacksafe` in the kernel's `RANGE_WITHIN` sense: every
//! scalar is treated as precise, so containment is exact range and tnum
//! inclusion; a register the old state never initialised contains
//! anything, and root's uninitialised or `STACK_MISC` stack bytes contain
//! anything). This replaces the kernel's precision tracking
//! (`mark_chain_precision`) with its most conservative case; it may keep
//! more states than the kernel, never fewer.
//!
//! A state exactly equal to one still being explored at the same
//! instruction (a loop that made no progress) is `infinite loop detected
//! at insn %d`; more than 1,000,000 processed instructions is `BPF program
//! is too large. Processed %d insn`.

use super::insn_rules;
use super::linked::{add_const_link, sync_linked_regs, IdMap};
use super::log;
use super::scalar::{ScalarBounds, ADD_CONST};
use super::stack::{ByteType, Slot};
use super::state::{Pointer, PtrKind, Reg, State};
use super::structural::StructureInfo;
use super::subprog::{self, subprog_containing};
use super::transfer::alu;
use super::transfer::call::{self, ExitResult};
use super::transfer::helper_args;
use super::transfer::jmp;
use super::transfer::mem::{self, Access};
use super::transfer::ptr;
use super::transfer::{ld_abs, pkt};
use super::verdict::{RejectClass, Rejection};
use crate::asm::kernel::disassemble_instruction;
use crate::decode::Instruction;
use crate::insn::Insn;
use crate::maps::MapDef;
use crate::opcode::{Class, Operation, Size, Source};
use crate::prog_type::ProgType;
use std::fmt::Write;

/// `BPF_COMPLEXITY_LIMIT_INSNS`.
pub const COMPLEXITY_LIMIT: u64 = 1_000_000;

/// The most states kept at one instruction. Keeping fewer states only
/// prunes less (sound); it bounds the cost of each visit. The kernel evicts
/// states that rarely prune instead (`miss_cnt`/`hit_cnt`).
pub const MAX_KEPT_PER_INSN: usize = 64;

/// Counters of an exploration, as the kernel's closing log line has them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Instructions processed (`processed N insns`).
    pub processed: u64,
    /// The most states kept at one instruction.
    pub max_states_per_insn: u32,
    /// States kept in total.
    pub total_states: u32,
    /// Paths pruned.
    pub pruned: u32,
}

/// A kept state.
struct Kept {
    state: State,
    /// Live paths descending from it (0: fully explored).
    branches: u32,
    parent: Option<u32>,
}

/// A path being explored.
struct Path {
    state: State,
    pc: usize,
    parent: Option<u32>,
    /// Log length to restore when this path starts (level 1).
    log_pos: usize,
    from: Option<usize>,
}

/// The explorer of one program.
pub struct Explorer<'a> {
    insns: &'a [Insn],
    info: &'a StructureInfo,
    input_len: usize,
    log_level: u32,
    /// The log so far.
    pub log: String,
    prune_point: Vec<bool>,
    kept: Vec<Kept>,
    at: Vec<Vec<u32>>,
    /// Stack depth per subprogram.
    pub stack_depths: Vec<u32>,
    /// Counters.
    pub stats: Stats,
    jmps: u64,
    /// The program type (`Input`: the harness's wrapper model).
    prog_type: ProgType,
    /// `env->id_gen`: the last packet pointer or maybe-null id handed out.
    id_gen: u32,
    /// The program's maps (`ld_imm64` src 1/2 index them).
    maps: Vec<MapDef>,
    prev_jmps: u64,
    prev_insns: u64,
    notes: Vec<String>,
    /// When requested ([`Explorer::record_states`]): per instruction, the
    /// states paths had on reaching it.
    record: Option<Recorder>,
}

/// The states recorded per instruction, and how many in all.
struct Recorder {
    at: Vec<Vec<State>>,
    /// Per instruction: the indices into `at[pc]` of the states with a
    /// given hash (so that a state is recorded once, in constant time).
    seen: Vec<rustc_hash::FxHashMap<u64, Vec<u32>>>,
    total: usize,
    limit: usize,
    complete: bool,
}

/// The abstract states an exploration reached, per instruction
/// ([`Explorer::record_states`]).
#[derive(Clone, Debug, Default)]
pub struct Explored {
    /// `states[pc]`: every distinct state a path had on reaching `pc`
    /// (before the pruning check, so a pruned path's own state is here,
    /// and the state that pruned it was recorded when its path came by).
    pub states: Vec<Vec<State>>,
    /// False when the recording stopped at its limit (later states were
    /// not recorded; a concrete run can then not be checked).
    pub complete: bool,
}

impl Recorder {
    /// Records `st` at `pc` unless an equal state is there already.
    #[cold]
    fn add(&mut self, pc: usize, st: &State) {
        use std::hash::BuildHasher;
        // FxHash: the recorder hashes a whole state per processed
        // instruction, and SipHash made that most of a recording run.
        let hash = rustc_hash::FxBuildHasher.hash_one(st);
        let at = &mut self.at[pc];
        let same = self.seen[pc].entry(hash).or_default();
        if same.iter().any(|&k| at[k as usize] == *st) {
            return;
        }
        if self.total >= self.limit {
            self.complete = false;
            return;
        }
        self.total += 1;
        same.push(at.len() as u32);
        at.push(st.clone());
    }
}

enum Step {
    Next(usize),
    Branch {
        fall: usize,
        taken: usize,
        other: State,
    },
    Done,
}

fn not_readable(pc: usize, r: u8) -> Rejection {
    Rejection::new(
        pc,
        RejectClass::RegisterNotReadable,
        format!("R{r} !read_ok"),
    )
}

impl<'a> Explorer<'a> {
    /// An explorer for `insns` (which passed the structural pass `info`).
    pub fn new(
        insns: &'a [Insn],
        info: &'a StructureInfo,
        input_len: usize,
        log_level: u32,
    ) -> Explorer<'a> {
        let mut prune_point = vec![false; insns.len() + 1];
        for &t in &info.jump_targets {
            if t < prune_point.len() {
                prune_point[t] = true;
            }
        }
        for &pc in &info.insn_starts {
            let i = &insns[pc];
            let class = i.opcode & 7;
            if (class == 5 || class == 6) && i.opcode & 0xf0 != 0 && i.opcode & 0xf0 < 0x80
                || (class == 5 || class == 6) && matches!(i.opcode & 0xf0, 0xa0..=0xd0)
            {
                prune_point[pc] = true;
            }
            if i.opcode == 0x85 {
                prune_point[pc + 1] = true;
            }
        }
        Explorer {
            insns,
            info,
            input_len,
            log_level,
            log: String::new(),
            prune_point,
            kept: Vec::new(),
            at: vec![Vec::new(); insns.len()],
            stack_depths: vec![0; info.subprogs.len()],
            stats: Stats::default(),
            jmps: 0,
            prev_jmps: 0,
            prev_insns: 0,
            notes: Vec::new(),
            prog_type: ProgType::Input,
            id_gen: 0,
            maps: Vec::new(),
            record: None,
        }
    }

    /// Records every state a path has on reaching an instruction, up to
    /// `limit` states in all (see [`Explored`]). Off by default: an
    /// exploration that records nothing only tests for it once per
    /// processed instruction.
    pub fn record_states(&mut self, limit: usize) {
        self.record = Some(Recorder {
            at: vec![Vec::new(); self.insns.len()],
            seen: vec![Default::default(); self.insns.len()],
            total: 0,
            limit,
            complete: true,
        });
    }

    /// The states recorded so far (`None` unless [`Explorer::record_states`]
    /// was called).
    pub fn take_explored(&mut self) -> Option<Explored> {
        self.record.take().map(|r| Explored {
            states: r.at,
            complete: r.complete,
        })
    }

    /// Verifies the program as a program of `prog_type` loaded as itself
    /// (docs/program-types.md) instead of the wrapper's subprogram.
    pub fn set_prog_type(&mut self, prog_type: ProgType) {
        self.prog_type = prog_type;
    }

    /// The program's maps: `ld_imm64` src 1 imm i is map i (the caller
    /// has checked the indices, see `verify::resolve`).
    pub fn set_maps(&mut self, maps: &[MapDef]) {
        self.maps = maps.to_vec();
    }

    /// Explores every path; the first error ends it.
    pub fn run(&mut self) -> Result<(), Rejection> {
        let entry = State::entry_for(self.prog_type, self.input_len);
        if self.log_level >= 2 {
            let _ = writeln!(self.log, "0: {}", log::state(&entry));
        }
        let mut work = vec![Path {
            state: entry,
            pc: 0,
            parent: None,
            log_pos: 0,
            from: None,
        }];
        while let Some(mut path) = work.pop() {
            if self.log_level == 1 {
                self.log.truncate(path.log_pos);
            }
            if let Some(from) = path.from {
                if self.log_level >= 2 {
                    let _ = writeln!(
                        self.log,
                        "from {from} to {}: {}",
                        path.pc,
                        log::state(&path.state)
                    );
                }
            }
            let r = self.follow(&mut path, &mut work);
            if let Err(e) = r {
                if self.log_level > 0 {
                    for n in self.notes.drain(..) {
                        let _ = writeln!(self.log, "{n}");
                    }
                    let _ = writeln!(self.log, "{}", e.message);
                }
                return Err(e);
            }
            self.finish_path(path.parent);
        }
        Ok(())
    }

    /// `update_branch_counts`.
    fn finish_path(&mut self, mut parent: Option<u32>) {
        while let Some(p) = parent {
            let k = &mut self.kept[p as usize];
            k.branches -= 1;
            if k.branches > 0 {
                break;
            }
            parent = k.parent;
        }
    }

    fn follow(&mut self, path: &mut Path, work: &mut Vec<Path>) -> Result<(), Rejection> {
        loop {
            let pc = path.pc;
            self.stats.processed += 1;
            if self.stats.processed > COMPLEXITY_LIMIT {
                return Err(Rejection::new(
                    pc,
                    RejectClass::ComplexityLimit,
                    format!(
                        "BPF program is too large. Processed {} insn",
                        self.stats.processed
                    ),
                ));
            }
            if let Some(rec) = &mut self.record {
                rec.add(pc, &path.state);
            }
            if self.prune_point[pc] && self.visited(path)? {
                self.stats.pruned += 1;
                if self.log_level >= 2 {
                    let _ = writeln!(self.log, "{pc}: safe");
                }
                return Ok(());
            }
            let step = self.step(&mut path.state, pc)?;
            match step {
                Step::Next(n) => path.pc = n,
                Step::Done => return Ok(()),
                Step::Branch { fall, taken, other } => {
                    self.jmps += 1;
                    if let Some(p) = path.parent {
                        self.kept[p as usize].branches += 1;
                    }
                    work.push(Path {
                        state: other,
                        pc: taken,
                        parent: path.parent,
                        log_pos: self.log.len(),
                        from: Some(pc),
                    });
                    path.pc = fall;
                }
            }
        }
    }

    /// `is_state_visited`: true when the path can be pruned.
    fn visited(&mut self, path: &mut Path) -> Result<bool, Rejection> {
        let pc = path.pc;
        let mut looping = false;
        for &k in &self.at[pc] {
            let old = &self.kept[k as usize];
            if !same_callsites(&old.state, &path.state) {
                continue;
            }
            if old.branches > 0 {
                if old.state == path.state {
                    return Err(Rejection::new(
                        pc,
                        RejectClass::InfiniteLoop,
                        format!("infinite loop detected at insn {pc}"),
                    ));
                }
                looping = true;
                continue;
            }
            if states_contain(&old.state, &path.state) {
                return Ok(true);
            }
        }
        let (dj, di) = (
            self.jmps - self.prev_jmps,
            self.stats.processed - self.prev_insns,
        );
        let add = if looping {
            dj >= 20 || di >= 100
        } else {
            dj >= 2 && di >= 8
        };
        if (!add && !self.at[pc].is_empty()) || self.at[pc].len() >= MAX_KEPT_PER_INSN {
            return Ok(false);
        }
        self.prev_jmps = self.jmps;
        self.prev_insns = self.stats.processed;
        let idx = self.kept.len() as u32;
        self.kept.push(Kept {
            state: path.state.clone(),
            branches: 1,
            parent: path.parent,
        });
        path.parent = Some(idx);
        self.at[pc].push(idx);
        self.stats.total_states += 1;
        self.stats.max_states_per_insn =
            self.stats.max_states_per_insn.max(self.at[pc].len() as u32);
        Ok(false)
    }

    fn read(&self, st: &State, pc: usize, r: u8) -> Result<Reg, Rejection> {
        let v = st.cur().regs[r as usize];
        if v == Reg::NotInit {
            return Err(not_readable(pc, r));
        }
        Ok(v)
    }

    fn line(&mut self, pc: usize, ins: &Instruction) {
        if self.log_level >= 1 {
            let _ = write!(
                self.log,
                "{pc}: ({:02x}) {}",
                ins.row.opcode,
                disassemble_instruction(ins)
            );
        }
    }

    fn end_line(&mut self, st: &State, dst: Option<u8>) {
        if self.log_level >= 2 {
            if let Some(d) = dst {
                let _ = write!(self.log, " ; R{d}={}", log::reg(&st.cur().regs[d as usize]));
            }
        }
        if self.log_level >= 1 {
            self.log.push('\n');
        }
    }

    fn step(&mut self, st: &mut State, pc: usize) -> Result<Step, Rejection> {
        let ins = match insn_rules::decode(self.insns, pc) {
            Ok(ins) => ins,
            Err(e) => {
                if let Some(r) = insn_rules::read_before(&self.insns[pc], &e) {
                    self.read(st, pc, r)?;
                }
                return Err(e);
            }
        };
        self.line(pc, &ins);
        let r = self.exec(st, pc, &ins);
        if r.is_err() && self.log_level >= 1 {
            self.log.push('\n');
        }
        let step = r?;
        let dst = match ins.row.class {
            Class::Alu | Class::Alu64 | Class::Ldx => Some(ins.dst),
            Class::Ld => Some(ins.dst),
            _ => None,
        };
        if !matches!(step, Step::Done) {
            self.end_line(st, dst);
        } else if self.log_level >= 1 {
            self.log.push('\n');
        }
        Ok(step)
    }

    fn depth(&mut self, st: &State, d: Option<(usize, u32)>) {
        if let Some((frame, depth)) = d {
            let sp = st.frames[frame].subprog;
            let e = &mut self.stack_depths[sp];
            *e = (*e).max(depth);
        }
    }

    fn exec(&mut self, st: &mut State, pc: usize, ins: &Instruction) -> Result<Step, Rejection> {
        let row = ins.row;
        let next = pc + row.slots();
        match row.class {
            Class::Alu | Class::Alu64 => {
                self.alu(st, pc, ins)?;
                Ok(Step::Next(next))
            }
            Class::Ldx | Class::St | Class::Stx => {
                self.memory(st, pc, ins)?;
                Ok(Step::Next(next))
            }
            Class::Ld => {
                let v = match row.operation {
                    Operation::LdImm64 => Reg::constant(
                        (ins.imm as u32 as u64) | ((ins.next_imm as u32 as u64) << 32),
                    ),
                    Operation::LdMapFd => {
                        Reg::Ptr(Pointer::fixed(PtrKind::MapPtr { map: ins.imm as u8 }, 0))
                    }
                    Operation::LdMapValue if !self.maps.is_empty() => Reg::Ptr(Pointer::fixed(
                        PtrKind::Mem {
                            size: self.maps[ins.imm as usize].value_size,
                        },
                        ins.next_imm,
                    )),
                    Operation::LdMapValue => Reg::Ptr(Pointer::fixed(
                        PtrKind::Mem {
                            size: self.input_len as u32,
                        },
                        ins.next_imm,
                    )),
                    Operation::LdAbs | Operation::LdInd if self.prog_type.may_access_skb() => {
                        ld_abs::check(st, pc, ins)?;
                        return Ok(Step::Next(next));
                    }
                    Operation::LdAbs | Operation::LdInd => {
                        return Err(Rejection::new(
                            pc,
                            RejectClass::InvalidMemoryAccess,
                            "BPF_LD_[ABS|IND] instructions not allowed for this program type",
                        ))
                    }
                    other => {
                        return Err(Rejection::new(
                            pc,
                            RejectClass::Unsupported,
                            format!("ld_imm64 {other:?} is not modeled by the engine's verifier"),
                        ))
                    }
                };
                insn_rules::frame_pointer_write(pc, ins)?;
                st.cur_mut().regs[ins.dst as usize] = v;
                Ok(Step::Next(next))
            }
            Class::Jmp | Class::Jmp32 => self.jump(st, pc, ins),
        }
    }

    fn alu(&mut self, st: &mut State, pc: usize, ins: &Instruction) -> Result<(), Rejection> {
        let row = ins.row;
        let alu64 = row.class == Class::Alu64;
        let op = row.operation;
        let d = ins.dst;
        let reg_src = row.source == Source::Reg;
        let result = match op {
            Operation::Mov | Operation::MovSx => {
                let src = if reg_src {
                    Some(self.read(st, pc, ins.src)?)
                } else {
                    None
                };
                insn_rules::frame_pointer_write(pc, ins)?;
                match src {
                    None => Reg::Scalar(alu::mov_imm(alu64, ins.imm)),
                    Some(Reg::Scalar(s)) if op == Operation::Mov => {
                        Reg::Scalar(alu::mov(alu64, &s))
                    }
                    Some(Reg::Scalar(s)) => {
                        let bits = row.size.map_or(64, Size::bits);
                        Reg::Scalar(alu::movsx(alu64, bits, &s))
                    }
                    Some(p) if op == Operation::Mov && alu64 => p,
                    Some(_) if alu64 => Reg::unknown(),
                    Some(_) => Reg::Scalar(alu::mov(false, &ScalarBounds::unknown())),
                }
            }
            Operation::Neg | Operation::Le | Operation::Be | Operation::Bswap => {
                let v = self.read(st, pc, d)?;
                insn_rules::frame_pointer_write(pc, ins)?;
                match (op, v) {
                    (Operation::Neg, Reg::Scalar(s)) => {
                        Reg::Scalar(alu::adjust_scalar_min_max_vals(op, alu64, &s, &s))
                    }
                    (_, Reg::Scalar(s)) => {
                        let bits = row.size.map_or(64, Size::bits);
                        Reg::Scalar(alu::endian(op, bits, &s))
                    }
                    _ => Reg::unknown(),
                }
            }
            _ => {
                let src = if reg_src {
                    self.read(st, pc, ins.src)?
                } else {
                    Reg::Scalar(alu::imm_operand(ins.imm))
                };
                let dv = self.read(st, pc, d)?;
                insn_rules::alu_immediate(pc, ins)?;
                insn_rules::frame_pointer_write(pc, ins)?;
                match (dv, src) {
                    (Reg::Scalar(a), Reg::Scalar(b)) => {
                        Reg::Scalar(alu::adjust_scalar_min_max_vals(op, alu64, &a, &b))
                    }
                    _ => ptr::pointer_alu(pc, op, alu64, d, &dv, &src)?,
                }
            }
        };
        let mut result = result;
        if let Reg::Scalar(r) = &mut result {
            let before = st.cur().regs[d as usize];
            (r.id, r.link_off) = (0, 0);
            if reg_src && matches!(op, Operation::Mov | Operation::MovSx) {
                (r.id, r.link_off) = self.link_mov(st, ins, alu64)?;
            } else if let Reg::Scalar(dst) = before {
                let src = if reg_src {
                    st.cur().regs[ins.src as usize]
                } else {
                    Reg::Scalar(alu::imm_operand(ins.imm))
                };
                (r.id, r.link_off) = add_const_link(op, alu64, &dst, &src, reg_src && ins.src == d);
            }
        }
        pkt::assign_fresh_id(&mut result, &mut self.id_gen);
        st.cur_mut().regs[d as usize] = result;
        Ok(())
    }

    /// The id a register move gives its destination (`check_alu_op`, 6.18):
    /// a 64-bit `mov` always links the two registers, a 32-bit one when
    /// the source fits 32 bits (`get_reg_width`), a sign-extending one when
    /// the source is below the sign bit of the narrow width. A linked
    /// source without an id gets a fresh one unless it is a constant
    /// (`assign_scalar_id_before_mov`). 0: not linked.
    fn link_mov(
        &mut self,
        st: &mut State,
        ins: &Instruction,
        alu64: bool,
    ) -> Result<(u32, i32), Rejection> {
        let Reg::Scalar(src) = st.cur().regs[ins.src as usize] else {
            return Ok((0, 0));
        };
        let link = match ins.row.operation {
            Operation::Mov if alu64 => true,
            Operation::Mov => src.width() <= 32,
            _ => {
                let bits = ins.row.size.map_or(64, Size::bits);
                bits < 64 && src.umax < 1u64 << (bits - 1)
            }
        };
        if !link {
            return Ok((0, 0));
        }
        let id = self.assign_scalar_id(st, ins.src);
        Ok((id, 0))
    }

    /// `assign_scalar_id_before_mov` on register `r` of the current frame:
    /// its id, a fresh one when it has none and is not a constant.
    fn assign_scalar_id(&mut self, st: &mut State, r: u8) -> u32 {
        let Reg::Scalar(s) = &mut st.cur_mut().regs[r as usize] else {
            return 0;
        };
        // A copy of `rX += K` starts a new link (one delta per link).
        if s.id & ADD_CONST != 0 {
            (s.id, s.link_off) = (0, 0);
        }
        if s.id == 0 && !s.var_off.is_const() {
            self.id_gen += 1;
            s.id = self.id_gen;
        }
        s.id
    }

    fn memory(&mut self, st: &mut State, pc: usize, ins: &Instruction) -> Result<(), Rejection> {
        let row = ins.row;
        let size = row.size.map_or(8, Size::bytes);
        let op = row.operation;
        match op {
            Operation::Load | Operation::LoadSx | Operation::LoadAcquire => {
                let base = self.read(st, pc, ins.src)?;
                insn_rules::frame_pointer_write(pc, ins)?;
                let strict = op == Operation::LoadAcquire;
                let r = mem::check_mem_access(
                    st,
                    pc,
                    ins.src,
                    &base,
                    ins.off,
                    size,
                    Access::Read,
                    strict,
                    &mut self.notes,
                )?;
                self.depth(st, r.stack_depth);
                if op == Operation::LoadSx {
                    pkt::refuse_sign_extended_pointer_load(pc, &base, ins.off, size, &r.loaded)?;
                }
                let mut v = r.loaded.unwrap_or_else(Reg::unknown);
                if let Reg::Scalar(s) = &mut v {
                    if size < 8 {
                        if op == Operation::LoadSx {
                            s.coerce_to_size_sx(size as u32);
                            // A sign-extended copy is another 64-bit value
                            // than the spilled scalar it was filled from
                            // whenever the sign bit is set: no link (the
                            // kernel refuses what a kept link would let
                            // through; test
                            // a_sign_extending_fill_does_not_link_...).
                            s.id = 0;
                            s.link_off = 0;
                        } else {
                            s.coerce_to_size(size as u32);
                        }
                    }
                }
                st.cur_mut().regs[ins.dst as usize] = v;
            }
            Operation::StoreImm => {
                let base = self.read(st, pc, ins.dst)?;
                let r = mem::check_mem_access(
                    st,
                    pc,
                    ins.dst,
                    &base,
                    ins.off,
                    size,
                    Access::WriteImm(ins.imm),
                    false,
                    &mut self.notes,
                )?;
                self.depth(st, r.stack_depth);
            }
            Operation::StoreReg | Operation::StoreRelease => {
                let mut v = self.read(st, pc, ins.src)?;
                let base = self.read(st, pc, ins.dst)?;
                // check_stack_write_fixed_off: a scalar spilled to a slot
                // boundary whose value fits the store links register and
                // slot (the slot gets the register's id).
                if let (Reg::Scalar(s), Reg::Ptr(p)) = (&v, &base) {
                    let fixed = p.var.var_off.is_const() && p.var.var_off.value == 0;
                    let slot_aligned = (p.off as i64 + ins.off as i64) % 8 == 0;
                    if matches!(p.kind, PtrKind::Stack { .. })
                        && fixed
                        && slot_aligned
                        && s.width() as usize <= 8 * size
                    {
                        self.assign_scalar_id(st, ins.src);
                        v = st.cur().regs[ins.src as usize];
                    }
                }
                let strict = op == Operation::StoreRelease;
                let r = mem::check_mem_access(
                    st,
                    pc,
                    ins.dst,
                    &base,
                    ins.off,
                    size,
                    Access::WriteReg(&v),
                    strict,
                    &mut self.notes,
                )?;
                self.depth(st, r.stack_depth);
            }
            _ => {
                // Atomic read-modify-write (check_atomic_rmw).
                self.read(st, pc, ins.src)?;
                let base = self.read(st, pc, ins.dst)?;
                let cmpxchg = op == Operation::AtomicCmpxchg;
                if cmpxchg {
                    self.read(st, pc, 0)?;
                }
                let fetch = matches!(
                    op,
                    Operation::AtomicFetchAdd
                        | Operation::AtomicFetchOr
                        | Operation::AtomicFetchAnd
                        | Operation::AtomicFetchXor
                        | Operation::AtomicXchg
                        | Operation::AtomicCmpxchg
                );
                let load_reg = if cmpxchg { 0 } else { ins.src };
                if fetch && load_reg == 10 {
                    return Err(Rejection::new(
                        pc,
                        RejectClass::FramePointerReadOnly,
                        "frame pointer is read only",
                    ));
                }
                // check_reg_arg(load_reg, DST_OP) marks the fetch target
                // unknown before the memory checks: when it is also the
                // address register, the address is an unknown scalar.
                let base = if fetch && load_reg == ins.dst {
                    Reg::unknown()
                } else {
                    base
                };
                let r = mem::check_mem_access(
                    st,
                    pc,
                    ins.dst,
                    &base,
                    ins.off,
                    size,
                    Access::Read,
                    true,
                    &mut self.notes,
                )?;
                self.depth(st, r.stack_depth);
                mem::check_atomic_stack_offset(pc, &base, ins.off, size)?;
                let old = r.loaded.unwrap_or_else(Reg::unknown);
                let r = mem::check_mem_access(
                    st,
                    pc,
                    ins.dst,
                    &base,
                    ins.off,
                    size,
                    Access::WriteUnknown,
                    true,
                    &mut self.notes,
                )?;
                self.depth(st, r.stack_depth);
                if fetch {
                    let mut v = old;
                    if let Reg::Scalar(s) = &mut v {
                        if size < 8 {
                            s.coerce_to_size(size as u32);
                        }
                    }
                    st.cur_mut().regs[load_reg as usize] = v;
                }
            }
        }
        Ok(())
    }

    fn jump(&mut self, st: &mut State, pc: usize, ins: &Instruction) -> Result<Step, Rejection> {
        let row = ins.row;
        let op = row.operation;
        match op {
            Operation::Ja => {
                self.jmps += 1;
                let off = if row.class == Class::Jmp32 {
                    ins.imm as i64
                } else {
                    ins.off as i64
                };
                Ok(Step::Next((pc as i64 + off + 1) as usize))
            }
            Operation::Call => {
                let effect = helper_args::helper_call(
                    st,
                    pc,
                    ins.imm,
                    self.prog_type,
                    &self.maps,
                    &mut self.id_gen,
                )?;
                self.depth(st, effect.stack_depth);
                Ok(Step::Next(pc + 1))
            }
            Operation::CallLocal => {
                let above = if self.prog_type == ProgType::Input {
                    call::HARNESS_FRAMES
                } else {
                    0
                };
                let t = call::local_call_below(st, &self.info.subprogs, pc, ins.imm, above)?;
                Ok(Step::Next(t))
            }
            Operation::CallKfunc | Operation::Callx => Err(Rejection::new(
                pc,
                RejectClass::Unsupported,
                format!(
                    "{}: kfunc and callx calls are not modeled by the engine's verifier",
                    row.mnemonic
                ),
            )),
            Operation::Exit if self.prog_type != ProgType::Input && st.frames.len() == 1 => {
                // check_return_code: r0 readable; root may return pointers.
                if st.cur().regs[0] == Reg::NotInit {
                    return Err(Rejection::new(
                        pc,
                        RejectClass::R0NotReadableAtExit,
                        "R0 !read_ok",
                    ));
                }
                Ok(Step::Done)
            }
            Operation::Exit => match call::exit(st, pc)? {
                ExitResult::Return(n) => Ok(Step::Next(n)),
                ExitResult::ProgramDone => Ok(Step::Done),
            },
            _ => self.cond(st, pc, ins),
        }
    }

    fn cond(&mut self, st: &mut State, pc: usize, ins: &Instruction) -> Result<Step, Rejection> {
        let row = ins.row;
        let op = row.operation;
        let jmp32 = row.class == Class::Jmp32;
        let a = self.read(st, pc, ins.dst)?;
        let reg_src = row.source == Source::Reg;
        let b = if reg_src {
            self.read(st, pc, ins.src)?
        } else {
            Reg::Scalar(alu::imm_operand(ins.imm))
        };
        let taken_pc = (pc as i64 + ins.off as i64 + 1) as usize;
        // check_cond_jmp_op: `if rX ==/!= 0` on a maybe-null pointer
        // resolves it in both branches (mark_ptr_or_null_regs).
        if let Reg::Ptr(Pointer {
            kind: PtrKind::MapValueOrNull { id, .. },
            ..
        }) = a
        {
            if !jmp32 && !reg_src && ins.imm == 0 && matches!(op, Operation::Jeq | Operation::Jne) {
                self.jmps += 1;
                let mut other = st.clone();
                let taken_is_null = op == Operation::Jeq;
                helper_args::mark_ptr_or_null(&mut other, id, taken_is_null);
                helper_args::mark_ptr_or_null(st, id, !taken_is_null);
                return Ok(Step::Branch {
                    fall: pc + 1,
                    taken: taken_pc,
                    other,
                });
            }
        }
        let pred = match (&a, &b) {
            (Reg::Scalar(x), Reg::Scalar(y)) => jmp::is_branch_taken(op, jmp32, x, y),
            (Reg::Ptr(_), Reg::Ptr(_)) if !jmp32 => pkt::branch_taken(&a, &b, op),
            // A 32-bit comparison of a pointer is never decided: measured
            // on Linux 6.18, `if w1 != 0` with r1 a map value explores both
            // branches.
            (Reg::Ptr(_), Reg::Scalar(_)) | (Reg::Scalar(_), Reg::Ptr(_)) if jmp32 => None,
            // reg_not_null: only a map value is known non-null here; stack,
            // ctx and packet pointers compared with 0 explore both branches.
            (Reg::Ptr(p), Reg::Scalar(y)) | (Reg::Scalar(y), Reg::Ptr(p)) => {
                let c = y.var_off.is_const().then_some(y.var_off.value);
                ptr::pointer_branch_taken(op, p, c)
            }
            _ => None,
        };
        self.jmps += 1;
        match pred {
            Some(true) => return Ok(Step::Next(taken_pc)),
            Some(false) => return Ok(Step::Next(pc + 1)),
            None => {}
        }
        let mut other = st.clone();
        if let (Reg::Scalar(x), Reg::Scalar(y)) = (&a, &b) {
            let same = reg_src && ins.src == ins.dst;
            if !same {
                if let Some(b) = jmp::reg_set_min_max(op, jmp32, x, y) {
                    // A refinement that leaves no value: when the tnum
                    // has one value left, Linux 6.18 makes the register
                    // that constant (measured: `r7 = u32 << 7; if r7 >
                    // 128 goto; if r7 > 255 goto` leaves R7=128 on the
                    // fall-through, without an invariant violation);
                    // otherwise the bounds are reset.
                    let fix = |s: ScalarBounds| {
                        if !s.is_contradictory() {
                            s
                        } else if s.var_off.is_const() && s.var_off.value & s.var_off.mask == 0 {
                            ScalarBounds::constant(s.var_off.value)
                        } else {
                            ScalarBounds::unknown()
                        }
                    };
                    let keep = |mut s: ScalarBounds, from: &ScalarBounds| {
                        s = fix(s);
                        (s.id, s.link_off) = (from.id, from.link_off);
                        s
                    };
                    other.cur_mut().regs[ins.dst as usize] = Reg::Scalar(keep(b.taken.0, x));
                    st.cur_mut().regs[ins.dst as usize] = Reg::Scalar(keep(b.fallthrough.0, x));
                    if reg_src {
                        other.cur_mut().regs[ins.src as usize] = Reg::Scalar(keep(b.taken.1, y));
                        st.cur_mut().regs[ins.src as usize] = Reg::Scalar(keep(b.fallthrough.1, y));
                    }
                    // sync_linked_regs: the source's links, then the
                    // destination's, in both branches.
                    for branch in [&mut *st, &mut other] {
                        if reg_src {
                            sync_linked_regs(branch, ins.src);
                        }
                        sync_linked_regs(branch, ins.dst);
                    }
                }
            }
        }
        if reg_src && !jmp32 && a.is_pointer() && b.is_pointer() {
            pkt::try_match(op, ins.dst, ins.src, st, &mut other);
        }
        Ok(Step::Branch {
            fall: pc + 1,
            taken: taken_pc,
            other,
        })
    }
}

/// `same_callsites`.
fn same_callsites(a: &State, b: &State) -> bool {
    a.frames.len() == b.frames.len()
        && a.frames
            .iter()
            .zip(&b.frames)
            .all(|(x, y)| x.callsite == y.callsite)
}

/// `range_within` plus `tnum_in`.
fn scalar_within(old: &ScalarBounds, cur: &ScalarBounds) -> bool {
    old.umin <= cur.umin
        && old.umax >= cur.umax
        && old.smin <= cur.smin
        && old.smax >= cur.smax
        && old.u32_min <= cur.u32_min
        && old.u32_max >= cur.u32_max
        && old.s32_min <= cur.s32_min
        && old.s32_max >= cur.s32_max
        && old.var_off.includes(cur.var_off)
}

/// `regsafe` with every scalar precise (so its id is checked too).
fn regsafe(old: &Reg, cur: &Reg, ids: &mut IdMap) -> bool {
    match (old, cur) {
        (Reg::NotInit, _) => true,
        (Reg::Scalar(o), Reg::Scalar(c)) => {
            o.id & ADD_CONST == c.id & ADD_CONST
                && (o.id & ADD_CONST == 0 || o.link_off == c.link_off)
                && ids.check(o.id, c.id)
                && scalar_within(o, c)
        }
        (Reg::Ptr(o), Reg::Ptr(c)) if pkt::is_native_kind(o.kind) => {
            pkt::regsafe(o, c, scalar_within_ptr(&o.var, &c.var))
        }
        (Reg::Ptr(o), Reg::Ptr(c)) => {
            o.kind == c.kind
                && o.off == c.off
                && match o.kind {
                    PtrKind::Stack { .. } => o.var == c.var,
                    PtrKind::Mem { .. } => scalar_within_ptr(&o.var, &c.var),
                    _ => true,
                }
        }
        _ => false,
    }
}

/// `range_within` on the 64-bit bounds and `tnum_in` (pointers carry no
/// 32-bit bounds).
fn scalar_within_ptr(old: &ScalarBounds, cur: &ScalarBounds) -> bool {
    old.umin <= cur.umin
        && old.umax >= cur.umax
        && old.smin <= cur.smin
        && old.smax >= cur.smax
        && old.var_off.includes(cur.var_off)
}

/// `stacksafe` for a privileged loader.
fn stacksafe(old: &[Slot], cur: &[Slot], ids: &mut IdMap) -> bool {
    for (spi, o) in old.iter().enumerate() {
        let c = cur.get(spi);
        for i in 0..8 {
            let ot = o.types[i];
            if matches!(ot, ByteType::Invalid | ByteType::Misc) {
                continue;
            }
            let Some(c) = c else { return false };
            if ot != c.types[i] {
                return false;
            }
        }
        if o.is_spill() {
            let Some(c) = c else { return false };
            if !regsafe(&o.spilled, &c.spilled, ids) {
                return false;
            }
        }
    }
    true
}

/// `states_equal` (not exact): `old` contains `cur`.
fn states_contain(old: &State, cur: &State) -> bool {
    let mut ids = IdMap::default();
    old.frames.len() == cur.frames.len()
        && old.frames.iter().zip(&cur.frames).all(|(o, c)| {
            o.regs
                .iter()
                .zip(&c.regs)
                .all(|(a, b)| regsafe(a, b, &mut ids))
                && stacksafe(&o.stack.slots, &c.stack.slots, &mut ids)
        })
}

/// The subprogram containing `pc` (for callers that report per
/// subprogram).
pub fn subprog_of(info: &StructureInfo, pc: usize) -> usize {
    subprog_containing(&info.subprogs, pc).unwrap_or(0)
}

/// Runs `check_max_stack_depth` on the depths an exploration measured, for
/// a program `frames_below` frames above the kernel's frame 0.
pub fn check_stack(
    insns: &[Insn],
    info: &StructureInfo,
    depths: &[u32],
    frames_below: usize,
) -> Result<(), Rejection> {
    subprog::check_max_stack_depth_below(insns, &info.subprogs, depths, frames_below)
}
