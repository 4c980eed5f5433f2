//! Inputs that must fail clearly without a guest: non-VMM binaries, untrusted paths, missing
//! files, a console flood, unsupported VMM kinds. Each stops everything it started.

#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "support/guest.rs"]
mod guest;

use hvguard_smoke::launch::live_group_members;
use hvguard_smoke::{
    run_smoke, AccelChoice, BootAsset, FailureReason, SmokeError, SmokeOverrides, SmokeSpec,
};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A spec booting `hypervisor` with a kernel file that exists (its content does not matter
/// when the "VMM" never reads it).
fn spec(dir: &Path, hypervisor: &str) -> SmokeSpec {
    let kernel = dir.join("vmlinuz");
    std::fs::write(&kernel, b"not a kernel").unwrap();
    SmokeSpec::standalone(&SmokeOverrides {
        hypervisor: Some(PathBuf::from(hypervisor)),
        kernel: Some(kernel),
        accel: Some(AccelChoice::Tcg),
        timeout: Some(Duration::from_secs(10)),
        ..SmokeOverrides::default()
    })
    .unwrap()
}

fn assert_gone(report: &hvguard_smoke::SmokeReport) {
    for run in &report.runs {
        let pid = run.pid.expect("a started run has a pid");
        assert!(!guest::alive(pid), "VMM {pid} still alive");
        assert!(live_group_members(pid).is_empty(), "group {pid} not empty");
    }
}

#[test]
fn a_non_vmm_binary_exits_before_userspace() {
    let dir = tempfile::tempdir().unwrap();
    let report = run_smoke(&spec(dir.path(), "/bin/true")).unwrap();
    assert!(!report.ok);
    assert_eq!(report.hypervisor.version, None);
    let reason = report.runs[0].reason.as_ref().unwrap();
    assert!(
        matches!(reason, FailureReason::VmmExitedEarly { .. }),
        "{reason:?}"
    );
    assert!(
        reason
            .to_string()
            .starts_with("VMM exited before the guest reached userspace (exit code 0)"),
        "{reason}"
    );
    assert_gone(&report);
}

#[test]
fn a_flooding_console_is_bounded_and_stopped() {
    // A "VMM" that writes to stdout (the console) forever, whatever its arguments.
    let dir = tempfile::tempdir().unwrap();
    let flood = dir.path().join("flood");
    std::fs::write(&flood, "#!/bin/sh\nexec /usr/bin/yes HVGUARD-FLOOD\n").unwrap();
    std::fs::set_permissions(&flood, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut s = spec(dir.path(), flood.to_str().unwrap());
    s.timeout = Duration::from_secs(2);
    let started = Instant::now();
    let report = run_smoke(&s).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    match report.runs[0].reason.as_ref().unwrap() {
        FailureReason::Timeout {
            console_bytes,
            console_tail,
            ..
        } => {
            assert!(*console_bytes > 1 << 20, "{console_bytes}");
            assert!(console_tail.len() <= hvguard_smoke::console::CONSOLE_TAIL_BYTES);
        }
        other => panic!("{other:?}"),
    }
    assert!(report.runs[0].exit.as_ref().unwrap().stopped_by_hvguard);
    assert_gone(&report);
}

#[test]
fn a_hypervisor_under_a_writable_folder_is_not_executed() {
    let dir = tempfile::tempdir().unwrap();
    let open = dir.path().join("incoming");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let vmm = open.join("qemu-system-x86_64");
    // A program that would leave a trace if it ran.
    let trace = dir.path().join("ran");
    std::fs::write(&vmm, format!("#!/bin/sh\ntouch {}\n", trace.display())).unwrap();
    std::fs::set_permissions(&vmm, std::fs::Permissions::from_mode(0o755)).unwrap();
    let e = run_smoke(&spec(dir.path(), vmm.to_str().unwrap())).unwrap_err();
    assert!(matches!(e, SmokeError::Untrusted { .. }), "{e}");
    assert!(e.to_string().contains("refusing to execute"), "{e}");
    assert!(!trace.exists(), "the untrusted program ran");

    let writable = dir.path().join("qemu-gw");
    std::fs::copy("/bin/true", &writable).unwrap();
    std::fs::set_permissions(&writable, std::fs::Permissions::from_mode(0o775)).unwrap();
    let e = run_smoke(&spec(dir.path(), writable.to_str().unwrap())).unwrap_err();
    assert!(e.to_string().contains("kata.binary-writable"), "{e}");
}

#[test]
fn missing_files_are_input_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = spec(dir.path(), "/bin/true");
    s.kernel = dir.path().join("no-such-vmlinuz");
    let e = run_smoke(&s).unwrap_err();
    assert!(
        matches!(e, SmokeError::MissingFile { what: "kernel", .. }),
        "{e}"
    );
    assert!(e.to_string().contains("no-such-vmlinuz"), "{e}");

    let mut s = spec(dir.path(), "/bin/true");
    s.boot = Some(BootAsset::Initrd(dir.path().join("no-initrd")));
    assert!(matches!(
        run_smoke(&s),
        Err(SmokeError::MissingFile { what: "initrd", .. })
    ));

    let s = spec(dir.path(), "/nonexistent/qemu-system-x86_64");
    assert!(matches!(
        run_smoke(&s),
        Err(SmokeError::MissingFile {
            what: "hypervisor",
            ..
        })
    ));
}

#[test]
fn other_vmm_kinds_are_not_supported_yet() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = spec(dir.path(), "/bin/true");
    s.kind = hvguard_core::HypervisorKind::Firecracker;
    let e = run_smoke(&s).unwrap_err();
    assert!(matches!(e, SmokeError::Unsupported { .. }));
    assert!(e.to_string().contains("not supported yet"), "{e}");
}
