//! containerd v2/v3 layouts, imports (globs, relative paths) and import cycles.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hvguard_core::{HostRoot, KataRuntime};
use hvguard_kata::{load_containerd, KataError};
use std::path::{Path, PathBuf};

fn root(name: &str) -> HostRoot {
    HostRoot::new(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/kata")
            .join(name),
    )
    .unwrap()
}

const MAIN: &str = "/etc/containerd/config.toml";

#[test]
fn version_2_with_glob_and_relative_imports() {
    let scan = load_containerd(&root("containerd-v2"), Path::new(MAIN));
    assert!(scan.errors.is_empty(), "{:?}", scan.errors);
    assert_eq!(
        scan.files,
        vec![
            PathBuf::from(MAIN),
            PathBuf::from("/etc/containerd/conf.d/50-kata-fc.toml"),
            PathBuf::from("/etc/containerd/../../opt/kata/containerd/config.d/kata-deploy.toml"),
        ]
    );
    let names: Vec<_> = scan
        .runtimes
        .iter()
        .map(|r| r.entry.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["kata", "kata-fc", "kata-qemu"],
        "runc is not a Kata runtime"
    );

    let kata = &scan.runtimes[0].entry;
    assert_eq!((kata.path.as_path(), kata.line), (Path::new(MAIN), 10));
    assert_eq!(kata.config_path, None);

    let fc = &scan.runtimes[1].entry;
    assert_eq!(fc.runtime_type, "io.containerd.kata-fc.v2");
    assert_eq!(fc.line, 3);
    assert_eq!(fc.pod_annotations_line, Some(6));
    assert_eq!(kata.pod_annotations_line, None);
    assert_eq!(
        fc.pod_annotations,
        ["io.katacontainers.config.hypervisor.kernel_params"]
    );
    assert_eq!(
        fc.config_path.as_deref(),
        Some(Path::new(
            "/opt/kata/share/defaults/kata-containers/configuration-fc.toml"
        ))
    );

    let qemu = &scan.runtimes[2];
    assert_eq!(qemu.entry.pod_annotations, ["io.katacontainers.*"]);
    assert_eq!(qemu.entry.line, 1);
    assert_eq!(qemu.runtime, KataRuntime::Go);
}

#[test]
fn version_3_layout_and_runtime_rs_shim() {
    let scan = load_containerd(&root("containerd-v3"), Path::new(MAIN));
    assert!(scan.errors.is_empty(), "{:?}", scan.errors);
    assert_eq!(scan.runtimes.len(), 1);
    let db = &scan.runtimes[0];
    assert_eq!(db.entry.name, "kata-dragonball");
    assert_eq!(
        db.entry.path,
        Path::new("/etc/containerd/extra/kata-dragonball.toml")
    );
    assert_eq!(db.entry.line, 3);
    assert_eq!(db.entry.pod_annotations, ["*"]);
    assert_eq!(db.runtime, KataRuntime::Rs);
    assert_eq!(
        db.runtime_path.as_deref(),
        Some("/opt/kata/runtime-rs/bin/containerd-shim-kata-v2")
    );
}

#[test]
fn import_cycle_is_an_error_and_the_rest_still_loads() {
    let scan = load_containerd(&root("containerd-cycle"), Path::new(MAIN));
    assert_eq!(scan.errors.len(), 1, "{:?}", scan.errors);
    let err = &scan.errors[0];
    assert!(matches!(err, KataError::ImportCycle { .. }));
    assert_eq!(
        err.to_string(),
        "/etc/containerd/b.toml: import cycle: /etc/containerd/a.toml -> /etc/containerd/b.toml -> /etc/containerd/a.toml"
    );
    assert_eq!(scan.runtimes.len(), 1);
}

#[test]
fn missing_imports_warn_and_bad_imports_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("etc/containerd")).unwrap();
    std::fs::write(
        dir.path().join("etc/containerd/config.toml"),
        "imports = [\"/nope.toml\"]\n",
    )
    .unwrap();
    let r = HostRoot::new(dir.path()).unwrap();
    let scan = load_containerd(&r, Path::new(MAIN));
    assert!(
        scan.warnings[0].contains("/nope.toml does not exist"),
        "{:?}",
        scan.warnings
    );

    std::fs::write(
        dir.path().join("etc/containerd/config.toml"),
        "\nimports = \"x\"\n",
    )
    .unwrap();
    let scan = load_containerd(&r, Path::new(MAIN));
    assert_eq!(
        scan.errors[0].to_string(),
        "/etc/containerd/config.toml:2:11: `imports` must be an array of path strings"
    );
}
