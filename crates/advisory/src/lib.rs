//! hvguard's advisory data: the model ([`Advisory`] and its ranges), the version orderings
//! a match needs (upstream, dpkg, rpm), and importers for the public feeds (OSV, CVE JSON
//! 5, NVD API 2.0, the Debian security tracker, CISA KEV, EPSS) and for hvguard's own
//! snapshot format, a curated copy of which ships inside the crate.
//!
//! Importers are pure parsers with bounded reads; storing, matching and relevance build on
//! these types elsewhere.

#![forbid(unsafe_code)]

pub mod build;
mod enrich;
mod error;
pub mod fetch;
pub mod import;
pub mod matching;
pub mod merge;
pub mod model;
pub mod policy;
pub mod relevance;
pub mod store;
pub mod subject;
pub mod version;

use std::path::Path;

pub use enrich::apply_facts;
pub use error::ImportError;
pub use import::{detect_format, detect_format_bytes, import_path, FeedFormat, Imported};
pub use model::{
    Advisory, AdvisoryKind, Affected, AffectedProduct, Assessment, ChangelogSource, Cvss,
    CvssScore, DistroAdvisory, DistroFix, DistroStatus, EpssScore, Event, ExactVersion, FixFact,
    FixKind, KevEntry, Platform, Product, Provenance, Range, Ranges,
};
pub use version::{Version, VersionError, VersionScheme};

/// The curated snapshot shipped with hvguard (151 hypervisor advisories), so that the first
/// offline scan already matches advisories.
const SHIPPED_SNAPSHOT: &str = include_str!("../data/hypervisor-advisories.json");

/// Parses the shipped curated snapshot.
pub fn shipped_snapshot() -> Result<Vec<Advisory>, ImportError> {
    import::parse_snapshot(
        Path::new("<shipped>/hypervisor-advisories.json"),
        SHIPPED_SNAPSHOT.as_bytes(),
    )
}
