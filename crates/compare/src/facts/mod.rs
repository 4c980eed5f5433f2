//! The reviewed facts file (`data/hypervisors.toml`): its model, its parser and the checks that
//! keep every fact tied to a source.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::error::CompareError;

mod check;

use check::one_line;

/// The format this build reads.
pub const FACTS_FORMAT: &str = "hvguard.hypervisor-facts/v1";

/// The facts file shipped inside hvguard.
const SHIPPED_FACTS: &str = include_str!("../../data/hypervisors.toml");

/// The embedded facts file, parsed and checked.
pub fn shipped_facts() -> Result<Facts, CompareError> {
    Facts::parse(Path::new("<shipped>/hypervisors.toml"), SHIPPED_FACTS)
}

/// Every hypervisor (or stand-in) Kata can be configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CompareKind {
    /// QEMU.
    Qemu,
    /// Cloud Hypervisor.
    CloudHypervisor,
    /// Firecracker.
    Firecracker,
    /// Dragonball, built into the runtime-rs shim.
    Dragonball,
    /// StratoVirt.
    #[serde(rename = "stratovirt")]
    StratoVirt,
    /// The remote (peer pods) "hypervisor": the VM runs elsewhere.
    Remote,
}

impl CompareKind {
    /// Every kind, in the order the comparison lists them.
    pub const ALL: [CompareKind; 6] = [
        CompareKind::Qemu,
        CompareKind::CloudHypervisor,
        CompareKind::Firecracker,
        CompareKind::Dragonball,
        CompareKind::StratoVirt,
        CompareKind::Remote,
    ];

    /// The name used in JSON and in the facts file.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareKind::Qemu => "qemu",
            CompareKind::CloudHypervisor => "cloud-hypervisor",
            CompareKind::Firecracker => "firecracker",
            CompareKind::Dragonball => "dragonball",
            CompareKind::StratoVirt => "stratovirt",
            CompareKind::Remote => "remote",
        }
    }

    /// The inventory kind of this hypervisor's binary, when it has one of its own.
    pub fn binary_kind(self) -> Option<hvguard_core::HypervisorKind> {
        use hvguard_core::HypervisorKind as K;
        match self {
            CompareKind::Qemu => Some(K::Qemu),
            CompareKind::CloudHypervisor => Some(K::CloudHypervisor),
            CompareKind::Firecracker => Some(K::Firecracker),
            CompareKind::Dragonball => Some(K::Dragonball),
            CompareKind::StratoVirt => Some(K::StratoVirt),
            CompareKind::Remote => None,
        }
    }
}

impl fmt::Display for CompareKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether something is supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Support {
    /// Supported.
    Yes,
    /// Not supported.
    No,
    /// No source says.
    Unknown,
}

impl Support {
    /// `yes`, `no` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Support::Yes => "yes",
            Support::No => "no",
            Support::Unknown => "unknown",
        }
    }
}

/// Whether a protection is on in Kata's shipped configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Default {
    /// On unless turned off.
    On,
    /// Off unless turned on.
    Off,
}

/// A Kata runtime, as the facts file names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuntimeName {
    /// The Go shim.
    Go,
    /// runtime-rs.
    Rs,
}

/// One value a Kata release's configuration file holds (or, without `value`, leaves unset):
/// the evidence behind a default, checked against the rendered files by a test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigDefault {
    /// `2.0.0`, `3.2.0`, `3.20.0` or `main`.
    pub release: String,
    /// Which runtime's configuration.
    pub runtime: RuntimeName,
    /// The file name (`configuration-fc.toml`).
    pub file: String,
    /// The dotted key (`hypervisor.firecracker.jailer_path`).
    pub key: String,
    /// The value; absent when the key is not set (commented out or missing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<toml::Value>,
}

/// One fact with its sources.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fact {
    /// Supported or not, for yes/no facts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support: Option<Support>,
    /// The value, for descriptive facts (`"C"`, `"at most 5 MiB"`, `"unknown"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// For protections: on or off in Kata's shipped configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Default>,
    /// For seccomp: `per-thread`, `process` or `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// For firmware: whether the default firmware can do UEFI Secure Boot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure_boot: Option<Support>,
    /// The first Kata release carrying it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Kata configuration files (names) that use it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configs: Vec<String>,
    /// A published figure, as a number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<f64>,
    /// The figure's unit (`MiB`, `MB`, `ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// What qualifies it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Ids of the `[[sources]]` that state it.
    #[serde(default)]
    pub sources: Vec<String>,
    /// Configuration values that show it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config_defaults: Vec<ConfigDefault>,
}

impl Fact {
    /// True when nothing is known: support `unknown`, or the value `unknown`.
    pub fn is_unknown(&self) -> bool {
        self.support == Some(Support::Unknown)
            || (self.support.is_none() && self.value.as_deref() == Some("unknown"))
    }

    /// The support, `unknown` when the fact has none.
    pub fn supported(&self) -> Support {
        self.support.unwrap_or(Support::Unknown)
    }

    /// The text a table shows: the value, else the support, with the default when given.
    pub fn summary(&self) -> String {
        let base = match (&self.value, self.support) {
            (Some(v), _) => v.clone(),
            (None, Some(s)) => s.as_str().to_owned(),
            (None, None) => "unknown".to_owned(),
        };
        match self.default {
            Some(Default::On) if self.support == Some(Support::Yes) => format!("{base}, on"),
            Some(Default::Off) if self.support == Some(Support::Yes) => format!("{base}, off"),
            _ => base,
        }
    }
}

/// Kata's support for the hypervisor, per runtime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KataSupport {
    /// The Go runtime.
    pub go: Fact,
    /// runtime-rs.
    pub rs: Fact,
    /// The guest memory a sandbox gets unless it asks for more.
    pub default_memory_mib: Fact,
}

/// Features a deployment may need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Features {
    /// Shared filesystem through virtio-fs.
    pub virtio_fs: Fact,
    /// CPU hotplug.
    pub cpu_hotplug: Fact,
    /// Memory hotplug.
    pub memory_hotplug: Fact,
    /// VFIO device passthrough.
    pub vfio: Fact,
    /// GPU passthrough.
    pub gpu: Fact,
    /// AMD SEV-SNP confidential guests.
    pub sev_snp: Fact,
    /// Intel TDX confidential guests.
    pub tdx: Fact,
}

impl Features {
    /// Every feature with its name, in table order.
    pub fn all(&self) -> [(Feature, &Fact); 7] {
        [
            (Feature::VirtioFs, &self.virtio_fs),
            (Feature::CpuHotplug, &self.cpu_hotplug),
            (Feature::MemoryHotplug, &self.memory_hotplug),
            (Feature::Vfio, &self.vfio),
            (Feature::Gpu, &self.gpu),
            (Feature::SevSnp, &self.sev_snp),
            (Feature::Tdx, &self.tdx),
        ]
    }

    /// The fact of one feature.
    pub fn get(&self, feature: Feature) -> &Fact {
        match feature {
            Feature::VirtioFs => &self.virtio_fs,
            Feature::CpuHotplug => &self.cpu_hotplug,
            Feature::MemoryHotplug => &self.memory_hotplug,
            Feature::Vfio => &self.vfio,
            Feature::Gpu => &self.gpu,
            Feature::SevSnp => &self.sev_snp,
            Feature::Tdx => &self.tdx,
        }
    }
}

/// A feature a workload may need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Feature {
    /// virtio-fs.
    VirtioFs,
    /// CPU hotplug.
    CpuHotplug,
    /// Memory hotplug.
    MemoryHotplug,
    /// VFIO passthrough.
    Vfio,
    /// GPU passthrough.
    Gpu,
    /// SEV-SNP.
    SevSnp,
    /// TDX.
    Tdx,
}

impl Feature {
    /// The name tables and JSON use.
    pub fn as_str(self) -> &'static str {
        match self {
            Feature::VirtioFs => "virtio-fs",
            Feature::CpuHotplug => "CPU hotplug",
            Feature::MemoryHotplug => "memory hotplug",
            Feature::Vfio => "VFIO passthrough",
            Feature::Gpu => "GPU passthrough",
            Feature::SevSnp => "SEV-SNP",
            Feature::Tdx => "TDX",
        }
    }
}

/// Isolation of the VMM process from the host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Isolation {
    /// seccomp filters (QEMU: `-sandbox`).
    pub seccomp: Fact,
    /// Firecracker's jailer.
    pub jailer: Fact,
    /// Landlock.
    pub landlock: Fact,
}

/// Published overhead figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overhead {
    /// The VMM's own memory use.
    pub memory: Fact,
    /// Boot time.
    pub boot: Fact,
}

/// Guest integrity features of the hypervisor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Integrity {
    /// Guest firmware in Kata's configurations.
    pub firmware: Fact,
    /// Measured boot through confidential guests.
    pub measured_boot: Fact,
}

/// Everything the file says about one hypervisor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HypervisorFacts {
    /// Which hypervisor.
    pub kind: CompareKind,
    /// Its name for people.
    pub name: String,
    /// `[hypervisor.<section>]` names of its Kata configurations.
    pub config_sections: Vec<String>,
    /// Advisory products whose advisories are this hypervisor's record.
    pub advisory_products: Vec<String>,
    /// What the record covers when it is not the product's own advisories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advisory_note: Option<String>,
    /// Implementation language.
    pub language: Fact,
    /// Kata support.
    pub kata: KataSupport,
    /// Features.
    pub features: Features,
    /// Isolation.
    pub isolation: Isolation,
    /// Overhead figures.
    pub overhead: Overhead,
    /// Guest integrity.
    pub integrity: Integrity,
}

impl HypervisorFacts {
    /// Every fact with its path in the file, for checks and source lists.
    pub fn facts(&self) -> Vec<(String, &Fact)> {
        let mut all = vec![
            ("language".to_owned(), &self.language),
            ("kata.go".to_owned(), &self.kata.go),
            ("kata.rs".to_owned(), &self.kata.rs),
            (
                "kata.default_memory_mib".to_owned(),
                &self.kata.default_memory_mib,
            ),
            ("isolation.seccomp".to_owned(), &self.isolation.seccomp),
            ("isolation.jailer".to_owned(), &self.isolation.jailer),
            ("isolation.landlock".to_owned(), &self.isolation.landlock),
            ("overhead.memory".to_owned(), &self.overhead.memory),
            ("overhead.boot".to_owned(), &self.overhead.boot),
            ("integrity.firmware".to_owned(), &self.integrity.firmware),
            (
                "integrity.measured_boot".to_owned(),
                &self.integrity.measured_boot,
            ),
        ];
        for (feature, fact) in self.features.all() {
            all.push((format!("features.{feature:?}"), fact));
        }
        all
    }

    /// The ids of every source its facts cite, sorted.
    pub fn source_ids(&self) -> BTreeSet<&str> {
        self.facts()
            .into_iter()
            .flat_map(|(_, f)| f.sources.iter().map(String::as_str))
            .collect()
    }
}

/// One source: where a fact was read, when, and what it says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// The id facts cite.
    pub id: String,
    /// The page, pinned to the commit read.
    pub url: String,
    /// The release or commit it was checked at.
    pub checked_at: String,
    /// What it says, in hvguard's words.
    pub says: String,
}

/// Which Kata releases can verify the guest's root filesystem, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifiedRootfs {
    /// First release with the `kernel_verity_params` key.
    pub kernel_verity_params_since: String,
    /// First release whose measured-rootfs build puts the verity settings in `kernel_params`.
    pub kernel_params_since: String,
    /// What `kernel_params` then holds.
    pub kernel_params_marker: String,
    /// Ids of the sources.
    pub sources: Vec<String>,
}

/// Release dates of one product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseDates {
    /// The advisory product (`qemu`, `firecracker`, `cloud-hypervisor`, `kata-containers`).
    pub product: String,
    /// Where the dates come from.
    pub source: String,
    /// Version -> release day.
    pub dates: BTreeMap<String, Date>,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Facts {
    /// [`FACTS_FORMAT`].
    pub format: String,
    /// The day the file was last reviewed.
    pub reviewed: Date,
    /// The Kata tree the facts were checked at.
    pub kata_checked_at: String,
    /// Every source.
    pub sources: Vec<Source>,
    /// Verified-rootfs support by release.
    pub verified_rootfs: VerifiedRootfs,
    /// The hypervisors.
    pub hypervisors: Vec<HypervisorFacts>,
    /// Release dates per product.
    #[serde(default)]
    pub release_dates: Vec<ReleaseDates>,
}

impl Facts {
    /// Parses and checks a facts file; `path` names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Facts, CompareError> {
        let error = |message: String| CompareError::Facts {
            path: path.to_path_buf(),
            message,
        };
        let facts: Facts = toml::from_str(text).map_err(|e| error(one_line(&e.to_string())))?;
        check::check(&facts).map_err(error)?;
        Ok(facts)
    }

    /// The hypervisor's facts.
    pub fn hypervisor(&self, kind: CompareKind) -> Option<&HypervisorFacts> {
        self.hypervisors.iter().find(|h| h.kind == kind)
    }

    /// The source with this id.
    pub fn source(&self, id: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.id == id)
    }

    /// The release day of `version` of `product`, when the file has it.
    pub fn release_date(&self, product: &str, version: &str) -> Option<Date> {
        self.release_dates
            .iter()
            .filter(|r| r.product == product)
            .find_map(|r| r.dates.get(version).copied())
    }
}

/// A Kata release number (`3.27.0`), in the upstream ordering every version gate uses.
pub fn parse_release(text: &str) -> Result<hvguard_core::Version, hvguard_core::VersionError> {
    hvguard_core::Version::parse(hvguard_core::VersionScheme::Upstream, text)
}
