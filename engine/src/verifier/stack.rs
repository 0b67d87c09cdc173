//! A frame's stack, per 8-byte slot and per byte, as the kernel's
//! `struct bpf_stack_state` tracks it (Linux 6.18, `kernel/bpf/verifier.c`:
//! `check_stack_write_fixed_off`, `check_stack_write_var_off`,
//! `check_stack_read_fixed_off`, `check_stack_read_var_off`,
//! `save_register_state`, `mark_reg_stack_read`).
//!
//! Slot `spi` holds the bytes at `fp - 8*(spi+1) .. fp - 8*spi`. In the
//! kernel's indexing, the byte at offset `off` (negative) is
//! `slot_type[(-off - 1) % 8]` of slot `(-off - 1) / 8`, so byte 7 is the
//! slot's lowest address.
//!
//! The engine runs as root: uninitialised bytes may be read
//! (`allow_uninit_stack`), and give an unknown scalar.

use super::scalar::ScalarBounds;
use super::state::Reg;

/// The type of one stack byte (`enum bpf_stack_slot_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ByteType {
    /// `STACK_INVALID`: never written (`?` in the log).
    Invalid,
    /// `STACK_SPILL`: part of a spilled register (`r`).
    Spill,
    /// `STACK_MISC`: some unknown data (`m`).
    Misc,
    /// `STACK_ZERO`: known to be zero (`0`).
    Zero,
}

impl ByteType {
    /// The log's letter for the byte.
    pub fn letter(self) -> char {
        match self {
            ByteType::Invalid => '?',
            ByteType::Spill => 'r',
            ByteType::Misc => 'm',
            ByteType::Zero => '0',
        }
    }
}

/// One 8-byte slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Slot {
    /// The byte types, in the kernel's order (index 7 = lowest address).
    pub types: [ByteType; 8],
    /// The spilled register (`NotInit` when none).
    pub spilled: Reg,
}

impl Default for Slot {
    fn default() -> Slot {
        Slot {
            types: [ByteType::Invalid; 8],
            spilled: Reg::NotInit,
        }
    }
}

impl Slot {
    /// True when the slot holds a spilled register (`is_spilled_reg`).
    pub fn is_spill(&self) -> bool {
        self.types[7] == ByteType::Spill
    }
}

/// A frame's stack: the slots reached so far (`allocated_stack`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Stack {
    /// Slot `spi` covers `fp - 8*(spi+1) .. fp - 8*spi`.
    pub slots: Vec<Slot>,
}

/// `(spi, byte index)` of the stack byte at `off` (negative).
fn locate(off: i64) -> (usize, usize) {
    let k = (-off - 1) as usize;
    (k / 8, k % 8)
}

impl Stack {
    fn grow(&mut self, min_off: i64) {
        let need = ((-min_off) as usize).div_ceil(8);
        if self.slots.len() < need {
            self.slots.resize(need, Slot::default());
        }
    }

    /// The type of the byte at `off`.
    pub fn byte(&self, off: i64) -> ByteType {
        let (spi, i) = locate(off);
        self.slots
            .get(spi)
            .map(|s| s.types[i])
            .unwrap_or(ByteType::Invalid)
    }

    /// A write of `size` bytes at the fixed offset `off`; `value` is the
    /// stored register (`None` for `BPF_ST`, whose immediate is `imm`).
    /// Models `check_stack_write_fixed_off` for a privileged loader.
    /// Errors are the kernel's messages.
    pub fn write_fixed(
        &mut self,
        off: i64,
        size: usize,
        value: Option<&Reg>,
        st_imm: Option<i32>,
    ) -> Result<(), String> {
        self.grow(off);
        let (spi, _) = locate(off);
        let aligned = off % 8 == 0;
        match (value, st_imm) {
            (Some(Reg::Scalar(s)), _) if aligned => {
                // A narrowing spill breaks the link with the register.
                let mut s = *s;
                if s.width() as usize > 8 * size {
                    s.id = 0;
                    s.link_off = 0;
                }
                self.save(spi, Reg::Scalar(s), size);
            }
            (None, Some(imm)) if aligned => {
                self.save(spi, Reg::constant(imm as i64 as u64), size);
            }
            (Some(r @ Reg::Ptr(_)), _) => {
                if size != 8 {
                    return Err("invalid size of register spill".into());
                }
                self.save(spi, *r, size);
            }
            _ => {
                let slot = &mut self.slots[spi];
                slot.spilled = Reg::NotInit;
                if slot.is_spill() {
                    for t in slot.types.iter_mut() {
                        if *t != ByteType::Invalid {
                            *t = ByteType::Misc;
                        }
                    }
                }
                let zero = match (value, st_imm) {
                    (Some(Reg::Scalar(s)), _) => s.var_off.is_const() && s.var_off.value == 0,
                    (None, Some(imm)) => imm == 0,
                    _ => false,
                };
                let t = if zero { ByteType::Zero } else { ByteType::Misc };
                for j in 0..size as i64 {
                    let (sp, i) = locate(off + j);
                    self.slots[sp].types[i] = t;
                }
            }
        }
        Ok(())
    }

    /// `save_register_state`: the top `size` bytes become `STACK_SPILL`, the
    /// rest `STACK_MISC` (keeping `STACK_ZERO` and `STACK_INVALID`).
    fn save(&mut self, spi: usize, reg: Reg, size: usize) {
        let slot = &mut self.slots[spi];
        slot.spilled = reg;
        for i in (0..8).rev() {
            if i >= 8 - size {
                slot.types[i] = ByteType::Spill;
            } else if !matches!(slot.types[i], ByteType::Zero | ByteType::Invalid) {
                slot.types[i] = ByteType::Misc;
            }
        }
    }

    /// A write of `size` bytes somewhere in `[min_off, max_off + size)`
    /// (variable offset). Models `check_stack_write_var_off` for a
    /// privileged loader: every byte that may be written becomes
    /// `STACK_MISC` (or stays `STACK_ZERO` when zero is written), spilled
    /// registers there are lost.
    pub fn write_var(&mut self, min_off: i64, max_end: i64, zero: bool) {
        self.grow(min_off);
        for o in min_off..max_end {
            let (spi, i) = locate(o);
            let slot = &mut self.slots[spi];
            if slot.is_spill() {
                slot.spilled = Reg::NotInit;
                for t in slot.types.iter_mut() {
                    if *t != ByteType::Invalid {
                        *t = ByteType::Misc;
                    }
                }
            }
            let t = &mut slot.types[i];
            if !(zero && *t == ByteType::Zero) {
                *t = ByteType::Misc;
            }
        }
    }

    /// A read of `size` bytes at the fixed offset `off`; models
    /// `check_stack_read_fixed_off` (root: uninitialised bytes read as
    /// unknown). Returns the loaded register before the size coercion the
    /// caller applies.
    pub fn read_fixed(&self, off: i64, size: usize) -> Result<Reg, String> {
        let (spi, _) = locate(off);
        let slot = self.slots.get(spi).copied().unwrap_or_default();
        if slot.is_spill() {
            let spill_size = 1 + slot.types[..7]
                .iter()
                .rev()
                .take_while(|t| **t == ByteType::Spill)
                .count();
            if size == 8 && spill_size == 8 {
                return Ok(slot.spilled);
            }
            if !matches!(slot.spilled, Reg::Scalar(_)) {
                return Err("invalid size of register fill".into());
            }
            if size <= spill_size && off % 8 == 0 {
                // A narrowing fill breaks the link with the slot.
                let mut r = slot.spilled;
                if let Reg::Scalar(s) = &mut r {
                    if s.width() as usize > 8 * size {
                        s.id = 0;
                        s.link_off = 0;
                    }
                }
                return Ok(r);
            }
            let (mut spill_cnt, mut zero_cnt) = (0, 0);
            for j in 0..size as i64 {
                match self.byte(off + j) {
                    ByteType::Spill => spill_cnt += 1,
                    ByteType::Zero => zero_cnt += 1,
                    _ => {}
                }
            }
            let spilled_zero = matches!(slot.spilled, Reg::Scalar(s) if s.var_off.is_const() && s.var_off.value == 0);
            if (spill_cnt == size && spilled_zero) || zero_cnt == size {
                return Ok(Reg::constant(0));
            }
            return Ok(Reg::unknown());
        }
        let zeros = (0..size as i64)
            .filter(|j| self.byte(off + j) == ByteType::Zero)
            .count();
        Ok(if zeros == size {
            Reg::constant(0)
        } else {
            Reg::unknown()
        })
    }

    /// A read of `size` bytes somewhere in `[min_off, max_end)`; models
    /// `check_stack_read_var_off` / `mark_reg_stack_read`: all zero gives 0,
    /// anything else an unknown scalar.
    pub fn read_var(&self, min_off: i64, max_end: i64) -> Reg {
        if (min_off..max_end).all(|o| self.byte(o) == ByteType::Zero) {
            Reg::constant(0)
        } else {
            Reg::unknown()
        }
    }

    /// The log's view of slot `spi` (`fp-8=mmmmmmmm`, or the spilled
    /// register for a full spill), `None` for an all-invalid slot.
    pub fn slot(&self, spi: usize) -> Option<&Slot> {
        self.slots.get(spi)
    }
}

/// True when an unknown scalar's state is the completely unknown one.
pub fn is_unknown_scalar(s: &ScalarBounds) -> bool {
    ScalarBounds {
        id: 0,
        link_off: 0,
        ..*s
    } == ScalarBounds::unknown()
}
