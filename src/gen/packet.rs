//! The packet tiers: programs of the native packet types (`xdp`,
//! `sched_cls`, `socket_filter`; docs/program-types.md) with a random
//! packet, for the engine (verifier + interpreter) against the kernel
//! (native load + `BPF_PROG_TEST_RUN`).
//!
//! A program keeps the ctx in r6 and an accumulator in r7, runs a few
//! blocks, and returns r7. Each block is one of:
//!
//! - a ctx field read of a size the kernel allows (the engine's
//!   `prog_type::ctx::valid_access` lists them), folded into r7 unless the
//!   field is opaque (`__sk_buff.hash`);
//! - a ctx field write and read back (tc: `mark`, `priority`, `cb[]`, ...);
//! - a packet bounds check (`r4 = data + N; if r4 OP data_end`, the four
//!   unsigned comparisons in both operand orders, the safe side falling
//!   through or taken), then loads and stores at and around the checked
//!   edge, through `data` and through `r4` with negative offsets;
//! - the same against `data` from `data_meta` (the metadata area);
//! - a variable offset (a packet or ctx value bounded by a mask or an
//!   unsigned comparison) added to `data`, checked again, then accessed;
//! - legacy `LD_ABS` / `LD_IND` (socket filters and tc), offsets around
//!   the packet's end (the kernel's out-of-range load ends the program
//!   with 0);
//! - (cases that declare maps: about two in five, one or two ARRAY, HASH
//!   or PERCPU_ARRAY maps, key 4 or 8 bytes, value 8..64, 1..8 entries,
//!   some initial elements) a map block: `ld_imm64 src=1` of the map into
//!   r1, a key on the stack (constant, or the accumulator masked), then
//!   `bpf_map_lookup_elem`, a null check, and loads and stores in the
//!   value at fixed offsets (through r0 or r0 plus a constant) and at a
//!   variable offset bounded by a mask or an unsigned comparison; or
//!   `bpf_map_update_elem` (a value built on the stack, flags
//!   `BPF_ANY`/`BPF_NOEXIST`/`BPF_EXIST`) or `bpf_map_delete_elem`, with
//!   keys present or not; the helper's result folds into r7.
//!
//! [`Flavour::Accepted`] programs are meant to pass the kernel verifier;
//! [`Flavour::NearMiss`] programs have exactly one defect in one block:
//! an access one byte past the checked range, an access on the unsafe
//! side of the check, a comparison that proves nothing (signed, `==`,
//! `!=`, 32-bit), no re-check after a variable offset, an unbounded
//! variable, a ctx access of a size or offset the kernel refuses, a write
//! the type forbids, a modified ctx pointer, `LD_ABS` where the type has
//! none, or `LD_IND` through a register `LD_ABS` clobbered; in a map
//! block: no null check before the value is used, an access one byte past
//! the value, an unbounded variable offset (a whole u64 from the value),
//! or a key pointer with less stack room than the key size. Every
//! instruction is a row of the one opcode table ([`opcode::lookup`]);
//! helper ids come from the engine's helper table
//! ([`helpers::HELPER_PROTOS`]).

use super::layout::{self, Item};
use super::{Case, Knobs};
use arbitrary::{Result, Unstructured};
use bpfdiff_engine::helpers;
use bpfdiff_engine::maps::{MapDef, MapType};
use bpfdiff_engine::opcode::{self, OpcodeRow};
use bpfdiff_engine::prog_type::ctx::{valid_access, Loaded};
use bpfdiff_engine::prog_type::env::min_packet_len;
use bpfdiff_engine::prog_type::{skb, xdp, ProgType};
use bpfdiff_engine::{Instruction, Program};

/// Which programs to make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    /// Programs the kernel verifier accepts (at a measured rate, see
    /// docs/program-types.md).
    Accepted,
    /// Programs with one near-miss defect the kernel should refuse.
    NearMiss,
}

/// The packet types, in the order the generator draws them.
pub const TYPES: [ProgType; 3] = [ProgType::Xdp, ProgType::SchedCls, ProgType::SocketFilter];

/// The ctx register.
const CTX: u8 = 6;
/// The accumulator the program returns.
const ACC: u8 = 7;

/// Where a jump goes.
#[derive(Clone, Copy, Debug)]
enum Tgt {
    /// An item index.
    At(usize),
    /// The first item after the current block.
    BlockEnd,
}

struct Gen<'a, 'b> {
    u: &'a mut Unstructured<'b>,
    t: ProgType,
    packet_len: usize,
    items: Vec<(Instruction, Option<Tgt>)>,
    block_start: usize,
    maps: Vec<MapDef>,
}

/// The id of helper `name` from the engine's helper table.
fn helper(name: &str) -> i32 {
    helpers::HELPER_PROTOS
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.id)
        .expect("the engine's helper table has this helper")
}

/// The `flags` of `bpf_map_update_elem`: `BPF_ANY`, `BPF_NOEXIST`,
/// `BPF_EXIST` (include/uapi/linux/bpf.h).
const UPDATE_FLAGS: [i32; 3] = [0, 1, 2];

/// Where a map block's key lives: `r10 - KEY_AT` (8 bytes of room).
const KEY_AT: i32 = 8;

fn row(opc: u8, src: u8, off: i16, imm: i32) -> &'static OpcodeRow {
    opcode::lookup(opc, src, off, imm).expect("the opcode table has this row")
}

/// `BPF_LDX | BPF_MEM | size`.
fn ldx_op(size: usize) -> u8 {
    match size {
        1 => 0x71,
        2 => 0x69,
        4 => 0x61,
        _ => 0x79,
    }
}

/// `BPF_STX | BPF_MEM | size`.
fn stx_op(size: usize) -> u8 {
    ldx_op(size) + 2
}

/// `BPF_ST | BPF_MEM | size`.
fn st_op(size: usize) -> u8 {
    ldx_op(size) + 1
}

/// The unsigned comparisons, reg form: `>`, `>=`, `<`, `<=`.
const JGT: u8 = 0x2d;
const JGE: u8 = 0x3d;
const JLT: u8 = 0xad;
const JLE: u8 = 0xbd;
/// Comparisons that prove nothing about a packet pointer's range.
const USELESS_CMP: [u8; 10] = [0x1d, 0x5d, 0x6d, 0x7d, 0xcd, 0xdd, 0x2e, 0x3e, 0xae, 0xbe];

impl Gen<'_, '_> {
    fn emit(&mut self, opc: u8, dst: u8, src: u8, off: i16, imm: i32) {
        let r = row(opc, src, off, imm);
        self.items
            .push((Instruction::new(r, dst, src, off, imm), None));
    }

    fn jump(&mut self, opc: u8, dst: u8, src: u8, imm: i32, tgt: Tgt) -> usize {
        let r = row(opc, src, 0, imm);
        self.items
            .push((Instruction::new(r, dst, src, 0, imm), Some(tgt)));
        self.items.len() - 1
    }

    fn size(&mut self) -> Result<usize> {
        Ok(*self.u.choose(&[1usize, 2, 4, 8])?)
    }

    /// Folds `reg` into the accumulator.
    fn combine(&mut self, reg: u8) -> Result<()> {
        let op = *self.u.choose(&[0x0fu8, 0xaf, 0x4f, 0x1f])?; // add, xor, or, sub
        self.emit(op, ACC, reg, 0, 0);
        if self.u.ratio(1, 4)? {
            let k = self.u.int_in_range(1..=7)?;
            self.emit(0x67, ACC, 0, 0, k); // lsh
        }
        Ok(())
    }

    fn ctx_size(&self) -> i64 {
        match self.t {
            ProgType::Xdp => xdp::SIZE as i64,
            _ => skb::SIZE as i64,
        }
    }

    fn is_opaque(&self, off: i64, size: usize) -> bool {
        self.t != ProgType::Xdp
            && skb::OPAQUE
                .iter()
                .any(|&(o, n)| off < (o + n) as i64 && (o as i64) < off + size as i64)
    }

    /// A ctx read, valid or (defect) one the kernel refuses.
    fn ctx_read(&mut self, defect: bool) -> Result<()> {
        let n = self.ctx_size();
        let mut choices = Vec::new();
        for off in -4..n + 8 {
            for size in [1usize, 2, 4, 8] {
                let v = valid_access(self.t, off, size, false);
                let keep = if defect {
                    v.is_none()
                } else {
                    v == Some(Loaded::Scalar)
                };
                if keep {
                    choices.push((off, size));
                }
            }
        }
        if defect && self.u.ratio(1, 4)? {
            // A modified ctx pointer: the kernel wants the ctx register
            // unmodified for every access.
            let k = *self.u.choose(&[4i32, 8])?;
            self.emit(0xbf, 9, CTX, 0, 0);
            self.emit(0x07, 9, 0, 0, k);
            self.emit(ldx_op(4), 8, 9, 0, 0);
            return self.combine(8);
        }
        let &(off, size) = self.u.choose(&choices)?;
        self.emit(ldx_op(size), 8, CTX, off as i16, 0);
        if !self.is_opaque(off, size) {
            self.combine(8)?;
        }
        Ok(())
    }

    /// A ctx write (tc), read back; (defect) a write the type refuses.
    fn ctx_write(&mut self, defect: bool) -> Result<()> {
        let n = self.ctx_size();
        let mut choices = Vec::new();
        for off in 0..n {
            for size in [1usize, 2, 4, 8] {
                let ok = valid_access(self.t, off, size, true) == Some(Loaded::Scalar)
                    && valid_access(self.t, off, size, false) == Some(Loaded::Scalar);
                if ok != defect {
                    choices.push((off, size));
                }
            }
        }
        if choices.is_empty() {
            return self.ctx_read(defect);
        }
        let &(off, size) = self.u.choose(&choices)?;
        self.emit(stx_op(size), CTX, ACC, off as i16, 0);
        if !defect || self.u.ratio(1, 2)? {
            self.emit(ldx_op(size), 8, CTX, off as i16, 0);
            self.combine(8)?;
        }
        Ok(())
    }

    /// How far past `data` a check looks: small, or around the packet's
    /// end (so both sides of the check run).
    fn check_len(&mut self) -> Result<i32> {
        let len = self.packet_len as i32;
        Ok(match self.u.int_in_range(0..=2)? {
            0 => self.u.int_in_range(1..=16)?,
            1 => (len + self.u.int_in_range(-3..=3)?).max(1),
            _ => self.u.int_in_range(1..=len + 8)?,
        })
    }

    /// `r2 = data; r3 = data_end`.
    fn load_pointers(&mut self) {
        let (d, e) = match self.t {
            ProgType::Xdp => (xdp::DATA, xdp::DATA_END),
            _ => (skb::DATA, skb::DATA_END),
        };
        self.emit(ldx_op(4), 2, CTX, d as i16, 0);
        self.emit(ldx_op(4), 3, CTX, e as i16, 0);
    }

    /// `ptr + n` in `r4` compared with `data_end` (r3): the code after
    /// this runs on the safe side, whose range it returns. With `defect`,
    /// one near miss: the returned flag asks the caller to end its last
    /// access one byte past the range, or the code runs on the side the
    /// verifier cannot prove safe, or the comparison proves nothing.
    fn bounds_check(&mut self, ptr: u8, n: i32, defect: bool) -> Result<(i32, bool)> {
        self.emit(0xbf, 4, ptr, 0, 0);
        self.emit(0x07, 4, 0, 0, n);
        // (op, pkt register first, taken side is safe, strict: range n + 1)
        let forms: [(u8, bool, bool, bool); 8] = [
            (JGT, true, false, false),  // r4 > r3: fallthrough r4 <= r3
            (JGE, true, false, true),   // r4 >= r3: fallthrough r4 < r3
            (JLT, true, true, true),    // r4 < r3 taken
            (JLE, true, true, false),   // r4 <= r3 taken
            (JGT, false, true, true),   // r3 > r4 taken
            (JGE, false, true, false),  // r3 >= r4 taken
            (JLT, false, false, false), // r3 < r4: fallthrough r4 <= r3
            (JLE, false, false, true),  // r3 <= r4: fallthrough r4 < r3
        ];
        let &(mut op, pkt_first, taken_safe, strict) = self.u.choose(&forms)?;
        let range = if strict { n + 1 } else { n };
        // 0: off by one in the access, 1: wrong side, 2: a comparison
        // that proves nothing, 3: none.
        let kind = if defect {
            self.u.int_in_range(0..=2)?
        } else {
            3
        };
        if kind == 2 {
            op = *self.u.choose(&USELESS_CMP)?;
        }
        let (dst, src) = if pkt_first { (4, 3) } else { (3, 4) };
        let access_when_taken = taken_safe != (kind == 1);
        if access_when_taken {
            let j = self.jump(op, dst, src, 0, Tgt::BlockEnd);
            self.jump(0x05, 0, 0, 0, Tgt::BlockEnd);
            let here = self.items.len();
            self.items[j].1 = Some(Tgt::At(here));
        } else {
            self.jump(op, dst, src, 0, Tgt::BlockEnd);
        }
        Ok((range, kind == 0))
    }

    /// Accesses within `range` bytes of `ptr` (`r4` = `ptr + n`); with
    /// `over`, the last one ends one byte past the range.
    fn accesses(&mut self, ptr: u8, n: i32, range: i32, over: bool) -> Result<()> {
        let count = self.u.int_in_range(1..=3)?;
        for i in 0..count {
            let sizes: Vec<usize> = [1usize, 2, 4, 8]
                .into_iter()
                .filter(|&s| s as i32 <= range)
                .collect();
            let size = *self.u.choose(&sizes)? as i32;
            let last_over = over && i + 1 == count;
            let off = if last_over {
                range - size + 1
            } else {
                match self.u.int_in_range(0..=3)? {
                    0 => range - size,
                    1 => 0,
                    2 => (range - size - 1).max(0),
                    _ => self.u.int_in_range(0..=range - size)?,
                }
            };
            // Through the pointer the check moved (r4 = ptr + n), with a
            // negative offset, or through `ptr` itself.
            let (base, insn_off) = if self.u.ratio(1, 3)? {
                (4, off - n)
            } else {
                (ptr, off)
            };
            let write = self.t.may_write_packet() && self.u.ratio(1, 4)?;
            if write {
                if self.u.ratio(1, 2)? {
                    self.emit(stx_op(size as usize), base, ACC, insn_off as i16, 0);
                } else {
                    let imm = self.u.int_in_range(-128..=255)?;
                    self.emit(st_op(size as usize), base, 0, insn_off as i16, imm);
                }
            } else {
                // r9: the base may be r8.
                self.emit(ldx_op(size as usize), 9, base, insn_off as i16, 0);
                self.combine(9)?;
            }
        }
        Ok(())
    }

    /// A bounds check and accesses around its edge.
    fn packet(&mut self, defect: bool) -> Result<()> {
        if self.t == ProgType::SocketFilter {
            // Socket filters have no packet pointers: reading `data` is a
            // refused ctx access; the valid way is LD_ABS.
            return if defect {
                self.emit(ldx_op(4), 2, CTX, skb::DATA as i16, 0);
                self.combine(2)
            } else {
                self.ld_abs(false)
            };
        }
        if self.u.ratio(1, 5)? {
            // Metadata: `data_meta + n` checked against `data` (no
            // metadata in a test run: the safe side never runs).
            let (m, d) = match self.t {
                ProgType::Xdp => (xdp::DATA_META, xdp::DATA),
                _ => (skb::DATA_META, skb::DATA),
            };
            self.emit(ldx_op(4), 2, CTX, m as i16, 0);
            self.emit(ldx_op(4), 3, CTX, d as i16, 0);
        } else {
            self.load_pointers();
        }
        let n = self.check_len()?;
        let (range, over) = self.bounds_check(2, n, defect)?;
        self.accesses(2, n, range, over)
    }

    /// A variable offset added to `data`, bounded, checked again.
    fn var_offset(&mut self, defect: bool) -> Result<()> {
        if self.t == ProgType::SocketFilter {
            return self.ld_ind(defect);
        }
        self.load_pointers();
        // Room for the variable's own load.
        let vsize = *self.u.choose(&[1usize, 2, 4])?;
        self.bounds_check(2, vsize as i32, false)?;
        self.emit(ldx_op(vsize), 5, 2, 0, 0);
        let kind = if defect {
            self.u.int_in_range(0..=1)?
        } else {
            2
        };
        if kind == 1 {
            // Unbounded: a whole u32 (past the kernel's largest packet
            // offset) when the load was 4 bytes, else whatever it held.
            if vsize != 4 {
                // A scalar ctx field (`len`, `ingress_ifindex`) shifted
                // past the kernel's largest variable offset (1 << 29).
                let field = if self.t == ProgType::Xdp {
                    xdp::INGRESS_IFINDEX
                } else {
                    skb::LEN
                };
                self.emit(ldx_op(4), 5, CTX, field as i16, 0);
                self.emit(0x67, 5, 0, 0, 20);
            }
        } else if self.u.ratio(1, 2)? {
            // A zero mask makes the variable the constant 0, which keeps
            // the range: a near miss without the re-check needs a bit.
            let low = if kind == 0 { 1 } else { 0 };
            let mask = (1i32 << self.u.int_in_range(low..=6)?) - 1;
            self.emit(0x57, 5, 0, 0, mask);
        } else {
            // As for the mask: a bound of 0 makes the variable the
            // constant 0, which is no near miss without the re-check.
            let low = if kind == 0 { 1 } else { 0 };
            let k = self.u.int_in_range(low..=64)?;
            self.jump(0x25, 5, 0, k, Tgt::BlockEnd); // if r5 > k goto end
        }
        self.emit(0xbf, 8, 2, 0, 0);
        self.emit(0x0f, 8, 5, 0, 0);
        if kind == 0 {
            // No check after the variable: the range is gone.
            let size = self.size()?;
            self.emit(ldx_op(size), 9, 8, 0, 0);
            return self.combine(9);
        }
        let n = self.u.int_in_range(1..=8)?;
        let (range, _) = self.bounds_check(8, n, false)?;
        self.accesses(8, n, range, false)
    }

    /// `LD_ABS` at an offset around the packet's end.
    fn ld_abs(&mut self, defect: bool) -> Result<()> {
        let visible = match self.t {
            ProgType::SocketFilter => self.packet_len.saturating_sub(skb::ETH_HLEN),
            _ => self.packet_len,
        } as i32;
        let (op, size) = *self.u.choose(&[(0x30u8, 1i32), (0x28, 2), (0x20, 4)])?;
        let off = match self.u.int_in_range(0..=2)? {
            0 => self.u.int_in_range(0..=16)?,
            1 => (visible - size + self.u.int_in_range(-2..=2)?).max(0),
            _ => self.u.int_in_range(0..=visible + 4)?,
        };
        self.emit(op, 0, 0, 0, off);
        self.combine(0)?;
        if defect {
            // r1..r5 are scratched by LD_ABS: an LD_IND through one of them.
            let r = self.u.int_in_range(1..=5)?;
            self.emit(0x50, 0, r, 0, 0);
            self.combine(0)?;
        }
        Ok(())
    }

    /// `LD_IND` through a bounded register.
    fn ld_ind(&mut self, defect: bool) -> Result<()> {
        if defect {
            return self.ld_abs(true);
        }
        let op = *self.u.choose(&[0x50u8, 0x48, 0x40])?;
        let base = self.u.int_in_range(0..=self.packet_len as i32)?;
        self.emit(0xb7, 8, 0, 0, base);
        if self.u.ratio(1, 2)? {
            // A packet byte as part of the index.
            let off = self.u.int_in_range(0..=20)?;
            self.emit(0x30, 0, 0, 0, off);
            self.emit(0x57, 0, 0, 0, 0x1f);
            self.emit(0x0f, 8, 0, 0, 0);
        }
        let mut imm = self.u.int_in_range(0..=8)?;
        if self.u.ratio(1, 4)? {
            // A negative index the immediate brings back: the offset is a
            // 32-bit sum (`bpf_gen_ld_abs`).
            let k = self.u.int_in_range(1..=64)?;
            self.emit(0x07, 8, 0, 0, -k);
            imm += k;
        }
        self.emit(op, 0, 8, 0, imm);
        self.combine(0)
    }

    /// `r1` = map `i` (`ld_imm64 src=1`, the kernel backend patches the
    /// index to the map's fd).
    fn map_ptr(&mut self, i: usize) {
        self.emit(0x18, 1, 1, 0, i as i32);
    }

    /// A key for `def` at `r10 - KEY_AT`: an initial element's key, one
    /// just past the keys (absent), or the accumulator masked; `r2` points
    /// to it. With `past_end`, a constant key not below `max_entries`
    /// (the kernel then keeps an array lookup maybe-null).
    fn map_key(&mut self, def: &MapDef, past_end: bool) -> Result<()> {
        let ks = def.key_size as usize;
        if past_end {
            let key = def.max_entries as i32 + self.u.int_in_range(0..=3)?;
            self.emit(st_op(ks), 10, 0, -KEY_AT as i16, key);
        } else if self.u.ratio(1, 4)? {
            self.emit(0xbf, 9, ACC, 0, 0);
            self.emit(0x57, 9, 0, 0, 7);
            self.emit(stx_op(ks), 10, 9, -KEY_AT as i16, 0);
        } else {
            let key = match self.u.int_in_range(0..=2)? {
                0 if !def.elements.is_empty() => {
                    let (k, _) = self.u.choose(&def.elements)?;
                    let mut b = [0u8; 4];
                    b.copy_from_slice(&k[..4]);
                    i32::from_le_bytes(b)
                }
                1 => def.max_entries as i32 + self.u.int_in_range(0..=3)?,
                _ => self.u.int_in_range(0..=def.max_entries as i32)?,
            };
            self.emit(st_op(ks), 10, 0, -KEY_AT as i16, key);
        }
        self.emit(0xbf, 2, 10, 0, 0);
        self.emit(0x07, 2, 0, 0, -KEY_AT);
        Ok(())
    }

    /// A map block: a lookup and accesses in the value, an update or a
    /// delete; with `defect`, one map near miss.
    fn map_block(&mut self, defect: bool) -> Result<()> {
        let i = self.u.choose_index(self.maps.len())?;
        let def = self.maps[i].clone();
        let vs = def.value_size as i32;
        // 0: no null check, 1: one byte past the value, 2: an unbounded
        // variable offset, 3: a key with less stack room than its size.
        let kind = if defect {
            Some(self.u.int_in_range(0..=3)?)
        } else {
            None
        };
        if kind == Some(3) {
            // The key pointer 2 bytes below the frame's top: a 4 or 8
            // byte key runs past the stack.
            self.map_ptr(i);
            self.emit(st_op(2), 10, 0, -2, 1);
            self.emit(0xbf, 2, 10, 0, 0);
            self.emit(0x07, 2, 0, 0, -2);
            self.emit(0x85, 0, 0, 0, helper("bpf_map_lookup_elem"));
            self.emit(0xbf, 9, 0, 0, 0);
            return Ok(());
        }
        if kind.is_none() {
            match self.u.int_in_range(0..=5)? {
                0 => return self.map_update(i, &def),
                1 if def.map_type == MapType::Hash || self.u.ratio(1, 4)? => {
                    self.map_ptr(i);
                    self.map_key(&def, false)?;
                    self.emit(0x85, 0, 0, 0, helper("bpf_map_delete_elem"));
                    return self.combine(0);
                }
                _ => {}
            }
        }
        self.map_ptr(i);
        // Without a null check: a key the verifier cannot prove present
        // (an array lookup with a constant key below max_entries is not
        // maybe-null on Linux 6.14+).
        self.map_key(&def, kind == Some(0))?;
        self.emit(0x85, 0, 0, 0, helper("bpf_map_lookup_elem"));
        if kind != Some(0) {
            if self.u.ratio(1, 2)? {
                self.jump(0x15, 0, 0, 0, Tgt::BlockEnd); // if r0 == 0 goto end
            } else {
                let j = self.jump(0x55, 0, 0, 0, Tgt::BlockEnd); // if r0 != 0
                self.jump(0x05, 0, 0, 0, Tgt::BlockEnd);
                let here = self.items.len();
                self.items[j].1 = Some(Tgt::At(here));
            }
        }
        let count = self.u.int_in_range(1..=3)?;
        // The defect's access (one past the value: the last one; an
        // unbounded offset: a variable one) is never replaced by another.
        let over_at = (kind == Some(1)).then_some(count - 1);
        let var_at = if kind == Some(2) || (kind.is_none() && self.u.ratio(1, 2)?) {
            Some(self.u.int_in_range(0..=count - 1)?)
        } else {
            None
        };
        for a in 0..count {
            if var_at == Some(a) {
                self.value_var_access(vs, kind == Some(2))?;
            } else {
                self.value_access(vs, over_at == Some(a))?;
            }
        }
        Ok(())
    }

    /// A load or store in the value (r0) at a fixed offset, through r0 or
    /// r8 = r0 + c; with `over`, ending one byte past the value.
    fn value_access(&mut self, vs: i32, over: bool) -> Result<()> {
        let size = self.size()? as i32;
        let off = if over {
            vs - size + 1
        } else {
            match self.u.int_in_range(0..=2)? {
                0 => 0,
                1 => vs - size,
                _ => self.u.int_in_range(0..=vs - size)?,
            }
        };
        let (base, insn_off) = if self.u.ratio(1, 3)? {
            let c = self.u.int_in_range(1..=vs)?;
            self.emit(0xbf, 8, 0, 0, 0);
            self.emit(0x07, 8, 0, 0, c);
            (8, off - c)
        } else {
            (0, off)
        };
        self.value_load_or_store(base, insn_off, size)
    }

    /// A load, or a store of the accumulator or an immediate.
    fn value_load_or_store(&mut self, base: u8, off: i32, size: i32) -> Result<()> {
        match self.u.int_in_range(0..=3)? {
            0 => self.emit(stx_op(size as usize), base, ACC, off as i16, 0),
            1 => {
                let imm = self.u.int_in_range(-128..=255)?;
                self.emit(st_op(size as usize), base, 0, off as i16, imm);
            }
            _ => {
                self.emit(ldx_op(size as usize), 9, base, off as i16, 0);
                self.combine(9)?;
            }
        }
        Ok(())
    }

    /// An access at r0 plus a variable (a value byte or the accumulator)
    /// bounded by a mask or `if r9 > k goto end`; with `unbounded`, a
    /// whole u64 from the value, not bounded.
    fn value_var_access(&mut self, vs: i32, unbounded: bool) -> Result<()> {
        let size = *self.u.choose(&[1i32, 2, 4, 8])?.min(&vs);
        if unbounded {
            if vs >= 8 {
                self.emit(ldx_op(8), 9, 0, 0, 0);
            } else {
                self.emit(0xbf, 9, ACC, 0, 0);
            }
        } else {
            let room = vs - size;
            if self.u.ratio(1, 2)? {
                let vsize = *self.u.choose(&[1usize, 2, 4])?;
                let at = self.u.int_in_range(0..=vs - vsize as i32)?;
                self.emit(ldx_op(vsize), 9, 0, at as i16, 0);
            } else {
                self.emit(0xbf, 9, ACC, 0, 0);
            }
            if self.u.ratio(1, 2)? {
                // The largest mask 2^k - 1 that fits the room.
                let bits = (0..=6).filter(|&k| (1 << k) - 1 <= room).max().unwrap_or(0);
                let k = self.u.int_in_range(0..=bits)?;
                self.emit(0x57, 9, 0, 0, (1 << k) - 1);
            } else {
                let k = self.u.int_in_range(0..=room)?;
                self.jump(0x25, 9, 0, k, Tgt::BlockEnd); // if r9 > k goto end
            }
        }
        self.emit(0xbf, 8, 0, 0, 0);
        self.emit(0x0f, 8, 9, 0, 0);
        // At r8 + 0: the bound leaves room for `size` bytes there.
        self.value_load_or_store(8, 0, size)
    }

    /// `bpf_map_update_elem(map, key, value, flags)`: the value built on
    /// the stack below the key (aligned 4-byte stores of the accumulator
    /// or immediates).
    fn map_update(&mut self, i: usize, def: &MapDef) -> Result<()> {
        let vs = def.value_size as i32;
        let base = -KEY_AT - (vs + 7) / 8 * 8;
        for chunk in 0..vs / 4 {
            let off = (base + chunk * 4) as i16;
            if self.u.ratio(1, 3)? {
                self.emit(stx_op(4), 10, ACC, off, 0);
            } else {
                let imm = self.u.int_in_range(-16..=255)?;
                self.emit(st_op(4), 10, 0, off, imm);
            }
        }
        self.map_ptr(i);
        self.map_key(def, false)?;
        self.emit(0xbf, 3, 10, 0, 0);
        self.emit(0x07, 3, 0, 0, base);
        let flags = *self.u.choose(&UPDATE_FLAGS)?;
        self.emit(0xb7, 4, 0, 0, flags);
        self.emit(0x85, 0, 0, 0, helper("bpf_map_update_elem"));
        self.combine(0)
    }

    /// `bpf_xdp_adjust_head` or `_tail` with an offset at, just inside or
    /// just past one of its limits for the generated packet (earlier
    /// adjustments move the limits; the result is compared either way),
    /// r0 folded in. With `defect`, a packet pointer checked before the
    /// call is read after it, which `clear_all_pkt_pointers` forbids.
    fn xdp_adjust(&mut self, defect: bool) -> Result<()> {
        let len = self.packet_len as i32;
        let eth = xdp::ETH_HLEN as i32;
        let head = self.u.ratio(1, 2)?;
        let (name, edges) = if head {
            let down = (xdp::HEADROOM - xdp::XDP_FRAME_SIZE) as i32;
            ("bpf_xdp_adjust_head", [-down, len - eth, 0])
        } else {
            let up = xdp::MAX_LINEAR_PACKET as i32 - len;
            ("bpf_xdp_adjust_tail", [up, eth - len, 0])
        };
        let offset = *self.u.choose(&edges)? + self.u.int_in_range(-2..=2)?;
        if defect {
            self.load_pointers();
            let n = self.u.int_in_range(1..=8)?;
            self.bounds_check(2, n, false)?;
            self.emit(0xbf, 8, 2, 0, 0);
        }
        self.emit(0xbf, 1, CTX, 0, 0);
        self.emit(0xb7, 2, 0, 0, offset);
        self.emit(0x85, 0, 0, 0, helper(name));
        self.combine(0)?;
        if defect {
            self.emit(ldx_op(1), 9, 8, 0, 0);
            self.combine(9)?;
        }
        Ok(())
    }

    fn block(&mut self, defect: bool) -> Result<()> {
        self.block_start = self.items.len();
        if !self.maps.is_empty() && self.u.ratio(2, 5)? {
            self.map_block(defect)?;
            self.close_block();
            return Ok(());
        }
        if self.t == ProgType::Xdp && self.u.ratio(1, 6)? {
            self.xdp_adjust(defect)?;
            self.close_block();
            return Ok(());
        }
        let kind = match self.t {
            // xdp: ctx reads, packet checks, variable offsets; a defect
            // may also be an LD_ABS or a ctx write.
            ProgType::Xdp => self.u.int_in_range(0..=if defect { 4 } else { 2 })?,
            _ => self.u.int_in_range(0..=4)?,
        };
        match (self.t, kind) {
            (_, 0) => self.ctx_read(defect)?,
            (_, 1) => self.packet(defect)?,
            (_, 2) => self.var_offset(defect)?,
            (ProgType::Xdp, 3) => {
                // No LD_ABS for xdp.
                self.emit(0x30, 0, 0, 0, 0);
                self.combine(0)?;
            }
            (ProgType::Xdp, _) => self.ctx_write(true)?,
            (ProgType::SchedCls, 3) => self.ctx_write(defect)?,
            (ProgType::SocketFilter, 3) if defect => self.ctx_write(true)?,
            _ => self.ld_abs(defect)?,
        }
        self.close_block();
        Ok(())
    }

    /// Points the block's jumps to its end.
    fn close_block(&mut self) {
        let end = self.items.len();
        for (_, tgt) in &mut self.items[self.block_start..] {
            if let Some(Tgt::BlockEnd) = tgt {
                *tgt = Some(Tgt::At(end));
            }
        }
    }
}

/// The maps of a case: none for most, else one or two small ones with
/// some initial elements (keys of a hash map are small integers, so that
/// lookups find some and miss others).
fn declare_maps(u: &mut Unstructured) -> Result<Vec<MapDef>> {
    if !u.ratio(2, 5)? {
        return Ok(Vec::new());
    }
    let n = u.int_in_range(1..=2)?;
    let mut maps = Vec::new();
    for _ in 0..n {
        let t = *u.choose(&[
            MapType::Array,
            MapType::Array,
            MapType::Hash,
            MapType::Hash,
            MapType::PercpuArray,
        ])?;
        let key_size = if t == MapType::Hash && u.ratio(1, 3)? {
            8
        } else {
            4
        };
        let value_size = *u.choose(&[8u32, 12, 16, 24, 32, 48, 64])?;
        let max_entries = u.int_in_range(1..=8)?;
        let mut def = MapDef::new(t, key_size, value_size, max_entries);
        let candidates: Vec<u32> = if t.is_array() {
            (0..max_entries).collect()
        } else {
            (0..=max_entries + 2).collect()
        };
        for k in candidates {
            if def.elements.len() < max_entries as usize && u.ratio(1, 2)? {
                let mut key = u64::from(k).to_le_bytes().to_vec();
                key.truncate(key_size as usize);
                let mut value = vec![0u8; value_size as usize];
                for b in value.iter_mut() {
                    *b = if u.ratio(1, 2)? { u.arbitrary()? } else { 0 };
                }
                def.elements.push((key, value));
            }
        }
        maps.push(def);
    }
    Ok(maps)
}

/// A packet length: at least the Ethernet header (`BPF_PROG_TEST_RUN`
/// refuses less), mostly 14..=64, up to 128. An skb whose EtherType is
/// IPv4 or IPv6 needs the whole IP header too (the test run refuses less,
/// `prog_type::env::min_packet_len`): shorter ones get another EtherType.
fn packet(t: ProgType, u: &mut Unstructured) -> Result<Vec<u8>> {
    let len = if u.ratio(7, 10)? {
        u.int_in_range(14..=64)?
    } else {
        u.int_in_range(65..=128)?
    };
    let mut p = vec![0u8; len];
    for b in p.iter_mut() {
        *b = u.arbitrary()?;
    }
    let ethertype: [u8; 2] = match u.int_in_range(0..=9)? {
        0..=4 => [0x08, 0x00],
        5..=6 => [0x86, 0xdd],
        _ => [p[12], p[13]],
    };
    p[12..14].copy_from_slice(&ethertype);
    if p.len() < min_packet_len(t, &p) {
        // IEEE 802 local experimental EtherType 1.
        p[12..14].copy_from_slice(&[0x88, 0xb5]);
    }
    Ok(p)
}

/// Generates one case: a type from [`TYPES`], a packet, a program.
pub fn generate(flavour: Flavour, _knobs: &Knobs, u: &mut Unstructured) -> Result<Case> {
    let t = *u.choose(&TYPES)?;
    generate_for(flavour, t, u)
}

/// Generates one case of type `t`.
pub fn generate_for(flavour: Flavour, t: ProgType, u: &mut Unstructured) -> Result<Case> {
    let packet = packet(t, u)?;
    let maps = declare_maps(u)?;
    let mut g = Gen {
        u,
        t,
        packet_len: packet.len(),
        items: Vec::new(),
        block_start: 0,
        maps,
    };
    g.emit(0xbf, CTX, 1, 0, 0);
    let start = g.u.int_in_range(0..=255)?;
    g.emit(0xb7, ACC, 0, 0, start);
    let blocks = g.u.int_in_range(1..=5)?;
    let defect_at = match flavour {
        Flavour::Accepted => None,
        Flavour::NearMiss => Some(g.u.int_in_range(0..=blocks - 1)?),
    };
    for b in 0..blocks {
        g.block(defect_at == Some(b))?;
    }
    if !g.maps.is_empty() && !g.items.iter().any(|(i, _)| i.row.opcode == 0x18) {
        // Declared maps are used: one more map block, without a defect.
        g.block_start = g.items.len();
        g.map_block(false)?;
        g.close_block();
    }
    g.emit(0xbf, 0, ACC, 0, 0);
    g.emit(0x95, 0, 0, 0, 0);
    let items: Vec<Item> = g
        .items
        .iter()
        .map(|(ins, tgt)| match tgt {
            Some(Tgt::At(i)) => Item::to(*ins, *i),
            _ => Item::plain(*ins),
        })
        .collect();
    Ok(Case::native_with_maps(
        Program::new(layout::encode(&items)),
        packet,
        t,
        g.maps,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::{seeded, Tier};
    use bpfdiff_engine::maps::MapSet;
    use bpfdiff_engine::verifier::{verify_with_maps, Verdict, VerifyOptions};

    fn engine_accepts(case: &Case) -> Result<(), String> {
        let opts = VerifyOptions::default();
        match verify_with_maps(&case.program, &opts, case.prog_type, &case.maps).verdict {
            Verdict::Accepted => Ok(()),
            Verdict::Rejected { pc, message, .. } => Err(format!("insn {pc}: {message}")),
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_case() {
        let k = Knobs::default();
        for tier in [Tier::Packet, Tier::PacketEdge] {
            for seed in 0..20 {
                let a = seeded::case(tier, &k, seed);
                assert_eq!(a, seeded::case(tier, &k, seed), "{tier} {seed}");
                assert!(TYPES.contains(&a.prog_type));
                assert!((14..=128).contains(&a.input.len()));
            }
            assert_ne!(seeded::case(tier, &k, 1), seeded::case(tier, &k, 2));
        }
    }

    // The accepted flavour is built from the engine's ctx access table
    // and the kernel's packet range rules: the engine's verifier accepts
    // it and its interpreter runs it to the end (LD_ABS past the packet
    // ends the program with 0, as in the kernel).
    #[test]
    fn accepted_programs_verify_and_run_on_the_engine() {
        use bpfdiff_engine::interp::{ExecResult, Interpreter, DEFAULT_BUDGET};
        let k = Knobs::default();
        for seed in 0..300 {
            let c = seeded::case(Tier::Packet, &k, seed);
            assert_eq!(engine_accepts(&c), Ok(()), "seed {seed}");
            let mut env = bpfdiff_engine::prog_type::env::RunEnv::new(c.prog_type, &c.input, None)
                .expect("packets are long enough");
            env.maps = MapSet::new(&c.maps);
            let run = Interpreter::new(&c.program)
                .unwrap()
                .run_env(&mut env, DEFAULT_BUDGET);
            assert!(
                matches!(run.result, ExecResult::Returned { .. }),
                "seed {seed}: {:?}",
                run.result
            );
        }
        for seed in 0..300 {
            let c = seeded::case(Tier::PacketEdge, &k, seed);
            assert!(engine_accepts(&c).is_err(), "seed {seed}");
        }
    }

    // Issue 13: some cases declare maps (valid definitions, as the
    // kernel's map_alloc_check wants them), and their programs name them
    // with ld_imm64 src=1 and call the map helpers of the engine's table.
    #[test]
    fn some_cases_declare_maps_and_use_them() {
        let k = Knobs::default();
        let mut with_maps = 0;
        for seed in 0..300 {
            let c = seeded::case(Tier::Packet, &k, seed);
            for m in &c.maps {
                assert_eq!(m.validate(), Ok(()), "seed {seed}");
            }
            if c.maps.is_empty() {
                continue;
            }
            with_maps += 1;
            let insns = &c.program.insns;
            assert!(
                insns
                    .iter()
                    .any(|i| i.opcode == 0x18 && i.src == 1 && (i.imm as usize) < c.maps.len()),
                "seed {seed}"
            );
        }
        assert!((60..=180).contains(&with_maps), "{with_maps}");
    }

    // Issue 13: the XDP packet-resizing helpers are generated (the test
    // above runs every accepted case to its exit on the engine).
    #[test]
    fn some_xdp_cases_adjust_the_packet() {
        let k = Knobs::default();
        let (mut head, mut tail) = (0, 0);
        for seed in 0..600 {
            let c = seeded::case(Tier::Packet, &k, seed);
            let calls = |id: i32| {
                c.program
                    .insns
                    .iter()
                    .any(|i| i.opcode == 0x85 && i.src == 0 && i.imm == id)
            };
            let (h, t) = (calls(44), calls(65));
            assert!(!(h || t) || c.prog_type == ProgType::Xdp, "seed {seed}");
            head += h as u32;
            tail += t as u32;
        }
        assert!(head >= 10 && tail >= 10, "head {head}, tail {tail}");
    }
}
