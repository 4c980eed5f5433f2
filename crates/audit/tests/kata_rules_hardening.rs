//! The hardening plan: applying its settings to a configuration clears every finding it
//! claims to fix, in each runtime's own key spelling.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod kata_rules_support;

use hvguard_audit::hardening::plan;
use hvguard_core::{ConfigValue, KataConfig, KataRuntime, SourcedValue};
use kata_rules_support::*;
use std::collections::BTreeSet;
use std::path::PathBuf;

const HARDENING: &str = "/etc/kata-containers/config.d/80-hvguard-hardening.toml";

/// Kata's shipped QEMU defaults plus the worst switches an operator might flip.
fn insecure_qemu(runtime: KataRuntime) -> KataConfig {
    let sandbox_key = match runtime {
        KataRuntime::Go => "hypervisor.qemu.seccompsandbox",
        KataRuntime::Rs => "hypervisor.qemu.seccomp_sandbox",
    };
    let mut cfg = Cfg::new(runtime)
        .set("hypervisor.qemu.path", s(QEMU))
        .set(
            "hypervisor.qemu.valid_hypervisor_paths",
            list(&["/opt/kata/bin/*"]),
        )
        .set(
            "hypervisor.qemu.enable_annotations",
            list(&["enable_iommu", "path", "kernel_params", "default_vcpus"]),
        )
        .set(sandbox_key, s(""))
        .set("hypervisor.qemu.rootless", b(false))
        .set("hypervisor.qemu.cpu_features", s("vmx=off"))
        .set("hypervisor.qemu.machine_type", s("pc"))
        .set(
            "hypervisor.qemu.kernel_params",
            s("console=hvc0 agent.debug_console agent.debug_console_vport=1026"),
        )
        .set("hypervisor.qemu.default_vcpus", i(1))
        .set("hypervisor.qemu.default_maxvcpus", i(0))
        .set("hypervisor.qemu.default_memory", i(2048))
        .set("hypervisor.qemu.default_maxmemory", i(0))
        .set("hypervisor.qemu.shared_fs", s("virtio-fs"))
        .set("hypervisor.qemu.virtio_fs_daemon", s(VIRTIOFSD))
        .set(
            "hypervisor.qemu.virtio_fs_extra_args",
            list(&[
                "--thread-pool-size=1",
                "--sandbox",
                "none",
                "--seccomp=none",
            ]),
        )
        .set("hypervisor.qemu.disable_block_device_use", b(false))
        .set("hypervisor.qemu.disable_seccomp", b(true))
        .set("hypervisor.qemu.enable_debug", b(true))
        .set("hypervisor.qemu.guest_hook_path", s("/usr/share/oci/hooks"))
        .set("hypervisor.qemu.extra_monitor_socket", s("qmp"))
        .set("hypervisor.qemu.guest_memory_dump_path", s("/var/crash"))
        .set("hypervisor.qemu.hot_plug_vfio", s("root-port"))
        .set("hypervisor.qemu.enable_iommu", b(false))
        .set("agent.kata.enable_debug", b(true))
        .set("agent.kata.debug_console_enabled", b(true))
        .set("runtime.enable_debug", b(true))
        .set("runtime.disable_guest_seccomp", b(true))
        .set("runtime.disable_new_netns", b(true))
        .set("runtime.sandbox_cgroup_only", b(false));
    cfg = match runtime {
        KataRuntime::Go => cfg.set("factory.enable_template", b(true)),
        KataRuntime::Rs => cfg.set("hypervisor.qemu.factory.enable_template", b(true)),
    };
    cfg.build()
}

/// What `hvguard-kata` does with a plan: later drop-in wins.
fn apply(config: &KataConfig, settings: &[(String, ConfigValue)]) -> KataConfig {
    let mut out = config.clone();
    out.dropins.push(PathBuf::from(HARDENING));
    out.files.push(stat(HARDENING, 0o644, 0));
    for (n, (key, value)) in settings.iter().enumerate() {
        let line = u32::try_from(n).unwrap_or(0) + 2;
        out.values.insert(
            key.clone(),
            SourcedValue {
                value: value.clone(),
                path: PathBuf::from(HARDENING),
                line,
                column: 1,
            },
        );
    }
    out
}

fn check_plan_clears_what_it_fixes(runtime: KataRuntime) {
    let config = insecure_qemu(runtime);
    let before = of_config(config.clone());
    let plan = plan(&config);
    assert_eq!(plan.config, PathBuf::from(MAIN));
    assert!(!plan.settings.is_empty());

    let settings: Vec<(String, ConfigValue)> = plan
        .settings
        .iter()
        .map(|s| (s.key.clone(), s.value.clone()))
        .collect();
    let after = of_config(apply(&config, &settings));

    let fixed: BTreeSet<(&str, &str)> = plan
        .settings
        .iter()
        .map(|s| (s.rule.as_str(), s.key.as_str()))
        .collect();
    for finding in &after {
        let key = finding
            .location
            .as_ref()
            .and_then(|l| l.key.as_deref())
            .unwrap_or("");
        assert!(
            !fixed.contains(&(finding.rule.as_str(), key)),
            "{runtime:?}: {} on {key} survived the plan",
            finding.rule
        );
    }
    // Whatever is left needs a human decision: exactly the suggested rules.
    let suggested: BTreeSet<&str> = plan.suggestions.iter().map(|s| s.rule.as_str()).collect();
    let left: BTreeSet<&str> = after.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(left, suggested, "{runtime:?}: {after:#?}");
    assert!(after.len() < before.len());
    for rule in [
        "kata.rootless-disabled",
        "kata.block-device-use-enabled",
        "qemu.legacy-machine-type",
        "kata.resource-limits-unbounded",
        "kata.vfio-without-iommu",
    ] {
        assert!(
            suggested.contains(rule),
            "{runtime:?}: no suggestion for {rule}"
        );
    }
}

#[test]
fn the_plan_clears_its_findings_go() {
    check_plan_clears_what_it_fixes(KataRuntime::Go);
}

#[test]
fn the_plan_clears_its_findings_runtime_rs() {
    check_plan_clears_what_it_fixes(KataRuntime::Rs);
}

fn setting<'p>(plan: &'p hvguard_core::HardeningPlan, key: &str) -> &'p ConfigValue {
    match plan.settings.iter().find(|s| s.key == key) {
        Some(s) => &s.value,
        None => panic!("no setting for {key} in {plan:#?}"),
    }
}

#[test]
fn the_plan_speaks_each_runtimes_spelling() {
    let go = plan(&insecure_qemu(KataRuntime::Go));
    assert_eq!(
        setting(&go, "hypervisor.qemu.seccompsandbox"),
        &s(SECURE_SANDBOX)
    );
    assert_eq!(setting(&go, "factory.enable_template"), &b(false));
    let rs = plan(&insecure_qemu(KataRuntime::Rs));
    assert_eq!(
        setting(&rs, "hypervisor.qemu.seccomp_sandbox"),
        &s(SECURE_SANDBOX)
    );
    assert_eq!(
        setting(&rs, "hypervisor.qemu.factory.enable_template"),
        &b(false)
    );
    assert!(rs
        .settings
        .iter()
        .all(|s| s.key != "hypervisor.qemu.seccompsandbox"));
}

#[test]
fn the_plan_values() {
    let p = plan(&insecure_qemu(KataRuntime::Go));
    assert_eq!(
        setting(&p, "hypervisor.qemu.enable_annotations"),
        &list(&["enable_iommu", "default_vcpus"])
    );
    assert_eq!(
        setting(&p, "hypervisor.qemu.valid_hypervisor_paths"),
        &list(&[QEMU])
    );
    assert_eq!(
        setting(&p, "hypervisor.qemu.valid_virtio_fs_daemon_paths"),
        &list(&[VIRTIOFSD])
    );
    assert_eq!(
        setting(&p, "hypervisor.qemu.kernel_params"),
        &s("console=hvc0")
    );
    assert_eq!(
        setting(&p, "hypervisor.qemu.cpu_features"),
        &s("vmx=off,pmu=off")
    );
    assert_eq!(
        setting(&p, "hypervisor.qemu.virtio_fs_extra_args"),
        &list(&["--thread-pool-size=1"])
    );
    assert_eq!(setting(&p, "runtime.disable_guest_seccomp"), &b(false));
    assert_eq!(setting(&p, "runtime.sandbox_cgroup_only"), &b(true));
    assert_eq!(setting(&p, "agent.kata.debug_console_enabled"), &b(false));
    assert_eq!(setting(&p, "hypervisor.qemu.extra_monitor_socket"), &s(""));
    for st in &p.settings {
        assert!(!st.reason.is_empty(), "{} has no reason", st.key);
    }
    // Sorted, one entry per key.
    let keys: Vec<&str> = p.settings.iter().map(|s| s.key.as_str()).collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(keys, sorted);
    assert!(p
        .suggestions
        .iter()
        .any(|s| s.key == "hypervisor.qemu.rootless" && s.value == b(true)));
}

#[test]
fn a_secure_configuration_needs_no_plan() {
    let p = plan(&secure_qemu().build());
    assert!(p.settings.is_empty() && p.suggestions.is_empty(), "{p:#?}");
}

#[test]
fn an_alias_is_fixed_under_its_own_spelling() {
    let mut cfg = secure_qemu()
        .remove("hypervisor.qemu.extra_monitor_socket")
        .remove("hypervisor.qemu.seccompsandbox")
        .set("hypervisor.qemu.seccomp_sandbox", s(SECURE_SANDBOX))
        .set("hypervisor.qemu.dbg_monitor_socket", s("hmp"));
    cfg.config.runtime = KataRuntime::Rs;
    let config = cfg.build();
    let found = of_config(config.clone());
    assert_eq!(rules(&found), vec!["kata.extra-monitor-socket"]);
    let p = plan(&config);
    assert_eq!(setting(&p, "hypervisor.qemu.dbg_monitor_socket"), &s(""));
}
