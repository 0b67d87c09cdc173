//! `bpfdiff html SUMMARY.json -o PAGE.html`: the HTML page of a campaign.

use bpfdiff::campaign_page;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `bpfdiff html`.
#[derive(Debug, Args)]
pub struct HtmlArgs {
    /// A campaign JSON summary (`campaign --json FILE`, schema 1; older
    /// summaries render with "no data" where a section is missing).
    pub summary: PathBuf,
    /// Where to write the page (one self-contained file).
    #[arg(short, long, value_name = "PAGE")]
    pub output: PathBuf,
}

/// Writes the page; exit 0, or 2 when the summary is unreadable or not a
/// campaign summary, or the page cannot be written.
pub fn execute(args: &HtmlArgs) -> anyhow::Result<ExitCode> {
    let html = campaign_page::render_file(&args.summary)?;
    // Write beside the target, then rename: a reader never sees half a page.
    let tmp = args.output.with_extension("html.tmp");
    std::fs::write(&tmp, html)
        .and_then(|()| std::fs::rename(&tmp, &args.output))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            anyhow::anyhow!("{}: cannot write the page: {e}", args.output.display())
        })?;
    Ok(ExitCode::SUCCESS)
}
