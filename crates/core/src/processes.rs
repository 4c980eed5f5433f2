//! Running hypervisor processes (VMMs and virtiofsd) and what they still hold from disk:
//! collected on the live root only, for `hypervisor.stale-process`.

use crate::{HypervisorKind, Probe};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One running QEMU, Firecracker, Cloud Hypervisor or virtiofsd process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmmProcess {
    pub pid: u32,
    pub kind: HypervisorKind,
    /// The binary it was started from (`/proc/PID/exe`, without the ` (deleted)` suffix).
    pub exe: PathBuf,
    /// The kernel marks the executable `(deleted)`: the file was removed or replaced by a
    /// rename (what dpkg does on upgrade).
    pub exe_deleted: bool,
    /// A file exists at `exe` again but it is another file (device or inode differ).
    pub exe_replaced: bool,
    /// `sandbox-<id>` from `-name`, or the pod from the cgroup path, when found.
    pub sandbox: Option<String>,
    /// The version banner of the binary the process runs (read through `/proc/PID/exe`).
    pub running_version: Option<String>,
    /// The version banner of the file now at `exe`, if any.
    pub disk_version: Option<String>,
    /// Shared libraries it maps that were deleted or replaced on disk.
    #[serde(default)]
    pub stale_libraries: Vec<PathBuf>,
    /// Guest kernel, initrd or image files it holds open that were deleted.
    #[serde(default)]
    pub deleted_guest_files: Vec<PathBuf>,
}

impl VmmProcess {
    /// True when the process runs, maps or holds anything that is no longer on disk as it was.
    pub fn is_stale(&self) -> bool {
        self.exe_deleted
            || self.exe_replaced
            || !self.stale_libraries.is_empty()
            || !self.deleted_guest_files.is_empty()
    }
}

/// The default for snapshots written before processes were collected.
pub fn processes_not_collected() -> Probe<Vec<VmmProcess>> {
    Probe::unsupported("running processes were not collected (older snapshot)")
}
