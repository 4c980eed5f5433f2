//! `hvguard smoke` and `hvguard bench` end to end: Debian's QEMU booting the test guest
//! (scripts/build-test-guest), real Kata configurations, the policy's [smoke] table, exit codes.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;
#[path = "../../smoke/tests/support/guest.rs"]
mod guest;

use common::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn kata_fixture(name: &str) -> PathBuf {
    workspace()
        .join("crates/smoke/tests/fixtures/kata")
        .join(name)
}

fn guest_flags(g: &guest::Guest) -> Vec<String> {
    vec![
        "--kernel".into(),
        g.kernel.display().to_string(),
        "--initrd".into(),
        g.initrd.display().to_string(),
    ]
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn assert_pids_gone(report: &serde_json::Value) {
    for run in report["runs"].as_array().unwrap() {
        if let Some(pid) = run["pid"].as_u64() {
            assert!(!guest::alive(pid as u32), "VMM {pid} still alive");
        }
    }
}

#[test]
fn smoke_boots_a_real_kata_configuration() {
    let Some((qemu, g)) = guest::qemu_and_guest() else {
        return;
    };
    // Kata 3.20.0's own configuration-qemu.toml: its machine, memory, CPU features and kernel
    // parameters, with Debian's QEMU and the test guest in place of Kata's assets.
    let mut args = vec![
        "smoke".to_string(),
        "--config".into(),
        kata_fixture("3.20.0-go-configuration-qemu.toml")
            .display()
            .to_string(),
        "--hypervisor".into(),
        qemu.display().to_string(),
        "--format".into(),
        "json".into(),
    ];
    args.extend(guest_flags(&g));
    let out = hvguard().args(&args).output().unwrap();
    let report = json(&out);
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert_eq!(report["schema"], "hvguard.smoke/v1");
    assert_eq!(report["ok"], true);
    assert_eq!(report["marker"], "HVGUARD-SMOKE-OK");
    assert!(report["hypervisor"]["version"]
        .as_str()
        .unwrap()
        .starts_with('7'));
    assert!(report["config"]
        .as_str()
        .unwrap()
        .ends_with("3.20.0-go-configuration-qemu.toml"));
    let argv: Vec<&str> = report["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let append = argv[argv.iter().position(|a| *a == "-append").unwrap() + 1];
    assert!(
        append.ends_with("cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1"),
        "{append}"
    );
    assert!(argv.iter().any(|a| a.ends_with(",pmu=off")), "{argv:?}");
    let run = &report["runs"][0];
    assert!(run["boot_ms"].as_f64().unwrap() > 0.0);
    assert!(run["peak_rss_kib"].as_u64().unwrap() > 0);
    assert_pids_gone(&report);
}

#[test]
fn smoke_takes_its_defaults_from_the_policy() {
    let Some((qemu, g)) = guest::qemu_and_guest() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "[[accept]]\nid = \"CVE-2021-3929\"\nreason = \"r\"\nexpires = \"2099-01-01\"\n\n\
             [smoke]\nhypervisor = \"{}\"\nkernel = \"{}\"\ninitrd = \"{}\"\naccel = \"tcg\"\n\
             timeout_s = 90\nruns = 1\nmarker = \"HVGUARD-SMOKE-OK\"\n",
            qemu.display(),
            g.kernel.display(),
            g.initrd.display()
        ),
    )
    .unwrap();
    let out = hvguard()
        .env("HVGUARD_POLICY", &policy)
        .env(
            "KATA_CONF_FILE",
            "/nonexistent/hvguard-tests/configuration.toml",
        )
        .args(["smoke"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.starts_with("hvguard smoke: OK, the guest reached userspace in 1/1 runs with TCG"),
        "{text}"
    );
    assert!(text.contains("run 1   ok"), "{text}");

    // The same file with a mistake: exit 2, the file and line named, nothing booted.
    std::fs::write(&policy, "[smoke]\nruns = 1\naccel = \"hyperv\"\n").unwrap();
    let out = hvguard()
        .args(["smoke", "--policy"])
        .arg(&policy)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:3:", policy.display())), "{err}");
}

#[test]
fn smoke_fails_with_exit_1_and_names_the_reason() {
    let Some(g) = guest::guest() else { return };
    let mut args = vec![
        "smoke".to_string(),
        "--hypervisor".into(),
        "/bin/true".into(),
    ];
    args.extend(guest_flags(&g));
    let out = hvguard().args(&args).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("hvguard smoke: FAILED"), "{text}");
    assert!(
        text.contains("VMM exited before the guest reached userspace (exit code 0)"),
        "{text}"
    );
}

#[test]
fn smoke_with_kvm_fails_fast_where_kvm_cannot_run_a_guest() {
    let Some((_, g)) = guest::qemu_and_guest() else {
        return;
    };
    let pvm = Path::new("/sys/module/kvm_pvm").exists();
    if !pvm {
        eprintln!("\n*** SKIPPED: not a kvm_pvm host ***\n");
        return;
    }
    let mut args = vec!["smoke".to_string(), "--accel".into(), "kvm".into()];
    args.extend(guest_flags(&g));
    let started = Instant::now();
    let out = hvguard().args(&args).output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("KVM unusable: KVM on this host comes from the paravirtual kvm_pvm module"),
        "{text}"
    );
}

#[test]
fn unsupported_vmms_and_bad_input_exit_2() {
    let fc = hvguard()
        .args(["smoke", "--config"])
        .arg(kata_fixture("3.20.0-go-configuration-fc.toml"))
        .output()
        .unwrap();
    assert_eq!(fc.status.code(), Some(2));
    let err = String::from_utf8_lossy(&fc.stderr);
    assert!(
        err.contains("firecracker") && err.contains("not supported yet"),
        "{err}"
    );

    let missing = hvguard()
        .args(["smoke", "--kernel", "/nonexistent/vmlinuz", "--config"])
        .arg(kata_fixture("3.20.0-go-configuration-qemu.toml"))
        .args(["--hypervisor", "/bin/true"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("kernel /nonexistent/vmlinuz"));

    let usage = hvguard().args(["smoke", "--runs", "0"]).output().unwrap();
    assert_eq!(usage.status.code(), Some(2));
    let usage = hvguard()
        .args(["smoke", "--initrd", "/a", "--image", "/b"])
        .output()
        .unwrap();
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn bench_measures_a_feature_and_gates_on_a_kata_style_baseline() {
    let Some((qemu, g)) = guest::qemu_and_guest() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let baseline = dir.path().join("baseline.toml");
    // Two bounds any boot meets and one no boot can meet: the gate must fail on that one.
    std::fs::write(
        &baseline,
        "[[metric]]\nname = \"boot-ms-a\"\ntype = \"json\"\ndescription = \"boot without the feature\"\n\
         checktype = \"median\"\nminval = 1.0\nmaxval = 600000.0\n\n\
         [[metric]]\nname = \"ratio\"\nchecktype = \"median\"\nmidval = 1.0\nminpercent = 90.0\nmaxpercent = 900.0\n\n\
         [[metric]]\nname = \"boot-ms-b\"\nchecktype = \"max\"\nminval = 0.0\nmaxval = 1.0\n",
    )
    .unwrap();
    let mut args = vec![
        "bench".to_string(),
        "--feature".into(),
        "iommu".into(),
        "--runs".into(),
        "1".into(),
        "--accel".into(),
        "tcg".into(),
        "--hypervisor".into(),
        qemu.display().to_string(),
        "--format".into(),
        "json".into(),
        "--baseline".into(),
        baseline.display().to_string(),
    ];
    args.extend(guest_flags(&g));
    let out = hvguard()
        .env(
            "KATA_CONF_FILE",
            "/nonexistent/hvguard-tests/configuration.toml",
        )
        .args(&args)
        .output()
        .unwrap();
    let report = json(&out);
    assert_eq!(out.status.code(), Some(1), "{report:#}");
    assert_eq!(report["schema"], "hvguard.bench/v1");
    assert_eq!(report["mode"], "feature");
    assert_eq!(report["feature"], "iommu");
    assert_eq!(report["accel"], "tcg");
    for side in ["a", "b"] {
        assert_eq!(report[side]["runs"].as_array().unwrap().len(), 1, "{side}");
        assert!(report[side]["median_ms"].as_f64().unwrap() > 0.0);
        assert_pids_gone(&report[side]);
    }
    let ratio = report["ratio"].as_f64().unwrap();
    let expected =
        report["b"]["median_ms"].as_f64().unwrap() / report["a"]["median_ms"].as_f64().unwrap();
    assert!((ratio - expected).abs() < 1e-9);
    let gate = &report["gate"];
    assert_eq!(gate["ok"], false);
    let verdicts: Vec<(String, bool)> = gate["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_string(),
                m["ok"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        vec![
            ("boot-ms-a".to_string(), true),
            ("ratio".to_string(), true),
            ("boot-ms-b".to_string(), false)
        ]
    );
    // The B side really had the vIOMMU.
    assert!(report["b"]["label"]
        .as_str()
        .unwrap()
        .contains("intel-iommu"));

    // A broken baseline is an input error before any boot.
    std::fs::write(
        &baseline,
        "[[metric]]\nname = \"boot-time\"\nminval = 1.0\nmaxval = 2.0\n",
    )
    .unwrap();
    let started = Instant::now();
    let out = hvguard().args(&args).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(started.elapsed() < Duration::from_secs(5));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:2:", baseline.display())), "{err}");
}

#[test]
fn smoke_and_bench_help_are_stable() {
    for args in [&["smoke", "--help"][..], &["bench", "--help"][..]] {
        let out = hvguard()
            .args(args)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let text = normalise(&String::from_utf8_lossy(&out), &workspace());
        insta::assert_snapshot!(format!("help-{}", args[0]), text);
    }
}
