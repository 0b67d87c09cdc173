//! Every JSON output of `bpfdiff` carries 64-bit values (r0, registers,
//! addresses) as `"0x…"` strings: JSON readers that hold numbers as IEEE
//! doubles (JavaScript, `jq`) round integers above 2^53, so
//! 18446744073709551615 would come back as 18446744073709551616.

mod common;

use common::{assert_success, bpfdiff, stderr, stdout, Scratch};
use serde_json::Value;

/// The largest integer a double holds exactly.
const EXACT: u64 = 1 << 53;

/// Every number in `v` with its JSON path, when its magnitude exceeds 2^53.
fn too_big(v: &Value, path: &str, found: &mut Vec<String>) {
    match v {
        Value::Number(n) => {
            let big = match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => u > EXACT,
                (None, Some(i)) => i.unsigned_abs() > EXACT,
                _ => n.as_f64().is_none_or(|f| f.abs() > EXACT as f64),
            };
            if big {
                found.push(format!("{path} = {n}"));
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                too_big(x, &format!("{path}[{i}]"), found);
            }
        }
        Value::Object(o) => {
            for (k, x) in o {
                too_big(x, &format!("{path}.{k}"), found);
            }
        }
        _ => {}
    }
}

fn parse_checked(text: &str) -> Value {
    let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let mut found = Vec::new();
    too_big(&v, "$", &mut found);
    assert!(found.is_empty(), "numbers beyond 2^53: {found:?}\n{text}");
    v
}

/// `r0 = -1` (RFC 9669 §4.1: MOV with the immediate sign-extended to 64
/// bits) returns 0xffffffffffffffff, the value JSON numbers lose.
const ALL_ONES: &str = "r0 = -1\nexit\n";

#[test]
fn run_json_writes_r0_and_addresses_as_hex_strings() {
    let s = Scratch::new("json-run");
    let prog = s.write("p.s", ALL_ONES);
    let v = parse_checked(&assert_success(&bpfdiff(&[&"run", &prog, &"--json"])));
    assert_eq!(v["r0"], "0xffffffffffffffff");
    // A load from the input pointer plus 2^60 faults at an address > 2^53.
    let prog = s.write(
        "f.s",
        "r2 = 1\nr2 <<= 60\nr1 += r2\nr0 = *(u8 *)(r1 +0)\nexit\n",
    );
    let v = parse_checked(&assert_success(&bpfdiff(&[
        &"run", &prog, &"--json", &"--mem", &"00",
    ])));
    assert_eq!(v["result"], "fault");
    let addr = v["fault"]["addr"].as_str().expect("addr is a string");
    assert!(addr.starts_with("0x"), "{addr}");
}

#[test]
fn diff_json_writes_r0_as_hex_strings() {
    let s = Scratch::new("json-diff");
    let prog = s.write("p.s", ALL_ONES);
    let out = bpfdiff(&[
        &"diff",
        &prog,
        &"--backends",
        &"interp,jit,rbpf,rbpf-jit",
        &"--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = parse_checked(&stdout(&out));
    let outcomes = v["outcomes"].as_array().expect("outcomes");
    assert_eq!(outcomes.len(), 4);
    for o in outcomes {
        assert_eq!(
            o["execution"]["r0"]["bits"], "0xffffffffffffffff",
            "{}: {o}",
            o["backend"]
        );
    }
    // A divergence's outcomes too (rbpf zero-extends JEQ's immediate).
    let prog = s.write(
        "d.casm",
        "lddw %r0, 0x8000000000000000\nmov32 %r1, -1\njeq %r1, -1, +1\nmov %r0, 1\nexit\n",
    );
    let out = bpfdiff(&[
        &"diff",
        &prog,
        &"--backends",
        &"interp,rbpf",
        &"--json",
        &"--known",
        &"none",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = parse_checked(&stdout(&out));
    assert_eq!(
        v["outcomes"][1]["execution"]["r0"]["bits"],
        "0x8000000000000000"
    );
    assert_eq!(v["comparison"]["comparison"], "diverge");
}
