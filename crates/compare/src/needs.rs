//! The features a Kata configuration uses, so that only hypervisors offering them are
//! candidates for it.
//!
//! Read from the configuration's own values, never from defaults it does not state:
//! - virtio-fs: `shared_fs` names a virtio-fs flavour (`virtio-fs`, `virtio-fs-nydus`,
//!   `inline-virtio-fs`);
//! - VFIO: `hot_plug_vfio` or `cold_plug_vfio` other than `no-port`, or
//!   `hotplug_vfio_on_root_bus = true` (the test the audit rules use);
//! - GPU: the file is one of Kata's NVIDIA GPU configurations (`*nvidia-gpu*`), which is how
//!   Kata ships GPU support;
//! - SEV-SNP: `sev_snp_guest = true`, or `confidential_guest = true` in an `*snp*` file;
//! - TDX: `confidential_guest = true` in a `*tdx*` file.
//!
//! CPU and memory hotplug have no setting that says a workload needs them, so they are never
//! inferred.

use hvguard_core::{ConfigValue, KataConfig};

use crate::facts::Feature;
use crate::host::setting;

/// The features `config` (whose hypervisor section is `section`) uses, sorted.
pub fn needs(config: &KataConfig, section: &str) -> Vec<Feature> {
    let text = |name: &str| {
        setting(config, section, name).and_then(|v| v.value.as_str().map(str::to_ascii_lowercase))
    };
    let flag = |name: &str| {
        setting(config, section, name).and_then(|v| match v.value {
            ConfigValue::Bool(b) => Some(b),
            _ => None,
        }) == Some(true)
    };
    let file = config
        .main
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let mut out = Vec::new();
    if text("shared_fs").is_some_and(|fs| fs.contains("virtio-fs")) {
        out.push(Feature::VirtioFs);
    }
    let vfio_port = |name: &str| text(name).is_some_and(|v| !v.is_empty() && v != "no-port");
    if vfio_port("hot_plug_vfio") || vfio_port("cold_plug_vfio") || flag("hotplug_vfio_on_root_bus")
    {
        out.push(Feature::Vfio);
    }
    if file.contains("nvidia-gpu") {
        out.push(Feature::Gpu);
    }
    let confidential = flag("confidential_guest");
    if flag("sev_snp_guest") || (confidential && file.contains("snp")) {
        out.push(Feature::SevSnp);
    }
    if confidential && file.contains("tdx") {
        out.push(Feature::Tdx);
    }
    out.sort();
    out
}
