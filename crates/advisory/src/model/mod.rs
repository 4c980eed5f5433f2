//! The advisory model every importer produces and the matcher consumes.

mod cvss;
mod distro;
mod product;
mod range;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

pub use self::cvss::{Cvss, CvssScore};
pub use distro::{ChangelogSource, DistroAdvisory, DistroFix, DistroStatus};
pub use product::{Product, ProductParseError};
pub use range::{Affected, Event, ExactVersion, Range, Ranges};

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
    /// The vulnerable device or subsystem (`virtio-net`, `9p`, `floppy`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
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

    /// Whether the advisory affects `version` of `product`, by the upstream ranges only.
    /// `Unknown` when the advisory does not name the product or gives no usable range.
    pub fn affects(&self, product: &Product, version: &Version) -> Affected {
        let mut verdict = Affected::Unknown;
        for entry in self.products.iter().filter(|p| &p.product == product) {
            match entry.ranges.affects(version) {
                Affected::Yes => return Affected::Yes,
                Affected::No => verdict = Affected::No,
                Affected::Unknown => {}
            }
        }
        verdict
    }

    /// Sorts and deduplicates the list fields so that output is deterministic.
    pub fn normalize(&mut self) {
        for list in [&mut self.aliases, &mut self.cwe, &mut self.references] {
            list.sort();
            list.dedup();
        }
        let id = self.id.clone();
        self.aliases.retain(|a| a != &id);
        self.distro.sort();
        self.distro.dedup();
        self.products
            .sort_by(|a, b| (&a.product, &a.package).cmp(&(&b.product, &b.package)));
    }
}

/// Parses the date at the start of a feed timestamp (`2015-05-13T18:59:00.217`, `2020-06-10`).
pub(crate) fn parse_date(text: &str) -> Result<Date, String> {
    let head = text.get(..10).unwrap_or(text);
    head.parse::<Date>()
        .map_err(|e| format!("date {text:?}: {e}"))
}
