//! `enable_annotations` modelled the way Kata applies it.
//!
//! Each entry is an unanchored regular expression matched against the annotation name after
//! `io.katacontainers.config.hypervisor.` (Go `checkAnnotationNameIsValid` with
//! `regexp.MatchString`; runtime-rs `SecurityInfo::is_annotation_enabled` with a `RegexSet`).
//! So the entry `path` also opens `jailer_path`, `ctlpath` and `virtio_fs_daemon`'s neighbours.
//! The runtimes differ on a malformed entry: Go skips that entry, runtime-rs fails to build the
//! set and then enables no annotation at all.

use hvguard_core::KataRuntime;
use regex::{Regex, RegexBuilder};

/// Annotations that make Kata execute a host binary the pod author picks.
pub(crate) const BINARY_KEYS: [&str; 5] = [
    "path",
    "jailer_path",
    "ctlpath",
    "virtio_fs_daemon",
    "vhost_user_store_path",
];

/// Annotations that choose what the guest boots or reads from the host.
pub(crate) const GUEST_KEYS: [&str; 9] = [
    "kernel",
    "image",
    "initrd",
    "firmware",
    "kernel_params",
    "virtio_fs_extra_args",
    "guest_hook_path",
    "entropy_source",
    "file_mem_backend",
];

/// Other hypervisor annotation names Kata defines; used to recognise a catch-all entry.
const OTHER_KEYS: [&str; 33] = [
    "kernel_hash",
    "image_hash",
    "initrd_hash",
    "hypervisor_hash",
    "hypervisorctl_hash",
    "jailer_hash",
    "firmware_hash",
    "machine_type",
    "machine_accelerators",
    "cpu_features",
    "disable_vhost_net",
    "enable_vhost_user_store",
    "disable_image_nvdimm",
    "hotplug_vfio_on_root_bus",
    "pcie_root_port",
    "default_vcpus",
    "default_max_vcpus",
    "default_memory",
    "memory_slots",
    "memory_offset",
    "enable_virtio_mem",
    "enable_mem_prealloc",
    "enable_hugepages",
    "enable_iommu",
    "enable_iommu_platform",
    "msize_9p",
    "shared_fs",
    "virtio_fs_cache",
    "virtio_fs_cache_size",
    "block_device_driver",
    "disable_block_device_use",
    "enable_iothreads",
    "kernel_verity_params",
];

/// Upper bound on a compiled entry; config files are operator-written, but never trusted.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// What one entry opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EntryVerdict {
    /// Matches every annotation name.
    CatchAll,
    /// The dangerous names it matches (possibly none).
    Opens {
        binaries: Vec<&'static str>,
        guest: Vec<&'static str>,
    },
    /// Not a valid regular expression.
    Invalid(String),
}

/// The list of one section, compiled.
#[derive(Debug)]
pub(crate) struct AnnotationList {
    runtime: KataRuntime,
    entries: Vec<(String, Result<Regex, String>)>,
}

impl AnnotationList {
    pub fn new(entries: &[&str], runtime: KataRuntime) -> Self {
        let entries = entries
            .iter()
            .map(|e| {
                let compiled = RegexBuilder::new(e)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|err| first_line(&err.to_string()));
                (e.to_string(), compiled)
            })
            .collect();
        AnnotationList { runtime, entries }
    }

    /// True when runtime-rs would enable nothing because an entry does not compile.
    pub fn disabled_by_invalid_entry(&self) -> bool {
        self.runtime == KataRuntime::Rs && self.entries.iter().any(|(_, r)| r.is_err())
    }

    /// Whether Kata would accept `io.katacontainers.config.hypervisor.<name>`.
    pub fn opens(&self, name: &str) -> bool {
        if self.disabled_by_invalid_entry() {
            return false;
        }
        self.entries
            .iter()
            .any(|(_, r)| r.as_ref().is_ok_and(|re| re.is_match(name)))
    }

    /// Each entry with its verdict, in list order.
    pub fn verdicts(&self) -> Vec<(&str, EntryVerdict)> {
        self.entries
            .iter()
            .map(|(entry, compiled)| (entry.as_str(), verdict(compiled)))
            .collect()
    }
}

fn verdict(compiled: &Result<Regex, String>) -> EntryVerdict {
    let re = match compiled {
        Ok(re) => re,
        Err(e) => return EntryVerdict::Invalid(e.clone()),
    };
    let every_known = BINARY_KEYS
        .iter()
        .chain(GUEST_KEYS.iter())
        .chain(OTHER_KEYS.iter())
        .all(|k| re.is_match(k));
    // A name Kata does not define yet: an entry that matches it and every known one is a
    // catch-all (`.*`, `""`, `.`, `_*`, ...), whatever its spelling.
    if every_known && re.is_match("hvguard_future_annotation") {
        return EntryVerdict::CatchAll;
    }
    EntryVerdict::Opens {
        binaries: BINARY_KEYS
            .iter()
            .copied()
            .filter(|k| re.is_match(k))
            .collect(),
        guest: GUEST_KEYS
            .iter()
            .copied()
            .filter(|k| re.is_match(k))
            .collect(),
    }
}

fn first_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or(s)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(entry: &str) -> EntryVerdict {
        AnnotationList::new(&[entry], KataRuntime::Go).verdicts()[0]
            .1
            .clone()
    }

    #[test]
    fn path_is_unanchored() {
        let EntryVerdict::Opens { binaries, guest } = v("path") else {
            panic!("not opens")
        };
        assert_eq!(
            binaries,
            vec!["path", "jailer_path", "ctlpath", "vhost_user_store_path"]
        );
        assert_eq!(guest, vec!["guest_hook_path"]);
    }

    #[test]
    fn catch_alls() {
        for e in [".*", "", ".", "_*"] {
            assert_eq!(v(e), EntryVerdict::CatchAll, "{e:?}");
        }
        assert_ne!(v("^path$"), EntryVerdict::CatchAll);
    }

    #[test]
    fn anchored_and_benign_entries() {
        assert_eq!(
            v("^path$"),
            EntryVerdict::Opens {
                binaries: vec!["path"],
                guest: vec![]
            }
        );
        assert_eq!(
            v("default_vcpus"),
            EntryVerdict::Opens {
                binaries: vec![],
                guest: vec![]
            }
        );
    }

    #[test]
    fn invalid_entries_differ_by_runtime() {
        assert!(matches!(v("kernel_params("), EntryVerdict::Invalid(_)));
        let go = AnnotationList::new(&["kernel_params(", "path"], KataRuntime::Go);
        assert!(go.opens("jailer_path"));
        let rs = AnnotationList::new(&["kernel_params(", "path"], KataRuntime::Rs);
        assert!(rs.disabled_by_invalid_entry());
        assert!(!rs.opens("jailer_path"));
    }
}
