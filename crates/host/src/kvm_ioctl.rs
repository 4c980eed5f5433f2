//! `KVM_GET_API_VERSION` on the live `/dev/kvm`: the one place in hvguard that needs `unsafe`.
//!
//! Why unsafe: asking the kernel whether KVM really answers takes an `ioctl(2)`, and the
//! standard library has no safe wrapper for ioctls, so the call goes through `libc::ioctl`.
//! Why sound: the file descriptor comes from a `File` that stays open (borrowed) for the whole
//! call, and `KVM_GET_API_VERSION` takes no argument: the kernel reads and writes no user
//! memory, it only returns an integer. A non-KVM file answers with an error (`ENOTTY`), which is
//! reported, not trusted.
#![allow(unsafe_code)]

use crate::kvm::DEV_KVM;
use hvguard_core::{FileKind, FileStat, HostRoot, Probe};
use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;

/// `_IO(KVMIO, 0x00)` with `KVMIO = 0xAE` (linux/kvm.h).
const KVM_GET_API_VERSION: u64 = 0xAE00;

/// The KVM API version of the live host's `/dev/kvm` (12 on every Linux since 2.6.22).
///
/// Never touches a device under `--root`: that file belongs to another machine (or a fixture),
/// so only its mode and owner are facts there. `device` is the stat already taken, so that a
/// non-device (a FIFO could block an open) is never opened.
pub fn api_version(root: &HostRoot, device: &Probe<FileStat>) -> Probe<i32> {
    if !root.is_live() {
        return Probe::unsupported("not checked: --root is not the live host");
    }
    match device {
        Probe::Found { value } if value.kind != FileKind::CharDevice => {
            return Probe::unsupported(format!("{DEV_KVM}: not a character device"));
        }
        Probe::Found { .. } => {}
        Probe::Absent { path } => return Probe::absent(path.clone()),
        Probe::Denied { path } => return Probe::denied(path.clone()),
        Probe::Unsupported { reason } => return Probe::unsupported(reason.clone()),
    }
    let file = match OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(DEV_KVM)
    {
        Ok(file) => file,
        Err(err) => return from_errno(&err, "open"),
    };
    // SAFETY: `file` outlives the call, so the descriptor is valid; KVM_GET_API_VERSION has
    // no argument, so no memory is shared with the kernel.
    let ret = unsafe { libc::ioctl(file.as_raw_fd(), KVM_GET_API_VERSION as _) };
    if ret < 0 {
        return from_errno(&io::Error::last_os_error(), "KVM_GET_API_VERSION");
    }
    Probe::found(ret)
}

fn from_errno(err: &io::Error, what: &str) -> Probe<i32> {
    match err.raw_os_error() {
        Some(libc::ENOENT) => Probe::absent(DEV_KVM),
        Some(libc::EACCES) | Some(libc::EPERM) => Probe::denied(DEV_KVM),
        _ => Probe::unsupported(format!("{DEV_KVM}: {what} failed: {err}")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::stat::file_stat;

    #[test]
    fn never_opens_a_device_under_another_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("dev")).unwrap();
        std::fs::write(dir.path().join("dev/kvm"), "").unwrap();
        let root = HostRoot::new(dir.path()).unwrap();
        let device = file_stat(&root, DEV_KVM);
        assert_eq!(
            api_version(&root, &device),
            Probe::unsupported("not checked: --root is not the live host")
        );
    }

    #[test]
    fn errno_mapping() {
        let e = |n| io::Error::from_raw_os_error(n);
        assert_eq!(from_errno(&e(libc::ENOENT), "open"), Probe::absent(DEV_KVM));
        assert_eq!(from_errno(&e(libc::EACCES), "open"), Probe::denied(DEV_KVM));
        assert_eq!(from_errno(&e(libc::EPERM), "open"), Probe::denied(DEV_KVM));
        let reason = from_errno(&e(libc::ENOTTY), "KVM_GET_API_VERSION")
            .unknown_reason()
            .unwrap();
        assert!(
            reason.starts_with("/dev/kvm: KVM_GET_API_VERSION failed:"),
            "{reason}"
        );
    }

    #[test]
    fn live_host_answers_or_says_why() {
        let root = HostRoot::live();
        let device = file_stat(&root, DEV_KVM);
        let got = api_version(&root, &device);
        println!("live /dev/kvm: {device:?}; KVM_GET_API_VERSION: {got:?}");
        match got {
            Probe::Found { value } => assert_eq!(value, 12, "KVM's API version is 12 since 2.6.22"),
            other => assert!(other
                .unknown_reason()
                .is_some_and(|r| r.contains("/dev/kvm"))),
        }
    }
}
