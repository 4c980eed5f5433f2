//! Running hypervisor processes and what they still hold from disk, for
//! `hypervisor.stale-process`: an update replaces the files, but a VM started before it keeps
//! running the old binary (and old libraries) until its sandbox is restarted.
//!
//! Live root only: `/proc` under `--root` describes nothing that runs. Everything is read
//! through [`HostRoot`], `/proc/PID/exe` included (its target stays readable after the file
//! was deleted, which is how the running version is read). Nothing is executed.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use hvguard_core::{HostRoot, HypervisorKind, Probe, VmmProcess};
use hvguard_host::hypervisors::{kind, scan};

const DELETED: &str = " (deleted)";
/// `/proc/PID/maps` of a large QEMU is a few hundred KiB.
const MAPS_LIMIT: u64 = 16 << 20;

/// Every running VMM or virtiofsd process (live root), sorted by PID.
pub fn collect(root: &HostRoot) -> Probe<Vec<VmmProcess>> {
    if !root.is_live() {
        return Probe::unsupported(
            "not a live root: running processes are only read on the running host",
        );
    }
    let names = match root.read_dir_names("/proc") {
        Ok(n) => n,
        Err(e) => return Probe::unsupported(e.to_string()),
    };
    let mut banners = BannerCache::default();
    let mut out: Vec<VmmProcess> = names
        .iter()
        .filter_map(|n| n.parse::<u32>().ok())
        .filter_map(|pid| describe(root, pid, &mut banners))
        .collect();
    out.sort_by_key(|p| p.pid);
    Probe::found(out)
}

/// Version banners of files on disk, read once per path.
#[derive(Default)]
struct BannerCache(BTreeMap<(PathBuf, HypervisorKind), Option<String>>);

impl BannerCache {
    fn get(&mut self, root: &HostRoot, path: &Path, kind: HypervisorKind) -> Option<String> {
        self.0
            .entry((path.to_path_buf(), kind))
            .or_insert_with(|| banner(root, path, kind))
            .clone()
    }
}

/// The version banner of the file at `path` (through the root; `/proc/PID/exe` works too).
fn banner(root: &HostRoot, path: &Path, kind: HypervisorKind) -> Option<String> {
    let (mut file, meta) = root.open_file(path).ok()?;
    scan::find_in_file(&mut file, meta.len(), &kind::banners_for(kind))
        .ok()
        .flatten()
        .map(|m| m.evidence)
}

fn strip_deleted(link: &str) -> (&str, bool) {
    match link.strip_suffix(DELETED) {
        Some(path) => (path, true),
        None => (link, false),
    }
}

/// The sandbox a VMM serves: Kata names QEMU `sandbox-<id>`; otherwise the pod from the
/// cgroup path (`...-pod<uid>.slice` or `/pod<uid>/`).
pub fn sandbox_of(cmdline: &[String], cgroup: &str) -> Option<String> {
    let mut args = cmdline.iter();
    while let Some(arg) = args.next() {
        if arg == "-name" {
            let value = args.next()?;
            let first = value.split(',').next().unwrap_or(value);
            let name = first.strip_prefix("guest=").unwrap_or(first);
            if !name.is_empty() {
                return Some(name.to_owned());
            }
        }
    }
    cgroup.lines().find_map(|line| {
        let path = line.rsplit(':').next()?;
        path.split('/').find_map(|part| {
            let at = part.rfind("pod")?;
            let uid = part[at + 3..].trim_end_matches(".slice");
            (uid.len() >= 32).then(|| format!("pod {}", uid.replace('_', "-")))
        })
    })
}

/// Shared libraries in `maps` that were deleted, or whose inode differs from the file now at
/// that path (`stat` of the path).
pub fn stale_libraries(maps: &str, current_inode: impl Fn(&Path) -> Option<u64>) -> Vec<PathBuf> {
    let mut out = BTreeSet::new();
    for line in maps.lines() {
        let mut fields = line.splitn(6, ' ');
        let (_range, _perms, _offset, _dev) =
            (fields.next(), fields.next(), fields.next(), fields.next());
        let Some(inode) = fields.next().and_then(|i| i.parse::<u64>().ok()) else {
            continue;
        };
        let Some(path) = fields.next().map(str::trim_start) else {
            continue;
        };
        let (path, deleted) = strip_deleted(path);
        if !path.starts_with('/') || !path.contains(".so") {
            continue;
        }
        let path = PathBuf::from(path);
        if deleted || current_inode(&path).is_some_and(|now| inode != 0 && now != inode) {
            out.insert(path);
        }
    }
    out.into_iter().collect()
}

/// A file name that a guest kernel, initrd or disk image has.
fn is_guest_asset(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let name = name.to_ascii_lowercase();
    name.starts_with("vmlinu")
        || name.starts_with("bzimage")
        || name.contains("kernel")
        || name.contains("initrd")
        || name.contains("initramfs")
        || name.ends_with(".img")
        || name.ends_with(".qcow2")
        || name.ends_with(".raw")
}

fn describe(root: &HostRoot, pid: u32, banners: &mut BannerCache) -> Option<VmmProcess> {
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    // Live root only (see `collect`): /proc's links are read where they are.
    let exe_link = std::fs::read_link(proc_dir.join("exe")).ok()?;
    let link = exe_link.to_string_lossy().into_owned();
    let (exe, exe_deleted) = strip_deleted(&link);
    let exe = PathBuf::from(exe);
    let kind = kind::kind_from_file_name(exe.file_name()?.to_str()?)?;
    let running = root.metadata(proc_dir.join("exe")).ok();
    let on_disk = root.metadata(&exe).ok();
    let exe_replaced = match (&running, &on_disk) {
        (Some(r), Some(d)) => r.dev() != d.dev() || r.ino() != d.ino(),
        _ => false,
    };
    let cmdline: Vec<String> = root
        .read_bytes(proc_dir.join("cmdline"), 1 << 20)
        .map(|b| {
            b.split(|c| *c == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default();
    let cgroup = root
        .read_text(proc_dir.join("cgroup"), 1 << 20)
        .unwrap_or_default();
    let maps = root
        .read_text(proc_dir.join("maps"), MAPS_LIMIT)
        .unwrap_or_default();
    let stale_libraries = stale_libraries(&maps, |p| root.metadata(p).ok().map(|m| m.ino()));
    let mut deleted_guest_files = Vec::new();
    if let Ok(fds) = root.read_dir_names(proc_dir.join("fd")) {
        for fd in fds {
            let Ok(target) = std::fs::read_link(proc_dir.join("fd").join(&fd)) else {
                continue;
            };
            let target = target.to_string_lossy().into_owned();
            let (path, deleted) = strip_deleted(&target);
            let path = PathBuf::from(path);
            if deleted && path.is_absolute() && is_guest_asset(&path) {
                deleted_guest_files.push(path);
            }
        }
    }
    deleted_guest_files.sort();
    deleted_guest_files.dedup();
    let running_version = banner(root, &proc_dir.join("exe"), kind);
    let disk_version = on_disk
        .as_ref()
        .filter(|m| m.is_file())
        .and_then(|_| banners.get(root, &exe, kind));
    Some(VmmProcess {
        pid,
        kind,
        exe,
        exe_deleted,
        exe_replaced,
        sandbox: sandbox_of(&cmdline, &cgroup),
        running_version,
        disk_version,
        stale_libraries,
        deleted_guest_files,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn sandbox_from_name_or_cgroup() {
        assert_eq!(
            sandbox_of(
                &args(&["qemu", "-name", "sandbox-4f2a,debug-threads=on"]),
                ""
            ),
            Some("sandbox-4f2a".into())
        );
        assert_eq!(
            sandbox_of(
                &args(&["qemu", "-name", "guest=sandbox-9,debug-threads=on"]),
                ""
            ),
            Some("sandbox-9".into())
        );
        let cgroup = "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0.slice/cri-containerd-abc.scope\n";
        assert_eq!(
            sandbox_of(&args(&["qemu"]), cgroup),
            Some("pod 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0".into())
        );
        assert_eq!(
            sandbox_of(&args(&["qemu", "-name"]), "0::/user.slice\n"),
            None
        );
    }

    #[test]
    fn deleted_and_replaced_libraries() {
        let maps =
            "7f00-7f01 r-xp 00000000 fe:00 100 /usr/lib/x86_64-linux-gnu/libfoo.so.1 (deleted)\n\
                    7f01-7f02 r-xp 00000000 fe:00 200 /usr/lib/x86_64-linux-gnu/libbar.so.2\n\
                    7f02-7f03 r-xp 00000000 fe:00 300 /usr/lib/x86_64-linux-gnu/libok.so.3\n\
                    7f03-7f04 rw-p 00000000 00:00 0 \n\
                    7f04-7f05 rw-s 00000000 00:01 400 /memfd:guest-ram (deleted)\n";
        let now = |p: &Path| match p.to_str()? {
            "/usr/lib/x86_64-linux-gnu/libbar.so.2" => Some(201),
            "/usr/lib/x86_64-linux-gnu/libok.so.3" => Some(300),
            _ => None,
        };
        assert_eq!(
            stale_libraries(maps, now),
            vec![
                PathBuf::from("/usr/lib/x86_64-linux-gnu/libbar.so.2"),
                PathBuf::from("/usr/lib/x86_64-linux-gnu/libfoo.so.1"),
            ]
        );
        assert!(is_guest_asset(Path::new(
            "/opt/kata/share/kata-containers/vmlinux-6.1.62-153"
        )));
        assert!(is_guest_asset(Path::new("/x/kata-containers-initrd.img")));
        assert!(!is_guest_asset(Path::new("/dev/shm/qemu-ram")));
    }

    #[test]
    fn not_on_a_fixture_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = HostRoot::new(dir.path()).unwrap();
        assert!(collect(&root).value().is_none());
    }
}
