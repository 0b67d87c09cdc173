//! `bpfdiff html`: bad summaries and unwritable pages are one-line errors
//! with exit 2; summaries with or without the schema-1 sections give a page.
//! (That the page's charts really render is tests/html_page_renders.rs.)

mod common;

use common::{assert_input_error, assert_success, bpfdiff, Scratch};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/campaign_page")
        .join(name)
}

#[test]
fn a_summary_that_is_not_json_is_exit_2_naming_file_line_and_column() {
    let s = Scratch::new("html-bad");
    let bad = s.write(
        "summary.json",
        "{\n  \"programs\": 10,\n  \"tier\": mix\n}\n",
    );
    let page = s.path().join("page.html");
    let out = bpfdiff(&[&"html", &bad, &"-o", &page]);
    assert_input_error(
        &out,
        &format!("{}:3:11: not a campaign summary", bad.display()),
    );
    assert!(!page.exists(), "no page is written for a bad summary");
}

#[test]
fn a_section_of_the_wrong_shape_or_schema_is_exit_2() {
    let s = Scratch::new("html-shape");
    let page = s.path().join("page.html");
    let bad = s.write(
        "s.json",
        r#"{"schema": 1, "coverage": {"rows_total": "many"}}"#,
    );
    assert_input_error(&bpfdiff(&[&"html", &bad, &"-o", &page]), "s.json:1:");
    let other = s.write("t.json", r#"{"schema": 7}"#);
    assert_input_error(
        &bpfdiff(&[&"html", &other, &"-o", &page]),
        "t.json: summary schema 7 is not supported",
    );
}

#[test]
fn a_missing_summary_or_unwritable_page_is_exit_2() {
    let s = Scratch::new("html-io");
    let missing = s.path().join("nope.json");
    let page = s.path().join("page.html");
    assert_input_error(
        &bpfdiff(&[&"html", &missing, &"-o", &page]),
        "nope.json: cannot read",
    );
    let unwritable = s.path().join("no-such-dir/page.html");
    assert_input_error(
        &bpfdiff(&[&"html", &fixture("full.json"), &"-o", &unwritable]),
        "no-such-dir/page.html: cannot write the page",
    );
}

#[test]
fn full_and_legacy_summaries_give_self_contained_pages() {
    let s = Scratch::new("html-ok");
    for (name, facts) in [
        ("full.json", ["0x20261204", "120000", "3 new, 41 known"]),
        ("legacy.json", ["verifier", "1000", "0 new, 0 known"]),
    ] {
        let page = s.path().join(format!("{name}.html"));
        let out = bpfdiff(&[&"html", &fixture(name), &"-o", &page]);
        assert_eq!(assert_success(&out), "", "{name}: nothing on stdout");
        let html = std::fs::read_to_string(&page).unwrap();
        for fact in facts {
            assert!(html.contains(fact), "{name}: {fact} missing from the page");
        }
        assert!(
            !html.contains("src=") && !html.contains("<link"),
            "{name}: fetches"
        );
    }
}
