//! Deleting instruction ranges (ddmin over instructions, not bytes).
//!
//! The program is split into items (an `ld_imm64` is one item of two
//! slots, so its pair stays intact). Ranges of items are deleted, largest
//! first: half the program, then quarters, and so on down to single
//! instructions. Jumps and calls that remain keep pointing at the
//! instruction they pointed at; one whose target was deleted now points at
//! the first instruction after the deleted range ([`layout::remove`]), and
//! every offset is recomputed from the new layout.

use super::{with_items, Case, Minimizer};
use crate::gen::layout::{self, Item};

/// `items` without the items `from..to`, targets repaired.
pub fn delete_range(items: &[Item], from: usize, to: usize) -> Vec<Item> {
    let mut out = items.to_vec();
    for _ in from..to {
        layout::remove(&mut out, from);
    }
    out
}

/// The pass: returns true when it deleted something.
pub fn run(m: &mut Minimizer, case: &mut Case) -> bool {
    let mut changed = false;
    let mut items = layout::decode(&case.program);
    let mut size = items.len() / 2;
    while size >= 1 {
        // Deleting from the end first: later instructions depend on
        // earlier ones more often than the other way round.
        let mut end = items.len();
        while end > 0 {
            let from = end.saturating_sub(size);
            let candidate = delete_range(&items, from, end);
            if m.try_replace(case, with_items(case, &candidate)) {
                items = layout::decode(&case.program);
                changed = true;
                end = from.min(items.len());
            } else {
                end = from;
            }
        }
        size /= 2;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfdiff_engine::asm::kernel;
    use bpfdiff_engine::Program;

    fn text(items: &[Item]) -> String {
        kernel::disassemble(&Program::new(layout::encode(items))).unwrap()
    }

    #[test]
    fn jumps_over_a_deleted_range_are_repaired() {
        // The jump at 0 skips slots 1-4 to land on `r0 = 2` (slot 5).
        let p = kernel::assemble("if r1 == 0 goto +4\nr2 = 1\nr3 = 2 ll\nr0 = 1\nr0 = 2\nexit\n")
            .unwrap();
        let items = layout::decode(&p);
        let out = delete_range(&items, 1, 3);
        assert_eq!(
            text(&out),
            "0: (15) if r1 == 0x0 goto pc+1\n1: (b7) r0 = 1\n2: (b7) r0 = 2\n3: (95) exit\n"
        );
    }

    #[test]
    fn a_jump_into_a_deleted_range_lands_after_it() {
        let p = kernel::assemble("if r1 == 0 goto +1\nr0 = 1\nr0 = 2\nexit\n").unwrap();
        let out = delete_range(&layout::decode(&p), 1, 3);
        assert_eq!(text(&out), "0: (15) if r1 == 0x0 goto pc+0\n1: (95) exit\n");
    }

    #[test]
    fn local_call_targets_are_repaired() {
        // call pc+2 reaches the subprogram at slot 3.
        let p = kernel::assemble("call pc+2\nr0 = 5\nexit\nr0 = 1\nexit\n").unwrap();
        let out = delete_range(&layout::decode(&p), 1, 2);
        let slots = layout::encode(&out);
        assert_eq!(slots[0].imm, 1, "the call still reaches `r0 = 1`");
        assert_eq!(slots[2].imm, 1);
    }
}
