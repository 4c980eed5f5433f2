//! `hvguard harden` full-copy mode, for Kata releases that do not read `config.d/`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harden_common;

use harden_common::*;
use hvguard_core::{ConfigValue, HardeningPlan, KataRuntime};
use hvguard_kata::harden::{
    preview_hardened_copy, supports_dropins, write_hardened_copy, DropinStatus, HardenError,
};
use std::fs;
use std::path::Path;

const COPY: &str = "configuration-qemu.hvguard-hardened.toml";

/// `needle` lines appear in `hay` in the same order (other lines may sit between them).
fn in_order<'a>(needle: impl Iterator<Item = &'a str>, hay: &str) -> Result<(), String> {
    let mut rest = hay.lines();
    for line in needle {
        if !rest.any(|l| l == line) {
            return Err(line.to_string());
        }
    }
    Ok(())
}

#[test]
fn kata_2_0_gets_a_hardened_copy_that_keeps_every_comment() {
    assert!(!supports_dropins(KataRuntime::Go, Some("2.0.0")));
    let host = Host::new(
        "2.0.0-go-configuration-qemu.toml",
        "configuration-qemu.toml",
    );
    let original = fs::read_to_string(host.real(&host.main)).unwrap();
    let plan = qemu_plan(&host.main);

    // The dry run writes nothing and shows exactly what --write will write.
    let before = tree(host.dir.path());
    let (preview, preview_text) = preview_hardened_copy(&host.root, &plan).unwrap();
    assert_eq!(preview.status, DropinStatus::Create);
    assert_eq!(tree(host.dir.path()), before);

    let copy = write_hardened_copy(&host.root, &plan, now()).unwrap();
    assert_eq!(
        fs::read_to_string(host.real(&copy.path)).unwrap(),
        preview_text
    );
    assert_eq!(copy.status, DropinStatus::Create);
    assert_eq!(copy.path, Path::new("/").join(KATA_DIR).join(COPY));
    assert_eq!(fs::read_to_string(host.real(&host.main)).unwrap(), original);

    let text = fs::read_to_string(host.real(&copy.path)).unwrap();
    let doc = parse(&text);
    for s in &plan.settings {
        assert_eq!(lookup(&doc, &s.key).as_ref(), Some(&s.value), "{}", s.key);
    }
    // Every comment of the original survives, in order; so does every line whose key the plan
    // does not touch.
    let touched = [
        "disable_guest_seccomp",
        "enable_annotations",
        "cpu_features",
        "seccompsandbox",
    ];
    let kept = original.lines().filter(|l| {
        let key = l.split('=').next().unwrap_or("").trim();
        l.trim_start().starts_with('#') || !touched.contains(&key)
    });
    in_order(kept, &text).unwrap_or_else(|l| panic!("line lost or reordered: {l:?}"));
    // Keys that existed keep their place and their spacing; the missing one is added.
    assert!(text.contains("# hvguard: kata.guest-seccomp-disabled: the agent runs containers without seccomp\ndisable_guest_seccomp=false\n"), "{text}");
    assert!(
        text.contains("seccompsandbox = \"on,obsolete=deny,spawn=deny,resourcecontrol=deny\"\n")
    );
    assert_eq!(text.matches("\ndisable_guest_seccomp").count(), 1);

    assert!(copy.instructions.contains("ConfigPath = \"/opt/kata/share/defaults/kata-containers/configuration-qemu.hvguard-hardened.toml\""));
    assert!(copy.instructions.contains("io.containerd.grpc.v1.cri"));
    assert!(copy.instructions.contains("io.containerd.cri.v1.runtime"));
}

#[test]
fn hardened_copy_is_idempotent_and_backs_up_what_it_replaces() {
    let host = Host::new(
        "2.0.0-go-configuration-qemu.toml",
        "configuration-qemu.toml",
    );
    let plan = qemu_plan(&host.main);
    let first = write_hardened_copy(&host.root, &plan, now()).unwrap();
    let before = tree(host.dir.path());

    let again = write_hardened_copy(&host.root, &plan, now()).unwrap();
    assert_eq!(again.status, DropinStatus::Unchanged);
    assert_eq!(tree(host.dir.path()), before);

    let old = fs::read(host.real(&first.path)).unwrap();
    let mut other = plan.clone();
    other.settings.push(set(
        "runtime.sandbox_cgroup_only",
        ConfigValue::Bool(true),
        "kata.sandbox-cgroup-only-disabled",
        "runtime helpers outside the sandbox cgroup",
    ));
    let replaced = write_hardened_copy(&host.root, &other, now()).unwrap();
    assert_eq!(replaced.status, DropinStatus::Replace);
    let backup = replaced.backup.unwrap();
    assert!(backup.starts_with(Path::new("/").join(KATA_DIR).join("hvguard-backups")));
    assert_eq!(fs::read(host.real(&backup)).unwrap(), old);
    let doc = parse(&fs::read_to_string(host.real(&replaced.path)).unwrap());
    assert_eq!(
        lookup(&doc, "runtime.sandbox_cgroup_only"),
        Some(ConfigValue::Bool(true))
    );
}

#[test]
fn the_real_broken_2_0_0_firecracker_config_is_a_positioned_error() {
    let host = Host::new("2.0.0-go-configuration-fc.toml", "configuration-fc.toml");
    let before = tree(host.dir.path());
    let plan = HardeningPlan {
        config: host.main.clone(),
        settings: vec![],
        suggestions: vec![],
    };
    let err = write_hardened_copy(&host.root, &plan, now()).unwrap_err();
    assert!(matches!(err, HardenError::Parse { line: 27, .. }), "{err}");
    assert!(err
        .to_string()
        .starts_with("/opt/kata/share/defaults/kata-containers/configuration-fc.toml:27:"));
    assert_eq!(tree(host.dir.path()), before);
}
