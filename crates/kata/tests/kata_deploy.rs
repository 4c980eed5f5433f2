//! A whole kata-deploy host root: containerd importing kata-deploy's snippet, per-shim
//! copies, symlinked defaults, a runtime-rs shim and a drop-in.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hvguard_core::{HostRoot, KataRuntime};
use hvguard_kata::{discover, kata_binary_paths, DiscoveryEnv};
use std::path::{Path, PathBuf};

const DEFAULTS: &str = "/opt/kata/share/defaults/kata-containers";

fn root() -> HostRoot {
    HostRoot::new(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/hosts/kata-deploy"),
    )
    .unwrap()
}

#[test]
fn discovers_every_config_once_labelled_by_runtime_class() {
    let d = discover(&root(), &DiscoveryEnv::default());
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    let mains: Vec<String> = d
        .configs
        .iter()
        .map(|c| c.main.display().to_string())
        .collect();
    let expect: Vec<String> = [
        "configuration-clh.toml",
        "configuration-fc.toml",
        "configuration-qemu.toml",
        "runtime-rs/configuration-dragonball.toml",
        "runtimes/clh/configuration-clh.toml",
        "runtimes/dragonball/configuration-dragonball.toml",
        "runtimes/fc/configuration-fc.toml",
        "runtimes/qemu/configuration-qemu.toml",
    ]
    .iter()
    .map(|s| format!("{DEFAULTS}/{s}"))
    .collect();
    assert_eq!(
        mains, expect,
        "configuration.toml symlinks must not load a second copy"
    );

    let by_main = |s: &str| {
        d.configs
            .iter()
            .find(|c| c.main == Path::new(DEFAULTS).join(s))
            .unwrap()
    };
    for shim in ["qemu", "fc", "clh", "dragonball"] {
        let c = by_main(&format!("runtimes/{shim}/configuration-{shim}.toml"));
        assert_eq!(c.runtime_classes, [format!("kata-{shim}")]);
        let rt = if shim == "dragonball" {
            KataRuntime::Rs
        } else {
            KataRuntime::Go
        };
        assert_eq!(c.runtime, rt, "{shim}");
    }
    assert_eq!(
        by_main("runtime-rs/configuration-dragonball.toml").runtime,
        KataRuntime::Rs
    );
    assert!(by_main("configuration-qemu.toml")
        .runtime_classes
        .is_empty());
}

#[test]
fn the_dropin_is_reported_at_its_own_line() {
    let d = discover(&root(), &DiscoveryEnv::default());
    let c = d
        .configs
        .iter()
        .find(|c| c.runtime_classes == ["kata-qemu"])
        .unwrap();
    let dropin = PathBuf::from(format!("{DEFAULTS}/runtimes/qemu/config.d/30-debug.toml"));
    assert_eq!(c.dropins, std::slice::from_ref(&dropin));
    assert_eq!(c.files.len(), 2);
    let v = &c.values["hypervisor.qemu.enable_debug"];
    assert_eq!(
        (v.path.as_path(), v.line, v.value.as_bool()),
        (dropin.as_path(), 3, Some(true))
    );
    let r = &c.values["runtime.enable_debug"];
    assert_eq!((r.path.as_path(), r.line), (dropin.as_path(), 6));
}

#[test]
fn containerd_entries_come_from_the_imported_snippet() {
    let d = discover(&root(), &DiscoveryEnv::default());
    let names: Vec<_> = d.containerd.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        ["kata-clh", "kata-dragonball", "kata-fc", "kata-qemu"]
    );
    for r in &d.containerd {
        assert_eq!(
            r.path,
            Path::new("/opt/kata/containerd/config.d/kata-deploy.toml")
        );
        assert_eq!(r.pod_annotations, ["io.katacontainers.*"]);
        assert!(r.config_path.is_some());
    }
    let qemu = d.containerd.iter().find(|r| r.name == "kata-qemu").unwrap();
    assert_eq!(qemu.line, 1);
    let fc = d.containerd.iter().find(|r| r.name == "kata-fc").unwrap();
    assert_eq!(fc.line, 10);
}

#[test]
fn kata_conf_file_adds_a_label_for_runtime_rs_first() {
    // runtime-rs takes KATA_CONF_FILE over ConfigPath; the Go shims keep their ConfigPath.
    let env = DiscoveryEnv {
        kata_conf_file: Some(PathBuf::from(format!("{DEFAULTS}/configuration-clh.toml"))),
    };
    let d = discover(&root(), &env);
    let clh = d
        .configs
        .iter()
        .find(|c| c.main == Path::new(DEFAULTS).join("configuration-clh.toml"))
        .unwrap();
    assert_eq!(clh.runtime_classes, ["kata-dragonball"]);
    let go_clh = d
        .configs
        .iter()
        .find(|c| c.runtime_classes == ["kata-clh"])
        .unwrap();
    assert!(go_clh.main.ends_with("runtimes/clh/configuration-clh.toml"));
}

#[test]
fn binaries_named_by_the_configs() {
    let d = discover(&root(), &DiscoveryEnv::default());
    let bins = kata_binary_paths(&d.configs);
    for b in [
        "/opt/kata/bin/qemu-system-x86_64",
        "/opt/kata/bin/firecracker",
        "/opt/kata/bin/jailer",
        "/opt/kata/bin/cloud-hypervisor",
        "/opt/kata/libexec/virtiofsd",
    ] {
        assert!(
            bins.contains(&PathBuf::from(b)),
            "{b} missing from {bins:?}"
        );
    }
}

#[test]
fn an_empty_root_finds_nothing_and_complains_about_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = discover(
        &HostRoot::new(dir.path()).unwrap(),
        &DiscoveryEnv::default(),
    );
    assert!(
        d.configs.is_empty()
            && d.containerd.is_empty()
            && d.warnings.is_empty()
            && d.errors.is_empty()
    );
}

#[test]
fn a_broken_config_is_an_error_and_discovery_continues() {
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("etc/kata-containers");
    std::fs::create_dir_all(&kc).unwrap();
    std::fs::write(
        kc.join("configuration.toml"),
        "[runtime]\nenable_debug = true\n",
    )
    .unwrap();
    std::fs::write(kc.join("configuration-bad.toml"), "[runtime\n").unwrap();
    let d = discover(
        &HostRoot::new(dir.path()).unwrap(),
        &DiscoveryEnv::default(),
    );
    assert_eq!(d.configs.len(), 1);
    assert_eq!(d.errors.len(), 1);
    assert!(
        d.errors[0]
            .to_string()
            .starts_with("/etc/kata-containers/configuration-bad.toml:1:"),
        "{}",
        d.errors[0]
    );
}
