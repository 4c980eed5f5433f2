//! Hand-built Kata configurations and Snapshots for the configuration rule tests.

#![allow(dead_code)]

use hvguard_core::{
    ConfigValue, ContainerdRuntime, FileKind, FileStat, Finding, Hypervisor, HypervisorKind,
    KataConfig, KataInstall, KataRuntime, Probe, Snapshot, SourcedValue,
};
use std::path::PathBuf;

pub const MAIN: &str = "/opt/kata/share/defaults/kata-containers/configuration-qemu.toml";
pub const DROPIN: &str = "/opt/kata/share/defaults/kata-containers/config.d/50-custom.toml";
pub const QEMU: &str = "/opt/kata/bin/qemu-system-x86_64";
pub const VIRTIOFSD: &str = "/opt/kata/libexec/virtiofsd";
pub const SECURE_SANDBOX: &str = "on,obsolete=deny,spawn=deny,resourcecontrol=deny";

pub fn s(v: &str) -> ConfigValue {
    ConfigValue::String(v.to_string())
}

pub fn b(v: bool) -> ConfigValue {
    ConfigValue::Bool(v)
}

pub fn i(v: i64) -> ConfigValue {
    ConfigValue::Integer(v)
}

pub fn list(items: &[&str]) -> ConfigValue {
    ConfigValue::Array(items.iter().map(|v| s(v)).collect())
}

/// A configuration built key by key; each key gets the next line of the main file.
#[derive(Debug, Clone)]
pub struct Cfg {
    pub config: KataConfig,
    next_line: u32,
}

impl Cfg {
    pub fn new(runtime: KataRuntime) -> Cfg {
        Cfg {
            config: KataConfig {
                runtime,
                main: PathBuf::from(MAIN),
                dropins: vec![],
                runtime_classes: vec!["kata-qemu".into()],
                files: vec![stat(MAIN, 0o644, 0)],
                values: Default::default(),
            },
            next_line: 1,
        }
    }

    pub fn set(mut self, key: &str, value: ConfigValue) -> Cfg {
        let line = self.next_line;
        self.next_line += 1;
        self.config.values.insert(
            key.to_string(),
            SourcedValue {
                value,
                path: PathBuf::from(MAIN),
                line,
                column: 1,
            },
        );
        self
    }

    /// Sets `key` as a drop-in would, at `line` of [`DROPIN`].
    pub fn dropin(mut self, key: &str, value: ConfigValue, line: u32) -> Cfg {
        if !self.config.dropins.contains(&PathBuf::from(DROPIN)) {
            self.config.dropins.push(PathBuf::from(DROPIN));
            self.config.files.push(stat(DROPIN, 0o644, 0));
        }
        self.config.values.insert(
            key.to_string(),
            SourcedValue {
                value,
                path: PathBuf::from(DROPIN),
                line,
                column: 1,
            },
        );
        self
    }

    pub fn remove(mut self, key: &str) -> Cfg {
        self.config.values.remove(key);
        self
    }

    pub fn build(self) -> KataConfig {
        self.config
    }
}

pub fn stat(path: &str, mode: u32, uid: u32) -> FileStat {
    FileStat {
        path: PathBuf::from(path),
        kind: FileKind::Regular,
        mode,
        uid,
        gid: 0,
    }
}

/// A QEMU configuration (Go runtime) on which no configuration rule fires.
pub fn secure_qemu() -> Cfg {
    Cfg::new(KataRuntime::Go)
        .set("hypervisor.qemu.path", s(QEMU))
        .set("hypervisor.qemu.valid_hypervisor_paths", list(&[QEMU]))
        .set(
            "hypervisor.qemu.enable_annotations",
            list(&["^enable_iommu$", "^default_vcpus$"]),
        )
        .set("hypervisor.qemu.seccompsandbox", s(SECURE_SANDBOX))
        .set("hypervisor.qemu.rootless", b(true))
        .set("hypervisor.qemu.cpu_features", s("pmu=off"))
        .set("hypervisor.qemu.machine_type", s("q35"))
        .set("hypervisor.qemu.kernel_params", s("console=hvc0"))
        .set("hypervisor.qemu.default_vcpus", i(1))
        .set("hypervisor.qemu.default_maxvcpus", i(8))
        .set("hypervisor.qemu.default_memory", i(2048))
        .set("hypervisor.qemu.default_maxmemory", i(8192))
        .set("hypervisor.qemu.shared_fs", s("virtio-fs"))
        .set("hypervisor.qemu.virtio_fs_daemon", s(VIRTIOFSD))
        .set(
            "hypervisor.qemu.valid_virtio_fs_daemon_paths",
            list(&[VIRTIOFSD]),
        )
        .set(
            "hypervisor.qemu.virtio_fs_extra_args",
            list(&["--thread-pool-size=1", "--announce-submounts"]),
        )
        .set("hypervisor.qemu.disable_block_device_use", b(true))
        .set("hypervisor.qemu.disable_seccomp", b(false))
        .set("hypervisor.qemu.enable_debug", b(false))
        .set("hypervisor.qemu.guest_hook_path", s(""))
        .set("hypervisor.qemu.extra_monitor_socket", s(""))
        .set("hypervisor.qemu.guest_memory_dump_path", s(""))
        .set("hypervisor.qemu.hot_plug_vfio", s("no-port"))
        .set("hypervisor.qemu.cold_plug_vfio", s("no-port"))
        .set("hypervisor.qemu.enable_iommu", b(false))
        .set("factory.enable_template", b(false))
        .set("agent.kata.enable_debug", b(false))
        .set("agent.kata.debug_console_enabled", b(false))
        .set("runtime.enable_debug", b(false))
        .set("runtime.disable_guest_seccomp", b(false))
        .set("runtime.disable_new_netns", b(false))
        .set("runtime.sandbox_cgroup_only", b(true))
}

fn unsupported() -> serde_json::Value {
    serde_json::json!({"status": "unsupported", "reason": "not collected in this test"})
}

/// A Snapshot holding only Kata facts; every host fact is unknown.
pub fn snapshot(kata: Vec<KataConfig>) -> Snapshot {
    let u = unsupported();
    let json = serde_json::json!({
        "schema": "hvguard.snapshot/v1",
        "collected_at": "2026-11-27T00:00:00Z",
        "root": "/",
        "live": false,
        "host": {
            "hostname": u, "os": u, "kernel_release": u, "cpu": u,
            "kvm": {"device": u, "api_version": u, "modules": u},
            "iommu": {"groups": u, "dmar_table": u, "ivrs_table": u, "cmdline_flags": []},
            "firmware": {"boot_mode": u, "secure_boot": u},
            "smt_control": u, "cpu_vulnerabilities": u, "cmdline": u, "ksm_run": u,
            "swaps": u, "unprivileged_bpf_disabled": u, "lsm": u
        },
        "packages": u,
        "hypervisors": [],
        "kata_install": u,
    });
    let mut snap: Snapshot = match serde_json::from_value(json) {
        Ok(snap) => snap,
        Err(e) => panic!("test snapshot does not deserialise: {e}"),
    };
    snap.kata = kata;
    snap.hypervisors = vec![
        binary(HypervisorKind::Qemu, QEMU, 0o755, 0),
        binary(HypervisorKind::Virtiofsd, VIRTIOFSD, 0o755, 0),
    ];
    snap
}

pub fn binary(kind: HypervisorKind, path: &str, mode: u32, uid: u32) -> Hypervisor {
    Hypervisor {
        kind,
        path: PathBuf::from(path),
        version: None,
        version_source: None,
        version_evidence: None,
        package: None,
        kata_release: None,
        stat: Some(stat(path, mode, uid)),
        used_by: vec![],
        parent_dirs: Vec::new(),
        version_note: None,
        devices: None,
    }
}

pub fn containerd(name: &str, patterns: &[&str]) -> ContainerdRuntime {
    ContainerdRuntime {
        name: name.into(),
        runtime_type: "io.containerd.kata-qemu.v2".into(),
        pod_annotations: patterns.iter().map(|p| p.to_string()).collect(),
        config_path: None,
        path: PathBuf::from("/opt/kata/containerd/config.d/kata-deploy.toml"),
        line: 3,
        pod_annotations_line: Some(5),
        pod_annotations_path: None,
        readings: Vec::new(),
    }
}

pub fn install(version: &str) -> Probe<KataInstall> {
    Probe::found(KataInstall {
        version: version.into(),
        path: PathBuf::from("/opt/kata/VERSION"),
    })
}

/// The areas this crate's configuration rules use.
pub fn is_config_rule(id: &str) -> bool {
    ["kata.", "qemu.", "firecracker.", "containerd."]
        .iter()
        .any(|a| id.starts_with(a))
}

/// Findings of the configuration rules only.
pub fn findings(snapshot: &Snapshot) -> Vec<Finding> {
    hvguard_audit::evaluate(snapshot)
        .findings
        .into_iter()
        .filter(|f| is_config_rule(f.rule.as_str()))
        .collect()
}

pub fn of_config(config: KataConfig) -> Vec<Finding> {
    findings(&snapshot(vec![config]))
}

pub fn rules(findings: &[Finding]) -> Vec<&str> {
    let mut ids: Vec<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
    ids.sort_unstable();
    ids
}

pub fn only<'f>(findings: &'f [Finding], rule: &str) -> Vec<&'f Finding> {
    findings
        .iter()
        .filter(|f| f.rule.as_str() == rule)
        .collect()
}

/// Sets one key on the secure baseline and returns the rules that fire.
pub fn fire(key: &str, value: hvguard_core::ConfigValue) -> Vec<hvguard_core::Finding> {
    of_config(secure_qemu().set(key, value).build())
}
