//! The advisory model every importer produces and the matcher consumes.

mod assess;
mod cvss;
mod distro;
mod product;
mod range;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

pub use self::cvss::{Cvss, CvssScore};
pub use distro::{ChangelogSource, DistroAdvisory, DistroFix, DistroStatus};
pub use product::{Product, ProductParseError};
pub use range::{
    describe_ranges, Affected, Assessment, Event, ExactVersion, FixFact, FixKind, Range, Ranges,
};

use hvguard_core::HypervisorKind;

use crate::version::Version;

/// The class of harm, judged from the CWE and the description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdvisoryKind {
    /// A guest can corrupt or take over the host process.
    VmEscape,
    /// Denial of service.
    Dos,
    /// Information disclosure.
    InfoLeak,
    /// Privilege escalation (host or guest side).
    PrivilegeEscalation,
    /// Anything else.
    Other,
}

/// An operating system an advisory is limited to (an NVD configuration that ANDs the product
/// with a platform, as CVE-2023-0664 does with Windows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Platform {
    /// Linux, the only platform hvguard scans.
    Linux,
    /// Microsoft Windows.
    Windows,
    /// Apple macOS.
    Macos,
    /// Any other platform a feed names.
    #[serde(other)]
    Other,
}

impl Platform {
    /// The platform's name as evidence writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Linux => "linux",
            Platform::Windows => "windows",
            Platform::Macos => "macos",
            Platform::Other => "other",
        }
    }
}

/// A CISA Known Exploited Vulnerabilities entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct KevEntry {
    /// The CVE id.
    pub cve: String,
    /// When CISA added it to the catalog.
    pub date_added: Option<Date>,
    /// `Known` when used in ransomware campaigns, else `Unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ransomware: Option<String>,
}

/// An EPSS probability for one CVE.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpssScore {
    /// Probability of exploitation in the next 30 days, 0..=1.
    pub epss: f64,
    /// Percentile among all scored CVEs, 0..=1.
    pub percentile: f64,
}

/// The affected versions of one product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AffectedProduct {
    /// The product.
    pub product: Product,
    /// The package, crate or CPE name as the feed wrote it, when it says more than the product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// The affected ranges; empty means unknown.
    #[serde(default)]
    pub ranges: Ranges,
}

/// Where an advisory's facts came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The feed (`osv`, `cve5`, `nvd`, `hvguard-snapshot`).
    pub feed: String,
    /// Where the ranges came from (`nvd-cpe`, `cna`, `osv`, `vendor-notes`, `none`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range_origin: Option<String>,
    /// Free-text notes about the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One published vulnerability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    /// The primary id (`CVE-2024-3446`, `GHSA-...`, `RUSTSEC-...`).
    pub id: String,
    /// Other ids for the same issue, sorted.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// One line describing the issue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Affected products and their upstream ranges.
    #[serde(default)]
    pub products: Vec<AffectedProduct>,
    /// Distribution verdicts per (distro, release, source package).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub distro: Vec<DistroFix>,
    /// CVSS vectors and scores.
    #[serde(default)]
    pub cvss: Cvss,
    /// CWE ids (`CWE-787`), sorted.
    #[serde(default)]
    pub cwe: Vec<String>,
    /// The main vulnerable device or subsystem (`virtio-net`, `9p`, `floppy`, ...): the first
    /// of `components`, kept for readers of the single-component field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// Every component the issue lives in, from the taxonomy of docs/advisory-matching.md.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
    /// The binaries the issue is in (`qemu-img`, `qemu-ga`, `jailer`); empty means the
    /// product's main binary (`qemu-system-*`, `firecracker`, `cloud-hypervisor`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub binaries: Vec<HypervisorKind>,
    /// For Kata advisories: the sandbox hypervisors whose configurations expose the issue
    /// (CVE-2026-24834 needs Cloud Hypervisor); empty means any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hypervisors: Vec<HypervisorKind>,
    /// Operating systems the issue is limited to; empty means any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<Platform>,
    /// QEMU type names (QOM) registering the vulnerable device: a binary that registers
    /// none of them does not contain the code.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
    /// Subjects of the commits fixing the issue: backport evidence when a changelog lists
    /// the commit without the CVE id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fix_subjects: Vec<String>,
    /// The class of harm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<AdvisoryKind>,
    /// The CISA KEV entry, when the CVE is known to be exploited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kev: Option<KevEntry>,
    /// The EPSS score, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epss: Option<EpssScore>,
    /// Reference URLs.
    #[serde(default)]
    pub references: Vec<String>,
    /// Publication date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<Date>,
    /// Last modification date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<Date>,
    /// Which feed said this.
    #[serde(default)]
    pub provenance: Provenance,
}

impl Advisory {
    /// An advisory with only an id; importers fill in the rest.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            aliases: Vec::new(),
            summary: None,
            products: Vec::new(),
            distro: Vec::new(),
            cvss: Cvss::default(),
            cwe: Vec::new(),
            component: None,
            components: Vec::new(),
            binaries: Vec::new(),
            hypervisors: Vec::new(),
            platforms: Vec::new(),
            devices: Vec::new(),
            fix_subjects: Vec::new(),
            kind: None,
            kev: None,
            epss: None,
            references: Vec::new(),
            published: None,
            modified: None,
            provenance: Provenance::default(),
        }
    }

    /// True when `id` is this advisory's id or one of its aliases.
    pub fn is_known_as(&self, id: &str) -> bool {
        self.id.eq_ignore_ascii_case(id) || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(id))
    }

    /// The CVE id: the id itself or the first CVE alias.
    pub fn cve(&self) -> Option<&str> {
        std::iter::once(&self.id)
            .chain(self.aliases.iter())
            .map(String::as_str)
            .find(|i| i.starts_with("CVE-"))
    }

    /// Every range, exact version and fix known for `product`, from all its entries.
    pub fn ranges_for(&self, product: &Product) -> std::borrow::Cow<'_, Ranges> {
        let mut entries = self.products.iter().filter(|p| &p.product == product);
        match (entries.next(), entries.next()) {
            (None, _) => std::borrow::Cow::Owned(Ranges::default()),
            (Some(one), None) => std::borrow::Cow::Borrowed(&one.ranges),
            (Some(first), Some(second)) => {
                let mut all = first.ranges.clone();
                for entry in std::iter::once(second).chain(entries) {
                    all.ranges.extend(entry.ranges.ranges.iter().cloned());
                    all.versions.extend(entry.ranges.versions.iter().cloned());
                    all.fixes.extend(entry.ranges.fixes.iter().cloned());
                }
                std::borrow::Cow::Owned(all)
            }
        }
    }

    /// What the upstream data says about `version` of `product`, and why.
    pub fn assess(&self, product: &Product, version: &Version) -> Assessment {
        self.ranges_for(product).assess(version)
    }

    /// Whether the advisory affects `version` of `product`, by the upstream data only.
    /// `Unknown` when the advisory does not name the product or nothing places the version.
    pub fn affects(&self, product: &Product, version: &Version) -> Affected {
        self.assess(product, version).affected
    }

    /// Names the source of every range and exact version that does not say yet, so that
    /// evidence can cite it after feeds are merged.
    pub fn label_sources(&mut self, label: &str) {
        for entry in &mut self.products {
            for r in &mut entry.ranges.ranges {
                r.source.get_or_insert_with(|| label.to_owned());
            }
            for e in &mut entry.ranges.versions {
                e.source.get_or_insert_with(|| label.to_owned());
            }
        }
    }

    /// The components, most specific first: `components`, else the single `component`.
    pub fn component_list(&self) -> impl Iterator<Item = &str> {
        let single = if self.components.is_empty() {
            self.component.as_deref()
        } else {
            None
        };
        self.components.iter().map(String::as_str).chain(single)
    }

    /// Sorts and deduplicates the list fields so that output is deterministic.
    pub fn normalize(&mut self) {
        for list in [
            &mut self.aliases,
            &mut self.cwe,
            &mut self.references,
            &mut self.devices,
            &mut self.fix_subjects,
        ] {
            list.sort();
            list.dedup();
        }
        for list in [&mut self.binaries, &mut self.hypervisors] {
            list.sort();
            list.dedup();
        }
        self.platforms.sort();
        self.platforms.dedup();
        if self.component.is_none() {
            self.component = self.components.first().cloned();
        }
        for entry in &mut self.products {
            canonical_versions(entry);
            entry.ranges.ranges.sort();
            entry.ranges.ranges.dedup();
            entry.ranges.versions.sort();
            entry.ranges.versions.dedup();
            entry.ranges.fixes.sort();
            entry.ranges.fixes.dedup();
        }
        let id = self.id.clone();
        self.aliases.retain(|a| a != &id);
        self.distro.sort();
        self.distro.dedup();
        self.products
            .sort_by(|a, b| (&a.product, &a.package).cmp(&(&b.product, &b.package)));
    }
}

/// Rewrites every version of `entry` in its product's canonical numbering (QEMU's `x.y.90`
/// release candidates), so that data and binaries compare in one order.
fn canonical_versions(entry: &mut AffectedProduct) {
    let product = entry.product.clone();
    let fix = |text: &mut String| {
        if let std::borrow::Cow::Owned(canonical) = product.canonical_version(text) {
            *text = canonical;
        }
    };
    for r in &mut entry.ranges.ranges {
        for e in &mut r.events {
            match e {
                Event::Introduced(v)
                | Event::IntroducedAfter(v)
                | Event::Fixed(v)
                | Event::LastAffected(v)
                | Event::Limit(v) => fix(v),
            }
        }
    }
    for e in &mut entry.ranges.versions {
        fix(&mut e.version);
    }
    for f in &mut entry.ranges.fixes {
        fix(&mut f.version);
    }
}

/// Parses the date at the start of a feed timestamp (`2015-05-13T18:59:00.217`, `2020-06-10`).
pub(crate) fn parse_date(text: &str) -> Result<Date, String> {
    let head = text.get(..10).unwrap_or(text);
    head.parse::<Date>()
        .map_err(|e| format!("date {text:?}: {e}"))
}
