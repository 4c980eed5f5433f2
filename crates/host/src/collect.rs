//! Assembles a Snapshot from every probe: host facts, packages, hypervisor binaries.

use crate::{facts, hypervisors, packages};
use hvguard_core::{HostRoot, Snapshot, SNAPSHOT_SCHEMA};
use std::path::PathBuf;

/// What the caller knows before collecting.
#[derive(Debug, Clone, Default)]
pub struct CollectOptions {
    /// Binaries named by Kata configurations, looked at besides the standard folders.
    pub extra_binaries: Vec<PathBuf>,
}

/// Collects every fact about the host under `root`. Never fails: what cannot be read is
/// recorded as unknown in the Snapshot.
pub fn collect(root: &HostRoot, options: &CollectOptions) -> Snapshot {
    let host = facts::host_facts(root);
    let packages = packages::read_installed(root);
    let inventory = hypervisors::discover(root, &packages, &options.extra_binaries);
    Snapshot {
        schema: SNAPSHOT_SCHEMA.to_string(),
        collected_at: jiff::Timestamp::now()
            .round(jiff::Unit::Second)
            .map_or_else(|_| jiff::Timestamp::now().to_string(), |t| t.to_string()),
        root: root.base().to_path_buf(),
        live: root.is_live(),
        host,
        packages,
        hypervisors: inventory.hypervisors,
        kata_install: inventory.kata_install,
        kata: Vec::new(),
        containerd: Vec::new(),
        warnings: inventory.warnings,
    }
}
