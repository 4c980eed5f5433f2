//! The boot settings of real Kata configurations (tests/fixtures/kata, from the files each
//! release installs), loaded with the project's own loader.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use hvguard_smoke::qemu_args::{qemu_argv, LaunchEnv};
use hvguard_smoke::{
    Accel, BootAsset, MachineType, SmokeError, SmokeOverrides, SmokeSpec, KATA_AGENT_MARKER,
};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/kata")
        .join(name)
}

fn load(name: &str) -> hvguard_core::KataConfig {
    hvguard_kata::load_explicit(&[fixture(name)])
        .unwrap()
        .pop()
        .unwrap()
}

fn env() -> LaunchEnv {
    LaunchEnv {
        name: "t".into(),
        host_cpus: 2,
        host_memory_mib: 4096,
        nested: false,
        tsc_khz: None,
        image_size: Some(1 << 28),
    }
}

#[test]
fn every_release_qemu_config_gives_kata_s_command_line() {
    for name in [
        "2.0.0-go-configuration-qemu.toml",
        "3.2.0-go-configuration-qemu.toml",
        "3.20.0-go-configuration-qemu.toml",
        "main-go-configuration-qemu.toml",
        "main-rs-configuration-qemu-runtime-rs.toml",
    ] {
        let spec = SmokeSpec::from_kata(&load(name), &SmokeOverrides::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            spec.hypervisor,
            PathBuf::from("/opt/kata/bin/qemu-system-x86_64"),
            "{name}"
        );
        assert_eq!(
            spec.kernel,
            PathBuf::from("/opt/kata/share/kata-containers/vmlinux.container"),
            "{name}"
        );
        assert!(matches!(spec.boot, Some(BootAsset::Image(_))), "{name}");
        // Kata 2.0 defaulted to `pc`; later releases to q35.
        let machine = if name.starts_with("2.0.0") {
            MachineType::Pc
        } else {
            MachineType::Q35
        };
        assert_eq!(spec.machine, machine, "{name}");
        assert_eq!(spec.memory_mib, 2048, "{name}");
        assert_eq!(spec.marker, KATA_AGENT_MARKER, "{name}: Kata's own guest");
        let argv: Vec<String> = qemu_argv(&spec, Accel::Kvm, &env())
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let line = argv.join(" ");
        assert!(
            line.contains(&format!("-machine {machine},accel=kvm,nvdimm=on")),
            "{name}: {line}"
        );
        assert!(
            line.contains("memory-backend-file,id=mem0,mem-path=/opt/kata/share/kata-containers/kata-containers.img"),
            "{name}: {line}"
        );
        assert!(line.contains("root=/dev/pmem0p1"), "{name}: {line}");
        // The configuration's kernel_params come last.
        let append = &argv[argv.iter().position(|a| a == "-append").unwrap() + 1];
        if !spec.kernel_params.is_empty() {
            assert!(append.ends_with(&spec.kernel_params), "{name}: {append}");
        }
    }
}

#[test]
fn the_3_20_qemu_config_in_detail() {
    let spec = SmokeSpec::from_kata(
        &load("3.20.0-go-configuration-qemu.toml"),
        &SmokeOverrides::default(),
    )
    .unwrap();
    assert_eq!(spec.cpu_features, "pmu=off");
    assert_eq!(
        spec.seccomp_sandbox, None,
        "3.20.0 ships seccompsandbox unset"
    );
    assert_eq!(
        spec.kernel_params,
        "cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1"
    );
    assert_eq!(spec.vcpus, 1);
    assert_eq!(spec.max_vcpus, None);
    assert_eq!(spec.bridges, 1);
    assert!(!spec.iommu);
    assert_eq!(spec.firmware, None);
}

#[test]
fn other_vmms_and_confidential_guests_are_refused() {
    for name in [
        "3.20.0-go-configuration-fc.toml",
        "3.20.0-go-configuration-clh.toml",
        "3.20.0-go-configuration-qemu-snp.toml",
    ] {
        let e = SmokeSpec::from_kata(&load(name), &SmokeOverrides::default()).unwrap_err();
        assert!(matches!(e, SmokeError::Unsupported { .. }), "{name}: {e}");
        assert!(e.to_string().contains("not supported yet"), "{name}: {e}");
    }
}
