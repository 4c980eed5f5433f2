//! The Kata, QEMU, Firecracker and containerd configuration rules on hand-built configurations:
//! for each rule one configuration where it fires and one where it must not.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod kata_rules_support;

use hvguard_core::{HypervisorKind, KataRuntime, Severity};
use kata_rules_support::*;
use std::path::Path;

#[test]
fn the_secure_baseline_has_no_finding() {
    let found = of_config(secure_qemu().build());
    assert!(found.is_empty(), "unexpected: {:#?}", found);
}

fn assert_fires_alone(key: &str, value: hvguard_core::ConfigValue, rule: &str, severity: Severity) {
    let found = fire(key, value);
    assert_eq!(rules(&found), vec![rule], "{key}: {found:#?}");
    assert_eq!(found[0].severity, severity, "{key}");
    let location = found[0].location.as_ref().unwrap();
    assert_eq!(location.key.as_deref(), Some(key));
    assert_eq!(location.path, Path::new(MAIN));
    assert!(location.line.is_some());
}

#[test]
fn seccomp_sandbox_empty_off_or_missing() {
    assert_fires_alone(
        "hypervisor.qemu.seccompsandbox",
        s(""),
        "qemu.seccomp-sandbox-off",
        Severity::High,
    );
    assert_fires_alone(
        "hypervisor.qemu.seccompsandbox",
        s("off"),
        "qemu.seccomp-sandbox-off",
        Severity::High,
    );
    let found = of_config(
        secure_qemu()
            .remove("hypervisor.qemu.seccompsandbox")
            .build(),
    );
    assert_eq!(rules(&found), vec!["qemu.seccomp-sandbox-off"]);
    let location = found[0].location.as_ref().unwrap();
    assert_eq!(
        (location.path.as_path(), location.line),
        (Path::new(MAIN), None)
    );
    assert!(
        found[0].evidence.contains("not set"),
        "{}",
        found[0].evidence
    );
    assert!(fire("hypervisor.qemu.seccompsandbox", s("on")).is_empty());
}

#[test]
fn seccomp_sandbox_in_the_runtime_rs_spelling() {
    let mut cfg = secure_qemu().remove("hypervisor.qemu.seccompsandbox");
    cfg.config.runtime = KataRuntime::Rs;
    let found = of_config(
        cfg.clone()
            .set("hypervisor.qemu.seccomp_sandbox", s(""))
            .build(),
    );
    assert_eq!(rules(&found), vec!["qemu.seccomp-sandbox-off"]);
    assert_eq!(
        found[0].location.as_ref().unwrap().key.as_deref(),
        Some("hypervisor.qemu.seccomp_sandbox")
    );
    assert_eq!(found[0].evidence, "seccomp_sandbox = \"\"");
    assert!(of_config(
        cfg.set("hypervisor.qemu.seccomp_sandbox", s(SECURE_SANDBOX))
            .build()
    )
    .is_empty());
}

#[test]
fn simple_hypervisor_switches() {
    let cases: &[(&str, hvguard_core::ConfigValue, &str, Severity)] = &[
        (
            "hypervisor.qemu.disable_seccomp",
            b(true),
            "kata.vmm-seccomp-disabled",
            Severity::Critical,
        ),
        (
            "hypervisor.qemu.rootless",
            b(false),
            "kata.rootless-disabled",
            Severity::Low,
        ),
        (
            "hypervisor.qemu.default_maxvcpus",
            i(0),
            "kata.resource-limits-unbounded",
            Severity::Low,
        ),
        (
            "hypervisor.qemu.default_maxmemory",
            i(0),
            "kata.resource-limits-unbounded",
            Severity::Low,
        ),
        (
            "hypervisor.qemu.shared_fs",
            s("virtio-9p"),
            "kata.shared-fs-9p",
            Severity::Medium,
        ),
        (
            "hypervisor.qemu.disable_block_device_use",
            b(false),
            "kata.block-device-use-enabled",
            Severity::Medium,
        ),
        (
            "hypervisor.qemu.guest_hook_path",
            s("/usr/share/oci/hooks"),
            "kata.guest-hook-path-set",
            Severity::Medium,
        ),
        (
            "hypervisor.qemu.extra_monitor_socket",
            s("hmp"),
            "kata.extra-monitor-socket",
            Severity::High,
        ),
        (
            "hypervisor.qemu.guest_memory_dump_path",
            s("/var/crash/kata"),
            "kata.memory-dump-path-set",
            Severity::Medium,
        ),
        (
            "hypervisor.qemu.machine_type",
            s("pc"),
            "qemu.legacy-machine-type",
            Severity::Medium,
        ),
        (
            "hypervisor.qemu.machine_type",
            s("pc-i440fx-7.2"),
            "qemu.legacy-machine-type",
            Severity::Medium,
        ),
        (
            "hypervisor.qemu.cpu_features",
            s("vmx=off"),
            "kata.pmu-exposed",
            Severity::Low,
        ),
        (
            "hypervisor.qemu.cpu_features",
            s("pmu=on"),
            "kata.pmu-exposed",
            Severity::Low,
        ),
        (
            "hypervisor.qemu.enable_debug",
            b(true),
            "kata.debug-enabled",
            Severity::Low,
        ),
        (
            "runtime.enable_debug",
            b(true),
            "kata.debug-enabled",
            Severity::Low,
        ),
        (
            "agent.kata.enable_debug",
            b(true),
            "kata.debug-enabled",
            Severity::Low,
        ),
        (
            "agent.kata.debug_console_enabled",
            b(true),
            "kata.debug-console-enabled",
            Severity::High,
        ),
        (
            "hypervisor.qemu.kernel_params",
            s("console=hvc0 agent.debug_console agent.debug_console_vport=1026"),
            "kata.debug-console-enabled",
            Severity::High,
        ),
        (
            "runtime.disable_guest_seccomp",
            b(true),
            "kata.guest-seccomp-disabled",
            Severity::Medium,
        ),
        (
            "runtime.disable_new_netns",
            b(true),
            "kata.new-netns-disabled",
            Severity::High,
        ),
        (
            "runtime.sandbox_cgroup_only",
            b(false),
            "kata.sandbox-cgroup-only-disabled",
            Severity::Medium,
        ),
        (
            "factory.enable_template",
            b(true),
            "kata.vm-template-enabled",
            Severity::Medium,
        ),
        (
            "hypervisor.qemu.virtio_fs_extra_args",
            list(&["--sandbox=none"]),
            "kata.virtiofsd-sandbox-weak",
            Severity::High,
        ),
        (
            "hypervisor.qemu.virtio_fs_extra_args",
            list(&["--sandbox", "none"]),
            "kata.virtiofsd-sandbox-weak",
            Severity::High,
        ),
        (
            "hypervisor.qemu.virtio_fs_extra_args",
            list(&["--seccomp=none"]),
            "kata.virtiofsd-sandbox-weak",
            Severity::High,
        ),
        (
            "hypervisor.qemu.virtio_fs_extra_args",
            list(&["--seccomp none"]),
            "kata.virtiofsd-sandbox-weak",
            Severity::High,
        ),
        (
            "hypervisor.qemu.hot_plug_vfio",
            s("root-port"),
            "kata.vfio-without-iommu",
            Severity::High,
        ),
        (
            "hypervisor.qemu.cold_plug_vfio",
            s("bridge-port"),
            "kata.vfio-without-iommu",
            Severity::High,
        ),
    ];
    for (key, value, rule, severity) in cases {
        assert_fires_alone(key, value.clone(), rule, *severity);
    }
}

#[test]
fn switches_that_must_not_fire() {
    for (key, value) in [
        ("hypervisor.qemu.machine_type", s("q35")),
        ("hypervisor.qemu.cpu_features", s("vmx=off, pmu=off")),
        ("hypervisor.qemu.shared_fs", s("virtio-fs")),
        (
            "hypervisor.qemu.virtio_fs_extra_args",
            list(&["--sandbox=chroot", "--seccomp=kill"]),
        ),
        (
            "hypervisor.qemu.kernel_params",
            s("console=hvc0 agent.log=debug"),
        ),
        ("hypervisor.qemu.default_maxvcpus", i(4)),
        ("runtime.disable_guest_seccomp", b(false)),
        ("factory.enable_template", b(false)),
    ] {
        let found = fire(key, value);
        assert!(found.is_empty(), "{key}: {found:#?}");
    }
    // VFIO with a vIOMMU is fine.
    let cfg = secure_qemu()
        .set("hypervisor.qemu.hot_plug_vfio", s("root-port"))
        .set("hypervisor.qemu.enable_iommu", b(true));
    assert!(of_config(cfg.build()).is_empty());
}

#[test]
fn legacy_vfio_on_root_bus() {
    let found = fire("hypervisor.qemu.hotplug_vfio_on_root_bus", b(true));
    assert_eq!(rules(&found), vec!["kata.vfio-without-iommu"]);
    assert!(fire("hypervisor.qemu.hotplug_vfio_on_root_bus", b(false)).is_empty());
}

#[test]
fn missing_keys_with_insecure_defaults() {
    for (key, rule) in [
        ("hypervisor.qemu.rootless", "kata.rootless-disabled"),
        (
            "hypervisor.qemu.disable_block_device_use",
            "kata.block-device-use-enabled",
        ),
        ("hypervisor.qemu.cpu_features", "kata.pmu-exposed"),
        (
            "runtime.sandbox_cgroup_only",
            "kata.sandbox-cgroup-only-disabled",
        ),
    ] {
        let found = of_config(secure_qemu().remove(key).build());
        assert_eq!(rules(&found), vec![rule], "{key}");
        let location = found[0].location.as_ref().unwrap();
        assert_eq!(location.key.as_deref(), Some(key));
        assert_eq!(location.line, None);
    }
}

#[test]
fn a_dropin_turning_debug_on_is_reported_at_the_dropin_line() {
    let cfg = secure_qemu().dropin("agent.kata.enable_debug", b(true), 7);
    let found = of_config(cfg.build());
    assert_eq!(rules(&found), vec!["kata.debug-enabled"]);
    let location = found[0].location.as_ref().unwrap();
    assert_eq!(
        (location.path.as_path(), location.line),
        (Path::new(DROPIN), Some(7))
    );
    assert_eq!(found[0].evidence, "enable_debug = true");
}

#[test]
fn runtime_rs_factory_template() {
    let mut cfg = secure_qemu().remove("factory.enable_template");
    cfg.config.runtime = KataRuntime::Rs;
    let cfg = cfg
        .remove("hypervisor.qemu.seccompsandbox")
        .set("hypervisor.qemu.seccomp_sandbox", s(SECURE_SANDBOX));
    let found = of_config(
        cfg.set("hypervisor.qemu.factory.enable_template", b(true))
            .build(),
    );
    assert_eq!(rules(&found), vec!["kata.vm-template-enabled"]);
    assert_eq!(
        found[0].location.as_ref().unwrap().key.as_deref(),
        Some("hypervisor.qemu.factory.enable_template")
    );
}

#[test]
fn firecracker_jailer() {
    let fc = |jailer: Option<&str>| {
        let mut cfg = Cfg::new(KataRuntime::Go)
            .set(
                "hypervisor.firecracker.path",
                s("/opt/kata/bin/firecracker"),
            )
            .set(
                "hypervisor.firecracker.valid_hypervisor_paths",
                list(&["/opt/kata/bin/firecracker"]),
            )
            .set(
                "hypervisor.firecracker.valid_jailer_paths",
                list(&["/opt/kata/bin/jailer"]),
            )
            .set("hypervisor.firecracker.disable_block_device_use", b(true))
            .set("runtime.sandbox_cgroup_only", b(true));
        if let Some(j) = jailer {
            cfg = cfg.set("hypervisor.firecracker.jailer_path", s(j));
        }
        let mut snap = snapshot(vec![cfg.build()]);
        snap.hypervisors.push(binary(
            HypervisorKind::Firecracker,
            "/opt/kata/bin/firecracker",
            0o755,
            0,
        ));
        snap.hypervisors.push(binary(
            HypervisorKind::Jailer,
            "/opt/kata/bin/jailer",
            0o755,
            0,
        ));
        findings(&snap)
    };
    assert_eq!(rules(&fc(None)), vec!["firecracker.jailer-missing"]);
    assert_eq!(rules(&fc(Some(""))), vec!["firecracker.jailer-missing"]);
    assert!(fc(Some("/opt/kata/bin/jailer")).is_empty());
    // rootless and PMU are QEMU/CLH matters: a Firecracker section never triggers them.
}

#[test]
fn writable_binaries_and_configs() {
    let mut snap = snapshot(vec![secure_qemu().build()]);
    snap.hypervisors = vec![
        binary(HypervisorKind::Qemu, QEMU, 0o775, 0),
        binary(HypervisorKind::Virtiofsd, VIRTIOFSD, 0o755, 1000),
    ];
    let found = findings(&snap);
    let bins = only(&found, "kata.binary-writable");
    assert_eq!(bins.len(), 2, "{found:#?}");
    assert!(bins.iter().all(|f| f.severity == Severity::Critical));

    let mut cfg = secure_qemu()
        .dropin("runtime.enable_debug", b(false), 2)
        .build();
    cfg.files[1].mode = 0o666;
    let found = of_config(cfg);
    let configs = only(&found, "kata.config-writable");
    assert_eq!(configs.len(), 1);
    assert_eq!(
        configs[0].location.as_ref().unwrap().path,
        Path::new(DROPIN)
    );

    let mut cfg = secure_qemu().build();
    cfg.files[0].uid = 1000;
    assert_eq!(rules(&of_config(cfg)), vec!["kata.config-writable"]);
}

#[test]
fn unknown_binary_stat_is_an_unknown_check_not_a_pass() {
    let mut snap = snapshot(vec![secure_qemu().build()]);
    snap.hypervisors.clear();
    let evaluation = hvguard_audit::evaluate(&snap);
    assert!(!evaluation
        .findings
        .iter()
        .any(|f| f.rule.as_str() == "kata.binary-writable"));
    let unknown: Vec<_> = evaluation
        .unknown
        .iter()
        .filter(|u| u.rule.as_str() == "kata.binary-writable")
        .collect();
    assert_eq!(unknown.len(), 2);
    assert!(
        unknown[0].reason.contains("/opt/kata/"),
        "{}",
        unknown[0].reason
    );
}

/// Issue 11, item 8: whoever may write a directory above a binary Kata runs may rename the
/// binary away and put their own in its place.
#[test]
fn item8_a_writable_or_foreign_directory_above_the_binary_counts_as_writable() {
    let dir = |path: &str, mode: u32, uid: u32| hvguard_core::FileStat {
        path: path.into(),
        kind: hvguard_core::FileKind::Directory,
        mode,
        uid,
        gid: 0,
    };
    let with_dirs = |dirs: Vec<hvguard_core::FileStat>| {
        let mut snap = snapshot(vec![secure_qemu().build()]);
        let mut qemu = binary(HypervisorKind::Qemu, QEMU, 0o755, 0);
        qemu.parent_dirs = dirs;
        snap.hypervisors = vec![qemu, binary(HypervisorKind::Virtiofsd, VIRTIOFSD, 0o755, 0)];
        findings(&snap)
    };
    assert!(only(
        &with_dirs(vec![dir("/opt/kata/bin", 0o755, 0)]),
        "kata.binary-writable"
    )
    .is_empty());
    // A sticky directory (like /tmp) lets nobody but the owner rename the binary.
    assert!(only(
        &with_dirs(vec![dir("/opt/kata/bin", 0o1777, 0)]),
        "kata.binary-writable"
    )
    .is_empty());

    let found = with_dirs(vec![
        dir("/opt/kata", 0o755, 0),
        dir("/opt/kata/bin", 0o777, 0),
    ]);
    let hits = only(&found, "kata.binary-writable");
    assert_eq!(hits.len(), 1, "{found:#?}");
    assert!(
        hits[0]
            .message
            .contains("directory /opt/kata/bin: mode 0777"),
        "{}",
        hits[0].message
    );
    assert!(
        hits[0]
            .evidence
            .contains("directory /opt/kata/bin mode 0777 uid 0"),
        "{}",
        hits[0].evidence
    );
    assert!(
        !hits[0].evidence.contains("directory /opt/kata mode"),
        "{}",
        hits[0].evidence
    );

    let found = with_dirs(vec![dir("/opt", 0o755, 1000)]);
    let hits = only(&found, "kata.binary-writable");
    assert_eq!(hits.len(), 1);
    assert!(
        hits[0]
            .message
            .contains("directory /opt: owned by uid 1000"),
        "{}",
        hits[0].message
    );
}
