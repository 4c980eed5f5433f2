//! Host probes. Each probe reads through a [`hvguard_core::HostRoot`] and returns
//! [`hvguard_core::Probe`] values: an unreadable fact is unknown, never a pass.
//! Nothing found under the root is ever executed.

pub mod binfacts;
pub mod cache_folder;
pub mod collect;
pub mod containerd;
pub mod cpu;
pub mod facts;
pub mod firmware;
pub mod hypervisors;
pub mod identity;
pub mod integrity;
pub mod iommu;
pub mod kernel;
pub mod kvm;
mod kvm_ioctl;
pub mod packages;
pub mod probe_io;
pub mod stat;

pub use collect::{collect, collect_inventory_only, CollectOptions};
pub use facts::host_facts;
