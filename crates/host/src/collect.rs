//! Assembles a Snapshot from every probe: host facts, packages, hypervisor binaries.

use crate::binfacts::BinaryFactsCache;
use crate::integrity::digest::DigestCache;
use crate::{containerd, facts, hypervisors, integrity, packages};
use hvguard_core::HypervisorKind;
use hvguard_core::{
    FirmwareFacts, HostFacts, HostRoot, IommuFacts, KvmFacts, Probe, Snapshot, SNAPSHOT_SCHEMA,
};
use std::collections::BTreeMap;
use std::path::PathBuf;

pub use crate::hypervisors::ScanLimits;

/// What the caller knows before collecting.
#[derive(Debug, Default)]
pub struct CollectOptions {
    /// Binaries named by Kata configurations, looked at besides the standard folders.
    pub extra_binaries: Vec<PathBuf>,
    /// Digests already known (from the store), so unchanged files are not hashed again; the
    /// digests computed while collecting are added to it for the caller to save.
    pub digest_cache: std::cell::RefCell<DigestCache>,
    /// The kind each configured binary is, by the configuration key that names it (a
    /// `jailer_path` is a jailer whatever its file is called).
    pub extra_kinds: BTreeMap<PathBuf, HypervisorKind>,
    /// How much reading of binaries (bytes and time) the whole collection may do.
    pub scan_limits: ScanLimits,
    /// Facts read out of binaries before (version banners, QOM type names, containerd's
    /// version), so unchanged binaries are not read again; the facts read while collecting
    /// are added to it for the caller to save.
    pub binary_facts: std::cell::RefCell<BinaryFactsCache>,
}

/// Collects every fact about the host under `root`. Never fails: what cannot be read is
/// recorded as unknown in the Snapshot.
pub fn collect(root: &HostRoot, options: &CollectOptions) -> Snapshot {
    assemble(root, facts::host_facts(root), options, true)
}

/// Packages and hypervisor binaries only, for `hvguard audit`: every host fact is marked as
/// not collected, so host rules report unknown rather than pass.
pub fn collect_inventory_only(root: &HostRoot, options: &CollectOptions) -> Snapshot {
    assemble(root, not_collected(AUDIT_ONLY), options, false)
}

const AUDIT_ONLY: &str = "not collected: hvguard audit reads configuration only";

fn assemble(
    root: &HostRoot,
    host: HostFacts,
    options: &CollectOptions,
    check_integrity: bool,
) -> Snapshot {
    let packages = packages::read_installed(root);
    let facts = &mut options.binary_facts.borrow_mut();
    let inventory = hypervisors::discover_cached(
        root,
        &packages,
        &options.extra_binaries,
        &options.extra_kinds,
        options.scan_limits,
        facts,
    );
    let changelogs = packages::changelog::collect(root, &packages, &inventory.hypervisors);
    let containerd = containerd::discover_cached(root, &packages, facts);
    let integrity = if check_integrity {
        integrity::collect(
            root,
            &packages,
            &inventory.hypervisors,
            &mut options.digest_cache.borrow_mut(),
        )
    } else {
        hvguard_core::IntegrityFacts {
            packages: Probe::unsupported(AUDIT_ONLY),
            ..Default::default()
        }
    };
    let mut warnings = inventory.warnings;
    warnings.extend(changelogs.warnings);
    warnings.extend(containerd.warnings);
    let uid = rustix::process::geteuid().as_raw();
    if uid != 0 {
        warnings.push(format!(
            "the scan ran unprivileged (uid {uid}): facts only root may read are listed as unknown; run hvguard as root for a complete scan"
        ));
    }
    let now = jiff::Timestamp::now();
    Snapshot {
        schema: SNAPSHOT_SCHEMA.to_string(),
        collected_at: now.round(jiff::Unit::Second).unwrap_or(now).to_string(),
        root: root.base().to_path_buf(),
        live: root.is_live(),
        host,
        packages,
        hypervisors: inventory.hypervisors,
        kata_install: inventory.kata_install,
        kata: Vec::new(),
        containerd: Vec::new(),
        containerd_binaries: containerd.binaries,
        warnings,
        changelogs: changelogs.entries,
        // Filled by the process collector (hvguard-update) on the live root.
        vmm_processes: if root.is_live() {
            hvguard_core::processes_not_collected()
        } else {
            Probe::unsupported(
                "not a live root: running processes are only read on the running host",
            )
        },
        integrity,
        collector_uid: Some(uid),
    }
}

fn not_collected(reason: &str) -> HostFacts {
    fn no<T>(reason: &str) -> Probe<T> {
        Probe::unsupported(reason)
    }
    HostFacts {
        hostname: no(reason),
        os: no(reason),
        kernel_release: no(reason),
        cpu: no(reason),
        kvm: KvmFacts {
            device: no(reason),
            api_version: no(reason),
            modules: no(reason),
        },
        iommu: IommuFacts {
            groups: no(reason),
            dmar_table: no(reason),
            ivrs_table: no(reason),
            cmdline_flags: Vec::new(),
        },
        firmware: FirmwareFacts {
            boot_mode: no(reason),
            secure_boot: no(reason),
        },
        smt_control: no(reason),
        cpu_vulnerabilities: no(reason),
        cmdline: no(reason),
        ksm_run: no(reason),
        swaps: no(reason),
        unprivileged_bpf_disabled: no(reason),
        lsm: no(reason),
    }
}
