//! `enable_annotations`, the `valid_*_paths` allow-lists and containerd's `pod_annotations`:
//! what a pod author can change through annotations.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod kata_rules_support;

use hvguard_core::{KataRuntime, Severity};
use kata_rules_support::*;

fn annotations(entries: &[&str]) -> Vec<hvguard_core::Finding> {
    let found = fire("hypervisor.qemu.enable_annotations", list(entries));
    only(&found, "kata.annotations-dangerous")
        .into_iter()
        .cloned()
        .collect()
}

#[test]
fn annotation_entries_are_unanchored_regexes() {
    let path = annotations(&["path"]);
    assert_eq!(path.len(), 1);
    assert_eq!(path[0].severity, Severity::Critical);
    assert!(
        path[0].message.contains("jailer_path"),
        "{}",
        path[0].message
    );
    assert!(path[0].message.contains("ctlpath"), "{}", path[0].message);

    let kernel = annotations(&["kernel_params"]);
    assert_eq!(kernel.len(), 1);
    assert_eq!(kernel[0].severity, Severity::High);

    assert!(annotations(&["default_vcpus"]).is_empty());
    assert!(annotations(&["^enable_iommu$", "default_memory"]).is_empty());

    for catch_all in [".*", "", "."] {
        let found = annotations(&[catch_all]);
        assert_eq!(found.len(), 1, "{catch_all:?}");
        assert_eq!(found[0].severity, Severity::Critical, "{catch_all:?}");
    }
    // One finding per key, at the most severe entry.
    let mixed = annotations(&["default_vcpus", "kernel_params", "virtio_fs_daemon"]);
    assert_eq!(mixed.len(), 1);
    assert_eq!(mixed[0].severity, Severity::Critical);
}

#[test]
fn an_invalid_annotation_entry() {
    // The Go runtime skips an entry that does not compile: reported, the list lies.
    let go = annotations(&["default_vcpus", "kernel("]);
    assert_eq!(go.len(), 1);
    assert_eq!(go[0].severity, Severity::High);
    // runtime-rs cannot build its RegexSet and so enables no annotation at all.
    let mut cfg = secure_qemu()
        .remove("hypervisor.qemu.seccompsandbox")
        .set("hypervisor.qemu.seccomp_sandbox", s(SECURE_SANDBOX))
        .set(
            "hypervisor.qemu.enable_annotations",
            list(&["path", "kernel("]),
        );
    cfg.config.runtime = KataRuntime::Rs;
    assert!(of_config(cfg.build()).is_empty());
}

#[test]
fn allow_list_globs() {
    let weak = |list_value| {
        let found = fire("hypervisor.qemu.valid_hypervisor_paths", list_value);
        only(&found, "kata.path-allowlist-weak")
            .into_iter()
            .cloned()
            .collect::<Vec<_>>()
    };
    assert!(weak(list(&[QEMU])).is_empty());
    assert!(weak(list(&["/opt/kata/bin/qemu-system-x86_6[4]"])).is_empty());
    for bad in [
        list(&["*"]),
        list(&["/opt/kata/bin/*"]),
        list(&["/usr/bin/qemu-system-x86_64"]),
        list(&[]),
        list(&["/opt/kata/bin/qemu-system-x86_6?"]),
    ] {
        let found = weak(bad.clone());
        assert_eq!(found.len(), 1, "{bad:?}");
        assert_eq!(
            found[0].severity,
            Severity::Medium,
            "{bad:?}: annotations cannot set path"
        );
    }
    let missing = of_config(
        secure_qemu()
            .remove("hypervisor.qemu.valid_hypervisor_paths")
            .build(),
    );
    assert_eq!(rules(&missing), vec!["kata.path-allowlist-weak"]);
    assert_eq!(
        missing[0].location.as_ref().unwrap().key.as_deref(),
        Some("hypervisor.qemu.valid_hypervisor_paths")
    );
}

#[test]
fn allow_list_is_high_when_annotations_can_set_the_path() {
    let cfg = secure_qemu()
        .set(
            "hypervisor.qemu.enable_annotations",
            list(&["virtio_fs_daemon"]),
        )
        .set(
            "hypervisor.qemu.valid_virtio_fs_daemon_paths",
            list(&["/opt/kata/libexec/*"]),
        );
    let found = of_config(cfg.build());
    let weak = only(&found, "kata.path-allowlist-weak");
    assert_eq!(weak.len(), 1);
    assert_eq!(weak[0].severity, Severity::High);
    assert_eq!(
        weak[0].location.as_ref().unwrap().key.as_deref(),
        Some("hypervisor.qemu.valid_virtio_fs_daemon_paths")
    );
    // The annotation finding is there too, critical.
    assert_eq!(
        only(&found, "kata.annotations-dangerous")[0].severity,
        Severity::Critical
    );
}

#[test]
fn dragonball_has_no_path_allow_list() {
    let cfg = Cfg::new(KataRuntime::Rs)
        .set("hypervisor.dragonball.path", s(""))
        .set("hypervisor.dragonball.ctlpath", s(""))
        .set("hypervisor.dragonball.valid_hypervisor_paths", list(&[]))
        .set("hypervisor.dragonball.valid_ctlpaths", list(&[]))
        .set(
            "hypervisor.dragonball.enable_annotations",
            list(&["enable_iommu", "default_vcpus"]),
        )
        .set("hypervisor.dragonball.default_maxvcpus", i(0))
        .set("hypervisor.dragonball.disable_seccomp", b(false))
        .set("hypervisor.dragonball.disable_block_device_use", b(true))
        .set("hypervisor.dragonball.factory.enable_template", b(false))
        .set("runtime.disable_guest_seccomp", b(true))
        .set("runtime.sandbox_cgroup_only", b(true));
    let found = of_config(cfg.build());
    assert_eq!(
        rules(&found),
        vec![
            "kata.guest-seccomp-disabled",
            "kata.resource-limits-unbounded"
        ],
        "{found:#?}"
    );
}

#[test]
fn containerd_passthrough_severity_by_release() {
    let run = |patterns: &[&str], release: Option<&str>| {
        let mut snap = snapshot(vec![]);
        snap.containerd = vec![containerd("kata-qemu", patterns)];
        if let Some(r) = release {
            snap.kata_install = install(r);
        }
        findings(&snap)
    };
    let old = run(&["io.katacontainers.*"], Some("3.20.0"));
    assert_eq!(rules(&old), vec!["containerd.kata-annotations-passthrough"]);
    assert_eq!(old[0].severity, Severity::Critical);
    let location = old[0].location.as_ref().unwrap();
    // The pod_annotations line, not the runtime table header.
    assert_eq!(location.line, Some(5));

    assert_eq!(run(&["*"], Some("3.2.0"))[0].severity, Severity::Critical);
    assert_eq!(
        run(&["io.katacontainers.*"], Some("4.1.0"))[0].severity,
        Severity::High
    );
    let unknown = run(&["io.katacontainers.*"], None);
    assert_eq!(unknown[0].severity, Severity::High);
    assert!(
        unknown[0].message.contains("unknown"),
        "{}",
        unknown[0].message
    );
    // `config.*` reaches runtime and agent keys but not config_path: high even on old releases.
    assert_eq!(
        run(&["io.katacontainers.config.*"], Some("3.20.0"))[0].severity,
        Severity::High
    );

    assert!(run(
        &["io.katacontainers.config.hypervisor.default_vcpus"],
        Some("3.20.0")
    )
    .is_empty());
    assert!(run(&["io.katacontainers.config.hypervisor.*"], Some("3.20.0")).is_empty());
    let mut snap = snapshot(vec![]);
    let mut runc = containerd("runc", &["*"]);
    runc.runtime_type = "io.containerd.runc.v2".into();
    snap.containerd = vec![runc];
    assert!(findings(&snap).is_empty());
}

/// Readings that disagree, as the collector records them: the main file gives `kata` a wide
/// `pod_annotations` list and imports `conf.d/*.toml`, whose file narrows it. containerd
/// before 1.6.29/1.7.16 looks for that relative glob in its working directory and never
/// loads the import (the wide list stays); 1.6.29+/1.7.16+ load it and lose `kata`'s
/// `runtime_type` with the replaced CRI table (no Kata entry); 2.x merge it (narrow list,
/// written by the import).
fn narrowed_by_import() -> Vec<hvguard_core::ContainerdRuntime> {
    use hvguard_core::ContainerdSemantics::*;
    let mut wide = containerd("kata", &["io.katacontainers.*"]);
    wide.path = "/etc/containerd/config.toml".into();
    wide.readings = vec![V1CwdGlobs];
    let mut v2 = containerd("kata", &["io.katacontainers.config.*"]);
    v2.path = "/etc/containerd/config.toml".into();
    v2.pod_annotations_path = Some("/etc/containerd/conf.d/50-kata.toml".into());
    v2.pod_annotations_line = Some(2);
    v2.readings = vec![V2_0_0, V2_0_2, V2_3];
    vec![wide, v2]
}

fn containerd_binary(version: &str) -> hvguard_core::ContainerdBinary {
    hvguard_core::ContainerdBinary {
        path: "/usr/bin/containerd".into(),
        version: Some(version.into()),
        version_source: Some(hvguard_core::VersionSource::BinaryString),
        version_evidence: Some(format!("{version}+unknown")),
        package: None,
    }
}

#[test]
fn containerd_passthrough_follows_the_containerd_version() {
    let mut snap = snapshot(vec![]);
    snap.kata_install = install("3.20.0");
    snap.containerd = narrowed_by_import();

    // Version unknown: both readings are reported, each saying which it is. They point at
    // different files (the 2.x list was written by the import) and are not merged.
    let both = findings(&snap);
    assert_eq!(both.len(), 2, "{both:#?}");
    let paths: Vec<_> = both
        .iter()
        .map(|f| f.location.as_ref().unwrap().path.display().to_string())
        .collect();
    assert!(paths.contains(&"/etc/containerd/config.toml".to_string()));
    assert!(paths.contains(&"/etc/containerd/conf.d/50-kata.toml".to_string()));
    for f in &both {
        assert!(
            f.message.contains("the containerd version is unknown"),
            "{}",
            f.message
        );
    }
    let v1 = both
        .iter()
        .find(|f| f.location.as_ref().unwrap().path.ends_with("config.toml"))
        .unwrap();
    assert!(
        v1.message
            .contains("(as containerd 1.6.0-1.6.28/1.7.0-1.7.15 reads the configuration;"),
        "{}",
        v1.message
    );

    // Debian 12's containerd 1.6.20: only the 1.x reading, without a qualifier.
    snap.containerd_binaries = vec![containerd_binary("1.6.20")];
    let debian = findings(&snap);
    assert_eq!(debian.len(), 1, "{debian:#?}");
    assert_eq!(
        debian[0].location.as_ref().unwrap().path,
        std::path::Path::new("/etc/containerd/config.toml")
    );
    assert!(!debian[0].message.contains("reads the configuration"));

    // containerd 2.0.4: the import's location and line.
    snap.containerd_binaries = vec![containerd_binary("2.0.4")];
    let two = findings(&snap);
    assert_eq!(two.len(), 1, "{two:#?}");
    let at = two[0].location.as_ref().unwrap();
    assert_eq!(
        (at.path.display().to_string(), at.line),
        ("/etc/containerd/conf.d/50-kata.toml".to_string(), Some(2))
    );
}

#[test]
fn one_finding_for_an_entry_every_reading_shares() {
    use hvguard_core::ContainerdSemantics;
    let mut snap = snapshot(vec![]);
    let mut a = containerd("kata-qemu", &["io.katacontainers.*"]);
    a.readings = vec![ContainerdSemantics::V1CwdGlobs, ContainerdSemantics::V1];
    let mut b = a.clone();
    b.readings = vec![
        ContainerdSemantics::V2_0_0,
        ContainerdSemantics::V2_0_2,
        ContainerdSemantics::V2_3,
    ];
    snap.containerd = vec![a, b];
    let found = findings(&snap);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(!found[0].message.contains("reads the configuration"));
    // Old snapshots have no readings: the entry counts for every release.
    let mut snap = snapshot(vec![]);
    snap.containerd = vec![containerd("kata-qemu", &["io.katacontainers.*"])];
    snap.containerd_binaries = vec![containerd_binary("1.7.20")];
    assert_eq!(findings(&snap).len(), 1);
}
