//! The report as a Node Feature Discovery (NFD) local feature file: node labels that let
//! Kubernetes schedule Kata pods only onto nodes hvguard found fit.
//!
//! Format, as NFD's `local` source reads it (kubernetes-sigs/node-feature-discovery,
//! `source/local/local.go` at 76e6cc8c, and `docs/usage/customization-guide.md`):
//! - one `<namespace>/<name>[=<value>]` per line; lines starting with `#` are comments;
//! - `# +expiry-time=<RFC 3339>` is a directive that applies to the lines *after* it: once
//!   that time has passed they are ignored, so the labels vanish if the scans stop;
//! - files larger than 65536 bytes (`MaxFeatureFileSize`) are skipped whole;
//! - names starting with `.` are ignored, which is what makes "write a dot-file, then
//!   rename" safe against NFD reading half a file;
//! - NFD drops a label whose name or value fails Kubernetes' label syntax, so every value here
//!   goes through [`label_value`].

use hvguard_core::{HypervisorKind, Report};
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// Names the format of what [`render_nfd`] writes (a comment line at the top).
pub const NFD_SCHEMA: &str = "hvguard.nfd/v1";

/// The label namespace NFD reserves for feature labels.
pub const NFD_LABEL_NAMESPACE: &str = "feature.node.kubernetes.io";

/// NFD skips a feature file larger than this many bytes.
pub const NFD_MAX_FILE_SIZE: usize = 65_536;

/// Where NFD's `local` source looks for feature files.
pub const NFD_FEATURES_DIR: &str = "/etc/kubernetes/node-feature-discovery/features.d";

/// What the labels need besides the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NfdInput {
    /// The value of `hvguard-kata-ready`, as the policy decided it.
    pub kata_ready: bool,
    /// When NFD should stop publishing these labels if no newer scan replaced them.
    pub expires_at: jiff::Timestamp,
}

/// Renders the feature file: comments, the expiry directive, then the labels, one a line.
pub fn render_nfd(report: &Report, input: &NfdInput) -> String {
    let mut out = String::with_capacity(512);
    let _ = writeln!(
        out,
        "# {NFD_SCHEMA}: Node Feature Discovery labels written by `hvguard scan --nfd-file`; rewritten by every scan."
    );
    // generated_at comes from the pipeline; keep it on one comment line whatever it holds.
    let generated: String = report
        .generated_at
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let _ = writeln!(out, "# generated: {generated}");
    // The directive must precede the labels: NFD applies it to the lines that follow.
    let _ = writeln!(
        out,
        "# +expiry-time={}",
        input.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    );
    for (name, value) in labels(report, input) {
        let _ = writeln!(out, "{NFD_LABEL_NAMESPACE}/{name}={value}");
    }
    out
}

/// The labels (name without namespace, value), in file order.
pub fn labels(report: &Report, input: &NfdInput) -> Vec<(String, String)> {
    let tally = report.tally();
    let mut labels = vec![
        (
            "hvguard-kata-ready".to_string(),
            input.kata_ready.to_string(),
        ),
        (
            "hvguard-worst-severity".to_string(),
            report.worst().map_or("none", |s| s.as_str()).to_string(),
        ),
    ];
    for (kind, versions) in &tally.kind_versions {
        labels.push((kind_label(*kind), "true".to_string()));
        labels.push((
            format!("{}-version", kind_label(*kind)),
            version_value(versions),
        ));
    }
    labels
}

fn kind_label(kind: HypervisorKind) -> String {
    format!("hvguard-{}", kind.as_str())
}

/// One version as is; none known is `unknown`; several (Kata configurations using different
/// builds, or several builds and none in use) are `mixed`, and the report says which.
fn version_value(versions: &BTreeSet<Option<String>>) -> String {
    let mut known = versions.iter().flatten();
    match (known.next(), known.next()) {
        (Some(_), Some(_)) => "mixed".to_string(),
        (Some(v), None) if versions.len() == 1 => label_value(v),
        (Some(_), None) => "mixed".to_string(),
        (None, _) => "unknown".to_string(),
    }
}

/// Text made into a valid Kubernetes label value: at most 63 characters from
/// `[A-Za-z0-9_.-]`, starting and ending with a letter or digit. Other characters become `_`;
/// text with no letter or digit at all becomes `unknown`.
pub fn label_value(text: &str) -> String {
    let mapped: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = mapped.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    let cut = &trimmed[..trimmed.len().min(63)];
    let cut = cut.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
    if cut.is_empty() {
        "unknown".to_string()
    } else {
        cut.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_follow_kubernetes_syntax() {
        assert_eq!(label_value("7.2.22"), "7.2.22");
        assert_eq!(
            label_value("1:7.2+dfsg-7+deb12u18"),
            "1_7.2_dfsg-7_deb12u18"
        );
        assert_eq!(label_value("-v1.2-"), "v1.2");
        assert_eq!(label_value("é"), "unknown");
        assert_eq!(label_value(""), "unknown");
        assert_eq!(label_value("a\nb"), "a_b");
        let long = format!("{}-{}", "a".repeat(62), "b".repeat(10));
        assert_eq!(label_value(&long), "a".repeat(62));
        assert_eq!(label_value(&"9".repeat(100)).len(), 63);
    }

    #[test]
    fn versions_collapse_to_one_value() {
        let set = |v: &[Option<&str>]| v.iter().map(|o| o.map(str::to_string)).collect();
        assert_eq!(version_value(&set(&[Some("8.2.0")])), "8.2.0");
        assert_eq!(
            version_value(&set(&[Some("8.2.0"), Some("7.2.22")])),
            "mixed"
        );
        assert_eq!(version_value(&set(&[None, Some("7.2.22")])), "mixed");
        assert_eq!(version_value(&set(&[None])), "unknown");
    }
}
