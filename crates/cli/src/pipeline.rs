//! collect -> evaluate: the one pipeline every command shares (DESIGN.md §1).

use anyhow::{bail, Context, Result};
use hvguard_core::{HostRoot, Report, ReportHost, Snapshot, SNAPSHOT_SCHEMA};
use std::io::Read;
use std::path::Path;

/// A Snapshot file bigger than this is not one `hvguard collect` wrote.
const SNAPSHOT_LIMIT: u64 = 64 << 20;

pub fn open_root(dir: &Path) -> Result<HostRoot> {
    Ok(HostRoot::new(dir)?)
}

pub fn collect(root: &HostRoot) -> Snapshot {
    hvguard_host::collect(root, &hvguard_host::CollectOptions::default())
}

pub fn read_snapshot(path: &Path) -> Result<Snapshot> {
    let file = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(SNAPSHOT_LIMIT + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("{}", path.display()))?;
    if bytes.len() as u64 > SNAPSHOT_LIMIT {
        bail!(
            "{}: snapshot is larger than {SNAPSHOT_LIMIT} bytes",
            path.display()
        );
    }
    let snapshot: Snapshot = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: not a hvguard snapshot", path.display()))?;
    if snapshot.schema != SNAPSHOT_SCHEMA {
        bail!(
            "{}: unsupported snapshot schema `{}` (this hvguard reads `{SNAPSHOT_SCHEMA}`)",
            path.display(),
            snapshot.schema
        );
    }
    Ok(snapshot)
}

/// Evaluates every rule over the Snapshot: pure, no I/O.
pub fn evaluate(snapshot: &Snapshot, generated_at: String) -> Report {
    let evaluation = hvguard_audit::evaluate(snapshot);
    Report::new(
        generated_at,
        report_host(snapshot),
        evaluation.findings,
        evaluation.unknown,
        snapshot.hypervisors.clone(),
    )
}

fn report_host(snapshot: &Snapshot) -> ReportHost {
    let host = &snapshot.host;
    ReportHost {
        hostname: host.hostname.value().cloned(),
        root: snapshot.root.display().to_string(),
        kernel: host.kernel_release.value().cloned(),
        os: host.os.value().map(|os| {
            os.pretty_name.clone().unwrap_or_else(|| {
                format!("{} {}", os.id, os.version_id.clone().unwrap_or_default())
            })
        }),
    }
}

pub fn now() -> String {
    let now = jiff::Timestamp::now();
    now.round(jiff::Unit::Second).unwrap_or(now).to_string()
}
