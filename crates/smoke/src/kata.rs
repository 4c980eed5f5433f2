//! [`SmokeSpec::from_kata`]: the boot settings a Kata configuration gives its hypervisor, read
//! the way the Go runtime reads them (`src/runtime/pkg/katautils/config.go`): the same keys,
//! the same defaults for keys left out or set to 0, the same clamps.

use crate::host::HostVirt;
use crate::spec::{
    AccelChoice, BootAsset, MachineType, SmokeOverrides, SmokeSpec, DEFAULT_MARKER,
    DEFAULT_QEMU_PATH, DEFAULT_TIMEOUT, KATA_AGENT_MARKER,
};
use crate::SmokeError;
use hvguard_core::{ConfigValue, HypervisorKind, KataConfig, SourcedValue};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// `defaultMemSize`: used when `default_memory` is below Kata's 256 MiB minimum.
pub const DEFAULT_MEMORY_MIB: u32 = 2048;
/// `vc.MinHypervisorMemory`.
pub const MIN_MEMORY_MIB: i64 = 256;
/// `defaultMemSlots`, used when `memory_slots` is 0.
pub const DEFAULT_MEMORY_SLOTS: u32 = 10;
/// `maxPCIBridges`.
pub const MAX_BRIDGES: u32 = 5;

/// The hypervisor a `[hypervisor.<name>]` section configures.
pub fn kind_of_section(name: &str) -> Option<HypervisorKind> {
    Some(match name {
        "qemu" => HypervisorKind::Qemu,
        "fc" | "firecracker" => HypervisorKind::Firecracker,
        "clh" | "cloud-hypervisor" => HypervisorKind::CloudHypervisor,
        "dragonball" => HypervisorKind::Dragonball,
        "stratovirt" => HypervisorKind::StratoVirt,
        _ => return None,
    })
}

/// The one `[hypervisor.<name>]` section of `config`.
fn hypervisor_section(config: &KataConfig) -> Result<String, SmokeError> {
    let names: BTreeSet<&str> = config
        .values
        .keys()
        .filter_map(|k| k.strip_prefix("hypervisor.")?.split('.').next())
        .collect();
    let mut names = names.into_iter();
    match (names.next(), names.next()) {
        (Some(one), None) => Ok(one.to_string()),
        (None, _) => Err(SmokeError::Config {
            path: config.main.clone(),
            line: 0,
            message: "no [hypervisor.*] section".into(),
        }),
        (Some(a), Some(b)) => Err(SmokeError::Config {
            path: config.main.clone(),
            line: 0,
            message: format!("several hypervisor sections ({a}, {b}, ...): Kata uses one"),
        }),
    }
}

/// Typed reads of one section's keys, each error pointing at the file and line that set it.
struct Section<'a> {
    config: &'a KataConfig,
    prefix: String,
}

impl<'a> Section<'a> {
    fn get(&self, leaf: &str) -> Option<&'a SourcedValue> {
        self.config.values.get(&format!("{}.{leaf}", self.prefix))
    }

    fn wrong(&self, leaf: &str, v: &SourcedValue, want: &str) -> SmokeError {
        SmokeError::Config {
            path: v.path.clone(),
            line: v.line as usize,
            message: format!("{}.{leaf} must be {want}", self.prefix),
        }
    }

    fn string(&self, leaf: &str) -> Result<Option<&'a str>, SmokeError> {
        match self.get(leaf) {
            None => Ok(None),
            Some(v) => match &v.value {
                ConfigValue::String(s) => Ok(Some(s.as_str())),
                _ => Err(self.wrong(leaf, v, "a string")),
            },
        }
    }

    /// A string that names a file: empty means unset.
    fn path(&self, leaf: &str) -> Result<Option<PathBuf>, SmokeError> {
        Ok(self
            .string(leaf)?
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from))
    }

    fn bool(&self, leaf: &str, default: bool) -> Result<bool, SmokeError> {
        match self.get(leaf) {
            None => Ok(default),
            Some(v) => v
                .value
                .as_bool()
                .ok_or_else(|| self.wrong(leaf, v, "true or false")),
        }
    }

    fn int(&self, leaf: &str) -> Result<Option<i64>, SmokeError> {
        match self.get(leaf) {
            None => Ok(None),
            Some(v) => match v.value {
                ConfigValue::Integer(i) => Ok(Some(i)),
                _ => Err(self.wrong(leaf, v, "an integer")),
            },
        }
    }

    /// An integer or a float (`default_vcpus` is a float since Kata 3.4).
    fn number(&self, leaf: &str) -> Result<Option<f64>, SmokeError> {
        match self.get(leaf) {
            None => Ok(None),
            Some(v) => match v.value {
                ConfigValue::Integer(i) => Ok(Some(i as f64)),
                ConfigValue::Float(f) => Ok(Some(f)),
                _ => Err(self.wrong(leaf, v, "a number")),
            },
        }
    }

    fn line(&self, leaf: &str) -> usize {
        self.get(leaf).map_or(0, |v| v.line as usize)
    }
}

impl SmokeSpec {
    /// The boot settings of `config`'s hypervisor section with `overrides` laid over them.
    ///
    /// `host` is left unknown ([`HostVirt::default`]); set it from the host's facts
    /// ([`HostVirt::from_facts`]) before [`run_smoke`](crate::run_smoke) so that
    /// `accel=auto` decides from facts rather than by trying KVM.
    ///
    /// Errors: a section for a VMM `smoke` cannot boot yet ([`SmokeError::Unsupported`]), no
    /// kernel, both an image and an initrd, or a value of the wrong type or range
    /// ([`SmokeError::Config`], with the file and line that set it).
    pub fn from_kata(
        config: &KataConfig,
        overrides: &SmokeOverrides,
    ) -> Result<SmokeSpec, SmokeError> {
        let name = hypervisor_section(config)?;
        let kind = kind_of_section(&name).ok_or_else(|| SmokeError::Unsupported {
            what: format!(
                "the [hypervisor.{name}] section of {}",
                config.main.display()
            ),
        })?;
        if kind != HypervisorKind::Qemu {
            return Err(SmokeError::Unsupported {
                what: format!(
                    "{} ([hypervisor.{name}] in {})",
                    kind.as_str(),
                    config.main.display()
                ),
            });
        }
        let s = Section {
            config,
            prefix: format!("hypervisor.{name}"),
        };
        let runtime = Section {
            config,
            prefix: "runtime".into(),
        };
        let config_error = |leaf: &str, message: String| SmokeError::Config {
            path: s
                .get(leaf)
                .map_or_else(|| config.main.clone(), |v| v.path.clone()),
            line: s.line(leaf),
            message,
        };

        if s.bool("confidential_guest", false)? {
            // Booting it without SEV/SNP/TDX protection would test another configuration.
            return Err(SmokeError::Unsupported {
                what: format!(
                    "a confidential guest (confidential_guest = true at {}:{})",
                    config.main.display(),
                    s.line("confidential_guest")
                ),
            });
        }
        let image = s.path("image")?;
        let initrd = s.path("initrd")?;
        let boot = match (image, initrd) {
            (Some(_), Some(_)) => {
                return Err(config_error(
                    "initrd",
                    "both image and initrd are set; Kata refuses that".into(),
                ))
            }
            (Some(i), None) => Some(BootAsset::Image(i)),
            (None, Some(i)) => Some(BootAsset::Initrd(i)),
            (None, None) => None,
        };
        let kernel = match (&overrides.kernel, s.path("kernel")?) {
            (Some(k), _) => k.clone(),
            (None, Some(k)) => k,
            (None, None) => {
                return Err(SmokeError::NoKernel {
                    config: Some(config.main.clone()),
                })
            }
        };
        let machine = s
            .string("machine_type")?
            .unwrap_or("")
            .trim()
            .parse::<MachineType>()
            .map_err(|e| config_error("machine_type", e))?;

        let memory_mib = match s.int("default_memory")? {
            Some(m) if m >= MIN_MEMORY_MIB => u32::try_from(m)
                .map_err(|_| config_error("default_memory", format!("{m} MiB is too large")))?,
            _ => DEFAULT_MEMORY_MIB,
        };
        let max_memory_mib = match s.int("default_maxmemory")? {
            None | Some(0) => None,
            Some(m) if m < 0 => {
                return Err(config_error(
                    "default_maxmemory",
                    "must not be negative".into(),
                ))
            }
            Some(m) => Some(m as u64),
        };
        let memory_slots = match s.int("memory_slots")? {
            None | Some(0) => DEFAULT_MEMORY_SLOTS,
            Some(n) => u32::try_from(n)
                .ok()
                .filter(|n| *n <= 255)
                .ok_or_else(|| config_error("memory_slots", format!("{n} is not 0 to 255")))?,
        };
        // Kata rounds a fractional vCPU count up; 0 means one; negative or more than the host
        // has means every host CPU.
        let host_cpus = crate::host::host_cpus();
        let vcpus = match s.number("default_vcpus")? {
            None => 1,
            Some(0.0) => 1,
            Some(v) if v < 0.0 || v > f64::from(host_cpus) => host_cpus,
            Some(v) => v.ceil() as u32,
        };
        let max_vcpus = match s.int("default_maxvcpus")? {
            None | Some(0) => None,
            Some(n) if n < 0 => {
                return Err(config_error(
                    "default_maxvcpus",
                    "must not be negative".into(),
                ))
            }
            Some(n) => Some(u32::try_from(n).unwrap_or(u32::MAX)),
        };
        let bridges = match s.int("default_bridges")? {
            None | Some(0) => 1,
            Some(n) if n < 0 => {
                return Err(config_error(
                    "default_bridges",
                    "must not be negative".into(),
                ))
            }
            Some(n) => u32::try_from(n).unwrap_or(MAX_BRIDGES).min(MAX_BRIDGES),
        };
        let seccomp_sandbox = match s.string("seccompsandbox")? {
            Some(v) => Some(v),
            None => s.string("seccomp_sandbox")?,
        }
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string);
        let pflashes = match s.get("pflashes") {
            None => Vec::new(),
            Some(v) => match &v.value {
                ConfigValue::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map(PathBuf::from))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| s.wrong("pflashes", v, "an array of paths"))?,
                _ => return Err(s.wrong("pflashes", v, "an array of paths")),
            },
        };
        let marker = if overrides.boot.is_none() && boot.is_some() {
            // Kata's own guest: its agent is what reaches userspace.
            KATA_AGENT_MARKER
        } else {
            DEFAULT_MARKER
        };

        let mut spec = SmokeSpec {
            kind,
            hypervisor: s
                .path("path")?
                .unwrap_or_else(|| PathBuf::from(DEFAULT_QEMU_PATH)),
            module_dir: None,
            data_dirs: Vec::new(),
            accel: AccelChoice::Auto,
            kernel,
            boot,
            marker: marker.to_string(),
            timeout: DEFAULT_TIMEOUT,
            runs: 1,
            kernel_params: s.string("kernel_params")?.unwrap_or("").trim().to_string(),
            memory_mib,
            max_memory_mib,
            memory_slots,
            vcpus,
            max_vcpus,
            machine,
            machine_accelerators: s
                .string("machine_accelerators")?
                .unwrap_or("")
                .trim()
                .to_string(),
            cpu_features: s.string("cpu_features")?.unwrap_or("").trim().to_string(),
            seccomp_sandbox,
            iommu: s.bool("enable_iommu", false)?,
            firmware: s.path("firmware")?,
            pflashes,
            legacy_serial: s.bool("use_legacy_serial", false)?,
            debug: s.bool("enable_debug", false)?,
            disable_image_nvdimm: s.bool("disable_image_nvdimm", false)?,
            rootfs_type: s
                .string("rootfs_type")?
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .unwrap_or("ext4")
                .to_string(),
            entropy_source: s
                .path("entropy_source")?
                .unwrap_or_else(|| PathBuf::from("/dev/urandom")),
            bridges,
            disable_nesting_checks: s.bool("disable_nesting_checks", false)?,
            disable_guest_selinux: runtime.bool("disable_guest_selinux", true)?,
            host: HostVirt::default(),
            config: Some(config.main.clone()),
        };
        if !matches!(spec.rootfs_type.as_str(), "ext4" | "xfs" | "erofs") {
            return Err(config_error(
                "rootfs_type",
                format!(
                    "rootfs_type {:?} is not ext4, xfs or erofs",
                    spec.rootfs_type
                ),
            ));
        }
        if spec.iommu && spec.machine != MachineType::Q35 {
            return Err(config_error(
                "enable_iommu",
                format!(
                    "enable_iommu needs machine_type q35; Kata refuses a vIOMMU on {}",
                    spec.machine
                ),
            ));
        }
        spec.apply(overrides);
        spec.validate()?;
        Ok(spec)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use hvguard_core::KataRuntime;
    use std::collections::BTreeMap;

    pub(crate) fn config(pairs: &[(&str, ConfigValue)]) -> KataConfig {
        let values: BTreeMap<String, SourcedValue> = pairs
            .iter()
            .enumerate()
            .map(|(i, (k, v))| {
                (
                    k.to_string(),
                    SourcedValue {
                        value: v.clone(),
                        path: PathBuf::from("/etc/kata-containers/configuration.toml"),
                        line: i as u32 + 10,
                        column: 1,
                    },
                )
            })
            .collect();
        KataConfig {
            runtime: KataRuntime::Go,
            main: PathBuf::from("/etc/kata-containers/configuration.toml"),
            dropins: Vec::new(),
            runtime_classes: Vec::new(),
            files: Vec::new(),
            values,
        }
    }

    fn s(v: &str) -> ConfigValue {
        ConfigValue::String(v.into())
    }

    #[test]
    fn reads_kata_keys_with_kata_defaults() {
        let c = config(&[
            (
                "hypervisor.qemu.path",
                s("/opt/kata/bin/qemu-system-x86_64"),
            ),
            (
                "hypervisor.qemu.kernel",
                s("/opt/kata/share/kata-containers/vmlinux.container"),
            ),
            (
                "hypervisor.qemu.image",
                s("/opt/kata/share/kata-containers/kata-containers.img"),
            ),
            ("hypervisor.qemu.machine_type", s("q35")),
            ("hypervisor.qemu.default_memory", ConfigValue::Integer(128)),
            ("hypervisor.qemu.default_vcpus", ConfigValue::Float(1.5)),
            ("hypervisor.qemu.default_maxvcpus", ConfigValue::Integer(0)),
            ("hypervisor.qemu.default_bridges", ConfigValue::Integer(9)),
            ("hypervisor.qemu.seccompsandbox", s("")),
            ("hypervisor.qemu.cpu_features", s("pmu=off")),
            ("hypervisor.qemu.kernel_params", s(" cgroup_no_v1=all ")),
            ("runtime.disable_guest_selinux", ConfigValue::Bool(true)),
        ]);
        let spec = SmokeSpec::from_kata(&c, &SmokeOverrides::default()).unwrap();
        assert_eq!(
            spec.hypervisor,
            PathBuf::from("/opt/kata/bin/qemu-system-x86_64")
        );
        assert!(matches!(spec.boot, Some(BootAsset::Image(_))));
        assert_eq!(
            spec.memory_mib, DEFAULT_MEMORY_MIB,
            "below 256 MiB means the default"
        );
        assert_eq!(spec.vcpus, 2u32.min(crate::host::host_cpus()), "rounded up");
        assert_eq!(spec.max_vcpus, None);
        assert_eq!(spec.bridges, MAX_BRIDGES);
        assert_eq!(spec.seccomp_sandbox, None);
        assert_eq!(spec.kernel_params, "cgroup_no_v1=all");
        assert_eq!(
            spec.marker, KATA_AGENT_MARKER,
            "Kata's own guest announces its agent"
        );
    }

    #[test]
    fn overrides_replace_assets_and_the_marker_follows() {
        let c = config(&[
            ("hypervisor.qemu.kernel", s("/k")),
            ("hypervisor.qemu.initrd", s("/kata-initrd")),
            ("hypervisor.qemu.seccomp_sandbox", s("on,obsolete=deny")),
        ]);
        let o = SmokeOverrides {
            hypervisor: Some("/staging/usr/bin/qemu-system-x86_64".into()),
            module_dir: Some("/staging/usr/lib/x86_64-linux-gnu/qemu".into()),
            boot: Some(BootAsset::Initrd("/cache/initramfs.cpio.gz".into())),
            ..SmokeOverrides::default()
        };
        let spec = SmokeSpec::from_kata(&c, &o).unwrap();
        assert_eq!(spec.marker, DEFAULT_MARKER);
        assert_eq!(spec.seccomp_sandbox.as_deref(), Some("on,obsolete=deny"));
        assert_eq!(
            spec.module_dir,
            Some(PathBuf::from("/staging/usr/lib/x86_64-linux-gnu/qemu"))
        );
        assert_eq!(spec.kernel, PathBuf::from("/k"));
    }

    #[test]
    fn errors_point_at_the_line() {
        let c = config(&[
            ("hypervisor.qemu.kernel", s("/k")),
            ("hypervisor.qemu.default_memory", s("2048")),
        ]);
        let e = SmokeSpec::from_kata(&c, &SmokeOverrides::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("/etc/kata-containers/configuration.toml:11:"),
            "{e}"
        );
        let both = config(&[
            ("hypervisor.qemu.kernel", s("/k")),
            ("hypervisor.qemu.image", s("/i")),
            ("hypervisor.qemu.initrd", s("/r")),
        ]);
        let e = SmokeSpec::from_kata(&both, &SmokeOverrides::default()).unwrap_err();
        assert!(e.to_string().contains("both image and initrd"), "{e}");
        let no_kernel = config(&[("hypervisor.qemu.initrd", s("/r"))]);
        assert!(matches!(
            SmokeSpec::from_kata(&no_kernel, &SmokeOverrides::default()),
            Err(SmokeError::NoKernel { .. })
        ));
        let bad_machine = config(&[
            ("hypervisor.qemu.kernel", s("/k")),
            ("hypervisor.qemu.machine_type", s("virt")),
        ]);
        let e = SmokeSpec::from_kata(&bad_machine, &SmokeOverrides::default()).unwrap_err();
        assert!(e.to_string().contains(":11:"), "{e}");
    }

    #[test]
    fn other_vmms_are_not_supported_yet() {
        for section in ["fc", "clh", "dragonball", "remote"] {
            let c = config(&[(&format!("hypervisor.{section}.kernel") as &str, s("/k"))]);
            let e = SmokeSpec::from_kata(&c, &SmokeOverrides::default()).unwrap_err();
            assert!(
                matches!(e, SmokeError::Unsupported { .. }),
                "{section}: {e}"
            );
            assert!(e.to_string().contains("not supported"), "{e}");
        }
    }
}
