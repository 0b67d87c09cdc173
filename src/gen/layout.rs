//! Programs as lists of items whose jumps and calls point at other items,
//! not at slot offsets: generators and the mutator insert and delete items
//! freely, and [`encode`] computes every offset from the final layout
//! (`ld_imm64` takes two slots).

use bpfdiff_engine::decode::decode_at;
use bpfdiff_engine::opcode::{self, Class, Operation, Source};
use bpfdiff_engine::{Insn, Instruction, Program};

/// What one item holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// A decodable instruction (one or two slots).
    Insn(Instruction),
    /// A slot that does not decode, kept as it is.
    Raw(Insn),
}

/// One instruction of a program under construction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Item {
    /// The instruction.
    pub code: Code,
    /// For jumps, local calls and `ld_imm64` of a function: the item it
    /// points at (`items.len()` = one past the end). `None` keeps the
    /// instruction's own offset.
    pub target: Option<usize>,
}

impl Item {
    /// An instruction without a target.
    pub fn plain(ins: Instruction) -> Item {
        Item {
            code: Code::Insn(ins),
            target: None,
        }
    }

    /// A jump or call to item `target`.
    pub fn to(ins: Instruction, target: usize) -> Item {
        Item {
            code: Code::Insn(ins),
            target: Some(target),
        }
    }

    /// A raw slot.
    pub fn raw(insn: Insn) -> Item {
        Item {
            code: Code::Raw(insn),
            target: None,
        }
    }

    /// Slots the item takes.
    pub fn slots(&self) -> usize {
        match &self.code {
            Code::Insn(i) => i.slots(),
            Code::Raw(_) => 1,
        }
    }

    /// The decoded instruction, if the item has one.
    pub fn instruction(&self) -> Option<&Instruction> {
        match &self.code {
            Code::Insn(i) => Some(i),
            Code::Raw(_) => None,
        }
    }

    /// True when the item's instruction has a relative target.
    pub fn has_target_field(&self) -> bool {
        self.instruction()
            .is_some_and(|i| target_field(i).is_some())
    }
}

/// Where an instruction keeps its relative target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetField {
    /// The offset field (JMP jumps).
    Off,
    /// The immediate (`gotol`, local calls, `ld_imm64` src 4).
    Imm,
}

/// The field holding `ins`'s relative target, if it has one.
pub fn target_field(ins: &Instruction) -> Option<TargetField> {
    let row = ins.row;
    match row.operation {
        Operation::CallLocal | Operation::LdFunc => Some(TargetField::Imm),
        Operation::Ja if row.class == Class::Jmp32 => Some(TargetField::Imm),
        _ if row.is_jump() => Some(TargetField::Off),
        _ => None,
    }
}

/// The slot `ins` at `slot` jumps to or calls (may be out of range).
pub fn target_slot(slot: usize, ins: &Instruction) -> Option<i64> {
    let rel = match target_field(ins)? {
        TargetField::Off => ins.off as i64,
        TargetField::Imm => ins.imm as i64,
    };
    Some(slot as i64 + 1 + rel)
}

/// The first slot of every item, plus the total number of slots at the end.
pub fn starts(items: &[Item]) -> Vec<usize> {
    let mut out = Vec::with_capacity(items.len() + 1);
    let mut slot = 0;
    for item in items {
        out.push(slot);
        slot += item.slots();
    }
    out.push(slot);
    out
}

/// Encodes items into slots, computing every target's relative offset.
/// An offset that does not fit its field saturates.
pub fn encode(items: &[Item]) -> Vec<Insn> {
    let starts = starts(items);
    let mut out = Vec::with_capacity(starts[items.len()]);
    for (i, item) in items.iter().enumerate() {
        match item.code {
            Code::Raw(insn) => out.push(insn),
            Code::Insn(mut ins) => {
                if let (Some(t), Some(field)) = (item.target, target_field(&ins)) {
                    let rel = starts[t.min(items.len())] as i64 - (starts[i] as i64 + 1);
                    match field {
                        TargetField::Off => {
                            ins.off = rel.clamp(i16::MIN as i64, i16::MAX as i64) as i16
                        }
                        TargetField::Imm => {
                            ins.imm = rel.clamp(i32::MIN as i64, i32::MAX as i64) as i32
                        }
                    }
                }
                ins.encode_into(&mut out);
            }
        }
    }
    out
}

/// Splits a program into items: decodable instructions, and raw slots where
/// decoding fails. Targets that land on an item's first slot (or one past
/// the end) become item targets; others stay as written.
pub fn decode(program: &Program) -> Vec<Item> {
    let slots = &program.insns;
    let mut items = Vec::with_capacity(slots.len());
    let mut slot_of = Vec::with_capacity(slots.len());
    let mut s = 0;
    while s < slots.len() {
        slot_of.push(s);
        match decode_at(slots, s) {
            Ok(ins) => {
                items.push(Item::plain(ins));
                s += ins.slots();
            }
            Err(_) => {
                items.push(Item::raw(slots[s]));
                s += 1;
            }
        }
    }
    let item_at = |slot: i64| -> Option<usize> {
        if slot == slots.len() as i64 {
            return Some(items.len());
        }
        slot_of.binary_search(&usize::try_from(slot).ok()?).ok()
    };
    let targets: Vec<Option<usize>> = items
        .iter()
        .zip(&slot_of)
        .map(|(item, &slot)| {
            let ins = item.instruction()?;
            item_at(target_slot(slot, ins)?)
        })
        .collect();
    for (item, t) in items.iter_mut().zip(targets) {
        item.target = t;
    }
    items
}

/// Inserts `item` before item `at`, keeping every target on the item it
/// pointed at.
pub fn insert(items: &mut Vec<Item>, at: usize, item: Item) {
    for it in items.iter_mut() {
        if let Some(t) = it.target.as_mut() {
            if *t >= at {
                *t += 1;
            }
        }
    }
    items.insert(at, item);
}

/// Removes item `at`; targets that pointed at it now point at the item
/// that follows it, and every other target stays on its item.
pub fn remove(items: &mut Vec<Item>, at: usize) -> Item {
    let removed = items.remove(at);
    for it in items.iter_mut() {
        if let Some(t) = it.target.as_mut() {
            if *t > at {
                *t -= 1;
            }
        }
    }
    removed
}

/// `exit`.
pub fn exit() -> Instruction {
    Instruction::new(row(Class::Jmp, Operation::Exit, Source::Imm), 0, 0, 0, 0)
}

/// The single row of `class`/`operation`/`source` without a size.
pub fn row(class: Class, operation: Operation, source: Source) -> &'static opcode::OpcodeRow {
    opcode::find(class, operation, source, None).expect("the opcode table has this row")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_survive_insertions_before_and_after() {
        // 0: if r1 == 0 goto +1 (to ld_imm64); 1: r0 = 1; 2: ld_imm64; 4: exit
        let p = Program::new(vec![
            Insn::new(0x15, 1, 0, 1, 0),
            Insn::new(0xb7, 0, 0, 0, 1),
            Insn::new(0x18, 2, 0, 0, 5),
            Insn::new(0, 0, 0, 0, 0),
            Insn::new(0x95, 0, 0, 0, 0),
        ]);
        let mut items = decode(&p);
        assert_eq!(items.len(), 4);
        assert_eq!(items[0].target, Some(2), "the ld_imm64 item");
        insert(&mut items, 1, Item::plain(exit()));
        let out = encode(&items);
        assert_eq!(out[0].off, 2, "re-targeted over the inserted exit");
        assert_eq!(decode(&Program::new(out.clone()))[0].target, Some(3));
        // Removing the target moves the jump to the next item (exit, slot 5).
        remove(&mut items, 3);
        let out = encode(&items);
        assert_eq!(out[0].off, 2);
        assert_eq!(out[3].opcode, 0x95);
    }

    #[test]
    fn undecodable_slots_are_kept_raw() {
        let p = Program::new(vec![
            Insn::new(0x8f, 0, 0, 0, 0),
            Insn::new(0x95, 0, 0, 0, 0),
        ]);
        let items = decode(&p);
        assert!(matches!(items[0].code, Code::Raw(_)));
        assert_eq!(encode(&items), p.insns);
    }
}
