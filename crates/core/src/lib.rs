//! hvguard's shared data model.
//!
//! Everything the collectors produce (`Snapshot`), everything the rules produce (`Finding`,
//! `Report`) and the one door to the disk (`HostRoot`) live here, so that the crates which
//! collect, evaluate and render agree on one vocabulary and never on strings.

pub mod changelog;
pub mod containerd_model;
pub mod drift;
pub mod escape;
pub mod finding;
pub mod hardening;
pub mod integrity;
pub mod kata_model;
pub mod operator_file;
pub mod os_name;
pub mod policy_file;
pub mod probe;
pub mod processes;
pub mod report;
pub mod root;
pub mod rule;
pub mod severity;
pub mod snapshot;
pub mod tally;
pub mod version;

pub use containerd_model::{
    describe_readings, readings_in_play, ContainerdBinary, ContainerdSemantics,
};
pub use drift::{
    Diff, DiffSide, DriftReference, DriftSummary, FactChange, FactDrift, FactKind, FindingDrift,
    SeverityChange, DIFF_SCHEMA,
};
pub use finding::{AdvisoryRef, AdvisoryStatus, Finding, Location};
pub use hardening::{HardeningPlan, HardeningSetting, HardeningSuggestion};
pub use integrity::{
    BinaryDigest, CachedDigest, DigestAlgorithm, FileIdentity, IntegrityBaseline, IntegrityFacts,
    ModifiedFile, PackageIntegrity, UnreadableFile,
};
pub use probe::Probe;
pub use processes::{processes_not_collected, VmmProcess};
pub use report::{Report, ReportHost, Summary, UnknownAdvisory, UnknownCheck, REPORT_SCHEMA};
pub use root::{EntryKind, HostRoot, Resolution, RootDir, RootError};
pub use rule::{RuleId, RuleIdError};
pub use severity::{Severity, SeverityParseError};
pub use snapshot::*;
pub use tally::{ReportTally, STALE_PROCESS_RULE};
pub use version::{Version, VersionError, VersionScheme};
