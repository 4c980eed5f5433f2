//! The comparison as data: what `--format json` prints (`hvguard.compare/v1`) and what the text
//! and Markdown renderers read. Fields are only ever added within a version.

use std::collections::BTreeMap;
use std::path::PathBuf;

use jiff::civil::Date;
use serde::Serialize;

use crate::facts::{
    CompareKind, Fact, Feature, Features, Integrity, Isolation, KataSupport, Overhead, Source,
    VerifiedRootfs,
};

/// The schema name of the JSON output.
pub const COMPARE_SCHEMA: &str = "hvguard.compare/v1";

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// [`COMPARE_SCHEMA`].
    pub schema: &'static str,
    /// When it was produced (the caller's clock).
    pub generated_at: String,
    /// The day figures such as "the last 5 years" are counted from.
    pub date: Date,
    /// Which facts file was used.
    pub facts: FactsInfo,
    /// Where the advisories came from.
    pub advisories_from: AdvisoriesFrom,
    /// The earlier review this one is compared with, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<SinceInfo>,
    /// One entry per hypervisor Kata supports, in a fixed order.
    pub hypervisors: Vec<HypervisorEntry>,
    /// This host.
    pub host: HostView,
    /// Which Kata releases can verify the guest's root filesystem, with the sources.
    pub verified_rootfs: VerifiedRootfsInfo,
    /// Advisories of rust-vmm crates, which Firecracker, Cloud Hypervisor and Dragonball build
    /// on: listed once, counted in no hypervisor's record (no binary records its crate versions).
    pub shared_rust_vmm: Vec<String>,
}

/// Verified-rootfs support by Kata release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifiedRootfsInfo {
    /// The releases and the kernel parameter marker.
    pub rules: VerifiedRootfs,
    /// The sources.
    pub sources: Vec<Source>,
}

/// The facts file's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FactsInfo {
    /// Its format.
    pub format: String,
    /// The day it was last reviewed.
    pub reviewed: Date,
    /// The Kata tree the facts were checked at.
    pub kata_checked_at: String,
}

/// Where the advisories came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdvisoriesFrom {
    /// `store` or `shipped`.
    pub source: &'static str,
    /// The store's path, for `store`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<PathBuf>,
    /// How many advisories it holds.
    pub count: usize,
}

/// The earlier review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SinceInfo {
    /// Its day.
    pub date: Date,
    /// `--since` or the previous document's path.
    pub from: String,
    /// True when the previous document listed the advisories it counted (new = not listed);
    /// false when only a date is known (new = published after it).
    pub by_advisory_list: bool,
}

/// One hypervisor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HypervisorEntry {
    /// Which one.
    pub kind: CompareKind,
    /// Its name.
    pub name: String,
    /// Implementation language.
    pub language: Fact,
    /// Kata support per runtime.
    pub kata: KataSupport,
    /// Features.
    pub features: Features,
    /// Isolation features and Kata's defaults.
    pub isolation: Isolation,
    /// Published overhead figures.
    pub overhead: Overhead,
    /// Guest integrity features.
    pub integrity: Integrity,
    /// Its record in the advisory data.
    pub advisories: AdvisoryRecord,
    /// Its binaries on this host.
    pub installed: Vec<Installed>,
    /// Every source its facts cite.
    pub sources: Vec<Source>,
}

/// A hypervisor's record in the advisory data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdvisoryRecord {
    /// What the record covers.
    pub coverage: String,
    /// True when the advisory data holds advisories of a product of the hypervisor's own
    /// (not only Kata advisories scoped to it): only then is a low count evidence.
    pub has_own_product: bool,
    /// Every advisory counted.
    pub total: usize,
    /// Publication year -> count (`unknown` for undated advisories).
    pub by_year: BTreeMap<String, usize>,
    /// CVSS band (`critical`, `high`, `medium`, `low`, `unrated`) -> count.
    pub by_severity: BTreeMap<String, usize>,
    /// Kind (`vm-escape`, `dos`, `info-leak`, `privilege-escalation`, `other`, `unknown`) -> count.
    pub by_kind: BTreeMap<String, usize>,
    /// Advisories in the VM-escape class (see [`crate::escape`]).
    pub vm_escape: usize,
    /// Their ids.
    pub vm_escape_ids: Vec<String>,
    /// VM-escape-class advisories published in the last [`crate::RECENT_YEARS`] years.
    pub vm_escape_recent: usize,
    /// Advisories in CISA's Known Exploited Vulnerabilities catalog.
    pub kev: usize,
    /// Their ids.
    pub kev_ids: Vec<String>,
    /// Median days from publication to the first fixed release, over the advisories whose
    /// fixed releases all have known dates.
    pub median_days_to_fix: Option<f64>,
    /// How many advisories the median is taken over.
    pub days_to_fix_samples: usize,
    /// Kata advisories counted because they are scoped to this hypervisor's sandboxes.
    pub kata_scoped: Vec<String>,
    /// Advisories new since the earlier review, when one is given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_since: Option<Vec<NewAdvisory>>,
    /// Every id counted, sorted (the Markdown document records them for the next review).
    pub ids: Vec<String>,
}

/// An advisory new since the earlier review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewAdvisory {
    /// Its id.
    pub id: String,
    /// Its publication day.
    pub published: Option<Date>,
    /// Its CVSS band.
    pub severity: String,
    /// Its kind.
    pub kind: String,
    /// In the VM-escape class.
    pub vm_escape: bool,
    /// In CISA KEV.
    pub kev: bool,
    /// Its one-line summary.
    pub summary: Option<String>,
}

/// One installed binary of a hypervisor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Installed {
    /// The binary.
    pub path: PathBuf,
    /// Its upstream version, when known.
    pub version: Option<String>,
    /// Where the version came from.
    pub version_source: Option<String>,
    /// The owning package (`qemu-system-x86 1:7.2+dfsg-7+deb12u18`), when one owns it.
    pub package: Option<String>,
    /// Kata configurations on this host that use this hypervisor (by path, or by section).
    pub used_by: Vec<PathBuf>,
    /// Advisories the matcher finds open for this binary.
    pub open_advisories: Vec<OpenAdvisory>,
}

/// An advisory the matcher rates vulnerable for a binary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenAdvisory {
    /// Its id.
    pub id: String,
    /// The finding's severity.
    pub severity: String,
    /// In CISA KEV.
    pub kev: bool,
    /// The version with the fix, when known.
    pub fixed_in: Option<String>,
    /// Why it is or is not reachable from the configured guests.
    pub relevance: String,
}

/// This host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostView {
    /// Its hostname.
    pub hostname: Option<String>,
    /// The static Kata install's release (`/opt/kata/VERSION`).
    pub kata_release: Option<String>,
    /// AMD SEV-SNP on this host.
    pub sev_snp: HostCapability,
    /// Intel TDX on this host.
    pub tdx: HostCapability,
    /// Every Kata configuration found.
    pub configs: Vec<ConfigView>,
}

/// Whether the host can run a kind of confidential guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostCapability {
    /// `enabled`, `disabled` or `unknown`.
    pub state: &'static str,
    /// The facts it was read from.
    pub evidence: String,
    /// What enabling it would take, when it is not enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_enable: Option<String>,
}

/// One Kata configuration on this host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigView {
    /// The main file.
    pub path: PathBuf,
    /// `go` or `rs`.
    pub runtime: String,
    /// containerd runtime classes loading it.
    pub runtime_classes: Vec<String>,
    /// The hypervisor its `[hypervisor.<section>]` names, when known.
    pub hypervisor: Option<CompareKind>,
    /// Features the configuration uses.
    pub needs: Vec<Feature>,
    /// Isolation as configured.
    pub isolation: ConfiguredIsolation,
    /// Guest integrity as configured.
    pub integrity: GuestIntegrity,
    /// Whether the hypervisor is the strongest that meets its needs.
    pub choice: Choice,
}

/// seccomp and the jailer as one configuration sets them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfiguredIsolation {
    /// seccomp filters of the VMM.
    pub seccomp: Setting,
    /// Firecracker's jailer.
    pub jailer: Setting,
}

/// A protection's state in one configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting {
    /// `on`, `off`, `not-applicable` or `unknown`.
    pub state: &'static str,
    /// What was read (`hypervisor.qemu.seccompsandbox = ""` at file:line), or why none.
    pub evidence: String,
}

/// Guest integrity facts of one configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuestIntegrity {
    /// The guest firmware.
    pub firmware: IntegrityItem,
    /// Measured boot through a confidential guest.
    pub measured_boot: IntegrityItem,
    /// A verified root filesystem (dm-verity).
    pub verified_rootfs: IntegrityItem,
}

/// One guest integrity fact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IntegrityItem {
    /// `on`, `off`, `unsupported` or `unknown`.
    pub state: &'static str,
    /// What was read.
    pub observed: String,
    /// What enabling it would take on this host, when it is off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_enable: Option<String>,
}

/// The choice of hypervisor for one configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Choice {
    /// The hypervisors meeting the configuration's needs, strongest first.
    pub candidates: Vec<Candidate>,
    /// True when the configured hypervisor ranks first among them.
    pub strongest: Option<bool>,
    /// Why, in sentences.
    pub reasons: Vec<String>,
    /// What would change the conclusion.
    pub would_change: Vec<String>,
}

/// One hypervisor's standing for a configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    /// Which hypervisor.
    pub kind: CompareKind,
    /// Kata's default seccomp protection, as ranked: `per-thread`, `process` or `none`.
    pub seccomp: String,
    /// Jailer on by default.
    pub jailer: bool,
    /// VM-escape-class advisories of the last [`crate::RECENT_YEARS`] years.
    pub vm_escape_recent: usize,
    /// False when the advisory data holds no advisory of a product of the hypervisor's own
    /// (Dragonball, remote; StratoVirt in the shipped snapshot): its count says nothing, and it
    /// never wins on it.
    pub record_of_its_own: bool,
}
