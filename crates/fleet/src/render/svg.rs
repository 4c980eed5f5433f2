//! Inline SVG bar charts: where a picture reads faster than a table (how many nodes are at
//! which worst severity; how spread out the hypervisor builds are). Plain shapes and text,
//! no script, no external reference.

use std::fmt::Write as _;

use super::html::escape;

/// One bar.
pub struct Bar {
    pub label: String,
    pub value: u64,
    /// A CSS colour.
    pub colour: &'static str,
}

/// A horizontal bar chart with the label left of each bar and the value right of it.
pub fn bar_chart(title: &str, bars: &[Bar]) -> String {
    const ROW: u64 = 26;
    const LABEL: u64 = 190;
    const BAR: u64 = 330;
    const WIDTH: u64 = LABEL + BAR + 80;
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    let height = ROW * bars.len().max(1) as u64 + 34;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="chart" role="img" aria-label="{title}" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}">"#,
        title = escape(title)
    );
    let _ = write!(
        out,
        r#"<text x="0" y="16" class="chart-title">{}</text>"#,
        escape(title)
    );
    for (i, bar) in bars.iter().enumerate() {
        let y = 28 + ROW * i as u64;
        // A bar for a non-zero value is at least 2 px, so it is never invisible.
        let length = if bar.value == 0 {
            0
        } else {
            (BAR * bar.value / max).max(2)
        };
        let _ = write!(
            out,
            r#"<text x="{x}" y="{ty}" text-anchor="end" class="chart-label">{label}</text><rect x="{LABEL}" y="{y}" width="{length}" height="18" rx="3" fill="{colour}"><title>{label}: {value}</title></rect><text x="{vx}" y="{ty}" class="chart-value">{value}</text>"#,
            x = LABEL - 8,
            ty = y + 14,
            label = escape(&bar.label),
            colour = bar.colour,
            value = bar.value,
            vx = LABEL + length + 6,
        );
    }
    out.push_str("</svg>");
    out
}
