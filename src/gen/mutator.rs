//! The instruction-level mutator behind the fuzz targets' libFuzzer custom
//! mutator (`libfuzzer_sys::fuzz_mutator!`).
//!
//! A fuzz input is read as a [`Case`] (see [`super::case`]), split into
//! items ([`super::layout`]), and changed a few times: insert, delete,
//! duplicate, replace or swap an instruction, tweak an operand to a
//! boundary value, or change the input memory. Jumps and calls point at
//! items, so they follow the instruction they pointed at; a jump whose
//! target was deleted lands on the next instruction, and a jump whose target
//! is out of range (or inside an `ld_imm64`) is re-targeted to a valid
//! instruction, forward when possible. Sometimes the whole case is replaced
//! by a freshly generated one. The result is always written as a literal
//! case, so a valid program stays decodable and its jumps stay in range.

use super::layout::{self, Code, Item};
use super::seeded::SplitMix64;
use super::{boundary, generate, grammar, Case, Knobs, Tier};
use arbitrary::{Result, Unstructured};
use bpfdiff_engine::{Instruction, Program};

/// How the mutator behaves for one fuzz target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MutatorConfig {
    /// The tier of freshly generated cases.
    pub fresh_tier: Tier,
    /// One in this many mutations replaces the case by a fresh one.
    pub fresh_one_in: u8,
}

impl Default for MutatorConfig {
    fn default() -> Self {
        MutatorConfig {
            fresh_tier: Tier::Verifier,
            fresh_one_in: 16,
        }
    }
}

/// One kind of change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutation {
    /// Insert a new valid instruction.
    Insert,
    /// Delete an instruction.
    Delete,
    /// Copy an instruction next to itself.
    Duplicate,
    /// Replace an instruction by a new valid one.
    Replace,
    /// Swap two neighbouring instructions.
    Swap,
    /// Set one operand (register, offset, immediate) to a boundary value.
    Operand,
    /// Change the input memory's bytes or length.
    Input,
}

const MUTATIONS: [Mutation; 7] = [
    Mutation::Insert,
    Mutation::Delete,
    Mutation::Duplicate,
    Mutation::Replace,
    Mutation::Swap,
    Mutation::Operand,
    Mutation::Input,
];

fn new_instruction(u: &mut Unstructured, knobs: &Knobs, at: usize, count: usize) -> Result<Item> {
    let rows = knobs.rows();
    if rows.is_empty() {
        return Ok(Item::plain(layout::exit()));
    }
    let row = *u.choose(&rows)?;
    grammar::instruction(u, row, at, count)
}

fn tweak_operand(u: &mut Unstructured, item: &mut Item, count: usize) -> Result<()> {
    let Code::Insn(ins) = item.code else {
        // A raw slot: any field may change.
        if let Code::Raw(mut raw) = item.code {
            match u.int_in_range(0u8..=3)? {
                0 => raw.opcode = u.arbitrary()?,
                1 => raw.dst = u.int_in_range(0..=15)?,
                2 => raw.off = boundary::off16(u)?,
                _ => raw.imm = boundary::imm32(u)?,
            }
            item.code = Code::Raw(raw);
        }
        return Ok(());
    };
    let (mut dst, mut src, mut off, mut imm) = (ins.dst, ins.src, ins.off, ins.imm);
    let mut next_imm = ins.next_imm;
    match u.int_in_range(0u8..=4)? {
        0 => dst = boundary::reg(u)?,
        1 => src = boundary::reg(u)?,
        2 => off = boundary::off16(u)?,
        3 => imm = boundary::imm32(u)?,
        _ if ins.slots() == 2 => next_imm = (boundary::imm64(u)? >> 32) as i32,
        _ => imm = boundary::any_shift(u)?,
    }
    let mut out = Instruction::new(ins.row, dst, src, off, imm);
    if out.slots() == 2 {
        out.next_imm = next_imm;
    }
    if item.has_target_field() && u.ratio(1u8, 2)? {
        item.target = Some(u.int_in_range(0..=count.saturating_sub(1))?);
    }
    item.code = Code::Insn(out);
    Ok(())
}

fn mutate_input(u: &mut Unstructured, input: &mut Vec<u8>) -> Result<()> {
    match u.int_in_range(0u8..=3)? {
        0 if !input.is_empty() => {
            let i = u.int_in_range(0..=input.len() - 1)?;
            input[i] = *u.choose(&[0, 1, 0x7f, 0x80, 0xff, 0xfe])?;
        }
        1 if !input.is_empty() => {
            let i = u.int_in_range(0..=input.len() - 1)?;
            input[i] ^= 1 << u.int_in_range(0..=7)?;
        }
        2 => {
            let len = *u.choose(&[0usize, 1, 2, 4, 7, 8, 16, 31, 32, 64, 255])?;
            input.resize(len, 0);
        }
        _ => {
            let extra = u.int_in_range(1usize..=8)?;
            for _ in 0..extra {
                input.push(u.arbitrary()?);
            }
        }
    }
    input.truncate(super::case::MAX_INPUT);
    Ok(())
}

/// Applies one mutation to the items and input.
pub fn apply(
    mutation: Mutation,
    u: &mut Unstructured,
    knobs: &Knobs,
    items: &mut Vec<Item>,
    input: &mut Vec<u8>,
) -> Result<()> {
    let n = items.len();
    match mutation {
        Mutation::Insert => {
            let at = u.int_in_range(0..=n)?;
            let item = new_instruction(u, knobs, at, n + 1)?;
            layout::insert(items, at, item);
        }
        Mutation::Delete if n > 1 => {
            let at = u.int_in_range(0..=n - 1)?;
            layout::remove(items, at);
        }
        Mutation::Duplicate if n > 0 => {
            let at = u.int_in_range(0..=n - 1)?;
            let copy = items[at];
            layout::insert(items, at + 1, copy);
        }
        Mutation::Replace if n > 0 => {
            let at = u.int_in_range(0..=n - 1)?;
            items[at] = new_instruction(u, knobs, at, n)?;
        }
        Mutation::Swap if n > 1 => {
            let at = u.int_in_range(0..=n - 2)?;
            items.swap(at, at + 1);
            for it in items.iter_mut() {
                match it.target {
                    Some(t) if t == at => it.target = Some(at + 1),
                    Some(t) if t == at + 1 => it.target = Some(at),
                    _ => {}
                }
            }
        }
        Mutation::Operand if n > 0 => {
            let at = u.int_in_range(0..=n - 1)?;
            tweak_operand(u, &mut items[at], n)?;
        }
        _ => mutate_input(u, input)?,
    }
    Ok(())
}

/// Points every jump and call whose target is missing, past the end or
/// unknown at a valid instruction (forward when there is one).
pub fn fix_targets(u: &mut Unstructured, items: &mut [Item]) -> Result<()> {
    let n = items.len();
    for (i, item) in items.iter_mut().enumerate() {
        if !item.has_target_field() || matches!(item.target, Some(t) if t < n) {
            continue;
        }
        let t = if i + 1 < n {
            u.int_in_range(i + 1..=n - 1)?
        } else {
            u.int_in_range(0..=n - 1)?
        };
        item.target = Some(t);
    }
    Ok(())
}

/// Mutates a case a few times (1 to 4 changes).
pub fn mutate_case(case: &Case, knobs: &Knobs, u: &mut Unstructured) -> Result<Case> {
    let mut items = layout::decode(&case.program);
    let mut input = case.input.clone();
    let rounds = u.int_in_range(1u8..=4)?;
    for _ in 0..rounds {
        let m = *u.choose(&MUTATIONS)?;
        apply(m, u, knobs, &mut items, &mut input)?;
    }
    fix_targets(u, &mut items)?;
    Ok(Case::new(Program::new(layout::encode(&items)), input))
}

/// The libFuzzer custom mutator: reads `data` as a case, mutates it (or
/// generates a fresh one), and returns the new fuzz input, at most
/// `max_size` bytes (instructions are dropped from the end to fit).
pub fn mutate_bytes(
    data: &[u8],
    max_size: usize,
    seed: u32,
    knobs: &Knobs,
    config: &MutatorConfig,
) -> Vec<u8> {
    let mut rng = SplitMix64::new(u64::from(seed) ^ (data.len() as u64).rotate_left(32));
    let mut choices = vec![0u8; 1024];
    rng.fill(&mut choices);
    let mut u = Unstructured::new(&choices);
    let case = Case::from_fuzz_bytes(data, knobs);
    let fresh = config.fresh_one_in > 0
        && u.int_in_range(1..=config.fresh_one_in).unwrap_or(1) == 1
        || case.program.is_empty();
    let mutated = if fresh {
        let mut gen_bytes = vec![0u8; super::seeded::SEED_BYTES];
        rng.fill(&mut gen_bytes);
        generate(config.fresh_tier, knobs, &mut Unstructured::new(&gen_bytes))
    } else {
        mutate_case(&case, knobs, &mut u)
    }
    .unwrap_or(case);
    fit(mutated, max_size)
}

/// The case's literal bytes, dropping trailing instructions until they fit.
fn fit(mut case: Case, max_size: usize) -> Vec<u8> {
    let mut out = case.to_fuzz_bytes();
    if out.len() <= max_size {
        return out;
    }
    case.input
        .truncate(max_size.saturating_sub(3).min(case.input.len()));
    let mut items = layout::decode(&case.program);
    loop {
        case.program = Program::new(layout::encode(&items));
        out = case.to_fuzz_bytes();
        if out.len() <= max_size || items.is_empty() {
            break;
        }
        items.pop();
        let n = items.len();
        for it in items.iter_mut() {
            if matches!(it.target, Some(t) if t >= n) {
                it.target = n.checked_sub(1);
            }
        }
    }
    out.truncate(max_size);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::seeded;

    /// Every jump and call lands on the first slot of an instruction.
    fn targets_in_range(p: &Program) -> std::result::Result<(), String> {
        let decoded = p.decode().map_err(|e| e.to_string())?;
        let starts: Vec<usize> = decoded.iter().map(|(s, _)| *s).collect();
        for (slot, ins) in &decoded {
            if let Some(t) = layout::target_slot(*slot, ins) {
                if t < 0 || !starts.contains(&(t as usize)) {
                    return Err(format!("insn {slot} jumps to slot {t}"));
                }
            }
        }
        Ok(())
    }

    #[test]
    fn mutated_valid_programs_decode_and_jump_in_range() {
        let knobs = Knobs::default();
        for seed in 0..150u64 {
            let mut case = seeded::case(Tier::Verifier, &knobs, seed);
            targets_in_range(&case.program).unwrap();
            let choices = seeded::bytes(seed ^ 0xabcd, 4096);
            let mut u = Unstructured::new(&choices);
            for round in 0..20 {
                case = mutate_case(&case, &knobs, &mut u).unwrap();
                if let Err(e) = targets_in_range(&case.program) {
                    panic!("seed {seed} round {round}: {e}");
                }
            }
        }
    }

    #[test]
    fn out_of_range_jumps_are_re_targeted() {
        // `ja +100` in a 2-insn program gets a valid target.
        let p = Program::new(vec![
            bpfdiff_engine::Insn::new(0x05, 0, 0, 100, 0),
            bpfdiff_engine::Insn::new(0x95, 0, 0, 0, 0),
        ]);
        let mut items = layout::decode(&p);
        assert_eq!(items[0].target, None);
        fix_targets(&mut Unstructured::new(&[]), &mut items).unwrap();
        assert_eq!(layout::encode(&items)[0].off, 0);
    }

    #[test]
    fn byte_mutator_respects_max_size_and_writes_literal_cases() {
        let knobs = Knobs::default();
        let config = MutatorConfig::default();
        let mut data = seeded::case(Tier::Verifier, &knobs, 3).to_fuzz_bytes();
        for seed in 0..300u32 {
            data = mutate_bytes(&data, 256, seed, &knobs, &config);
            assert!(data.len() <= 256);
            assert_eq!(data[0], crate::gen::case::LITERAL);
        }
    }
}
