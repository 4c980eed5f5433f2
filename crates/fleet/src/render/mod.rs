//! The fleet report as text (for a terminal), JSON (`hvguard.fleet/v1`) and one
//! self-contained HTML page. Renderers compute nothing; they only read the report.

mod html;
mod svg;
mod text;

pub use html::render_html;
pub use text::render_text;

use crate::FleetReport;

/// Rows of a long list shown in text and HTML; JSON always has every row.
pub const TEXT_ROWS: usize = 20;
pub const HTML_PROBLEM_ROWS: usize = 1000;

/// `hvguard.fleet/v1`, pretty-printed, with a final newline.
pub fn render_json(report: &FleetReport) -> String {
    match serde_json::to_string_pretty(report) {
        Ok(mut text) => {
            text.push('\n');
            text
        }
        // Serialising plain structs of strings and numbers cannot fail; say so if it does.
        Err(e) => format!(
            "{{\"schema\": \"hvguard.fleet/v1\", \"error\": {:?}}}\n",
            e.to_string()
        ),
    }
}
