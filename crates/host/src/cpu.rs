//! `/proc/cpuinfo` (x86 layout): vendor, model name, flags and the number of logical CPUs.

use crate::probe_io::parse_text;
use hvguard_core::{CpuInfo, CpuVendor, HostRoot, Probe};
use std::collections::BTreeSet;

/// Where the kernel publishes the CPU description.
pub const CPUINFO: &str = "/proc/cpuinfo";

/// About 1.6 KiB per logical CPU: 4 MiB leaves room for well over a thousand CPUs while a
/// huge or endless file is refused rather than read into memory.
pub const CPUINFO_LIMIT: u64 = 4 << 20;

/// Why a text is not a usable x86 `/proc/cpuinfo`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CpuInfoError {
    #[error("line {line}: expected `key : value`")]
    MalformedLine { line: usize },
    #[error("no `processor` entry")]
    NoProcessor,
    #[error("no `{0}` line for the first processor")]
    MissingField(&'static str),
}

/// Reads and parses `/proc/cpuinfo` under `root`.
pub fn probe_cpu(root: &HostRoot) -> Probe<CpuInfo> {
    parse_text(root, CPUINFO, CPUINFO_LIMIT, parse_cpuinfo)
}

/// Parses the x86 `/proc/cpuinfo` layout: `key<TAB>: value` lines, one block per logical CPU.
///
/// Vendor, model name and flags come from the first block: the kernel prints the boot CPU's
/// capabilities for every CPU, so later blocks only repeat them.
pub fn parse_cpuinfo(text: &str) -> Result<CpuInfo, CpuInfoError> {
    let mut processors = 0u32;
    let mut vendor_id: Option<&str> = None;
    let mut model_name: Option<&str> = None;
    let mut flags: Option<&str> = None;
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (key, value) = line
            .split_once(':')
            .ok_or(CpuInfoError::MalformedLine { line: index + 1 })?;
        let key = key.trim();
        let value = value.trim();
        match key {
            "processor" => processors += 1,
            _ if processors > 1 => {}
            "vendor_id" => {
                vendor_id.get_or_insert(value);
            }
            "model name" => {
                model_name.get_or_insert(value);
            }
            "flags" => {
                flags.get_or_insert(value);
            }
            _ => {}
        }
    }
    if processors == 0 {
        return Err(CpuInfoError::NoProcessor);
    }
    let vendor_id = vendor_id.ok_or(CpuInfoError::MissingField("vendor_id"))?;
    let flags = flags.ok_or(CpuInfoError::MissingField("flags"))?;
    Ok(CpuInfo {
        vendor: vendor_of(vendor_id),
        vendor_id: vendor_id.to_string(),
        model_name: model_name.filter(|m| !m.is_empty()).map(str::to_string),
        logical_cpus: processors,
        flags: flags
            .split_ascii_whitespace()
            .map(str::to_string)
            .collect::<BTreeSet<_>>(),
    })
}

fn vendor_of(vendor_id: &str) -> CpuVendor {
    match vendor_id {
        "GenuineIntel" => CpuVendor::Intel,
        "AuthenticAMD" => CpuVendor::Amd,
        _ => CpuVendor::Other,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const TWO_CPUS: &str = "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\n\
        model name\t: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz\nflags\t\t: fpu vmx ht\n\
        power management:\n\nprocessor\t: 1\nvendor_id\t: GenuineIntel\nflags\t\t: fpu vmx ht\n\n";

    #[test]
    fn parses_two_processors() {
        let cpu = parse_cpuinfo(TWO_CPUS).unwrap();
        assert_eq!(cpu.vendor, CpuVendor::Intel);
        assert_eq!(cpu.logical_cpus, 2);
        assert_eq!(
            cpu.model_name.as_deref(),
            Some("Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz")
        );
        assert!(cpu.has_flag("vmx"));
        assert!(!cpu.has_flag("svm"));
        assert_eq!(cpu.flags.len(), 3);
    }

    #[test]
    fn vendors() {
        let amd = TWO_CPUS.replace("GenuineIntel", "AuthenticAMD");
        assert_eq!(parse_cpuinfo(&amd).unwrap().vendor, CpuVendor::Amd);
        let other = TWO_CPUS.replace("GenuineIntel", "HygonGenuine");
        let cpu = parse_cpuinfo(&other).unwrap();
        assert_eq!(cpu.vendor, CpuVendor::Other);
        assert_eq!(cpu.vendor_id, "HygonGenuine");
    }

    #[test]
    fn garbage_is_an_error() {
        assert_eq!(parse_cpuinfo(""), Err(CpuInfoError::NoProcessor));
        assert_eq!(parse_cpuinfo("\n\n  \n"), Err(CpuInfoError::NoProcessor));
        assert_eq!(
            parse_cpuinfo("processor : 0\nthis is not cpuinfo\n"),
            Err(CpuInfoError::MalformedLine { line: 2 })
        );
        assert_eq!(
            parse_cpuinfo("vendor_id : GenuineIntel\nflags : vmx\n"),
            Err(CpuInfoError::NoProcessor)
        );
        assert_eq!(
            parse_cpuinfo("processor : 0\nvendor_id : GenuineIntel\n"),
            Err(CpuInfoError::MissingField("flags"))
        );
        assert_eq!(
            parse_cpuinfo("processor : 0\nflags : vmx\n"),
            Err(CpuInfoError::MissingField("vendor_id"))
        );
    }

    #[test]
    fn arm_layout_is_rejected_clearly() {
        let arm =
            "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd\nCPU implementer\t: 0x41\n";
        assert_eq!(
            parse_cpuinfo(arm),
            Err(CpuInfoError::MissingField("vendor_id"))
        );
    }
}
