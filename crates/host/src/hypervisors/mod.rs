//! Hypervisor binaries: discovery and versions.
