//! Where the harness puts the user's program among the slots a backend
//! really loads, and how a backend's instruction numbers are translated
//! back to the user's indices.
//!
//! A backend that wraps the program (the kernel's wrapper, rbpf's `r2 = len`
//! prologue) reports pcs in the wrapped code. Every number it reports — in a
//! refusal reason, a fault pc, a verifier log — is rewritten with
//! [`SlotLayout::rewrite`]: a slot of the user's program becomes its index in
//! the program; a slot of the harness's own code keeps its number and is
//! marked (`insn 3 (harness prologue)`), so that no wrong user index is ever
//! printed.

use std::ops::Range;

/// The wrapped code: which slots are the harness's, which the program's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotLayout {
    /// Slots the harness puts before the program.
    pub before: usize,
    /// Named runs of harness slots (all below `before`), e.g. `0..5`
    /// "harness prologue".
    pub harness: Vec<(Range<usize>, &'static str)>,
}

/// A slot of the wrapped code, as the user sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// Index `n` of the user's program (possibly out of it, as a jump
    /// target may be).
    User(i64),
    /// A slot of the harness's own code, with its name.
    Harness(usize, &'static str),
}

impl SlotLayout {
    /// A layout of `before` harness slots, all of one name.
    pub fn prologue(before: usize, name: &'static str) -> SlotLayout {
        SlotLayout {
            before,
            harness: vec![(0..before, name)],
        }
    }

    /// Total slots the harness adds to a program.
    pub fn added(&self) -> usize {
        self.before
    }

    /// Where wrapped slot `slot` belongs. A slot before the wrapped code
    /// (a jump target out of range) is a negative user index.
    pub fn slot(&self, slot: i64) -> Slot {
        let before = self.before as i64;
        if slot >= before || slot < 0 {
            return Slot::User(slot - before);
        }
        let slot = slot as usize;
        let name = self
            .harness
            .iter()
            .find(|(r, _)| r.contains(&slot))
            .map(|(_, n)| *n)
            .unwrap_or("harness");
        Slot::Harness(slot, name)
    }

    /// The user's index of wrapped slot `slot`, if it is in the program.
    pub fn user_index(&self, slot: usize) -> Option<usize> {
        match self.slot(slot as i64) {
            Slot::User(n) => usize::try_from(n).ok(),
            Slot::Harness(..) => None,
        }
    }

    /// How slot `slot` is printed: the user's index, or the wrapped slot
    /// with the name of the harness code it belongs to.
    pub fn render(&self, slot: i64) -> String {
        match self.slot(slot) {
            Slot::User(n) => n.to_string(),
            Slot::Harness(n, name) => format!("{n} ({name})"),
        }
    }

    /// Rewrites every instruction number in a backend's `text` (see
    /// [`rewrite_numbers`]) from wrapped slots to the user's indices.
    pub fn rewrite(&self, text: &str) -> String {
        rewrite_numbers(text, |n| self.render(n))
    }
}

/// Words after which a number is an instruction index, in kernel verifier
/// logs and rbpf messages. A match must start at a word boundary.
const KEYWORDS: &[&str] = &[
    "insn #",     // rbpf: `(insn #3)`
    "insn ",      // kernel: `unreachable insn 9`, `from insn 8 to 19`
    "to #",       // rbpf: `jump out of code to #12`
    "at #",       // rbpf: `jump to middle of LD_DW at #4`
    "last_idx ",  // kernel precision backtracking
    "first_idx ", // kernel precision backtracking
    "@",          // kernel: `func#1 @8`
];

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn digits_at(s: &[u8], at: usize) -> usize {
    s[at..].iter().take_while(|c| c.is_ascii_digit()).count()
}

/// Length of a number at `at` with an optional minus sign (0 if none).
fn signed_digits_at(s: &[u8], at: usize) -> usize {
    let sign = usize::from(s.get(at) == Some(&b'-'));
    match digits_at(s, at + sign) {
        0 => 0,
        n => sign + n,
    }
}

/// Rewrites instruction numbers in `text` with `map`:
/// - a line starting with `N:` (after blanks), as kernel log lines do;
/// - `from A to B` and `from insn A to B` (both numbers);
/// - `before N:` (kernel backtracking);
/// - a number after one of [`KEYWORDS`] (`insn N`, `insn #N`, `to #N`,
///   `at #N`, `last_idx N`, `first_idx N`, `@N`).
///
/// A number after `to` or a keyword may be negative (an out-of-range jump
/// target). Other numbers (register values, offsets, counts such as `processed 8
/// insns` or `max_states_per_insn 0`) are left alone.
pub fn rewrite_numbers(text: &str, map: impl Fn(i64) -> String) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        rewrite_line(line, &map, &mut out);
    }
    out
}

fn parse(s: &[u8], at: usize, len: usize) -> Option<i64> {
    std::str::from_utf8(&s[at..at + len]).ok()?.parse().ok()
}

fn rewrite_line(line: &str, map: &impl Fn(i64) -> String, out: &mut String) {
    let s = line.as_bytes();
    let mut i = 0;
    // `N:` at the start of a line (after blanks).
    let blanks = s.iter().take_while(|c| **c == b' ' || **c == b'\t').count();
    let n = digits_at(s, blanks);
    if n > 0 && s.get(blanks + n) == Some(&b':') {
        if let Some(v) = parse(s, blanks, n) {
            out.push_str(&line[..blanks]);
            out.push_str(&map(v));
            i = blanks + n;
        }
    }
    let mut copied = i;
    while i < s.len() {
        let boundary = i == 0 || !is_word(s[i - 1]);
        if !boundary {
            i += 1;
            continue;
        }
        // `from A to B`, `from insn A to B`
        if s[i..].starts_with(b"from ") {
            let mut a = i + 5;
            if s[a..].starts_with(b"insn ") {
                a += 5;
            }
            let na = digits_at(s, a);
            if na > 0 && s[a + na..].starts_with(b" to ") {
                let b = a + na + 4;
                let nb = signed_digits_at(s, b);
                if let (true, Some(va), Some(vb)) = (nb > 0, parse(s, a, na), parse(s, b, nb)) {
                    out.push_str(&line[copied..a]);
                    out.push_str(&map(va));
                    out.push_str(" to ");
                    out.push_str(&map(vb));
                    i = b + nb;
                    copied = i;
                    continue;
                }
            }
        }
        // `before N:`
        if s[i..].starts_with(b"before ") {
            let a = i + 7;
            let na = digits_at(s, a);
            if na > 0 && s.get(a + na) == Some(&b':') {
                if let Some(v) = parse(s, a, na) {
                    out.push_str(&line[copied..a]);
                    out.push_str(&map(v));
                    i = a + na;
                    copied = i;
                    continue;
                }
            }
        }
        let mut matched = false;
        for kw in KEYWORDS {
            if !s[i..].starts_with(kw.as_bytes()) {
                continue;
            }
            let a = i + kw.len();
            let na = signed_digits_at(s, a);
            if na == 0 {
                continue;
            }
            if let Some(v) = parse(s, a, na) {
                out.push_str(&line[copied..a]);
                out.push_str(&map(v));
                i = a + na;
                copied = i;
                matched = true;
                break;
            }
        }
        if !matched {
            i += 1;
        }
    }
    out.push_str(&line[copied..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel_like() -> SlotLayout {
        SlotLayout {
            before: 7,
            harness: vec![(0..4, "harness prologue"), (4..7, "harness epilogue")],
        }
    }

    #[test]
    fn kernel_messages_are_rewritten() {
        let l = kernel_like();
        assert_eq!(
            l.rewrite("jump out of range from insn 8 to 19"),
            "jump out of range from insn 1 to 12"
        );
        assert_eq!(l.rewrite("unreachable insn 10"), "unreachable insn 3");
        assert_eq!(
            l.rewrite("jump out of range from insn 8 to -1"),
            "jump out of range from insn 1 to -8"
        );
        assert_eq!(
            l.rewrite("from 9 to 11: frame1: R0=0"),
            "from 2 to 4: frame1: R0=0"
        );
        assert_eq!(
            l.rewrite("      11: .1........ (61) r0 = *(u32 *)(r1 +100)"),
            "      4: .1........ (61) r0 = *(u32 *)(r1 +100)"
        );
        assert_eq!(
            l.rewrite("3: (85) call pc+3\nfunc#1 @7"),
            "3 (harness prologue): (85) call pc+3\nfunc#1 @0"
        );
        assert_eq!(
            l.rewrite("regs=1 stack=0 before 8: (b7) r0 = 0"),
            "regs=1 stack=0 before 1: (b7) r0 = 0"
        );
        assert_eq!(
            l.rewrite("last_idx 9 first_idx 7"),
            "last_idx 2 first_idx 0"
        );
        assert_eq!(l.rewrite("insn 5"), "insn 5 (harness epilogue)");
    }

    #[test]
    fn counts_offsets_and_values_are_left_alone() {
        let l = kernel_like();
        for text in [
            "processed 8 insns (limit 1000000) max_states_per_insn 0 total_states 0",
            "BPF program is too large. Processed 1000001 insn",
            "invalid access to map value, value_size=4 off=100 size=4",
            "8: R1=ctx() R10=fp0",
        ] {
            let want = if text.starts_with("8:") {
                "1: R1=ctx() R10=fp0".to_string()
            } else {
                text.to_string()
            };
            assert_eq!(l.rewrite(text), want);
        }
    }

    #[test]
    fn rbpf_messages_are_rewritten() {
        let l = SlotLayout::prologue(1, "harness prologue");
        assert_eq!(
            l.rewrite("[Verifier] Error: jump out of code to #12 (insn #2)"),
            "[Verifier] Error: jump out of code to #11 (insn #1)"
        );
        assert_eq!(
            l.rewrite("jump out of code to #-1 (insn #2)"),
            "jump out of code to #-2 (insn #1)"
        );
        assert_eq!(
            l.rewrite("unsupported call type #1 (insn #0)"),
            "unsupported call type #1 (insn #0 (harness prologue))"
        );
    }
}
