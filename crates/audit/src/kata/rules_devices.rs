//! Rules on what a hypervisor section shares with or passes to the guest: the shared file
//! system, virtiofsd's own sandbox, host block devices and VFIO.

use super::offence::{hypervisors, is_remote, Fix, Offence};
use super::view::ConfigView;
use crate::RuleMeta;
use hvguard_core::{ConfigValue, Severity};

const VIRTIO_FS_DOC: &str =
    "https://github.com/kata-containers/kata-containers/blob/main/docs/how-to/how-to-use-virtio-fs-with-kata.md";

pub(crate) const SHARED_FS_9P: RuleMeta = RuleMeta {
    id: "kata.shared-fs-9p",
    title: "Container files are shared through virtio-9p",
    severity: Severity::Medium,
    fires_when: "shared_fs = \"virtio-9p\"",
    remediation: "Set shared_fs = \"virtio-fs\" with a sandboxed virtiofsd (virtio_fs_daemon = \"/opt/kata/libexec/virtiofsd\").",
    references: &[VIRTIO_FS_DOC, "https://nvd.nist.gov/vuln/detail/CVE-2020-2026"],
};

pub(crate) const VIRTIOFSD: RuleMeta = RuleMeta {
    id: "kata.virtiofsd-sandbox-weak",
    title: "virtiofsd runs without its sandbox or seccomp filter",
    severity: Severity::High,
    fires_when: "virtio_fs_extra_args contains --sandbox=none, --sandbox none, --seccomp=none or --seccomp none",
    remediation: "Remove the --sandbox none / --seccomp none flags from virtio_fs_extra_args (the defaults are a namespace sandbox and seccomp kill).",
    references: &[
        "https://gitlab.com/virtio-fs/virtiofsd/-/blob/main/README.md",
        VIRTIO_FS_DOC,
        "https://nvd.nist.gov/vuln/detail/CVE-2020-2026",
    ],
};

pub(crate) const BLOCK: RuleMeta = RuleMeta {
    id: "kata.block-device-use-enabled",
    title: "Host block devices may back container root file systems",
    severity: Severity::Medium,
    fires_when: "disable_block_device_use = false or missing",
    remediation: "Set disable_block_device_use = true unless a block-device snapshotter (devmapper) is in use.",
    references: &[
        "https://nvd.nist.gov/vuln/detail/CVE-2020-2023",
        "https://github.com/kata-containers/kata-containers/blob/main/src/runtime/README.md#configuration",
    ],
};

pub(crate) const VFIO: RuleMeta = RuleMeta {
    id: "kata.vfio-without-iommu",
    title: "VFIO devices are plugged into a guest without a vIOMMU",
    severity: Severity::High,
    fires_when: "hot_plug_vfio or cold_plug_vfio is set to something other than no-port (or hotplug_vfio_on_root_bus = true) while enable_iommu = false",
    remediation: "Set enable_iommu = true in the hypervisor section (and keep the host IOMMU on), or set hot_plug_vfio = cold_plug_vfio = \"no-port\" when no device is passed through.",
    references: &[
        "https://github.com/kata-containers/kata-containers/blob/main/docs/use-cases/GPU-passthrough-and-Kata.md",
        "https://www.kernel.org/doc/html/latest/driver-api/vfio.html",
    ],
};

pub(crate) fn shared_fs_9p(view: &ConfigView<'_>) -> Vec<Offence> {
    hypervisors(view)
        .into_iter()
        .filter_map(|(name, s)| {
            let f = s.get("shared_fs")?;
            (f.as_str()?.trim() == "virtio-9p").then(|| {
                s.found(
                    "shared_fs",
                    &f,
                    Severity::Medium,
                    format!("{name}: container files are served by QEMU's own 9p server, inside the VMM process, with no separate sandbox"),
                    |key| Some(Fix::suggest(key, ConfigValue::String("virtio-fs".into()), "virtio-fs runs the file server in a separate, sandboxed virtiofsd; check the guest kernel supports it")),
                )
            })
        })
        .collect()
}

/// The virtiofsd arguments that turn its sandbox or seccomp filter off, in any of the four
/// spellings (one or two array elements, `=` or a space).
fn weakening_flags(args: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].trim();
        let mut words = arg.split_whitespace();
        let flag = words.next().unwrap_or("");
        let (name, value) = match flag.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (flag, words.next().map(str::to_string)),
        };
        if name == "--sandbox" || name == "--seccomp" {
            let value = match value {
                Some(v) => v,
                None => {
                    i += 1;
                    args.get(i)
                        .map(|v| v.trim().to_string())
                        .unwrap_or_default()
                }
            };
            if value == "none" {
                found.push(format!("{name} none"));
            }
        }
        i += 1;
    }
    found
}

/// `virtio_fs_extra_args` without the weakening flags (and their separate values).
pub(crate) fn without_weakening_flags(args: &[&str]) -> Vec<String> {
    let mut kept = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].trim();
        let flag = arg.split_whitespace().next().unwrap_or("");
        let name = flag.split_once('=').map(|(n, _)| n).unwrap_or(flag);
        if name == "--sandbox" || name == "--seccomp" {
            let inline = flag.contains('=') || arg.split_whitespace().nth(1).is_some();
            let value_none = if inline {
                weakening_flags(&[arg]).len() == 1
            } else {
                args.get(i + 1).is_some_and(|v| v.trim() == "none")
            };
            if value_none {
                i += if inline { 1 } else { 2 };
                continue;
            }
        }
        kept.push(args[i].to_string());
        i += 1;
    }
    kept
}

pub(crate) fn virtiofsd_sandbox_weak(view: &ConfigView<'_>) -> Vec<Offence> {
    hypervisors(view)
        .into_iter()
        .filter_map(|(name, s)| {
            let f = s.get("virtio_fs_extra_args")?;
            let args = f.strings()?;
            let flags = weakening_flags(&args);
            (!flags.is_empty()).then(|| {
                let kept = without_weakening_flags(&args);
                s.found(
                    "virtio_fs_extra_args",
                    &f,
                    Severity::High,
                    format!("{name}: virtiofsd is started with {}: a guest that compromises it reaches the host file system with virtiofsd's privileges", flags.join(" and ")),
                    |key| {
                        Some(Fix::apply(
                            key,
                            ConfigValue::Array(kept.into_iter().map(ConfigValue::String).collect()),
                            "keep virtiofsd's namespace sandbox and seccomp filter",
                        ))
                    },
                )
            })
        })
        .collect()
}

pub(crate) fn block_device_use_enabled(view: &ConfigView<'_>) -> Vec<Offence> {
    let fix = |key: &str| {
        Some(Fix::suggest(
            key,
            ConfigValue::Bool(true),
            "stop passing host block devices to guests; breaks devmapper-style snapshotters",
        ))
    };
    let message = |name: &str| {
        format!("{name}: a container root file system backed by a host block device is passed to the guest as that device")
    };
    hypervisors(view)
        .into_iter()
        .filter(|(name, _)| !is_remote(name))
        .filter_map(|(name, s)| match s.get("disable_block_device_use") {
            None => Some(s.missing(
                "disable_block_device_use",
                "false",
                Severity::Medium,
                message(name),
                fix,
            )),
            Some(f) => (f.as_bool() == Some(false)).then(|| {
                s.found(
                    "disable_block_device_use",
                    &f,
                    Severity::Medium,
                    message(name),
                    fix,
                )
            }),
        })
        .collect()
}

pub(crate) fn vfio_without_iommu(view: &ConfigView<'_>) -> Vec<Offence> {
    let mut out = Vec::new();
    for (name, s) in hypervisors(view) {
        let iommu = s
            .get("enable_iommu")
            .and_then(|f| f.as_bool())
            .unwrap_or(false);
        if iommu {
            continue;
        }
        for key in [
            "hot_plug_vfio",
            "cold_plug_vfio",
            "hotplug_vfio_on_root_bus",
        ] {
            let Some(f) = s.get(key) else { continue };
            if hvguard_core::enables_vfio(key, &f.value.value) {
                out.push(s.found(
                    key,
                    &f,
                    Severity::High,
                    format!("{name}: VFIO devices are plugged in while enable_iommu is off: the guest has no vIOMMU to confine device DMA"),
                    |k| {
                        let iommu_key = k.rsplit_once('.').map(|(sec, _)| format!("{sec}.enable_iommu")).unwrap_or_default();
                        Some(Fix::suggest(&iommu_key, ConfigValue::Bool(true), "give guests a vIOMMU when devices are passed through; needs guest kernel support"))
                    },
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_spelling() {
        assert_eq!(weakening_flags(&["--sandbox=none"]), vec!["--sandbox none"]);
        assert_eq!(
            weakening_flags(&["--sandbox", "none"]),
            vec!["--sandbox none"]
        );
        assert_eq!(weakening_flags(&["--seccomp none"]), vec!["--seccomp none"]);
        assert_eq!(
            weakening_flags(&["--seccomp", "none"]),
            vec!["--seccomp none"]
        );
        assert!(weakening_flags(&["--sandbox=chroot", "--thread-pool-size=1"]).is_empty());
        assert!(weakening_flags(&["--sandbox"]).is_empty());
    }

    #[test]
    fn removes_only_the_weakening_flags() {
        let args = [
            "--thread-pool-size=1",
            "--sandbox",
            "none",
            "-o",
            "announce_submounts",
            "--seccomp=none",
            "--seccomp none",
        ];
        assert_eq!(
            without_weakening_flags(&args),
            vec!["--thread-pool-size=1", "-o", "announce_submounts"]
        );
        assert_eq!(
            without_weakening_flags(&["--sandbox=chroot"]),
            vec!["--sandbox=chroot"]
        );
    }
}
