//! corpus/conformance-maps: `.data` tests with `-- maps` (and a program
//! type), each citing the kernel fact it checks. Every test must pass the
//! engine's verifier with its maps and return its `-- result` as
//! BPF_PROG_TEST_RUN reports it (the low 32 bits of r0).
//! oracle/tests/maps_vs_kernel.rs runs the same files on the kernel and
//! compares the map contents after the run too.

use bpfdiff_engine::data::{parse_data_file, Expected};
use bpfdiff_engine::interp::{ExecResult, Interpreter, DEFAULT_BUDGET};
use bpfdiff_engine::maps::MapSet;
use bpfdiff_engine::prog_type::env::{RunEnv, DEFAULT_PACKET_LEN};
use bpfdiff_engine::verifier::{verify_with_maps, Verdict, VerifyOptions};
use std::path::Path;

#[test]
fn map_conformance_tests_pass_on_the_engine() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/conformance-maps");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "data"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "{} tests", files.len());
    let mut failures = Vec::new();
    for f in &files {
        let test = parse_data_file(f).unwrap();
        let text = std::fs::read_to_string(f).unwrap();
        assert!(text.starts_with("# "), "{}: no citation", f.display());
        let verdict = verify_with_maps(
            &test.program,
            &VerifyOptions::default(),
            test.prog_type,
            &test.maps,
        )
        .verdict;
        if verdict != Verdict::Accepted {
            failures.push(format!("{}: verifier: {verdict:?}", f.display()));
            continue;
        }
        let packet = if test.prog_type.has_packet() {
            test.packet
                .clone()
                .unwrap_or_else(|| vec![0; DEFAULT_PACKET_LEN])
        } else {
            Vec::new()
        };
        let ctx = (!test.prog_type.has_packet()).then_some(test.mem.as_slice());
        let mut env = RunEnv::new(test.prog_type, &packet, ctx).unwrap();
        env.maps = MapSet::new(&test.maps);
        let e = Interpreter::new(&test.program)
            .unwrap()
            .run_env(&mut env, DEFAULT_BUDGET);
        let Expected::Result(want) = test.expected else {
            panic!("{}: expects an error", f.display())
        };
        match e.result {
            ExecResult::Returned {
                r0,
                r0_derived: false,
            } if r0 as u32 as u64 == want => {}
            other => failures.push(format!("{}: want {want:#x}, got {other}", f.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
