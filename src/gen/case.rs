//! A generated test case (program + input memory) and the byte format the
//! fuzz targets read.
//!
//! ```text
//! byte 0        mode: low two bits 0 = a literal case, 1 = raw tier,
//!               2 = grammar tier, 3 = verifier-aware tier
//! literal:      bytes 1..3  input length L (u16, little-endian, at most MAX_INPUT)
//!               next L bytes  the input memory
//!               the rest      the program, 8 bytes per slot (a trailing
//!                             partial slot is ignored)
//! generator:    the rest feeds `arbitrary::Unstructured` for that tier
//! ```
//! Every byte string is a valid case: an empty input is an empty literal
//! case. The instruction-level mutator always writes literal cases, so the
//! fuzzers' corpora converge to readable programs.

use super::{generate, Knobs, Tier};
use arbitrary::Unstructured;
use bpfdiff_engine::maps::MapDef;
use bpfdiff_engine::prog_type::ProgType;
use bpfdiff_engine::{Insn, Program};

/// Most input memory bytes a literal case carries.
pub const MAX_INPUT: usize = 4096;

/// The mode byte of a literal case.
pub const LITERAL: u8 = 0;

/// One program and the input memory it runs on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Case {
    /// The program.
    pub program: Program,
    /// The input memory (r1 points to it, r2 holds its length); for a
    /// packet type, the packet as `BPF_PROG_TEST_RUN` gets it.
    pub input: Vec<u8>,
    /// The program type (`Input`, the harness's model, for every tier but
    /// the packet tiers; docs/program-types.md).
    pub prog_type: ProgType,
    /// The maps the program names with `ld_imm64` src=1/src=2 (map `i`
    /// is the i-th), with their initial contents; empty for most cases.
    /// The fuzz-byte format does not carry them.
    pub maps: Vec<MapDef>,
}

impl Case {
    /// A case from its parts.
    pub fn new(program: Program, input: Vec<u8>) -> Case {
        Case {
            program,
            input,
            prog_type: ProgType::Input,
            maps: Vec::new(),
        }
    }

    /// A case of a native program type: `input` is its packet (or ctx).
    pub fn native(program: Program, input: Vec<u8>, prog_type: ProgType) -> Case {
        Case {
            program,
            input,
            prog_type,
            maps: Vec::new(),
        }
    }

    /// [`Case::native`] with maps.
    pub fn native_with_maps(
        program: Program,
        input: Vec<u8>,
        prog_type: ProgType,
        maps: Vec<MapDef>,
    ) -> Case {
        Case {
            maps,
            ..Case::native(program, input, prog_type)
        }
    }

    /// Reads a case from fuzzer bytes (see the module documentation).
    /// Generator modes use `knobs`.
    pub fn from_fuzz_bytes(data: &[u8], knobs: &Knobs) -> Case {
        let Some((&mode, rest)) = data.split_first() else {
            return Case::default();
        };
        let tier = match mode & 3 {
            1 => Tier::Raw,
            2 => Tier::Grammar,
            3 => Tier::Verifier,
            _ => return Case::from_literal(rest),
        };
        let mut u = Unstructured::new(rest);
        // Generation never fails for want of data (exhausted input yields
        // the smallest choices), so an error here is unreachable; an empty
        // case is the safe answer anyway.
        generate(tier, knobs, &mut u).unwrap_or_default()
    }

    fn from_literal(rest: &[u8]) -> Case {
        let len = match rest {
            [a, b, ..] => (u16::from_le_bytes([*a, *b]) as usize).min(MAX_INPUT),
            _ => 0,
        };
        let body = rest.get(2..).unwrap_or(&[]);
        let len = len.min(body.len());
        let (input, code) = body.split_at(len);
        let insns = code
            .chunks_exact(Insn::SIZE)
            .map(|c| Insn::from_bytes(c.try_into().expect("chunks of 8")))
            .collect();
        Case::new(Program::new(insns), input.to_vec())
    }

    /// The case as a literal fuzz input (mode byte 0).
    pub fn to_fuzz_bytes(&self) -> Vec<u8> {
        let input = &self.input[..self.input.len().min(MAX_INPUT)];
        let mut out = Vec::with_capacity(3 + input.len() + self.program.len() * Insn::SIZE);
        out.push(LITERAL);
        out.extend((input.len() as u16).to_le_bytes());
        out.extend(input);
        out.extend(self.program.to_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_cases_round_trip() {
        let case = Case::new(
            Program::new(vec![
                Insn::new(0xb7, 0, 0, 0, 7),
                Insn::new(0x95, 0, 0, 0, 0),
            ]),
            vec![1, 2, 3],
        );
        let bytes = case.to_fuzz_bytes();
        assert_eq!(bytes[..6], [0, 3, 0, 1, 2, 3]);
        assert_eq!(Case::from_fuzz_bytes(&bytes, &Knobs::default()), case);
    }

    #[test]
    fn any_bytes_are_a_case() {
        let k = Knobs::default();
        assert_eq!(Case::from_fuzz_bytes(&[], &k), Case::default());
        // Input length larger than the data: everything is input.
        let c = Case::from_fuzz_bytes(&[0, 0xff, 0xff, 9, 9], &k);
        assert_eq!(c.input, vec![9, 9]);
        assert!(c.program.is_empty());
        // A partial trailing slot is dropped.
        let c = Case::from_fuzz_bytes(&[4, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0, 1], &k);
        assert_eq!(c.program.len(), 1);
        // Generator modes always produce something.
        for mode in 1..=3u8 {
            let c = Case::from_fuzz_bytes(&[mode, 1, 2, 3], &k);
            assert!(!c.program.is_empty(), "mode {mode}");
        }
    }
}
