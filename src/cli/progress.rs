//! Progress bars for long commands (`conformance`, `campaign`).
//!
//! A bar draws on standard error, and only when standard error is a
//! terminal (and `TERM` is not `dumb`): indicatif's
//! `ProgressDrawTarget::stderr` hides itself otherwise, so pipes, files and
//! CI logs get no control characters, and standard output (the summary, or
//! its `--json` form) never carries a bar.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use std::fmt::Write;

/// A bar of `len` steps on standard error (hidden when it is not a
/// terminal). `template` is an indicatif template; besides indicatif's keys
/// it may use `{rate}`: steps per second since the start, as a whole number.
pub fn bar(len: u64, template: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if bar.is_hidden() {
        return bar;
    }
    let rate = |state: &ProgressState, w: &mut dyn Write| {
        let secs = state.elapsed().as_secs_f64();
        let rate = if secs > 0.0 {
            state.pos() as f64 / secs
        } else {
            0.0
        };
        let _ = write!(w, "{rate:.0}");
    };
    // The templates are fixed strings of this crate; a bad one would show
    // the default style rather than fail the command.
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.with_key("rate", rate));
    }
    bar
}
