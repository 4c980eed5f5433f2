//! `config.d/` drop-ins: order, provenance of each key, and what is skipped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hvguard_core::{ConfigValue, FileKind, HostRoot};
use hvguard_kata::{load_explicit_with_warnings, load_with_dropins};
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Path, PathBuf};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/kata/dropin")
}

#[test]
fn later_dropins_win_and_carry_their_own_file_and_line() {
    let main = fixture().join("configuration.toml");
    let (configs, warnings) = load_explicit_with_warnings(std::slice::from_ref(&main)).unwrap();
    let c = &configs[0];
    let d10 = fixture().join("config.d/10-vcpus.toml");
    let d20 = fixture().join("config.d/20-debug.toml");
    let d30 = fixture().join("config.d/30-leftover.toml.orig");
    assert_eq!(c.dropins, vec![d10.clone(), d20.clone(), d30]);

    let debug = &c.values["hypervisor.qemu.enable_debug"];
    assert_eq!(debug.value, ConfigValue::Bool(true));
    assert_eq!(
        (debug.path.as_path(), debug.line, debug.column),
        (d20.as_path(), 4, 1)
    );

    let vcpus = &c.values["hypervisor.qemu.default_vcpus"];
    assert_eq!(
        (vcpus.path.as_path(), vcpus.line, vcpus.value.as_integer()),
        (d20.as_path(), 5, Some(4))
    );

    let seccomp = &c.values["hypervisor.qemu.seccompsandbox"];
    assert_eq!((seccomp.path.as_path(), seccomp.line), (d10.as_path(), 3));

    // Untouched keys still point at the main file.
    let rt = &c.values["runtime.enable_debug"];
    assert_eq!(
        (rt.path.as_path(), rt.line, rt.value.as_bool()),
        (main.as_path(), 9, Some(false))
    );

    assert!(
        warnings
            .iter()
            .any(|w| w.contains("30-leftover.toml.orig") && w.contains("not named .toml")),
        "{warnings:?}"
    );
}

#[test]
fn file_stats_cover_main_and_every_dropin() {
    let main = fixture().join("configuration.toml");
    let (configs, _) = load_explicit_with_warnings(std::slice::from_ref(&main)).unwrap();
    let c = &configs[0];
    assert_eq!(c.files.len(), 4);
    for stat in &c.files {
        let meta = std::fs::metadata(&stat.path).unwrap();
        assert_eq!(stat.kind, FileKind::Regular);
        assert_eq!(stat.mode, meta.mode() & 0o7777);
        assert_eq!((stat.uid, stat.gid), (meta.uid(), meta.gid()));
    }
    assert_eq!(c.files[0].path, main);
}

#[test]
fn directories_symlink_loops_and_other_files_are_skipped_with_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("etc/kata-containers");
    std::fs::create_dir_all(kc.join("config.d/50-dir.toml")).unwrap();
    std::fs::write(
        kc.join("configuration.toml"),
        "[runtime]\nenable_debug = false\n",
    )
    .unwrap();
    std::fs::write(
        kc.join("config.d/10-ok.toml"),
        "[runtime]\nenable_debug = true\n",
    )
    .unwrap();
    symlink("60-loop.toml", kc.join("config.d/60-loop.toml")).unwrap();
    symlink(
        "/etc/kata-containers/config.d/71-b.toml",
        kc.join("config.d/70-a.toml"),
    )
    .unwrap();
    symlink(
        "/etc/kata-containers/config.d/70-a.toml",
        kc.join("config.d/71-b.toml"),
    )
    .unwrap();
    std::fs::write(
        kc.join("config.d/80-x.toml.bak"),
        "[runtime]\nexperimental = []\n",
    )
    .unwrap();

    let root = HostRoot::new(dir.path()).unwrap();
    let loaded = load_with_dropins(
        &root,
        Path::new("/etc/kata-containers/configuration.toml"),
        None,
    )
    .unwrap();
    assert_eq!(
        loaded.config.dropins,
        vec![
            PathBuf::from("/etc/kata-containers/config.d/10-ok.toml"),
            // Kata applies it although it is not named .toml.
            PathBuf::from("/etc/kata-containers/config.d/80-x.toml.bak"),
        ]
    );
    assert_eq!(
        loaded.config.values["runtime.enable_debug"].value.as_bool(),
        Some(true)
    );
    let w = loaded.warnings.join("\n");
    assert!(w.contains("50-dir.toml: skipped: a directory"), "{w}");
    assert!(
        w.contains("60-loop.toml: too many levels of symbolic links"),
        "{w}"
    );
    assert!(w.contains("70-a.toml: too many levels"), "{w}");
    assert!(
        w.contains("80-x.toml.bak: applied although not named .toml"),
        "{w}"
    );
    assert_eq!(loaded.warnings.len(), 5, "{w}");
}

#[test]
fn a_broken_dropin_fails_the_load_naming_the_dropin() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("config.d")).unwrap();
    let main = dir.path().join("configuration.toml");
    std::fs::write(&main, "[runtime]\n").unwrap();
    let bad = dir.path().join("config.d/10-bad.toml");
    std::fs::write(&bad, "[runtime]\nenable_debug = \n").unwrap();
    let err = load_explicit_with_warnings(&[main]).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("{}:2:", bad.display())),
        "{err}"
    );
}

#[test]
fn relative_explicit_paths_become_absolute() {
    let cwd = std::env::current_dir().unwrap();
    let rel = pathdiff(&fixture().join("configuration.toml"), &cwd);
    let (configs, _) = load_explicit_with_warnings(&[rel]).unwrap();
    assert!(configs[0].main.is_absolute());
}

fn pathdiff(target: &Path, base: &Path) -> PathBuf {
    let t = std::fs::canonicalize(target).unwrap();
    let b = std::fs::canonicalize(base).unwrap();
    let common = t
        .components()
        .zip(b.components())
        .take_while(|(a, b)| a == b)
        .count();
    let mut out = PathBuf::new();
    for _ in b.components().skip(common) {
        out.push("..");
    }
    for c in t.components().skip(common) {
        out.push(c);
    }
    out
}
