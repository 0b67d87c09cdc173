//! Soundness of the verifier's scalar domain and transfer functions (issue
//! 10), checked by sampling in the style of Agni: draw abstract inputs,
//! draw concrete values inside them, run the concrete operation with the
//! interpreter's semantics and require the concrete result to lie inside
//! the abstract result (`ScalarBounds::contains`).
//!
//! Abstract inputs are the join of a few concrete values (tnum union plus
//! the min/max in each of the four bound views, then `reg_bounds_sync`);
//! concrete operands are those values plus random tnum members that pass
//! `contains`, so they are not only the generating points.

use bpfdiff_engine::interp::semantics as sem;
use bpfdiff_engine::opcode::Operation as O;
use bpfdiff_engine::verifier::scalar::ScalarBounds;
use bpfdiff_engine::verifier::tnum::Tnum;
use bpfdiff_engine::verifier::transfer::alu::{self, imm_operand};
use bpfdiff_engine::verifier::transfer::jmp;
use proptest::prelude::*;

/// Values near the boundaries the bound views care about, plus any value.
fn interesting() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        0u64..64,
        (-64i64..64).prop_map(|v| v as u64),
        (-64i64..64).prop_map(|v| (0x8000_0000i64 + v) as u64),
        (-64i64..64).prop_map(|v| (0x1_0000_0000i64 + v) as u64),
        (-64i64..64).prop_map(|v| (i64::MIN as u64).wrapping_add(v as u64)),
        any::<u32>().prop_map(|v| v as u64),
        any::<i32>().prop_map(|v| v as i64 as u64),
        (any::<u32>(), any::<u8>()).prop_map(|(v, h)| v as u64 | (h as u64) << 32),
    ]
}

/// A small concrete set: a singleton, a cluster around a value, or a few
/// unrelated values.
fn concrete_set() -> impl Strategy<Value = Vec<u64>> {
    prop_oneof![
        interesting().prop_map(|v| vec![v]),
        (interesting(), prop::collection::vec(-40i64..40, 1..4)).prop_map(|(b, offs)| {
            let mut v = vec![b];
            v.extend(offs.iter().map(|o| b.wrapping_add(*o as u64)));
            v
        }),
        prop::collection::vec(interesting(), 1..4),
    ]
}

/// The abstract join of a concrete set, synced as the kernel would.
fn join(set: &[u64]) -> ScalarBounds {
    let mut t = Tnum::constant(set[0]);
    for &v in &set[1..] {
        t = t.union(Tnum::constant(v));
    }
    let mut r = ScalarBounds {
        var_off: t,
        umin: *set.iter().min().unwrap(),
        umax: *set.iter().max().unwrap(),
        smin: set.iter().map(|&v| v as i64).min().unwrap(),
        smax: set.iter().map(|&v| v as i64).max().unwrap(),
        u32_min: set.iter().map(|&v| v as u32).min().unwrap(),
        u32_max: set.iter().map(|&v| v as u32).max().unwrap(),
        s32_min: set.iter().map(|&v| v as i32).min().unwrap(),
        s32_max: set.iter().map(|&v| v as i32).max().unwrap(),
        id: 0,
        link_off: 0,
    };
    r.sync();
    r
}

/// An abstract input with concrete members: the generating set plus the
/// random tnum members (`value | noise & mask`) that `contains` accepts.
fn abstract_input() -> impl Strategy<Value = (ScalarBounds, Vec<u64>)> {
    (concrete_set(), prop::collection::vec(any::<u64>(), 8)).prop_map(|(set, noise)| {
        let a = join(&set);
        let mut members = set;
        for n in noise {
            let v = a.var_off.value | (n & a.var_off.mask);
            if a.contains(v) {
                members.push(v);
            }
        }
        (a, members)
    })
}

/// The concrete ALU result (RFC 9669 §4 with the kernel's choices in
/// SEMANTICS.md; division, modulo, shifts and swaps from the interpreter).
fn concrete_alu(op: O, alu64: bool, a: u64, b: u64) -> u64 {
    let w = |v: u64| if alu64 { v } else { v as u32 as u64 };
    match (op, alu64) {
        (O::Add, _) => w(a.wrapping_add(b)),
        (O::Sub, _) => w(a.wrapping_sub(b)),
        (O::Mul, _) => w(a.wrapping_mul(b)),
        (O::And, _) => w(a & b),
        (O::Or, _) => w(a | b),
        (O::Xor, _) => w(a ^ b),
        (O::Neg, _) => w(0u64.wrapping_sub(a)),
        (O::Div, true) => sem::div64(a, b),
        (O::Div, false) => sem::div32(a, b),
        (O::SDiv, true) => sem::sdiv64(a, b),
        (O::SDiv, false) => sem::sdiv32(a, b),
        (O::Mod, true) => sem::mod64(a, b),
        (O::Mod, false) => sem::mod32(a, b),
        (O::SMod, true) => sem::smod64(a, b),
        (O::SMod, false) => sem::smod32(a, b),
        (O::Lsh, true) => sem::lsh64(a, b),
        (O::Lsh, false) => sem::lsh32(a, b),
        (O::Rsh, true) => sem::rsh64(a, b),
        (O::Rsh, false) => sem::rsh32(a, b),
        (O::Arsh, true) => sem::arsh64(a, b),
        (O::Arsh, false) => sem::arsh32(a, b),
        _ => unreachable!("{op:?}"),
    }
}

/// The concrete outcome of a conditional jump (RFC 9669 §4.3; JMP32
/// compares the low 32 bits).
fn concrete_jmp(op: O, jmp32: bool, a: u64, b: u64) -> bool {
    let (ua, ub) = if jmp32 {
        (a as u32 as u64, b as u32 as u64)
    } else {
        (a, b)
    };
    let (sa, sb) = if jmp32 {
        (a as i32 as i64, b as i32 as i64)
    } else {
        (a as i64, b as i64)
    };
    match op {
        O::Jeq => ua == ub,
        O::Jne => ua != ub,
        O::Jset => ua & ub != 0,
        O::Jgt => ua > ub,
        O::Jge => ua >= ub,
        O::Jlt => ua < ub,
        O::Jle => ua <= ub,
        O::Jsgt => sa > sb,
        O::Jsge => sa >= sb,
        O::Jslt => sa < sb,
        O::Jsle => sa <= sb,
        _ => unreachable!("{op:?}"),
    }
}

/// Agni's soundness condition for one binary ALU op, both widths, register
/// and immediate forms.
fn check_alu(
    op: O,
    dst: &(ScalarBounds, Vec<u64>),
    src: &(ScalarBounds, Vec<u64>),
    imm: i32,
) -> Result<(), TestCaseError> {
    let imm_set = (imm_operand(imm), vec![imm as i64 as u64]);
    for alu64 in [true, false] {
        for (sa, sv) in [(&src.0, &src.1), (&imm_set.0, &imm_set.1)] {
            let r = alu::adjust_scalar_min_max_vals(op, alu64, &dst.0, sa);
            prop_assert!(!r.is_contradictory(), "{op:?} gave an empty state {r:?}");
            for &a in &dst.1 {
                for &b in sv {
                    let c = concrete_alu(op, alu64, a, b);
                    prop_assert!(
                        r.contains(c),
                        "{op:?} alu64={alu64}: {a:#x} op {b:#x} = {c:#x} not in {r:?}\n dst={:?}\n src={:?}",
                        dst.0,
                        sa
                    );
                }
            }
        }
    }
    Ok(())
}

macro_rules! alu_soundness {
    ($($name:ident => $op:expr,)*) => {
        proptest! {
            $(
                #[test]
                fn $name(dst in abstract_input(), src in abstract_input(), imm in any::<i32>()) {
                    // models adjust_scalar_min_max_vals in kernel/bpf/verifier.c (6.18).
                    check_alu($op, &dst, &src, imm)?;
                }
            )*
        }
    };
}

alu_soundness! {
    add_is_sound => O::Add,
    sub_is_sound => O::Sub,
    mul_is_sound => O::Mul,
    div_is_sound => O::Div,
    sdiv_is_sound => O::SDiv,
    mod_is_sound => O::Mod,
    smod_is_sound => O::SMod,
    and_is_sound => O::And,
    or_is_sound => O::Or,
    xor_is_sound => O::Xor,
    lsh_is_sound => O::Lsh,
    rsh_is_sound => O::Rsh,
    arsh_is_sound => O::Arsh,
    neg_is_sound => O::Neg,
}

proptest! {
    #[test]
    fn mov_and_movsx_are_sound(src in abstract_input()) {
        // models the MOV/MOVSX paths of check_alu_op (coerce_reg_to_size_sx,
        // coerce_subreg_to_size_sx, zext_32_to_64) in kernel/bpf/verifier.c.
        let cases: [(bool, Option<u32>); 7] = [
            (true, None), (false, None),
            (true, Some(8)), (true, Some(16)), (true, Some(32)),
            (false, Some(8)), (false, Some(16)),
        ];
        for (alu64, sx) in cases {
            let r = match sx {
                None => alu::mov(alu64, &src.0),
                Some(bits) => alu::movsx(alu64, bits, &src.0),
            };
            prop_assert!(!r.is_contradictory());
            for &b in &src.1 {
                let c = match (sx, alu64) {
                    (None, true) => b,
                    (None, false) => b as u32 as u64,
                    (Some(bits), true) => sem::sign_extend(b, bits),
                    (Some(bits), false) => sem::sign_extend(b, bits) as u32 as u64,
                };
                prop_assert!(r.contains(c), "mov alu64={alu64} sx={sx:?}: {b:#x} -> {c:#x} not in {r:?}\n src={:?}", src.0);
            }
        }
    }

    #[test]
    fn ldx_coercions_are_sound(src in abstract_input()) {
        // models coerce_reg_to_size (LDX) and coerce_reg_to_size_sx (LDSX).
        // (check_mem_access coerces only loads narrower than 8 bytes.)
        for size in [1u32, 2, 4] {
            let mut z = src.0;
            z.coerce_to_size(size);
            let mut s = src.0;
            s.coerce_to_size_sx(size);
            for &b in &src.1 {
                let zc = b & ((1u64 << (size * 8)) - 1);
                prop_assert!(z.contains(zc), "coerce {size}: {b:#x} -> {zc:#x} not in {z:?}");
                let sc = sem::sign_extend(b, size * 8);
                prop_assert!(s.contains(sc), "coerce_sx {size}: {b:#x} -> {sc:#x} not in {s:?}");
            }
        }
    }

    #[test]
    fn endian_is_sound(dst in abstract_input()) {
        // models scalar_byte_swap (BPF_END in adjust_scalar_min_max_vals).
        for (op, alu64) in [(O::Le, false), (O::Be, false), (O::Bswap, true)] {
            for bits in [16u32, 32, 64] {
                let r = alu::endian(op, bits, &dst.0);
                for &a in &dst.1 {
                    let c = if op == O::Le { sem::to_le(a, bits) } else { sem::byte_swap(a, bits) };
                    prop_assert!(r.contains(c), "{op:?}{bits} alu64={alu64}");
                }
            }
        }
    }

    #[test]
    fn constants_stay_exact(a in interesting(), b in interesting(), sh in 0u64..64) {
        // models __mark_reg_known / the tnum constant paths: every op that 6.18
        // tracks maps constants to the exact constant result.
        let ca = ScalarBounds::constant(a);
        for alu64 in [true, false] {
            for op in [O::Add, O::Sub, O::Mul, O::And, O::Or, O::Xor, O::Neg] {
                let r = alu::adjust_scalar_min_max_vals(op, alu64, &ca, &ScalarBounds::constant(b));
                prop_assert_eq!(r, ScalarBounds::constant(concrete_alu(op, alu64, a, b)), "{:?} alu64={}", op, alu64);
            }
            let amount = if alu64 { sh } else { sh & 31 };
            for op in [O::Lsh, O::Rsh, O::Arsh] {
                let r = alu::adjust_scalar_min_max_vals(op, alu64, &ca, &ScalarBounds::constant(amount));
                prop_assert_eq!(r, ScalarBounds::constant(concrete_alu(op, alu64, a, amount)), "{:?} alu64={}", op, alu64);
            }
            prop_assert_eq!(alu::mov(alu64, &ca), ScalarBounds::constant(if alu64 { a } else { a as u32 as u64 }));
        }
        for bits in [8u32, 16, 32] {
            prop_assert_eq!(alu::movsx(true, bits, &ca), ScalarBounds::constant(sem::sign_extend(a, bits)));
        }
        for bits in [8u32, 16] {
            prop_assert_eq!(alu::movsx(false, bits, &ca), ScalarBounds::constant(sem::sign_extend(a, bits) as u32 as u64));
        }
        // scalar_byte_swap: tnum_bswap16/32/64 of a constant is a constant.
        for bits in [16u32, 32, 64] {
            prop_assert_eq!(alu::endian(O::Le, bits, &ca), ScalarBounds::constant(sem::to_le(a, bits)));
            prop_assert_eq!(alu::endian(O::Be, bits, &ca), ScalarBounds::constant(sem::byte_swap(a, bits)));
            prop_assert_eq!(alu::endian(O::Bswap, bits, &ca), ScalarBounds::constant(sem::byte_swap(a, bits)));
        }
    }

    #[test]
    fn sync_keeps_members_and_never_empties(
        v in interesting(),
        mask in any::<u64>(),
        widen in prop::collection::vec(any::<u64>(), 8),
    ) {
        // models reg_bounds_sync: a raw state (random tnum and random bounds
        // around a member v) that holds v keeps v and never becomes empty.
        let t = Tnum::new(v & !mask, mask);
        let d = |i: usize| widen[i] >> (widen[i] % 64);
        let raw = ScalarBounds {
            var_off: t,
            umin: v.saturating_sub(d(0)),
            umax: v.saturating_add(d(1)),
            smin: (v as i64).saturating_sub(d(2) as i64 & i64::MAX),
            smax: (v as i64).saturating_add(d(3) as i64 & i64::MAX),
            u32_min: (v as u32).saturating_sub(d(4) as u32),
            u32_max: (v as u32).saturating_add(d(5) as u32),
            s32_min: (v as i32).saturating_sub(d(6) as i32 & i32::MAX),
            s32_max: (v as i32).saturating_add(d(7) as i32 & i32::MAX),
            id: 0,
            link_off: 0,
        };
        prop_assert!(raw.contains(v));
        let mut s = raw;
        s.sync();
        prop_assert!(!s.is_contradictory(), "sync emptied {raw:?} into {s:?}");
        prop_assert!(s.contains(v), "sync lost {v:#x}: {raw:?} -> {s:?}");
    }

    #[test]
    fn join_contains_its_set(set in concrete_set()) {
        // The test's own abstraction: the synced join holds every generating value.
        let a = join(&set);
        prop_assert!(!a.is_contradictory());
        for v in set {
            prop_assert!(a.contains(v), "{v:#x} not in {a:?}");
        }
    }
}

/// Soundness of `is_branch_taken` and `reg_set_min_max` for one jump.
fn check_jmp(
    op: O,
    a: &(ScalarBounds, Vec<u64>),
    b: &(ScalarBounds, Vec<u64>),
    imm: i32,
) -> Result<(), TestCaseError> {
    let imm_set = (imm_operand(imm), vec![imm as i64 as u64]);
    for jmp32 in [false, true] {
        for (bs, bv) in [(&b.0, &b.1), (&imm_set.0, &imm_set.1)] {
            let pred = jmp::is_branch_taken(op, jmp32, &a.0, bs);
            let st = jmp::reg_set_min_max(op, jmp32, &a.0, bs).unwrap();
            for &x in &a.1 {
                for &y in bv {
                    let taken = concrete_jmp(op, jmp32, x, y);
                    if let Some(p) = pred {
                        prop_assert_eq!(
                            p,
                            taken,
                            "{:?} jmp32={} predicted {} for {:#x}, {:#x}\n a={:?}\n b={:?}",
                            op,
                            jmp32,
                            p,
                            x,
                            y,
                            a.0,
                            bs
                        );
                    }
                    let (r1, r2) = if taken { st.taken } else { st.fallthrough };
                    prop_assert!(
                        r1.contains(x) && r2.contains(y),
                        "{op:?} jmp32={jmp32} taken={taken}: ({x:#x}, {y:#x}) not in\n r1={r1:?}\n r2={r2:?}\n a={:?}\n b={:?}",
                        a.0,
                        bs
                    );
                }
            }
        }
    }
    Ok(())
}

macro_rules! jmp_soundness {
    ($($name:ident => $op:expr,)*) => {
        proptest! {
            $(
                #[test]
                fn $name(a in abstract_input(), b in abstract_input(), imm in any::<i32>()) {
                    // models is_scalar_branch_taken and reg_set_min_max in kernel/bpf/verifier.c (6.18).
                    check_jmp($op, &a, &b, imm)?;
                }
            )*
        }
    };
}

jmp_soundness! {
    jeq_is_sound => O::Jeq,
    jne_is_sound => O::Jne,
    jset_is_sound => O::Jset,
    jgt_is_sound => O::Jgt,
    jge_is_sound => O::Jge,
    jlt_is_sound => O::Jlt,
    jle_is_sound => O::Jle,
    jsgt_is_sound => O::Jsgt,
    jsge_is_sound => O::Jsge,
    jslt_is_sound => O::Jslt,
    jsle_is_sound => O::Jsle,
}
