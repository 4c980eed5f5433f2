//! What `scan` hands to the engines operators already run: the Prometheus textfile for
//! node_exporter (`--textfile-dir`) and the Node Feature Discovery feature file
//! (`--nfd-file`). Both are staged before either is renamed into place.

mod staged;

use anyhow::{bail, Context, Result};
use clap::Args;
use hvguard_advisory::policy::NfdPolicy;
use hvguard_core::{DriftReference, Report};
use hvguard_report::{
    render_nfd, render_prometheus, DriftCounts, MetricsInput, NfdInput, NFD_MAX_FILE_SIZE,
};
use staged::StagedFile;
use std::path::{Path, PathBuf};

/// The file node_exporter's textfile collector reads in `--textfile-dir`.
pub const TEXTFILE_NAME: &str = "hvguard.prom";

/// `--nfd-file` without a value: hvguard's file in NFD's `features.d`.
pub const DEFAULT_NFD_FILE: &str = "/etc/kubernetes/node-feature-discovery/features.d/hvguard";

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Also write DIR/hvguard.prom (Prometheus text format) for node_exporter's textfile
    /// collector.
    #[arg(long, value_name = "DIR")]
    pub textfile_dir: Option<PathBuf>,
    /// Also write a Node Feature Discovery feature file with the hvguard-* node labels
    /// (without a value: /etc/kubernetes/node-feature-discovery/features.d/hvguard).
    #[arg(
        long,
        value_name = "PATH",
        num_args = 0..=1,
        default_missing_value = DEFAULT_NFD_FILE
    )]
    pub nfd_file: Option<PathBuf>,
}

/// `hvguard-kata-ready`: every configuration loaded and no finding at or above the policy's
/// threshold. A configuration that could not be read was not audited, so it cannot pass.
pub fn kata_ready(report: &Report, input_errors: usize, policy: &NfdPolicy) -> bool {
    input_errors == 0 && report.worst().is_none_or(|worst| worst < policy.threshold)
}

/// The metrics' input as far as this hvguard knows it. The drift, update and SLA sections stay
/// `None` until the history and update work fill them (see docs/monitoring.md).
pub fn metrics_input(report: &Report, input_errors: usize, policy: &NfdPolicy) -> MetricsInput {
    // The drift the scan computed (`--record`: since the previous record; `--baseline`:
    // since the approved state); without either flag the families stay absent, not zero.
    let drift = report.drift.as_ref().map(|d| {
        let counts = DriftCounts {
            findings_added: d.summary.findings_added,
            findings_resolved: d.summary.findings_resolved,
            findings_severity_changed: d.summary.findings_changed,
            facts_changed: d.summary.facts_changed,
        };
        (d.reference, counts)
    });
    let drift_for = |wanted: DriftReference| {
        drift
            .as_ref()
            .filter(|(reference, _)| *reference == wanted)
            .map(|(_, counts)| *counts)
    };
    MetricsInput {
        hvguard_version: env!("CARGO_PKG_VERSION").to_string(),
        input_errors,
        kata_ready: Some(kata_ready(report, input_errors, policy)),
        drift_since_previous: drift_for(DriftReference::Previous),
        drift_since_baseline: drift_for(DriftReference::Baseline),
        ..MetricsInput::default()
    }
}

/// Writes the files `args` asks for; nothing is renamed into place unless all were written.
pub fn publish(
    args: &ExportArgs,
    report: &Report,
    metrics: &MetricsInput,
    policy: &NfdPolicy,
) -> Result<()> {
    let mut staged = Vec::new();
    if let Some(dir) = &args.textfile_dir {
        let target = dir.join(TEXTFILE_NAME);
        let text = render_prometheus(report, metrics);
        staged.push(stage(&target, &text, "node_exporter textfile")?);
    }
    if let Some(path) = &args.nfd_file {
        let input = NfdInput {
            kata_ready: metrics.kata_ready.unwrap_or(false),
            expires_at: expiry(report, policy)?,
        };
        let text = render_nfd(report, &input);
        if text.len() >= NFD_MAX_FILE_SIZE {
            bail!(
                "{}: the feature file would be {} bytes, NFD reads at most {NFD_MAX_FILE_SIZE}",
                path.display(),
                text.len()
            );
        }
        staged.push(stage(path, &text, "Node Feature Discovery feature file")?);
    }
    for file in staged {
        file.commit()?;
    }
    Ok(())
}

fn stage(target: &Path, text: &str, what: &str) -> Result<StagedFile> {
    StagedFile::stage(target, text.as_bytes())
        .with_context(|| format!("cannot write the {what} {}", target.display()))
}

/// The scan time plus the policy's label lifetime.
fn expiry(report: &Report, policy: &NfdPolicy) -> Result<jiff::Timestamp> {
    let scanned = report
        .generated_at
        .parse::<jiff::Timestamp>()
        .unwrap_or_else(|_| jiff::Timestamp::now());
    scanned
        .checked_add(jiff::SignedDuration::from_mins(i64::from(
            policy.expiry_minutes,
        )))
        .context("the NFD expiry time is out of range")
}

#[cfg(test)]
mod tests {
    use super::*;
    use hvguard_core::Severity;

    #[test]
    fn default_nfd_file_is_in_nfds_features_dir() {
        assert_eq!(
            Path::new(DEFAULT_NFD_FILE).parent(),
            Some(Path::new(hvguard_report::NFD_FEATURES_DIR))
        );
    }

    #[test]
    fn readiness_follows_threshold_and_input_errors() {
        let report = Report::new(
            "2026-11-27T12:00:00Z".into(),
            hvguard_core::ReportHost {
                hostname: None,
                root: "/".into(),
                kernel: None,
                os: None,
            },
            vec![],
            vec![],
            vec![],
        );
        let policy = NfdPolicy {
            threshold: Severity::Critical,
            expiry_minutes: 60,
        };
        assert!(kata_ready(&report, 0, &policy));
        assert!(!kata_ready(&report, 1, &policy));
        assert_eq!(
            expiry(&report, &policy).map(|t| t.to_string()).ok(),
            Some("2026-11-27T13:00:00Z".to_string())
        );
    }
}
