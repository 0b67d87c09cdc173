//! bpfdiff harness library: everything the `bpfdiff` command does, as plain
//! functions over plain data, so that fuzz targets and tests can call it.
//!
//! - [`input`]: reading a program from a `.data`, raw bytecode or assembly file.
//! - [`hex`]: hex text for input memory.
//! - [`known_rules`]: which known-divergence rules a run uses (built in,
//!   plus named files).
//! - [`run_report`]: what one run observed, as text or JSON.
//! - [`conformance`]: running a directory of bpf_conformance `.data` tests on
//!   any backend; [`backend_run`] plugs the oracle backends into it.
//! - [`plugin`]: the bpf_conformance plugin protocol over any backend.
//! - [`gen`]: program generators (raw, grammar-aware, verifier-aware), the
//!   instruction-level mutator and proptest strategies.
//! - [`minimize`]: shrinking a diverging case while its divergence stays
//!   the same (`bpfdiff minimize`).
//! - [`fuzz_glue`]: the bodies of the cargo-fuzz targets; [`campaign`]:
//!   seeded campaigns over every backend.
//!
//! - [`signature`]: stable divergence signatures; [`environment`]: where a
//!   run happened; [`replay`]: replaying reports and regressions against
//!   their recorded outcomes.
//! - [`campaign_page`]: the HTML page of a campaign summary, with charts.
//!
//! The virtual machine itself lives in the [`bpfdiff_engine`] crate.
#![deny(missing_docs)]

pub mod backend_run;
pub mod campaign;
pub mod campaign_page;
pub mod conformance;
pub mod conformance_verdicts;
pub mod environment;
pub mod fuzz_glue;
pub mod gen;
mod guarded_rbpf_jit;
pub mod hex;
pub mod input;
pub mod known_rules;
pub mod minimize;
pub mod native_diff;
pub mod plugin;
pub mod replay;
pub mod report;
pub mod run_report;
pub mod signature;
pub mod triage;
pub mod verdict_matrix;
pub mod worker_hook;
