//! `stat` of a file under the root: kind, permission bits and owner.

use crate::probe_io::probe_result;
use hvguard_core::{FileKind, FileStat, HostRoot, Probe};
use std::fs::Metadata;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// Stats `host_path`, following symlinks inside the root.
///
/// The final symlink is followed on purpose: what matters for `/dev/kvm` (and for a binary
/// or a config) is who may open it, and `open()` follows the link and checks the target's
/// mode, so the target's stat is the one that answers. A link escaping the root is re-rooted
/// by [`HostRoot`], never followed out.
pub fn file_stat(root: &HostRoot, host_path: impl AsRef<Path>) -> Probe<FileStat> {
    let host_path = host_path.as_ref();
    probe_result(root.metadata(host_path)).map(|meta| stat_from_metadata(host_path, &meta))
}

/// Builds a [`FileStat`] for `host_path` from already fetched metadata.
pub fn stat_from_metadata(host_path: &Path, meta: &Metadata) -> FileStat {
    FileStat {
        path: host_path.to_path_buf(),
        kind: file_kind(meta),
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
    }
}

fn file_kind(meta: &Metadata) -> FileKind {
    let t = meta.file_type();
    if t.is_file() {
        FileKind::Regular
    } else if t.is_dir() {
        FileKind::Directory
    } else if t.is_char_device() {
        FileKind::CharDevice
    } else if t.is_block_device() {
        FileKind::BlockDevice
    } else if t.is_symlink() {
        FileKind::Symlink
    } else {
        FileKind::Other
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{symlink, PermissionsExt};

    #[test]
    fn stats_follow_links_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("dev")).unwrap();
        fs::write(dir.path().join("dev/real"), "").unwrap();
        fs::set_permissions(
            dir.path().join("dev/real"),
            fs::Permissions::from_mode(0o4666),
        )
        .unwrap();
        symlink("/dev/real", dir.path().join("dev/kvm")).unwrap();
        let root = HostRoot::new(dir.path()).unwrap();
        let stat = file_stat(&root, "/dev/kvm");
        let stat = stat.value().unwrap();
        assert_eq!(stat.kind, FileKind::Regular);
        assert_eq!(stat.mode, 0o4666);
        assert_eq!(stat.path, Path::new("/dev/kvm"));
        assert_eq!(
            file_stat(&root, "/dev").value().unwrap().kind,
            FileKind::Directory
        );
        assert_eq!(file_stat(&root, "/dev/none"), Probe::absent("/dev/none"));
    }

    #[test]
    fn character_devices_are_recognised() {
        let root = HostRoot::live();
        // /dev/null exists on every Linux host and in every container.
        let stat = file_stat(&root, "/dev/null");
        assert_eq!(stat.value().unwrap().kind, FileKind::CharDevice);
    }
}
