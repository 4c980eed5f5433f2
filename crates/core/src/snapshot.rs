//! The Snapshot: plain, serialisable facts about one host. Nothing here is evaluated.

use crate::Probe;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

pub use crate::kata_model::*;

pub const SNAPSHOT_SCHEMA: &str = "hvguard.snapshot/v1";

/// Every field has a default so that a snapshot written by an older hvguard keeps loading
/// when facts are added (a fact it did not record reads as unknown, see `Probe::default`);
/// a missing `schema` defaults to empty and is refused by whoever checks it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Snapshot {
    pub schema: String,
    pub collected_at: String,
    /// The root as given (`/` for the live host).
    pub root: PathBuf,
    /// True when collected from the running host (live-only probes ran).
    pub live: bool,
    pub host: HostFacts,
    pub packages: Probe<Vec<Package>>,
    pub hypervisors: Vec<Hypervisor>,
    /// The static Kata install (`/opt/kata/VERSION`), if any.
    pub kata_install: Probe<KataInstall>,
    /// Every Kata configuration found, with drop-ins merged (filled by the config collector).
    #[serde(default)]
    pub kata: Vec<KataConfig>,
    /// containerd's Kata runtime entries (filled by the config collector).
    #[serde(default)]
    pub containerd: Vec<ContainerdRuntime>,
    /// containerd binaries found, with their versions: which containerd reads the files.
    #[serde(default)]
    pub containerd_binaries: Vec<crate::ContainerdBinary>,
    /// Problems met while collecting that are not facts of their own (skipped files, ...).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Package name -> CVE-bearing entries of its `changelog.Debian.gz`, for the packages
    /// owning a hypervisor binary: backport evidence for the advisory matcher.
    #[serde(default)]
    pub changelogs: BTreeMap<String, Vec<ChangelogEntry>>,
    /// Running VMM and virtiofsd processes (live root only), for `hypervisor.stale-process`.
    #[serde(default = "crate::processes_not_collected")]
    pub vmm_processes: Probe<Vec<crate::VmmProcess>>,
    /// Package digests and hypervisor binary hashes (`hypervisor.binary-modified`, drift).
    #[serde(default)]
    pub integrity: crate::IntegrityFacts,
    /// The effective user id the facts were collected as; `None` in older snapshots. Facts
    /// refused to a user other than root are unknown, and the report says the scan ran
    /// unprivileged.
    #[serde(default)]
    pub collector_uid: Option<u32>,
}

impl Snapshot {
    /// True when the facts were collected by a user other than root.
    pub fn unprivileged(&self) -> bool {
        self.collector_uid.is_some_and(|uid| uid != 0)
    }
}

/// One entry of a package changelog: the CVEs it says it fixed, the ones it reopened, and
/// the change lines it lists (upstream stable merges list each commit's subject).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ChangelogEntry {
    /// The package version in the entry's header (`1:7.2+dfsg-7+deb12u18`).
    pub version: String,
    /// CVE ids the entry names as fixed, sorted and deduplicated.
    pub cves: Vec<String>,
    /// 1-based line of the entry's header in the decompressed changelog.
    pub line: u32,
    /// CVE ids on a `Reopens:` line: an earlier fix that no longer holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reopens: Vec<String>,
    /// The entry's change items (`- hw/usb/hcd-uhci: don't assert for SETUP to non-0
    /// endpoint`), continuation lines joined, in file order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<ChangelogItem>,
}

/// One change item of a changelog entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ChangelogItem {
    /// 1-based line where the item starts.
    pub line: u32,
    /// The item's text, continuation lines joined with one space.
    pub text: String,
    /// A top-level item (`  * `); nested items (`- `, `+ `) belong to the one above.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub top: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostFacts {
    pub hostname: Probe<String>,
    pub os: Probe<OsRelease>,
    pub kernel_release: Probe<String>,
    pub cpu: Probe<CpuInfo>,
    pub kvm: KvmFacts,
    pub iommu: IommuFacts,
    pub firmware: FirmwareFacts,
    /// `sys/devices/system/cpu/smt/control`: on, off, forceoff, notsupported, notimplemented.
    pub smt_control: Probe<String>,
    /// File name -> first line, for every file in `sys/devices/system/cpu/vulnerabilities/`.
    pub cpu_vulnerabilities: Probe<BTreeMap<String, String>>,
    /// `/proc/cmdline`, split into whitespace-separated parameters.
    pub cmdline: Probe<Vec<String>>,
    /// `sys/kernel/mm/ksm/run`.
    pub ksm_run: Probe<String>,
    /// Swap areas listed in `/proc/swaps` (device or file names).
    pub swaps: Probe<Vec<String>>,
    /// `proc/sys/kernel/unprivileged_bpf_disabled` (0, 1 or 2).
    pub unprivileged_bpf_disabled: Probe<String>,
    /// `sys/kernel/security/lsm`, comma-separated.
    pub lsm: Probe<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsRelease {
    pub id: String,
    pub version_id: Option<String>,
    pub version_codename: Option<String>,
    pub pretty_name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CpuVendor {
    Intel,
    Amd,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuInfo {
    pub vendor: CpuVendor,
    /// The raw `vendor_id` (GenuineIntel, AuthenticAMD, ...).
    pub vendor_id: String,
    pub model_name: Option<String>,
    pub logical_cpus: u32,
    /// Flags of the first processor (the kernel reports the same set on every CPU).
    pub flags: BTreeSet<String>,
}

impl CpuInfo {
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.contains(flag)
    }

    /// Flags relevant to hardware virtualisation and confidential computing, for reports.
    pub fn virtualization_flags(&self) -> Vec<&str> {
        self.flags
            .iter()
            .map(String::as_str)
            .filter(|f| {
                matches!(*f, "vmx" | "svm" | "hypervisor")
                    || f.starts_with("sev")
                    || f.starts_with("tdx")
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileKind {
    Regular,
    Directory,
    CharDevice,
    BlockDevice,
    Symlink,
    Other,
}

/// Type, permission bits and owner of a file, as `stat` reports them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStat {
    pub path: PathBuf,
    pub kind: FileKind,
    /// Permission bits only (`0o7777` mask).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl FileStat {
    pub fn writable_by_group_or_others(&self) -> bool {
        self.mode & 0o022 != 0
    }

    pub fn accessible_by_others(&self) -> bool {
        self.mode & 0o006 != 0
    }

    pub fn mode_string(&self) -> String {
        format!("{:04o}", self.mode)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KvmFacts {
    /// `/dev/kvm`.
    pub device: Probe<FileStat>,
    /// `KVM_GET_API_VERSION` on the live host (12 on every Linux since 2.6.22).
    pub api_version: Probe<i32>,
    /// Loaded KVM modules (`kvm`, `kvm_intel`, `kvm_amd`, `kvm_pvm`, ...) with the
    /// parameters that matter: nested, sev, sev_es, sev_snp, tdx, nx_huge_pages.
    pub modules: Probe<BTreeMap<String, BTreeMap<String, String>>>,
}

impl KvmFacts {
    /// A module parameter's value, when the module is loaded and exposes it.
    pub fn param(&self, module: &str, name: &str) -> Option<&str> {
        self.modules
            .value()?
            .get(module)?
            .get(name)
            .map(String::as_str)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IommuFacts {
    /// Number of IOMMU groups under `sys/kernel/iommu_groups`.
    pub groups: Probe<u32>,
    /// ACPI DMAR (Intel VT-d) table present.
    pub dmar_table: Probe<bool>,
    /// ACPI IVRS (AMD-Vi) table present.
    pub ivrs_table: Probe<bool>,
    /// IOMMU-related kernel parameters (`intel_iommu=`, `amd_iommu=`, `iommu=`, `iommu.*`).
    pub cmdline_flags: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BootMode {
    Uefi,
    LegacyBios,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FirmwareFacts {
    pub boot_mode: Probe<BootMode>,
    /// The SecureBoot EFI variable's value byte is 1.
    pub secure_boot: Probe<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageManager {
    Dpkg,
    Rpm,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Package {
    pub manager: PackageManager,
    pub name: String,
    pub version: String,
    /// The source package (`qemu` for `qemu-system-x86`); the binary's name when none is given.
    pub source_name: String,
    /// The source version; differs from `version` for binNMUs (`+b3`).
    pub source_version: String,
    pub arch: String,
}

/// What a hypervisor report says about the package owning a binary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageRef {
    pub manager: PackageManager,
    pub name: String,
    pub source: String,
    pub version: String,
    pub source_version: String,
}

impl From<&Package> for PackageRef {
    fn from(p: &Package) -> Self {
        PackageRef {
            manager: p.manager,
            name: p.name.clone(),
            source: p.source_name.clone(),
            version: p.version.clone(),
            source_version: p.source_version.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HypervisorKind {
    Qemu,
    Firecracker,
    Jailer,
    CloudHypervisor,
    Dragonball,
    StratoVirt,
    Virtiofsd,
    /// QEMU's disk image tool (`qemu-img`).
    QemuImg,
    /// QEMU's NBD server (`qemu-nbd`).
    QemuNbd,
    /// QEMU's storage daemon (`qemu-storage-daemon`), which serves NBD and vhost-user-blk.
    QemuStorageDaemon,
    /// QEMU's guest agent (`qemu-ga`), a program that runs inside guests.
    #[serde(rename = "qemu-ga")]
    QemuGuestAgent,
    /// QEMU's setuid network bridge helper (`qemu-bridge-helper`).
    QemuBridgeHelper,
    /// QEMU's C virtiofsd (QEMU 5.0 to 7.2), as opposed to the Rust `virtiofsd`.
    QemuVirtiofsd,
}

impl HypervisorKind {
    /// Every kind, for tables and tests.
    pub const ALL: &'static [HypervisorKind] = &[
        HypervisorKind::Qemu,
        HypervisorKind::Firecracker,
        HypervisorKind::Jailer,
        HypervisorKind::CloudHypervisor,
        HypervisorKind::Dragonball,
        HypervisorKind::StratoVirt,
        HypervisorKind::Virtiofsd,
        HypervisorKind::QemuImg,
        HypervisorKind::QemuNbd,
        HypervisorKind::QemuStorageDaemon,
        HypervisorKind::QemuGuestAgent,
        HypervisorKind::QemuBridgeHelper,
        HypervisorKind::QemuVirtiofsd,
    ];

    /// True for the programs built from QEMU's source tree (the emulator and its tools).
    pub fn is_qemu_program(self) -> bool {
        matches!(
            self,
            HypervisorKind::Qemu
                | HypervisorKind::QemuImg
                | HypervisorKind::QemuNbd
                | HypervisorKind::QemuStorageDaemon
                | HypervisorKind::QemuGuestAgent
                | HypervisorKind::QemuBridgeHelper
                | HypervisorKind::QemuVirtiofsd
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            HypervisorKind::Qemu => "qemu",
            HypervisorKind::Firecracker => "firecracker",
            HypervisorKind::Jailer => "jailer",
            HypervisorKind::CloudHypervisor => "cloud-hypervisor",
            HypervisorKind::Dragonball => "dragonball",
            HypervisorKind::StratoVirt => "stratovirt",
            HypervisorKind::Virtiofsd => "virtiofsd",
            HypervisorKind::QemuImg => "qemu-img",
            HypervisorKind::QemuNbd => "qemu-nbd",
            HypervisorKind::QemuStorageDaemon => "qemu-storage-daemon",
            HypervisorKind::QemuGuestAgent => "qemu-ga",
            HypervisorKind::QemuBridgeHelper => "qemu-bridge-helper",
            HypervisorKind::QemuVirtiofsd => "qemu-virtiofsd",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VersionSource {
    /// The version string embedded in the binary, found without running it.
    BinaryString,
    /// The owning package's version.
    Package,
    /// The versions a Kata release bundles (`opt/kata/VERSION` + the release table).
    KataVersions,
    /// `<binary> --version` on the live host.
    Exec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hypervisor {
    pub kind: HypervisorKind,
    pub path: PathBuf,
    /// Upstream version (`7.2.22`, `1.12.1`, `47.0`), when known.
    pub version: Option<String>,
    pub version_source: Option<VersionSource>,
    /// The exact text the version came from (`QEMU emulator version 7.2.22 (Debian ...)`).
    pub version_evidence: Option<String>,
    pub package: Option<PackageRef>,
    /// The Kata release this binary was shipped with, for binaries under `/opt/kata`.
    pub kata_release: Option<String>,
    pub stat: Option<FileStat>,
    /// Kata configuration files that name this binary.
    #[serde(default)]
    pub used_by: Vec<PathBuf>,
    /// For a binary a Kata configuration names: mode and owner of every directory above it
    /// (as configured and as resolved). Whoever may write one of them may replace the binary.
    #[serde(default)]
    pub parent_dirs: Vec<FileStat>,
    /// Why the version is unknown or was not read from the binary (a scan cut short by the
    /// per-run budget, a file that cannot be read, an interpreter script).
    #[serde(default)]
    pub version_note: Option<String>,
    /// For QEMU system emulators: which device type names the binary registers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices: Option<DeviceInventory>,
}

/// The QEMU device type names (QOM) found in, or missing from, a binary's read-only data.
///
/// QEMU registers every device by a type name string (`virtio-sound-pci`, `pvrdma`); a
/// build without the device has no such string. The anchors are type names every build
/// registers: when they are missing the strings were not readable (stripped of sections,
/// packed, not ELF) and nothing can be concluded from an absence.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DeviceInventory {
    /// Where the names were read (`.rodata of /opt/kata/bin/qemu-system-x86_64`).
    pub source: String,
    /// The anchor type names looked for, and whether all were found.
    pub anchors: Vec<String>,
    pub anchors_found: bool,
    /// Type names looked for and found.
    pub present: BTreeSet<String>,
    /// Type names looked for and not found.
    pub absent: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KataInstall {
    /// The release from `opt/kata/VERSION` (`3.20.0`).
    pub version: String,
    pub path: PathBuf,
}
