//! Issue 11, item 12: one per-run budget (bytes and time) for searching binaries. A root full
//! of huge sparse files with hypervisor names (20 × 600 MB took 25 s) is cut short, and every
//! binary that was cut is still listed, its version unknown and the reason said.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hvguard_core::{HostRoot, Probe};
use hvguard_host::hypervisors::{self, ScanLimits, DEFAULT_SCAN_BYTES};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::Path;
use std::time::Duration;

const SPARSE: u64 = 600 << 20;

fn huge_root(count: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("usr/bin");
    fs::create_dir_all(&bin).unwrap();
    // Sorted first, so searched before the budget runs out: a real, small binary.
    fs::write(
        bin.join("qemu-system-aarch64"),
        b"\0junk\0QEMU emulator version 9.2.0 (small)\0",
    )
    .unwrap();
    for i in 0..count {
        // Sparse: 600 MB of zeros that take no disk space, and no banner anywhere.
        File::create(bin.join(format!("qemu-system-x{i:02}")))
            .unwrap()
            .set_len(SPARSE)
            .unwrap();
    }
    dir
}

fn discover(root: &Path, limits: ScanLimits) -> hypervisors::Inventory {
    let root = HostRoot::new(root).unwrap();
    hypervisors::discover_with(
        &root,
        &Probe::absent("/var/lib/dpkg/status"),
        &[],
        &BTreeMap::new(),
        limits,
    )
}

#[test]
fn item12_cut_binaries_are_listed_unknown_and_named() {
    let dir = huge_root(20);
    let limits = ScanLimits {
        bytes: 64 << 20,
        time: Duration::from_secs(3600),
    };
    let inv = discover(dir.path(), limits);
    assert_eq!(inv.hypervisors.len(), 21, "{:#?}", inv.hypervisors);
    let small = &inv.hypervisors[0];
    assert_eq!(small.path, Path::new("/usr/bin/qemu-system-aarch64"));
    assert_eq!(small.version.as_deref(), Some("9.2.0"));
    for h in &inv.hypervisors[1..] {
        assert_eq!(h.version, None, "{}", h.path.display());
        let note = h.version_note.as_deref().unwrap_or_default();
        assert!(note.contains("search cut short"), "{note}");
        assert!(note.contains("64 MiB"), "{note}");
        assert!(
            inv.warnings
                .iter()
                .any(|w| w.starts_with(&format!("{}: search cut short", h.path.display()))),
            "{}: {:?}",
            h.path.display(),
            inv.warnings
        );
    }
}

#[test]
fn item12_the_default_budget_stops_well_before_the_files_end() {
    let dir = huge_root(20);
    let inv = discover(dir.path(), ScanLimits::default());
    let cut = inv
        .hypervisors
        .iter()
        .filter(|h| {
            h.version_note
                .as_deref()
                .is_some_and(|n| n.contains("cut short"))
        })
        .count();
    // 20 × 600 MB would be 12 GB of reading; the budget allows 256 MiB, less than one file.
    const { assert!(DEFAULT_SCAN_BYTES < SPARSE) };
    assert_eq!(cut, 20, "{:#?}", inv.hypervisors);
}
