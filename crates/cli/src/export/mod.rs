//! What `scan` hands to the engines operators already run: the Prometheus textfile for
//! node_exporter (`--textfile-dir`) and the Node Feature Discovery feature file
//! (`--nfd-file`). Both are staged before either is renamed into place.

mod staged;

use anyhow::{bail, Context, Result};
use clap::Args;
use hvguard_advisory::policy::NfdPolicy;
use hvguard_core::{DriftReference, Report};
use hvguard_report::{
    render_nfd, render_prometheus, DriftCounts, MetricsInput, NfdInput, SlaCounts, UpdateResult,
    UpdateSummary, NFD_MAX_FILE_SIZE,
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

/// Where the update and SLA sections of the metrics come from; `None` leaves them out (a scan
/// that writes no metrics does not read the journal).
#[derive(Debug)]
pub struct MetricsSources<'a> {
    /// The store holding the update journal.
    pub store: &'a Path,
    /// The advisories the scan matched with (their publication dates).
    pub advisories: &'a [hvguard_advisory::Advisory],
    /// The policy's `[update]` table (`sla_days`).
    pub policy: &'a hvguard_advisory::policy::UpdatePolicy,
    /// The day the scan judged.
    pub today: jiff::civil::Date,
}

/// The metrics' input: the report's own families, plus drift (`--record`/`--baseline`), and
/// with `sources` the last update transaction and the SLA counts.
pub fn metrics_input(
    report: &Report,
    input_errors: usize,
    policy: &NfdPolicy,
    sources: Option<&MetricsSources<'_>>,
) -> MetricsInput {
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
        last_update: sources.and_then(|s| last_update(s.store)),
        sla: sources.map(|s| SlaCounts {
            overdue: hvguard_update::sla::overdue_by_severity(
                &report.findings,
                s.advisories,
                s.policy,
                s.today,
            ),
        }),
    }
}

/// The last finished `update apply` of the journal; `None` (the families left out) without a
/// store, a journal or a finished apply. An unreadable journal is said on stderr and left out:
/// the scan itself is unaffected.
fn last_update(store: &Path) -> Option<UpdateSummary> {
    let last = match hvguard_update::journal::last_finished_apply(store) {
        Ok(last) => last?,
        Err(e) => {
            crate::pipeline::warn(&[format!(
                "update metrics left out: the update journal is unreadable: {e}"
            )]);
            return None;
        }
    };
    Some(UpdateSummary {
        result: update_result(&last.result),
        finished_at_unix: last.finished_at.as_second(),
    })
}

/// The journal's result as the metric's label: `updated` succeeded; a transaction a later
/// recovery closed (`interrupted; ...`) failed.
fn update_result(journal: &str) -> UpdateResult {
    match journal {
        "updated" | "nothing-to-do" => UpdateResult::Succeeded,
        "rolled-back" => UpdateResult::RolledBack,
        "refused" => UpdateResult::Refused,
        _ => UpdateResult::Failed,
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
    fn journal_results_map_onto_the_metric_s_labels() {
        assert_eq!(update_result("updated"), UpdateResult::Succeeded);
        assert_eq!(update_result("rolled-back"), UpdateResult::RolledBack);
        assert_eq!(update_result("refused"), UpdateResult::Refused);
        assert_eq!(update_result("failed"), UpdateResult::Failed);
        assert_eq!(
            update_result("interrupted; recovered by rollback 2026"),
            UpdateResult::Failed
        );
    }

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
