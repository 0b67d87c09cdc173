//! Cases shared by `tests/cli_minimize.rs` and `benches/minimize.rs`: a
//! generated program of about 100 instructions that holds an rbpf
//! divergence, found deterministically from a fixed seed range.

#![allow(dead_code)]

use bpfdiff::fuzz_glue::DiffHarness;
use bpfdiff::gen::{seeded, Case, Knobs, Tier};
use bpfdiff::known_rules;
use bpfdiff_oracle::Comparison;

/// Points `BPFDIFF_WORKER` (rbpf runs in a worker process) at the
/// `bpfdiff` binary of this build, unless it is set.
pub fn use_worker() {
    if std::env::var_os(bpfdiff_oracle::backend::worker::WORKER_ENV).is_none() {
        std::env::set_var(
            bpfdiff_oracle::backend::worker::WORKER_ENV,
            env!("CARGO_BIN_EXE_bpfdiff"),
        );
    }
}

/// The rules an rbpf divergence of the generated case may be explained by.
pub const RBPF_RULES: [&str; 2] = [
    "rbpf-jmp-imm-zero-extended",
    "rbpf-ignores-sdiv-smod-offset",
];

/// Knobs for 100-instruction programs (verifier tier, no subprograms, the
/// groups rbpf 0.4.1 implements, so that it does not simply refuse them).
pub fn knobs() -> Knobs {
    use bpfdiff_engine::opcode::Group;
    Knobs {
        groups: vec![
            Group::Base32,
            Group::Base64,
            Group::Divmul32,
            Group::Divmul64,
        ],
        program_len: 100..=100,
        max_subprograms: 0,
        ..Knobs::default()
    }
    // The cpu v4 rows rbpf 0.4.1 refuses outright (known rule
    // rbpf-refuses-cpu-v4-opcodes), and MOVSX: its divergence would hide
    // behind the jump rule, which matches any program with an immediate
    // jump (rules match by the rows a program uses).
    .with_allowed_ops(
        "-ldxsw,-ldxsh,-ldxsb,-ja32,-bswap16,-bswap32,-bswap64,\
         -movsx864,-movsx1664,-movsx3264,-movsx832,-movsx1632",
    )
    .expect("rows of the opcode table")
}

/// The first seed from `from` whose verifier-tier case has at least 100
/// slots and diverges on interp,rbpf with an r0 difference that one of
/// [`RBPF_RULES`] explains (and no other difference); the seed and case.
pub fn generated_rbpf_case(from: u64) -> (u64, Case) {
    use_worker();
    let names = ["interp".to_string(), "rbpf".to_string()];
    let mut h = DiffHarness::new(&names, known_rules::builtin().unwrap(), false).unwrap();
    let knobs = knobs();
    for seed in from..from + 20_000 {
        let case = seeded::case(Tier::Verifier, &knobs, seed);
        if case.program.len() < 100 {
            continue;
        }
        if let Comparison::Diverge { differences } = h.check(&case).comparison {
            let ok = differences.len() == 1
                && differences[0].aspect.name() == "r0"
                && differences[0]
                    .known
                    .as_deref()
                    .is_some_and(|k| RBPF_RULES.contains(&k));
            if ok {
                return (seed, case);
            }
        }
    }
    panic!("no generated rbpf divergence in 20000 seeds from {from}");
}

/// The kernel's dead-code acceptance (known rule
/// kernel-skips-dead-code-reserved-fields, corpus/regressions/
/// kernel-dead-code-reserved-field.data) buried in a generated program:
/// `r0 = 0; if w0 == 0 goto +1; <smod with a reserved imm>` and then the
/// first verifier-tier case from seed `from` (about 100 instructions) that
/// the kernel accepts with the prefix. The engine refuses the program (a
/// reserved field); the kernel never explores the dead smod and accepts.
/// `None` when the kernel backend cannot run here.
pub fn buried_kernel_case(from: u64) -> Option<(u64, Case)> {
    use bpfdiff::gen::layout;
    use bpfdiff_engine::{Insn, Program};
    if let Some(why) = bpfdiff::fuzz_glue::kernel_unavailable() {
        eprintln!("kernel not available: {why}");
        return None;
    }
    let names = ["interp".to_string(), "kernel".to_string()];
    let mut h = DiffHarness::new(&names, known_rules::builtin().unwrap(), false).unwrap();
    let knobs = Knobs {
        program_len: 100..=100,
        max_subprograms: 0,
        ..Knobs::default()
    };
    let prefix = [
        Insn::new(0xb7, 0, 0, 0, 0),
        Insn::new(0x16, 0, 0, 1, 0),
        Insn::new(0x9f, 1, 0, 1, 7),
    ];
    for seed in from..from + 200 {
        let generated = seeded::case(Tier::Verifier, &knobs, seed);
        if generated.program.len() < 100 {
            continue;
        }
        let mut slots = prefix.to_vec();
        slots.extend(layout::encode(&layout::decode(&generated.program)));
        let case = Case::new(Program::new(slots), generated.input);
        if let Comparison::Diverge { differences } = h.check(&case).comparison {
            if differences.len() == 1
                && differences[0].known.as_deref() == Some("kernel-skips-dead-code-reserved-fields")
            {
                return Some((seed, case));
            }
        }
    }
    panic!("no generated program the kernel accepts with the dead-code prefix in 200 seeds");
}
