//! The HTML page of one campaign (`bpfdiff html SUMMARY.json -o PAGE.html`):
//! a single self-contained file (inline CSS and JavaScript, no network) whose
//! script draws three SVG charts from the summary embedded in the page:
//! programs/s over time, findings by signature, and opcode-row coverage.
//!
//! - [`summary`]: reading a campaign JSON summary, every section optional.
//! - [`page`]: the HTML text.
//!
//! A section the summary lacks (today's `campaign --json` has no timeline,
//! signatures or coverage) becomes a "no data" panel, never an error; a file
//! that is not JSON, or whose sections have the wrong shape, is an error
//! naming the line and column.

pub mod page;
pub mod summary;

pub use page::render;
pub use summary::{CampaignPageData, PageError};

/// Reads the summary at `path` and returns its HTML page. Errors name the
/// file and, for bad JSON, the line and column.
pub fn render_file(path: &std::path::Path) -> Result<String, PageError> {
    let text = std::fs::read_to_string(path).map_err(|e| PageError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    let data = CampaignPageData::parse(&text).map_err(|e| e.in_file(path))?;
    Ok(render(&data))
}
