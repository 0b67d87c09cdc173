//! The `Backend` trait: one implementation of eBPF behind one interface.

use crate::outcome::Outcome;
use bpfdiff_engine::Program;

pub mod guest;
pub mod interp;
pub mod jit;
pub mod kernel;
pub mod rbpf;
pub mod rbpf_vm;
pub mod slots;
pub mod verifier;
pub mod worker;

/// How much of a load-time check a backend performs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checking {
    /// Only the encoding is checked (the engine's decoder, rbpf's verifier):
    /// a program refused here is malformed, but acceptance says nothing
    /// about safety.
    Encoding,
    /// A full safety verifier (the kernel's): it refuses valid programs it
    /// cannot prove safe.
    Safety,
    /// A safety verifier that does not run programs (the engine's
    /// verifier): its outcome is a verdict only, compared only with the
    /// verdicts of [`Checking::Safety`] backends.
    VerdictOnly,
}

/// What a backend can do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// What its load-time check covers.
    pub checking: Checking,
    /// True when r0 is observed in full (all 64 bits).
    pub full_r0: bool,
    /// True when the input memory is observed after the run.
    pub memory_after: bool,
    /// True when the stack starts zeroed in every frame (as the engine's
    /// does). Backends without it may read garbage from uninitialised stack.
    pub zeroed_stack: bool,
}

/// One eBPF implementation.
///
/// `run` never panics and never lets the implementation kill the caller: a
/// crash, a hang or a refusal becomes an [`Outcome`].
pub trait Backend {
    /// The registry name (`interp`, `rbpf`, `rbpf-jit`, `kernel`, `verifier`).
    fn name(&self) -> &'static str;

    /// What this backend can do and observe.
    fn capabilities(&self) -> Capabilities;

    /// Loads and runs `program` with `input` as its memory (r1 = pointer,
    /// r2 = length; both 0 when `input` is empty).
    fn run(&mut self, program: &Program, input: &[u8]) -> Outcome;

    /// Runs each `(program, input)` as [`Backend::run`] would, in order.
    /// Backends with a per-program round trip (rbpf's worker) override it
    /// to send several programs at once; the outcomes must be the ones
    /// lone runs give.
    fn run_many(&mut self, items: &[(&Program, &[u8])]) -> Vec<Outcome> {
        items
            .iter()
            .map(|(program, input)| self.run(program, input))
            .collect()
    }

    /// For the engine's own interpreter: its instruction budget. A run of
    /// the same program and input that the caller already made with the
    /// engine's interpreter, and that ended within this budget, is then
    /// this backend's outcome ([`crate::DiffItem::engine_run`]) and is not
    /// made again. Every other backend gives `None`.
    fn engine_interpreter_budget(&self) -> Option<u64> {
        None
    }

    /// Drops whatever state earlier runs may have left behind, so that the
    /// next run starts as the first did (rbpf's worker gets a fresh
    /// process). Backends that keep no state between runs do nothing.
    fn start_afresh(&mut self) {}
}
