//! Dropping whole subprograms: the items from a local call's target up to
//! the next subprogram (or the end) are deleted, and every call to that
//! subprogram (and every `ld_imm64` of its address) becomes `dst = 0`.

use super::ddmin::delete_range;
use super::neutral::zero;
use super::{with_items, Case, Minimizer};
use crate::gen::layout::{self, Item};
use bpfdiff_engine::opcode::Operation;

/// The item ranges of the subprograms after the main one, in program order.
pub fn subprograms(items: &[Item]) -> Vec<(usize, usize)> {
    let mut starts: Vec<usize> = items
        .iter()
        .filter(|it| {
            it.instruction().is_some_and(|i| {
                matches!(i.row.operation, Operation::CallLocal | Operation::LdFunc)
            })
        })
        .filter_map(|it| it.target)
        .filter(|&t| t > 0 && t < items.len())
        .collect();
    starts.sort_unstable();
    starts.dedup();
    let ends = starts.iter().skip(1).copied().chain([items.len()]);
    starts.iter().copied().zip(ends).collect()
}

/// `items` without the subprogram `from..to`; what referred to it becomes
/// `dst = 0`.
pub fn drop_subprogram(items: &[Item], from: usize, to: usize) -> Vec<Item> {
    let mut out = items.to_vec();
    for it in out.iter_mut() {
        let refers = it.target.is_some_and(|t| t >= from && t < to);
        if let (true, Some(ins)) = (refers, it.instruction()) {
            let dst = match ins.row.operation {
                Operation::CallLocal => 0,
                Operation::LdFunc => ins.dst,
                _ => continue,
            };
            *it = Item::plain(zero(dst));
        }
    }
    delete_range(&out, from, to)
}

/// The pass: returns true when it dropped a subprogram.
pub fn run(m: &mut Minimizer, case: &mut Case) -> bool {
    let mut changed = false;
    // Last first, so that earlier ranges stay valid after a success.
    let mut ranges = subprograms(&layout::decode(&case.program));
    while let Some((from, to)) = ranges.pop() {
        let items = layout::decode(&case.program);
        if to > items.len() {
            continue;
        }
        let candidate = drop_subprogram(&items, from, to);
        changed |= m.try_replace(case, with_items(case, &candidate));
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfdiff_engine::asm::kernel;
    use bpfdiff_engine::Program;

    #[test]
    fn a_subprogram_and_its_calls_go() {
        let p = kernel::assemble("call pc+2\nr0 += 1\nexit\nr0 = 41\nexit\n").unwrap();
        let items = layout::decode(&p);
        assert_eq!(subprograms(&items), vec![(3, 5)]);
        let out = drop_subprogram(&items, 3, 5);
        assert_eq!(
            kernel::disassemble(&Program::new(layout::encode(&out))).unwrap(),
            "0: (b7) r0 = 0\n1: (07) r0 += 1\n2: (95) exit\n"
        );
    }
}
