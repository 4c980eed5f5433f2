//! KVM: the `/dev/kvm` device, its API version on the live host, and KVM module parameters.

use crate::probe_io::{probe_from_error, read_small};
use crate::{kvm_ioctl, stat::file_stat};
use hvguard_core::{HostRoot, KvmFacts, Probe};
use std::collections::BTreeMap;

/// The KVM device node.
pub const DEV_KVM: &str = "/dev/kvm";

/// Where loaded (and built-in) modules publish their parameters.
pub const SYS_MODULE: &str = "/sys/module";

/// The parameters the rules look at; the rest of KVM's dozens are irrelevant to isolation.
pub const KVM_PARAMETERS: [&str; 6] =
    ["nested", "sev", "sev_es", "sev_snp", "tdx", "nx_huge_pages"];

/// Collects every KVM fact under `root`.
pub fn probe_kvm(root: &HostRoot) -> KvmFacts {
    let device = file_stat(root, DEV_KVM);
    let api_version = kvm_ioctl::api_version(root, &device);
    KvmFacts {
        device,
        api_version,
        modules: probe_modules(root),
    }
}

/// Parameters of every `kvm*` module (`kvm`, `kvm_intel`, `kvm_amd`, `kvm_pvm`, ...).
///
/// An empty map means no KVM module is loaded. A wanted parameter that exists but cannot be
/// read makes the whole probe unknown: silently dropping it could turn `nested=Y` into a pass.
pub fn probe_modules(root: &HostRoot) -> Probe<BTreeMap<String, BTreeMap<String, String>>> {
    let names = match root.read_dir_names(SYS_MODULE) {
        Ok(names) => names,
        Err(err) => return probe_from_error(err),
    };
    let mut modules = BTreeMap::new();
    for module in names.into_iter().filter(|n| is_kvm_module(n)) {
        let dir = format!("{SYS_MODULE}/{module}/parameters");
        // Listing the folder once is cheaper than trying each wanted name: most are absent.
        let present = match root.read_dir_names(&dir) {
            Ok(present) => present,
            Err(err) if err.is_not_found() => Vec::new(),
            Err(err) => return probe_from_error(err),
        };
        let mut params = BTreeMap::new();
        for param in KVM_PARAMETERS {
            if present.binary_search_by(|p| p.as_str().cmp(param)).is_err() {
                continue;
            }
            match read_small(root, format!("{dir}/{param}")) {
                Probe::Found { value } => {
                    params.insert(param.to_string(), value);
                }
                Probe::Absent { .. } => {}
                Probe::Denied { path } => return Probe::Denied { path },
                Probe::Unsupported { reason } => return Probe::Unsupported { reason },
            }
        }
        modules.insert(module, params);
    }
    Probe::found(modules)
}

fn is_kvm_module(name: &str) -> bool {
    name == "kvm" || name.starts_with("kvm_")
}

/// True for the spellings sysfs uses for an enabled boolean parameter (`Y`, `1`).
pub fn param_enabled(value: &str) -> bool {
    matches!(value.trim(), "Y" | "y" | "1")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn reads_only_kvm_modules_and_wanted_parameters() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sys/module/kvm_intel/parameters");
        fs::create_dir_all(&p).unwrap();
        fs::write(p.join("nested"), "Y\n").unwrap();
        fs::write(p.join("ept"), "Y\n").unwrap();
        fs::create_dir_all(dir.path().join("sys/module/kvm/parameters")).unwrap();
        fs::create_dir_all(dir.path().join("sys/module/kvmgt")).unwrap();
        fs::create_dir_all(dir.path().join("sys/module/ext4/parameters")).unwrap();
        let root = HostRoot::new(dir.path()).unwrap();
        let modules = probe_modules(&root);
        let modules = modules.value().unwrap();
        assert_eq!(modules.keys().collect::<Vec<_>>(), ["kvm", "kvm_intel"]);
        assert_eq!(modules["kvm_intel"].len(), 1);
        assert_eq!(modules["kvm_intel"]["nested"], "Y");
        assert!(modules["kvm"].is_empty());
    }

    #[test]
    fn missing_sys_module_is_absent_and_no_module_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let root = HostRoot::new(dir.path()).unwrap();
        assert_eq!(probe_modules(&root), Probe::absent("/sys/module"));
        fs::create_dir_all(dir.path().join("sys/module/ext4")).unwrap();
        assert_eq!(probe_modules(&root), Probe::found(BTreeMap::new()));
    }

    #[test]
    fn an_unreadable_parameter_makes_the_map_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sys/module/kvm_amd/parameters/sev");
        fs::create_dir_all(&p).unwrap();
        let root = HostRoot::new(dir.path()).unwrap();
        let reason = probe_modules(&root).unknown_reason().unwrap();
        assert!(
            reason.contains("/sys/module/kvm_amd/parameters/sev"),
            "{reason}"
        );
    }

    #[test]
    fn boolean_spellings() {
        assert!(param_enabled("Y"));
        assert!(param_enabled("1\n"));
        assert!(!param_enabled("N"));
        assert!(!param_enabled("0"));
        assert!(!param_enabled(""));
    }
}
