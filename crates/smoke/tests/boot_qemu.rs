//! Real boots: Debian's QEMU booting the test guest built from Debian's kernel and busybox
//! packages (scripts/build-test-guest). Every test checks that no VMM process is left.

#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "support/guest.rs"]
mod guest;

use hvguard_smoke::launch::live_group_members;
use hvguard_smoke::{
    run_bench, run_smoke, Accel, AccelChoice, BenchKind, BootAsset, FailureReason, Feature,
    HostVirt, KvmVerdict, MachineType, SmokeOverrides, SmokeReport, SmokeSpec,
};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn host() -> HostVirt {
    let root = hvguard_core::HostRoot::live();
    HostVirt::from_facts(
        &hvguard_host::kvm::probe_kvm(&root),
        &hvguard_host::cpu::probe_cpu(&root),
    )
}

/// The test guest with Kata's defaults, on Debian's QEMU, accelerator chosen from the facts.
fn spec(qemu: PathBuf, g: &guest::Guest) -> SmokeSpec {
    let mut s = SmokeSpec::standalone(&SmokeOverrides {
        hypervisor: Some(qemu),
        kernel: Some(g.kernel.clone()),
        boot: Some(BootAsset::Initrd(g.initrd.clone())),
        timeout: Some(Duration::from_secs(60)),
        ..SmokeOverrides::default()
    })
    .unwrap();
    s.host = host();
    s
}

fn assert_nothing_left(report: &SmokeReport) {
    for run in &report.runs {
        if let Some(pid) = run.pid {
            assert!(!guest::alive(pid), "VMM {pid} still alive");
            assert!(live_group_members(pid).is_empty(), "group {pid} not empty");
        }
    }
    assert!(
        guest::processes_mentioning("sandbox-hvguard-smoke")
            .iter()
            .all(|pid| !report.runs.iter().any(|r| r.pid == Some(*pid))),
        "a VMM of this report is still running"
    );
}

#[test]
fn boots_the_test_guest_to_the_marker() {
    let Some((qemu, g)) = guest::qemu_and_guest() else {
        return;
    };
    let mut s = spec(qemu, &g);
    s.runs = 2;
    let report = run_smoke(&s).unwrap();
    eprintln!("{}", report.to_json());
    assert!(report.ok, "{:#?}", report.runs);
    assert_eq!(report.schema, "hvguard.smoke/v1");
    assert_eq!(report.runs.len(), 2);
    // Debian 12's QEMU is 7.2.x (whichever point release is installed right now).
    let version = report.hypervisor.version.as_deref().unwrap();
    assert!(version.starts_with("7.2."), "{version}");
    for run in &report.runs {
        assert!(run.boot_ms.unwrap() > 0.0);
        assert!(run.first_output_ms.unwrap() <= run.boot_ms.unwrap());
        assert!(run.peak_rss_kib.unwrap() > 10_000, "{:?}", run.peak_rss_kib);
        assert!(run.reason.is_none());
    }
    assert!(report.median_boot_ms.is_some());
    // The accelerator is the one the facts allow, and a fallback is explained.
    match s.host.kvm_verdict() {
        KvmVerdict::Usable => assert_eq!(report.accel, Accel::Kvm),
        KvmVerdict::Unusable(why) => {
            assert_eq!(report.accel, Accel::Tcg);
            assert!(
                report.notes.iter().any(|n| n.contains(&why)),
                "{:?}",
                report.notes
            );
        }
        KvmVerdict::Unknown => {}
    }
    assert_nothing_left(&report);
}

#[test]
fn kvm_on_a_host_that_cannot_run_it_fails_fast() {
    let Some((qemu, g)) = guest::qemu_and_guest() else {
        return;
    };
    let mut s = spec(qemu, &g);
    let KvmVerdict::Unusable(why) = s.host.kvm_verdict() else {
        eprintln!("\n*** SKIPPED: this host's KVM can run a standard guest ***\n");
        return;
    };
    s.accel = AccelChoice::Kvm;
    let started = Instant::now();
    let report = run_smoke(&s).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(!report.ok);
    assert_eq!(report.accel, Accel::Kvm);
    match report.runs[0].reason.as_ref().unwrap() {
        FailureReason::KvmUnusable { detail } => assert_eq!(detail, &why),
        other => panic!("{other:?}"),
    }
    assert_eq!(report.runs[0].pid, None, "nothing was started");
}

#[test]
fn a_marker_that_never_comes_times_out_and_nothing_is_left() {
    let Some((qemu, g)) = guest::qemu_and_guest() else {
        return;
    };
    let mut s = spec(qemu, &g);
    s.accel = AccelChoice::Tcg;
    // The guest's /init prints HVGUARD-TEST-HANG and never powers off.
    s.kernel_params = "hvguard.test=hang".into();
    s.timeout = Duration::from_secs(20);
    let report = run_smoke(&s).unwrap();
    assert!(!report.ok);
    match report.runs[0].reason.as_ref().unwrap() {
        FailureReason::Timeout {
            console_tail,
            console_bytes,
            ..
        } => {
            assert!(console_tail.contains("HVGUARD-TEST-HANG"), "{console_tail}");
            assert!(*console_bytes > 0);
        }
        other => panic!("{other:?}"),
    }
    let exit = report.runs[0].exit.as_ref().unwrap();
    assert!(exit.stopped_by_hvguard, "{exit:?}");
    assert_nothing_left(&report);
}

#[test]
fn a_guest_that_stops_without_the_marker_is_named() {
    let Some((qemu, g)) = guest::qemu_and_guest() else {
        return;
    };
    let mut s = spec(qemu, &g);
    s.accel = AccelChoice::Tcg;
    s.marker = "NEVER-PRINTED".into();
    let report = run_smoke(&s).unwrap();
    match report.runs[0].reason.as_ref().unwrap() {
        FailureReason::MarkerMissing {
            console_tail, exit, ..
        } => {
            assert!(console_tail.contains("HVGUARD-SMOKE-OK"), "{console_tail}");
            assert_eq!(exit, "exit code 0", "the guest powered off");
        }
        other => panic!("{other:?}"),
    }
    assert_nothing_left(&report);
}

#[test]
fn a_relocated_qemu_needs_and_gets_its_module_dir() {
    let Some((qemu, g)) = guest::qemu_and_guest() else {
        return;
    };
    // A candidate build unpacked into a staging folder, as `hvguard update` does.
    let staging = tempfile::tempdir().unwrap();
    let bin = staging.path().join("usr/bin");
    std::fs::create_dir_all(&bin).unwrap();
    let copy = bin.join("qemu-system-x86_64");
    std::fs::copy(&qemu, &copy).unwrap();

    let mut s = spec(copy.clone(), &g);
    s.accel = AccelChoice::Tcg;
    s.data_dirs = vec!["/usr/share/qemu".into(), "/usr/share/seabios".into()];
    let without = run_smoke(&s).unwrap();
    match without.runs[0].reason.as_ref().unwrap() {
        FailureReason::VmmExitedEarly { stderr_tail, .. } => {
            assert!(stderr_tail.contains("tcg-accel-ops"), "{stderr_tail}");
        }
        other => panic!("{other:?}"),
    }
    s.module_dir = Some(guest::QEMU_MODULES.into());
    let with = run_smoke(&s).unwrap();
    assert!(with.ok, "{:#?}", with.runs);
    assert_eq!(with.hypervisor.path, copy);
    assert_nothing_left(&with);
}

#[test]
fn microvm_boots_under_tcg() {
    let Some((qemu, g)) = guest::qemu_and_guest() else {
        return;
    };
    let mut s = spec(qemu, &g);
    s.accel = AccelChoice::Tcg;
    s.machine = MachineType::Microvm;
    let report = run_smoke(&s).unwrap();
    assert!(report.ok, "{:#?}", report.runs);
    assert!(report
        .argv
        .iter()
        .any(|a| a.starts_with("microvm,accel=tcg")));
    assert_nothing_left(&report);
}

#[test]
fn bench_measures_the_sandbox_on_real_boots() {
    let Some((qemu, g)) = guest::qemu_and_guest() else {
        return;
    };
    let base = spec(qemu, &g);
    let (a, b) = Feature::Sandbox.variants(&base).unwrap();
    let report = run_bench(&a, &b, 2, BenchKind::Feature(Feature::Sandbox)).unwrap();
    eprintln!("{}", report.to_json());
    assert!(report.ok, "{}", report.to_json());
    assert_eq!(report.schema, "hvguard.bench/v1");
    assert_eq!(report.a.runs.len(), 2);
    assert_eq!(report.b.runs.len(), 2);
    let ratio = report.ratio.unwrap();
    let expected = report.b.median_ms.unwrap() / report.a.median_ms.unwrap();
    assert!((ratio - expected).abs() < 1e-9);
    assert!(report.a.min_ms.unwrap() <= report.a.median_ms.unwrap());
    assert!(report.a.median_ms.unwrap() <= report.a.max_ms.unwrap());
    for run in report.a.runs.iter().chain(&report.b.runs) {
        let pid = run.pid.unwrap();
        assert!(!guest::alive(pid));
    }
}
