//! `hypervisor.stale-process` for real: copies of Debian's QEMU are started (`-machine none
//! -S`, as Kata names them `-name sandbox-<id>`), their binaries deleted or replaced on disk,
//! the live host collected and the rule evaluated; every process is killed by its PID.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hvguard_core::{HostRoot, Probe};

const QEMU: &str = "/usr/bin/qemu-system-x86_64";
const MODULES: &str = "/usr/lib/x86_64-linux-gnu/qemu";

fn have_qemu() -> bool {
    if Path::new(QEMU).exists() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI: {QEMU} is missing (.ci/run installs qemu-system-x86)"
    );
    eprintln!("SKIPPED: {QEMU} is not installed");
    false
}

/// A started QEMU, killed by PID when dropped.
struct Vmm(Child);

impl Drop for Vmm {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(binary: &Path, sandbox: &str) -> Vmm {
    let child = Command::new(binary)
        .args([
            "-machine",
            "none",
            "-accel",
            "tcg",
            "-S",
            "-nodefaults",
            "-display",
            "none",
        ])
        .args(["-name", &format!("{sandbox},debug-threads=on")])
        .args(["-monitor", "none", "-serial", "none"])
        .env("QEMU_MODULE_DIR", MODULES)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("QEMU starts");
    let vmm = Vmm(child);
    // Wait until the process runs the binary (exec done) before touching the file.
    let deadline = Instant::now() + Duration::from_secs(10);
    let exe = PathBuf::from(format!("/proc/{}/exe", vmm.0.id()));
    while std::fs::read_link(&exe).map_or(true, |t| !t.ends_with(binary.file_name().unwrap()))
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100));
    vmm
}

#[test]
fn deleted_and_replaced_vmm_binaries_are_found_and_reported() {
    if !have_qemu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fresh_bin = dir.path().join("a/qemu-system-x86_64");
    let deleted_bin = dir.path().join("b/qemu-system-x86_64");
    let replaced_bin = dir.path().join("c/qemu-system-x86_64");
    for b in [&fresh_bin, &deleted_bin, &replaced_bin] {
        std::fs::create_dir_all(b.parent().unwrap()).unwrap();
        std::fs::copy(QEMU, b).unwrap();
    }
    let fresh = start(&fresh_bin, "sandbox-fresh");
    let deleted = start(&deleted_bin, "sandbox-deleted");
    let replaced = start(&replaced_bin, "sandbox-replaced");
    std::fs::remove_file(&deleted_bin).unwrap();
    // What dpkg does: the new file is written beside the old one and renamed over it.
    let new = dir.path().join("c/.qemu.dpkg-new");
    std::fs::copy(QEMU, &new).unwrap();
    std::fs::rename(&new, &replaced_bin).unwrap();

    let probe = hvguard_update::processes::collect(&HostRoot::live());
    let Probe::Found { value: procs } = &probe else {
        panic!("processes not collected: {probe:?}");
    };
    let find = |pid: u32| procs.iter().find(|p| p.pid == pid).expect("process listed");
    let f = find(fresh.0.id());
    assert!(!f.is_stale(), "{f:?}");
    assert_eq!(f.sandbox.as_deref(), Some("sandbox-fresh"));
    assert!(f
        .running_version
        .as_deref()
        .unwrap_or("")
        .contains("QEMU emulator version"));
    let d = find(deleted.0.id());
    assert!(d.exe_deleted && d.is_stale(), "{d:?}");
    assert_eq!(d.exe, deleted_bin);
    assert_eq!(d.disk_version, None);
    assert!(d.running_version.is_some(), "read through /proc/PID/exe");
    let r = find(replaced.0.id());
    assert!(r.exe_deleted && r.exe_replaced, "{r:?}");
    assert!(r.disk_version.is_some());

    // The pure rule over a Snapshot carrying these facts.
    let mut snapshot = hvguard_host::collect(&HostRoot::live(), &Default::default());
    snapshot.vmm_processes = probe.clone();
    let evaluation = hvguard_audit::evaluate(&snapshot);
    let stale: Vec<_> = evaluation
        .findings
        .iter()
        .filter(|f| f.rule.as_str() == "hypervisor.stale-process")
        .collect();
    let mine: Vec<_> = stale
        .iter()
        .filter(|f| {
            f.evidence.contains("sandbox-deleted") || f.evidence.contains("sandbox-replaced")
        })
        .collect();
    assert_eq!(mine.len(), 2, "{stale:#?}");
    assert!(mine
        .iter()
        .all(|f| f.severity == hvguard_core::Severity::High));
    assert!(!stale.iter().any(|f| f.evidence.contains("sandbox-fresh")));
    let pid = deleted.0.id();
    assert!(
        mine.iter()
            .any(|f| f.evidence.contains(&format!("pid {pid} "))),
        "{mine:#?}"
    );

    drop((fresh, deleted, replaced));
    for p in procs.iter().filter(|p| p.exe.starts_with(dir.path())) {
        assert!(
            !Path::new(&format!("/proc/{}", p.pid)).exists()
                || std::fs::read_to_string(format!("/proc/{}/stat", p.pid))
                    .map_or(true, |s| s.contains(") Z ")),
            "pid {} still runs",
            p.pid
        );
    }
}
