//! An offence (one rule firing on one key) and the fix that clears it.

use super::view::{evidence, evidence_missing, ConfigView, Found};
use hvguard_core::{ConfigValue, Location, Severity};

/// How an offence is cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FixKind {
    /// Safe to set in a hardening drop-in.
    Apply,
    /// Changes what workloads can do: offered as a commented suggestion only.
    Suggest,
}

/// The setting that clears an offence.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fix {
    pub kind: FixKind,
    /// Dotted key in this runtime's spelling.
    pub key: String,
    pub value: ConfigValue,
    pub reason: String,
}

impl Fix {
    pub fn apply(key: &str, value: ConfigValue, reason: impl Into<String>) -> Fix {
        Fix {
            kind: FixKind::Apply,
            key: key.to_string(),
            value,
            reason: reason.into(),
        }
    }

    pub fn suggest(key: &str, value: ConfigValue, reason: impl Into<String>) -> Fix {
        Fix {
            kind: FixKind::Suggest,
            key: key.to_string(),
            value,
            reason: reason.into(),
        }
    }
}

/// One rule firing on one (file, section, key).
#[derive(Debug, Clone)]
pub(crate) struct Offence {
    pub severity: Severity,
    pub message: String,
    pub location: Location,
    pub evidence: String,
    pub fix: Option<Fix>,
}

/// Builds offences for keys of one section of one configuration.
#[derive(Debug, Clone)]
pub(crate) struct SectionKeys<'v, 'a> {
    pub view: &'v ConfigView<'a>,
    /// `hypervisor.qemu`, `runtime`, `agent.kata`.
    pub section: String,
}

impl<'v, 'a> SectionKeys<'v, 'a> {
    pub fn new(view: &'v ConfigView<'a>, section: impl Into<String>) -> Self {
        SectionKeys {
            view,
            section: section.into(),
        }
    }

    pub fn get(&self, name: &str) -> Option<Found<'a>> {
        self.view.get(&self.section, name)
    }

    /// The key this runtime reads for `name`.
    pub fn key(&self, name: &str) -> String {
        self.view.spelling(&self.section, name)
    }

    /// An offence on a value that is set.
    pub fn found(
        &self,
        name: &str,
        found: &Found<'_>,
        severity: Severity,
        message: String,
        fix: impl FnOnce(&str) -> Option<Fix>,
    ) -> Offence {
        let key = self.view.written_key(&self.section, name, found);
        Offence {
            severity,
            message,
            location: self.view.location(&key, found),
            evidence: evidence(&key, &found.value.value),
            fix: if self.view.is_alias_key(found.key) {
                fix(found.key)
            } else {
                fix(&self.key(name))
            },
        }
    }

    /// An offence on a key that is not set.
    pub fn missing(
        &self,
        name: &str,
        default: &str,
        severity: Severity,
        message: String,
        fix: impl FnOnce(&str) -> Option<Fix>,
    ) -> Offence {
        let key = self.key(name);
        Offence {
            severity,
            message,
            location: self.view.missing_location(&key),
            evidence: evidence_missing(&key, default),
            fix: fix(&key),
        }
    }
}

/// Every `[hypervisor.<name>]` section with its name.
pub(crate) fn hypervisors<'v, 'a>(view: &'v ConfigView<'a>) -> Vec<(&'a str, SectionKeys<'v, 'a>)> {
    view.hypervisor_sections()
        .into_iter()
        .map(|name| (name, SectionKeys::new(view, format!("hypervisor.{name}"))))
        .collect()
}

/// The peer-pods hypervisor runs the VM elsewhere: rules about a local VMM do not apply.
pub(crate) fn is_remote(name: &str) -> bool {
    name == "remote"
}

/// Cloud Hypervisor's section name differs between releases.
pub(crate) fn is_clh(name: &str) -> bool {
    hvguard_core::hypervisor_of_section(name) == Some(hvguard_core::HypervisorKind::CloudHypervisor)
}
