//! Relevance: can the guest of a configured Kata sandbox reach the component an advisory is
//! about? A reachability model built from the Kata configurations in the Snapshot decides,
//! and says why; with no configuration to read, the answer is unknown and nothing is
//! lowered.

pub mod components;
pub mod surface;
pub mod taxonomy;

use std::path::PathBuf;

use hvguard_core::{HypervisorKind, Snapshot};
use serde::Serialize;

use crate::{Advisory, AdvisoryKind, Product};
use components::Judgement;
pub use components::{judge, known_components};
pub use surface::{surfaces_of, Surface};

/// Whether a component can be reached from a configured guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reach {
    /// A configuration exposes the component to its guest.
    Reachable,
    /// No configuration exposes it: the advisory stays listed, one severity level lower.
    NotReachable,
    /// Nothing to decide with (no configuration, an unclassified component).
    Unknown,
}

/// The relevance of one advisory to one binary, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Relevance {
    /// The verdict.
    pub reach: Reach,
    /// Why, naming the configuration and setting that decided.
    pub reason: String,
    /// Reachable, and the advisory's kind is a VM escape.
    pub vm_escape_path: bool,
}

impl Relevance {
    /// The text of a finding's `advisory.relevance`.
    pub fn describe(&self) -> String {
        match (self.reach, self.vm_escape_path) {
            (Reach::Reachable, true) => format!("reachable, VM-escape path: {}", self.reason),
            (Reach::Reachable, false) => format!("reachable: {}", self.reason),
            (Reach::NotReachable, _) => format!("not-reachable: {}", self.reason),
            (Reach::Unknown, _) => format!("unknown (not lowered): {}", self.reason),
        }
    }
}

/// The guest surfaces of every Kata configuration in a Snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReachModel {
    /// One entry per (configuration, hypervisor section).
    pub surfaces: Vec<Surface>,
}

/// The hypervisors whose guests run on a binary of `product`; `None` for every one.
fn hypervisors_for(product: &Product) -> Option<&'static [HypervisorKind]> {
    Some(match product {
        Product::Qemu => &[HypervisorKind::Qemu],
        Product::Firecracker => &[HypervisorKind::Firecracker],
        Product::CloudHypervisor => &[HypervisorKind::CloudHypervisor],
        Product::StratoVirt => &[HypervisorKind::StratoVirt],
        // A standalone virtiofsd serves QEMU and Cloud Hypervisor guests (Dragonball's is
        // built in); Kata advisories concern every sandbox whatever its hypervisor.
        Product::Virtiofsd => &[HypervisorKind::Qemu, HypervisorKind::CloudHypervisor],
        Product::Kata => return None,
        Product::RustVmm(_) | Product::Other(_) => &[],
    })
}

impl ReachModel {
    /// Reads the surfaces of `snapshot.kata`.
    pub fn from_snapshot(snapshot: &Snapshot) -> Self {
        ReachModel {
            surfaces: snapshot.kata.iter().flat_map(surfaces_of).collect(),
        }
    }

    /// Judges `advisory` for a binary of `product` used by the configurations `used_by`
    /// (all configurations of the product's hypervisors when empty or when none of them
    /// applies). Reachable from any configuration through any of the advisory's components
    /// wins: one exposed guest is enough. Not reachable needs every component unreachable
    /// from every configuration.
    pub fn assess(&self, product: &Product, used_by: &[PathBuf], advisory: &Advisory) -> Relevance {
        let components: Vec<&str> = advisory
            .component_list()
            .filter(|c| !c.is_empty())
            .collect();
        let unknown = |reason: String| Relevance {
            reach: Reach::Unknown,
            reason,
            vm_escape_path: false,
        };
        if components.is_empty() {
            return unknown("the advisory names no component".into());
        }
        if components.iter().all(|c| NEVER_FROM_A_GUEST.contains(c)) {
            // No configuration is needed to know that no guest drives host-side tools.
            return Relevance {
                reach: Reach::NotReachable,
                reason: format!(
                    "{} is host-side code or an in-guest program no Kata sandbox uses; no guest reaches it",
                    components.join(", ")
                ),
                vm_escape_path: false,
            };
        }
        let kinds = hypervisors_for(product);
        let mut relevant: Vec<&Surface> = self
            .surfaces
            .iter()
            .filter(|s| kinds.is_none_or(|k| k.contains(&s.kind)))
            .collect();
        if relevant.iter().any(|s| used_by.contains(&s.config)) {
            relevant.retain(|s| used_by.contains(&s.config));
        }
        if relevant.is_empty() {
            let scope =
                kinds.or((!advisory.hypervisors.is_empty()).then_some(&advisory.hypervisors[..]));
            let names = scope.map_or("[hypervisor.*]".to_owned(), |k| {
                k.iter()
                    .flat_map(|k| section_names(*k))
                    .map(|s| format!("[hypervisor.{s}]"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            });
            return unknown(format!(
                "no Kata configuration with a {names} section was found"
            ));
        }
        if !advisory.hypervisors.is_empty() {
            // Kata advisories about one hypervisor (CVE-2026-24834: Cloud Hypervisor's pmem).
            let used: Vec<&str> = relevant.iter().map(|s| s.section.as_str()).collect();
            relevant.retain(|s| advisory.hypervisors.contains(&s.kind));
            if relevant.is_empty() {
                let wanted: Vec<&str> = advisory.hypervisors.iter().map(|k| k.as_str()).collect();
                let mut used = used;
                used.sort();
                used.dedup();
                return Relevance {
                    reach: Reach::NotReachable,
                    reason: format!(
                        "the advisory concerns {} sandboxes; the Kata configurations run {}",
                        wanted.join(", "),
                        used.join(", ")
                    ),
                    vm_escape_path: false,
                };
            }
        }
        let mut not_reachable = Vec::new();
        let mut unknowns = Vec::new();
        for s in &relevant {
            for component in &components {
                match judge(component, s) {
                    Judgement::Reachable(reason) => {
                        return Relevance {
                            reach: Reach::Reachable,
                            reason,
                            vm_escape_path: advisory.kind == Some(AdvisoryKind::VmEscape),
                        }
                    }
                    Judgement::NotReachable(reason) => not_reachable.push(reason),
                    Judgement::Unknown(reason) => unknowns.push(reason),
                }
            }
        }
        if !unknowns.is_empty() {
            unknowns.sort();
            unknowns.dedup();
            return unknown(unknowns.join("; "));
        }
        not_reachable.sort();
        not_reachable.dedup();
        Relevance {
            reach: Reach::NotReachable,
            reason: not_reachable.join("; "),
            vm_escape_path: false,
        }
    }
}

/// Components no Kata guest can drive whatever the configuration: host-side tools, and the
/// QEMU guest agent (an in-guest program Kata does not use).
const NEVER_FROM_A_GUEST: &[&str] = &[
    "block-format",
    "block-iscsi",
    "block-jobs",
    "bridge-helper",
    "guest-agent",
    "nbd",
    "qemu-img",
];

/// The `[hypervisor.<name>]` spellings of a hypervisor kind, for messages.
fn section_names(kind: HypervisorKind) -> &'static [&'static str] {
    match kind {
        HypervisorKind::Qemu => &["qemu"],
        HypervisorKind::Firecracker => &["firecracker"],
        HypervisorKind::CloudHypervisor => &["clh", "cloud-hypervisor"],
        HypervisorKind::Dragonball => &["dragonball"],
        HypervisorKind::StratoVirt => &["stratovirt"],
        _ => &[],
    }
}
