//! Shortening and zeroing the input memory: first the whole input goes,
//! then halves, quarters, … are cut from the end; then ranges of nonzero
//! bytes are zeroed, largest first. Inputs only get shorter or gain zeros,
//! so the pass ends.

use super::{Case, Minimizer};

/// The pass: returns true when it changed the input.
pub fn run(m: &mut Minimizer, case: &mut Case) -> bool {
    let mut changed = false;
    // Shorten: try lengths from 0 upward in halving steps from the top.
    let mut cut = case.input.len();
    while cut > 0 {
        let keep = case.input.len().saturating_sub(cut);
        let mut candidate = case.clone();
        candidate.input.truncate(keep);
        if m.try_replace(case, candidate) {
            changed = true;
        } else {
            cut /= 2;
        }
        cut = cut.min(case.input.len());
    }
    // Zero: ranges of nonzero bytes, largest first.
    let mut size = case.input.len();
    while size >= 1 {
        let mut from = 0;
        while from < case.input.len() {
            let to = (from + size).min(case.input.len());
            if case.input[from..to].iter().any(|&b| b != 0) {
                let mut candidate = case.clone();
                candidate.input[from..to].fill(0);
                changed |= m.try_replace(case, candidate);
            }
            from = to;
        }
        size /= 2;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::super::{minimize, Progress};
    use super::*;
    use bpfdiff_engine::asm::kernel;

    #[test]
    fn the_input_keeps_only_the_bytes_the_predicate_reads() {
        let program = kernel::assemble("r0 = 0\nexit\n").unwrap();
        let start = Case::new(program, vec![9, 8, 7, 6, 5, 4, 3, 2, 1]);
        // Holds while byte 2 is 7 (so at least 3 bytes remain).
        let mut pred = |c: &Case| c.input.get(2) == Some(&7);
        let out = minimize(start, &mut pred, &mut |_: &Progress| {});
        assert_eq!(out.case.input, vec![0, 0, 7]);
    }
}
