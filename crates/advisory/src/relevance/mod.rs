//! Relevance: can the guest of a configured Kata sandbox reach the component an advisory is
//! about? A reachability model built from the Kata configurations in the Snapshot decides,
//! and says why; with no configuration to read, the answer is unknown and nothing is
//! lowered.

pub mod components;
pub mod surface;

use std::path::PathBuf;

use hvguard_core::{HypervisorKind, Snapshot};
use serde::Serialize;

use crate::{AdvisoryKind, Product};
use components::Judgement;
pub use components::{judge, KNOWN_COMPONENTS};
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

    /// Judges `component` of `product` for a binary used by the configurations `used_by`
    /// (all configurations of the product's sections when empty or when none of them
    /// applies). Reachable from any configuration wins: one exposed guest is enough.
    pub fn assess(
        &self,
        product: &Product,
        used_by: &[PathBuf],
        component: Option<&str>,
        kind: Option<AdvisoryKind>,
    ) -> Relevance {
        let kinds = hypervisors_for(product);
        let mut relevant: Vec<&Surface> = self
            .surfaces
            .iter()
            .filter(|s| kinds.is_none_or(|k| k.contains(&s.kind)))
            .collect();
        if relevant.iter().any(|s| used_by.contains(&s.config)) {
            relevant.retain(|s| used_by.contains(&s.config));
        }
        let unknown = |reason: String| Relevance {
            reach: Reach::Unknown,
            reason,
            vm_escape_path: false,
        };
        let Some(component) = component.filter(|c| !c.is_empty()) else {
            return unknown("the advisory names no component".into());
        };
        if component == "agent" && *product == Product::Qemu {
            // qemu-ga is a separate program that runs inside guests; no configuration is
            // needed to know the host's qemu-system binary does not contain it.
            return Relevance {
                reach: Reach::NotReachable,
                reason: "the QEMU guest agent (qemu-ga) is a separate in-guest program, not part of the host's QEMU binary; Kata's own agent talks over vsock".into(),
                vm_escape_path: false,
            };
        }
        if relevant.is_empty() {
            let names = kinds.map_or("any hypervisor".to_owned(), |k| {
                k.iter().map(|k| k.as_str()).collect::<Vec<_>>().join("|")
            });
            return unknown(format!(
                "no Kata configuration with a hypervisor section for {names} was found"
            ));
        }
        let mut not_reachable = Vec::new();
        for s in &relevant {
            match judge(product, component, s) {
                Judgement::Reachable(reason) => {
                    return Relevance {
                        reach: Reach::Reachable,
                        reason,
                        vm_escape_path: kind == Some(AdvisoryKind::VmEscape),
                    }
                }
                Judgement::NotReachable(reason) => not_reachable.push(reason),
                Judgement::Unclassified => {
                    return unknown(format!(
                        "component `{component}` is not classified by the reachability model"
                    ))
                }
            }
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
