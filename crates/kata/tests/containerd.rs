//! containerd v2/v3 layouts, imports (globs, relative paths, cycles) and what each containerd
//! family makes of the fixture roots in `tests/fixtures/kata/containerd-*`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hvguard_core::{ContainerdSemantics, HostRoot, KataRuntime};
use hvguard_kata::{load_containerd, narrow_runtimes, notes_for};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ContainerdSemantics::*;

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
    // `../../opt/...` relative to /etc/containerd is cleaned lexically, as Go does.
    assert_eq!(
        scan.files,
        vec![
            PathBuf::from(MAIN),
            PathBuf::from("/etc/containerd/conf.d/50-kata-fc.toml"),
            PathBuf::from("/opt/kata/containerd/config.d/kata-deploy.toml"),
        ]
    );
    let names: Vec<_> = scan
        .runtimes
        .iter()
        .map(|r| (r.entry.name.as_str(), r.entry.readings.clone()))
        .collect();
    let v2 = vec![V2_0_0, V2_0_2, V2_3];
    assert_eq!(
        names,
        [
            ("kata", v2.clone()),
            ("kata-fc", v2),
            ("kata-qemu", ContainerdSemantics::ALL.to_vec())
        ],
        "runc is not a Kata runtime; containerd 1.x keeps only the last file's CRI table"
    );

    let kata = &scan.runtimes[0].entry;
    assert_eq!((kata.path.as_path(), kata.line), (Path::new(MAIN), 10));
    assert_eq!(kata.config_path, None);
    assert_eq!(kata.pod_annotations_line, None);

    let fc = &scan.runtimes[1].entry;
    assert_eq!(fc.runtime_type, "io.containerd.kata-fc.v2");
    assert_eq!(fc.line, 3);
    assert_eq!(fc.pod_annotations_line, Some(6));
    assert_eq!(fc.pod_annotations_path, None);
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
    assert_eq!(scan.runtimes_for(V1CwdGlobs).len(), 1);
    assert_eq!(scan.runtimes_for(V2_3).len(), 3);
}

#[test]
fn version_3_layout_and_runtime_rs_shim() {
    let scan = load_containerd(&root("containerd-v3"), Path::new(MAIN));
    assert!(scan.errors.is_empty(), "{:?}", scan.errors);
    // containerd 1.x has no io.containerd.cri.v1.runtime plugin; before 1.6.29 the relative
    // glob `extra/kata-*.toml` is not even looked for beside the main file.
    assert_eq!(scan.load_order[&V1CwdGlobs], [MAIN]);
    assert_eq!(scan.runtimes.len(), 1);
    let db = &scan.runtimes[0];
    assert_eq!(db.entry.readings, [V2_0_0, V2_0_2, V2_3]);
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
    let warnings = scan.warnings();
    assert!(
        warnings.iter().any(|w| w.starts_with("containerd 1.6.29+/1.7.16+: runtime kata-dragonball in [plugins.\"io.containerd.cri.v1.runtime\"] (/etc/containerd/extra/kata-dragonball.toml) is not used: the configuration is version 3")),
        "{warnings:#?}"
    );
}

#[test]
fn an_import_cycle_loads_each_file_once_without_error() {
    let scan = load_containerd(&root("containerd-cycle"), Path::new(MAIN));
    assert!(scan.errors.is_empty(), "{:?}", scan.errors);
    assert!(scan.warnings().is_empty(), "{:?}", scan.warnings());
    for family in ContainerdSemantics::ALL {
        assert_eq!(
            scan.load_order[&family],
            [MAIN, "/etc/containerd/a.toml", "/etc/containerd/b.toml"]
        );
    }
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
    assert_eq!(
        scan.warnings(),
        ["/etc/containerd/config.toml: import /nope.toml does not exist; containerd does not start with a missing import"]
    );
    assert!(ContainerdSemantics::ALL.iter().all(|s| !scan.starts(*s)));

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
    std::fs::write(
        dir.path().join("etc/containerd/config.toml"),
        "version = \"2\"\n",
    )
    .unwrap();
    let scan = load_containerd(&r, Path::new(MAIN));
    assert_eq!(
        scan.errors[0].to_string(),
        "/etc/containerd/config.toml:1:11: `version` must be an integer"
    );
    assert_eq!(
        scan.errors.len(),
        1,
        "one error however many families read it"
    );
}

#[test]
fn narrowing_keeps_the_families_in_play() {
    let scan = load_containerd(&root("containerd-v2"), Path::new(MAIN));
    let entries: Vec<_> = scan.runtimes.iter().map(|r| r.entry.clone()).collect();
    let debian: BTreeSet<_> = [V1CwdGlobs].into_iter().collect();
    let kept = narrow_runtimes(entries.clone(), &debian);
    assert_eq!(kept.len(), 1);
    assert_eq!(
        (kept[0].name.as_str(), kept[0].readings.clone()),
        ("kata-qemu", vec![V1CwdGlobs])
    );
    let all: BTreeSet<_> = ContainerdSemantics::ALL.into_iter().collect();
    assert_eq!(narrow_runtimes(entries, &all).len(), 3);

    let notes = notes_for(&scan.notes, &debian);
    assert!(
        notes
            .iter()
            .all(|n| n.starts_with("containerd 1.6.0-1.6.28/1.7.0-1.7.15: ")),
        "{notes:#?}"
    );
    assert!(!notes.is_empty());
    let two: BTreeSet<_> = [V2_3].into_iter().collect();
    assert!(notes_for(&scan.notes, &two).is_empty());
}
