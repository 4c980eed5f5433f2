//! What one Kata configuration lets a sandbox's guest touch: the device-relevant settings of
//! one `[hypervisor.<name>]` section, read from the merged dotted keys.

use std::path::PathBuf;

use std::collections::BTreeMap;

use hvguard_core::{
    enables_vfio, hypervisor_of_section, ConfigValue, HypervisorKind, KataConfig, KataRuntime,
};

/// The guest-visible surface one configuration sets up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Surface {
    /// The main configuration file.
    pub config: PathBuf,
    /// The hypervisor section as written (`qemu`, `firecracker`, `clh`, `cloud-hypervisor`, ...).
    pub section: String,
    /// The hypervisor that section configures.
    pub kind: HypervisorKind,
    /// The runtime reading the configuration (defaults differ between them).
    pub runtime: KataRuntime,
    /// `machine_type`, as written; `None` when not set.
    pub machine_type: Option<String>,
    /// `shared_fs` (`virtio-fs`, `virtio-9p`, `inline-virtio-fs`, `none`); `None` when not set.
    pub shared_fs: Option<String>,
    /// `block_device_driver` (`virtio-scsi`, `virtio-blk`, `virtio-mmio`, `nvdimm`, ...).
    pub block_device_driver: Option<String>,
    /// `disable_block_device_use = true`.
    pub block_devices_disabled: bool,
    /// `disable_image_nvdimm = true`: the guest image is attached as a block device.
    pub image_as_block: bool,
    /// VFIO passthrough is configured (`hot_plug_vfio`/`cold_plug_vfio` other than
    /// `no-port`, or legacy `hotplug_vfio_on_root_bus = true`).
    pub vfio: bool,
    /// `enable_vhost_user_store = true`.
    pub vhost_user: bool,
    /// `enable_annotations` holds at least one entry.
    pub annotations: bool,
    /// `jailer_path` is non-empty.
    pub jailer: bool,
    /// `enable_iommu = true`: the guest gets a vIOMMU.
    pub iommu: bool,
    /// `reclaim_guest_freed_memory = true`: a virtio-balloon with free page reporting.
    pub balloon_reporting: bool,
    /// `guest_memory_dump_path` is set: Kata adds a pvpanic device.
    pub pvpanic: bool,
}

fn text<'a>(config: &'a KataConfig, key: &str) -> Option<&'a str> {
    config
        .values
        .get(key)
        .and_then(|v| v.value.as_str())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn flag(config: &KataConfig, key: &str) -> bool {
    config
        .values
        .get(key)
        .and_then(|v| v.value.as_bool())
        .unwrap_or(false)
}

fn non_empty_list(config: &KataConfig, key: &str) -> bool {
    match config.values.get(key).map(|v| &v.value) {
        Some(ConfigValue::Array(items)) => !items.is_empty(),
        Some(ConfigValue::String(s)) => !s.trim().is_empty(),
        _ => false,
    }
}

fn vfio(config: &KataConfig, prefix: &str) -> bool {
    [
        "hot_plug_vfio",
        "cold_plug_vfio",
        "hotplug_vfio_on_root_bus",
    ]
    .iter()
    .any(|option| {
        config
            .values
            .get(&format!("{prefix}{option}"))
            .is_some_and(|v| enables_vfio(option, &v.value))
    })
}

/// The `[hypervisor.<section>]` tables of `config` that configure a local VMM, sorted.
fn sections(config: &KataConfig) -> BTreeMap<&str, HypervisorKind> {
    config
        .values
        .keys()
        .filter_map(|k| k.strip_prefix("hypervisor.")?.split_once('.'))
        .filter_map(|(section, _)| Some((section, hypervisor_of_section(section)?)))
        .collect()
}

/// The surface of every hypervisor section present in `config`.
pub fn surfaces_of(config: &KataConfig) -> Vec<Surface> {
    sections(config)
        .into_iter()
        .map(|(section, kind)| {
            let key = |name: &str| format!("hypervisor.{section}.{name}");
            Surface {
                config: config.main.clone(),
                section: section.to_owned(),
                kind,
                runtime: config.runtime,
                machine_type: text(config, &key("machine_type")).map(str::to_owned),
                shared_fs: text(config, &key("shared_fs")).map(str::to_owned),
                block_device_driver: text(config, &key("block_device_driver")).map(str::to_owned),
                block_devices_disabled: flag(config, &key("disable_block_device_use")),
                image_as_block: flag(config, &key("disable_image_nvdimm")),
                vfio: vfio(config, &format!("hypervisor.{section}.")),
                vhost_user: flag(config, &key("enable_vhost_user_store")),
                annotations: non_empty_list(config, &key("enable_annotations")),
                jailer: text(config, &key("jailer_path")).is_some(),
                iommu: flag(config, &key("enable_iommu")),
                balloon_reporting: flag(config, &key("reclaim_guest_freed_memory")),
                pvpanic: text(config, &key("guest_memory_dump_path")).is_some(),
            }
        })
        .collect()
}

impl Surface {
    /// The machine type this surface runs: as configured, else Kata's x86_64 default `q35`.
    pub fn machine(&self) -> &str {
        self.machine_type.as_deref().unwrap_or("q35")
    }

    /// True for the legacy i440FX PC machine (`pc`, `pc-i440fx-*`), which brings ISA/PIIX
    /// devices: IDE, the floppy controller, PIT/RTC, and more.
    pub fn is_legacy_pc(&self) -> bool {
        let m = self.machine();
        m == "pc" || m.starts_with("pc-i440fx")
    }

    /// True for QEMU's q35 machine (`q35`, `pc-q35-*`).
    pub fn is_q35(&self) -> bool {
        let m = self.machine();
        m == "q35" || m.starts_with("pc-q35")
    }

    /// True when the guest has a PCI bus (not microvm, not Firecracker or Dragonball, whose
    /// devices are virtio-mmio).
    pub fn has_pci(&self) -> bool {
        match self.kind {
            HypervisorKind::Qemu => self.machine() != "microvm",
            HypervisorKind::CloudHypervisor | HypervisorKind::StratoVirt => true,
            _ => false,
        }
    }

    /// The shared filesystem, with Kata's default (`virtio-fs`) when unset.
    pub fn shared_fs(&self) -> &str {
        self.shared_fs.as_deref().unwrap_or("virtio-fs")
    }

    /// True when guest files are shared over virtio-fs (any flavour: `virtio-fs`,
    /// `virtio-fs-nydus`, `inline-virtio-fs`).
    pub fn uses_virtio_fs(&self) -> bool {
        self.shared_fs().contains("virtio-fs")
    }

    /// True when guest files are shared over 9p.
    pub fn uses_9p(&self) -> bool {
        self.shared_fs() == "virtio-9p"
    }

    /// The block driver, as configured (no default: Kata's differs per hypervisor).
    pub fn block_driver(&self) -> &str {
        self.block_device_driver.as_deref().unwrap_or("")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use hvguard_core::SourcedValue;
    use std::collections::BTreeMap;

    fn config(values: &[(&str, ConfigValue)]) -> KataConfig {
        KataConfig {
            runtime: KataRuntime::Go,
            main: "/etc/kata-containers/configuration.toml".into(),
            dropins: Vec::new(),
            runtime_classes: Vec::new(),
            files: Vec::new(),
            values: values
                .iter()
                .map(|(k, v)| {
                    (
                        (*k).to_owned(),
                        SourcedValue {
                            value: v.clone(),
                            path: "/etc/kata-containers/configuration.toml".into(),
                            line: 1,
                            column: 1,
                        },
                    )
                })
                .collect::<BTreeMap<_, _>>(),
        }
    }

    fn s(v: &str) -> ConfigValue {
        ConfigValue::String(v.into())
    }

    #[test]
    fn reads_one_surface_per_section() {
        let c = config(&[
            ("hypervisor.qemu.machine_type", s("pc-i440fx-8.2")),
            ("hypervisor.qemu.cold_plug_vfio", s("root-port")),
            (
                "hypervisor.qemu.enable_annotations",
                ConfigValue::Array(vec![s("kernel")]),
            ),
            (
                "hypervisor.firecracker.jailer_path",
                s("/opt/kata/bin/jailer"),
            ),
            ("hypervisor.firecracker.hot_plug_vfio", s("no-port")),
            ("runtime.enable_debug", ConfigValue::Bool(true)),
        ]);
        let found = surfaces_of(&c);
        assert_eq!(found.len(), 2);
        let (fc, qemu) = (&found[0], &found[1]);
        assert_eq!(qemu.section, "qemu");
        assert!(qemu.is_legacy_pc() && !qemu.is_q35() && qemu.has_pci());
        assert!(qemu.vfio && qemu.annotations && !qemu.jailer);
        assert!(qemu.uses_virtio_fs() && !qemu.uses_9p());
        assert_eq!(fc.section, "firecracker");
        assert!(fc.jailer && !fc.vfio && !fc.has_pci());
    }

    #[test]
    fn defaults_follow_kata() {
        let c = config(&[("hypervisor.qemu.path", s("/usr/bin/qemu-system-x86_64"))]);
        let q = &surfaces_of(&c)[0];
        assert_eq!(q.machine(), "q35");
        assert_eq!(q.shared_fs(), "virtio-fs");
        assert!(!q.vfio && !q.vhost_user && !q.annotations);
        let legacy = config(&[(
            "hypervisor.qemu.hotplug_vfio_on_root_bus",
            ConfigValue::Bool(true),
        )]);
        assert!(surfaces_of(&legacy)[0].vfio);
        let microvm = config(&[("hypervisor.qemu.machine_type", s("microvm"))]);
        assert!(!surfaces_of(&microvm)[0].has_pci());
        // runtime-rs spells Cloud Hypervisor's table `cloud-hypervisor`.
        let rs = config(&[(
            "hypervisor.cloud-hypervisor.path",
            s("/opt/kata/bin/cloud-hypervisor"),
        )]);
        let clh = &surfaces_of(&rs)[0];
        assert_eq!(clh.kind, HypervisorKind::CloudHypervisor);
        assert!(clh.has_pci());
        let remote = config(&[("hypervisor.remote.path", s("/x"))]);
        assert!(surfaces_of(&remote).is_empty());
    }
}
