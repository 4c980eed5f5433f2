//! Every configuration a Kata release really installs loads, or fails with a clear position.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hvguard_core::{ConfigValue, KataRuntime};
use hvguard_kata::{load_explicit, KataError};
use std::path::{Path, PathBuf};

fn rendered() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/kata/rendered")
}

fn all_rendered() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for version in std::fs::read_dir(rendered()).unwrap() {
        let version = version.unwrap().path();
        if !version.is_dir() {
            continue;
        }
        for runtime in std::fs::read_dir(&version).unwrap() {
            for file in std::fs::read_dir(runtime.unwrap().path()).unwrap() {
                out.push(file.unwrap().path());
            }
        }
    }
    out.sort();
    out
}

fn one(rel: &str) -> hvguard_core::KataConfig {
    let mut v = load_explicit(&[rendered().join(rel)]).unwrap();
    v.remove(0)
}

#[test]
fn every_rendered_config_loads_except_the_known_broken_one() {
    let files = all_rendered();
    assert_eq!(files.len(), 60, "the fixture copy is incomplete");
    let mut broken = Vec::new();
    for file in &files {
        match load_explicit(std::slice::from_ref(file)) {
            Ok(configs) => {
                let c = &configs[0];
                assert!(
                    c.values.len() > 10,
                    "{}: only {} keys",
                    file.display(),
                    c.values.len()
                );
                let expect = if file.components().any(|c| c.as_os_str() == "runtime-rs") {
                    KataRuntime::Rs
                } else {
                    KataRuntime::Go
                };
                assert_eq!(c.runtime, expect, "{}", file.display());
                assert!(c
                    .values
                    .values()
                    .all(|v| v.line > 0 && v.column > 0 && v.path == *file));
            }
            Err(e) => broken.push((file.clone(), e)),
        }
    }
    assert_eq!(broken.len(), 1, "{broken:?}");
    let (file, err) = &broken[0];
    assert!(file.ends_with("2.0.0/runtime-go/configuration-fc.toml"));
    assert!(matches!(err, KataError::Parse { .. }), "{err}");
    let msg = err.to_string();
    let prefix = format!("{}:", file.display());
    assert!(msg.starts_with(&prefix), "{msg}");
    // `valid_hypervisor_paths = ` is on line 27; the parser notices at its end or on line 28.
    let line: u32 = msg[prefix.len()..]
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((27..=28).contains(&line), "{msg}");
}

#[test]
fn go_seccompsandbox_in_main_is_at_its_real_line() {
    let c = one("main/runtime-go/configuration-qemu.toml");
    let v = &c.values["hypervisor.qemu.seccompsandbox"];
    assert_eq!((v.line, v.column), (75, 1));
    assert_eq!(v.value.as_str(), Some(""));
}

#[test]
fn seccompsandbox_is_commented_out_in_3_20_0_qemu() {
    let c = one("3.20.0/runtime-go/configuration-qemu.toml");
    assert!(!c.values.contains_key("hypervisor.qemu.seccompsandbox"));
    let dgs = &c.values["runtime.disable_guest_seccomp"];
    assert_eq!((dgs.line, dgs.value.as_bool()), (596, Some(true)));
    let ann = &c.values["hypervisor.qemu.enable_annotations"];
    assert_eq!(ann.line, 57);
    assert_eq!(
        ann.value,
        ConfigValue::Array(
            ["enable_iommu", "virtio_fs_extra_args", "kernel_params"]
                .map(|s| ConfigValue::String(s.into()))
                .to_vec()
        )
    );
    assert_eq!(c.values["hypervisor.qemu.path"].line, 15);
}

#[test]
fn runtime_rs_spelling_maps_to_the_go_key_at_the_real_line() {
    let c = one("main/runtime-rs/configuration-qemu-tdx-runtime-rs.toml");
    assert_eq!(c.runtime, KataRuntime::Rs);
    let v = &c.values["hypervisor.qemu.seccompsandbox"];
    assert_eq!((v.line, v.column), (99, 1));
    assert!(!c.values.contains_key("hypervisor.qemu.seccomp_sandbox"));
}

#[test]
fn dragonball_3_2_0_is_runtime_rs_by_its_keys() {
    let c = one("3.2.0/runtime-rs/configuration-dragonball.toml");
    assert_eq!(c.runtime, KataRuntime::Rs);
    assert_eq!(
        c.values["runtime.hypervisor_name"].value.as_str(),
        Some("dragonball")
    );
    assert_eq!(c.values["runtime.hypervisor_name"].line, 256);
}

#[test]
fn known_unrendered_values_load_as_they_are() {
    let c = one("main/runtime-rs/configuration-qemu-nvidia-gpu-runtime-rs.toml");
    let fw = &c.values["hypervisor.qemu.firmware_volume"];
    assert_eq!(
        (fw.line, fw.value.as_str()),
        (74, Some("@FIRMWAREVOLUMEPATH_NV@"))
    );
    let tdx = one("3.20.0/runtime-go/configuration-qemu-tdx.toml");
    assert_eq!(
        tdx.values["hypervisor.qemu.path"].value.as_str(),
        Some("PLACEHOLDER_FOR_DISTRO_QEMU_WITH_TDX_SUPPORT")
    );
}

#[test]
fn binary_paths_of_a_firecracker_config() {
    let c = one("3.20.0/runtime-go/configuration-fc.toml");
    let bins = hvguard_kata::kata_binary_paths(&[c]);
    assert!(
        bins.contains(&PathBuf::from("/opt/kata/bin/firecracker")),
        "{bins:?}"
    );
    assert!(
        bins.contains(&PathBuf::from("/opt/kata/bin/jailer")),
        "{bins:?}"
    );
}
