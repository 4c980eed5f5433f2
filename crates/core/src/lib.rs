//! hvguard's shared data model.
//!
//! Everything the collectors produce (`Snapshot`), everything the rules produce (`Finding`,
//! `Report`) and the one door to the disk (`HostRoot`) live here, so that the crates which
//! collect, evaluate and render agree on one vocabulary and never on strings.

pub mod changelog;
pub mod finding;
pub mod hardening;
pub mod kata_model;
pub mod probe;
pub mod report;
pub mod root;
pub mod rule;
pub mod severity;
pub mod snapshot;
pub mod version;

pub use finding::{AdvisoryRef, AdvisoryStatus, Finding, Location};
pub use hardening::{HardeningPlan, HardeningSetting, HardeningSuggestion};
pub use probe::Probe;
pub use report::{Report, ReportHost, Summary, UnknownAdvisory, UnknownCheck, REPORT_SCHEMA};
pub use root::{HostRoot, RootError};
pub use rule::{RuleId, RuleIdError};
pub use severity::{Severity, SeverityParseError};
pub use snapshot::*;
pub use version::{Version, VersionError, VersionScheme};
