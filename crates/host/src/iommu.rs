//! IOMMU: groups the kernel created, the ACPI tables that describe the hardware, and the
//! kernel parameters that switch it on or off.

use crate::probe_io::probe_from_error;
use hvguard_core::{HostRoot, IommuFacts, Probe};

/// One directory per IOMMU group.
pub const IOMMU_GROUPS: &str = "/sys/kernel/iommu_groups";
/// The folder whose existence says sysfs is there at all.
pub const SYS_KERNEL: &str = "/sys/kernel";
/// Where the firmware's ACPI tables are exposed.
pub const ACPI_TABLES: &str = "/sys/firmware/acpi/tables";

/// Collects the IOMMU facts; `cmdline` is the already parsed kernel command line.
pub fn probe_iommu(root: &HostRoot, cmdline: &Probe<Vec<String>>) -> IommuFacts {
    IommuFacts {
        groups: probe_groups(root),
        dmar_table: probe_table(root, "DMAR"),
        ivrs_table: probe_table(root, "IVRS"),
        cmdline_flags: cmdline.value().map(|c| iommu_flags(c)).unwrap_or_default(),
    }
}

/// Number of IOMMU groups.
///
/// A missing `iommu_groups` directory under an existing `/sys/kernel` counts as zero groups:
/// the kernel creates that directory only when an IOMMU driver is built in (an empty one
/// otherwise, which a captured tree cannot even keep), so in both cases no device is isolated
/// by an IOMMU. Only when `/sys/kernel` itself is missing is the fact unknown.
pub fn probe_groups(root: &HostRoot) -> Probe<u32> {
    match root.read_dir_os(IOMMU_GROUPS) {
        Ok(names) => Probe::found(u32::try_from(names.len()).unwrap_or(u32::MAX)),
        Err(err) if err.is_not_found() => match root.metadata(SYS_KERNEL) {
            Ok(meta) if meta.is_dir() => Probe::found(0),
            Ok(_) => Probe::unsupported(format!("{SYS_KERNEL}: not a directory")),
            Err(err) => probe_from_error(err),
        },
        Err(err) => probe_from_error(err),
    }
}

/// Whether the ACPI table `name` (DMAR, IVRS) is present; unknown when ACPI tables are not
/// exposed at all (no ACPI, or sysfs not captured).
pub fn probe_table(root: &HostRoot, name: &str) -> Probe<bool> {
    let path = format!("{ACPI_TABLES}/{name}");
    match root.symlink_metadata(&path) {
        Ok(_) => Probe::found(true),
        Err(err) if err.is_not_found() => match root.metadata(ACPI_TABLES) {
            Ok(meta) if meta.is_dir() => Probe::found(false),
            Ok(_) => Probe::unsupported(format!("{ACPI_TABLES}: not a directory")),
            Err(err) => probe_from_error::<bool>(err),
        },
        Err(err) => probe_from_error(err),
    }
}

/// The IOMMU-related kernel parameters, in command-line order.
pub fn iommu_flags(cmdline: &[String]) -> Vec<String> {
    cmdline
        .iter()
        .filter(|p| is_iommu_param(p))
        .cloned()
        .collect()
}

fn is_iommu_param(param: &str) -> bool {
    let name = param.split_once('=').map_or(param, |(n, _)| n);
    matches!(name, "intel_iommu" | "amd_iommu" | "iommu") || name.starts_with("iommu.")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::fs;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn picks_iommu_parameters_only() {
        let cmdline = strings(&[
            "ro",
            "intel_iommu=on",
            "iommu=pt",
            "iommu.strict=1",
            "amd_iommu=off",
            "amd_iommu_intr=legacy",
            "iommufd",
            "quiet",
        ]);
        assert_eq!(
            iommu_flags(&cmdline),
            strings(&[
                "intel_iommu=on",
                "iommu=pt",
                "iommu.strict=1",
                "amd_iommu=off"
            ])
        );
    }

    #[test]
    fn groups_and_tables() {
        let dir = tempfile::tempdir().unwrap();
        let root = HostRoot::new(dir.path()).unwrap();
        assert_eq!(probe_groups(&root), Probe::absent("/sys/kernel"));
        assert_eq!(probe_table(&root, "DMAR"), Probe::absent(ACPI_TABLES));
        fs::create_dir_all(dir.path().join("sys/kernel")).unwrap();
        assert_eq!(probe_groups(&root), Probe::found(0));
        for g in ["0", "1", "12"] {
            fs::create_dir_all(dir.path().join("sys/kernel/iommu_groups").join(g)).unwrap();
        }
        assert_eq!(probe_groups(&root), Probe::found(3));
        fs::create_dir_all(dir.path().join("sys/firmware/acpi/tables")).unwrap();
        fs::write(dir.path().join("sys/firmware/acpi/tables/DMAR"), b"DMAR").unwrap();
        assert_eq!(probe_table(&root, "DMAR"), Probe::found(true));
        assert_eq!(probe_table(&root, "IVRS"), Probe::found(false));
    }
}
