//! hvguard's renderers: the `Report` as text for people, JSON for tools (`hvguard.report/v1`,
//! DESIGN.md §5), SARIF 2.1.0 for code-scanning services, Prometheus metrics for monitoring
//! and Node Feature Discovery labels for Kubernetes scheduling.
//!
//! Renderers only present a `Report`: they never count, sort, filter or re-rate findings, so
//! every format carries exactly what the evaluation decided. The metrics and node labels read
//! their counts from the core's `Report::tally`, and what the report cannot say (the policy's
//! readiness verdict, drift, update results) from an input struct the caller fills. All three are deterministic for a
//! given report; `generated_at` is the only field that changes between runs.

#![forbid(unsafe_code)]

mod diff;
mod exposition;
mod fingerprint;
mod json;
mod nfd;
mod prometheus;
mod sarif;
mod sarif_model;
mod text;
mod uri;

pub use diff::{render_diff_json, render_diff_text};
pub use json::render_json;
pub use nfd::{
    label_value, labels as nfd_labels, render_nfd, NfdInput, NFD_FEATURES_DIR, NFD_LABEL_NAMESPACE,
    NFD_MAX_FILE_SIZE, NFD_SCHEMA,
};
pub use prometheus::{
    render_prometheus, DriftCounts, MetricsInput, SlaCounts, UpdateResult, UpdateSummary,
    METRICS_SCHEMA, METRIC_NAMES,
};
pub use sarif::{render_sarif, SarifRule, INFORMATION_URI, URI_BASE_ID};
pub use text::{render_text, TextStyle};

/// Serialises a view, falling back to a JSON error object rather than panicking.
///
/// The views hold only strings, numbers, booleans and string-keyed maps, for which
/// `serde_json` cannot fail; the fallback exists so that library code needs no `expect`.
fn to_pretty_json<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_string_pretty(value) {
        Ok(mut out) => {
            out.push('\n');
            out
        }
        Err(e) => format!(
            "{{\"error\": {}}}\n",
            serde_json::Value::String(format!("hvguard could not serialise the report: {e}"))
        ),
    }
}
