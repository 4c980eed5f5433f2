//! Hostile and broken roots: every probe answers with a clear `Probe`, never a panic, and
//! nothing is read from outside the root.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use hvguard_core::{HostRoot, Probe};
use hvguard_host::facts::host_facts;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

fn root_with(files: &[(&str, &[u8])]) -> (tempfile::TempDir, HostRoot) {
    let dir = tempfile::tempdir().unwrap();
    for (path, content) in files {
        let p = dir.path().join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    }
    let root = HostRoot::new(dir.path()).unwrap();
    (dir, root)
}

fn reason<T: std::fmt::Debug>(p: &Probe<T>) -> String {
    match p {
        Probe::Unsupported { reason } => reason.clone(),
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

#[test]
fn empty_root_is_all_absent() {
    let (_dir, root) = root_with(&[]);
    let f = host_facts(&root);
    assert_eq!(f.cpu, Probe::absent("/proc/cpuinfo"));
    assert_eq!(f.kvm.device, Probe::absent("/dev/kvm"));
    assert_eq!(f.kvm.modules, Probe::absent("/sys/module"));
    assert_eq!(f.iommu.groups, Probe::absent("/sys/kernel"));
    assert_eq!(f.firmware.boot_mode, Probe::absent("/sys"));
    assert_eq!(f.cmdline, Probe::absent("/proc/cmdline"));
    assert_eq!(f.os, Probe::absent("/usr/lib/os-release"));
    assert_eq!(f.kernel_release, Probe::absent("/proc/version"));
    assert!(f.iommu.cmdline_flags.is_empty());
}

#[test]
fn garbage_cpuinfo_names_the_file() {
    let (_dir, root) = root_with(&[("proc/cpuinfo", b"hello world\nnot a cpu\n")]);
    let r = reason(&host_facts(&root).cpu);
    assert!(r.starts_with("/proc/cpuinfo: line 1"), "{r}");
}

#[test]
fn binary_cpuinfo_is_not_text() {
    let (_dir, root) = root_with(&[("proc/cpuinfo", &[0xff, 0xfe, 0x00, 0x80, 0x81])]);
    let r = reason(&host_facts(&root).cpu);
    assert!(r.contains("/proc/cpuinfo") && r.contains("UTF-8"), "{r}");
}

#[test]
fn empty_files_are_clear() {
    let empty: &[u8] = b"";
    let (_dir, root) = root_with(&[
        ("proc/cpuinfo", empty),
        ("proc/swaps", empty),
        ("proc/cmdline", empty),
        ("etc/os-release", empty),
        ("proc/sys/kernel/osrelease", empty),
        ("proc/version", empty),
        ("sys/kernel/security/lsm", empty),
        (
            "sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c",
            empty,
        ),
    ]);
    let f = host_facts(&root);
    assert_eq!(reason(&f.cpu), "/proc/cpuinfo: no `processor` entry");
    assert!(reason(&f.swaps).starts_with("/proc/swaps: missing"));
    assert_eq!(f.cmdline, Probe::found(vec![]));
    // os-release(5): ID defaults to "linux".
    assert_eq!(f.os.value().unwrap().id, "linux");
    assert_eq!(
        reason(&f.kernel_release),
        "/proc/version: does not start with `Linux version `"
    );
    assert_eq!(f.lsm, Probe::found(vec![]));
    let sb = reason(&f.firmware.secure_boot);
    assert!(
        sb.contains("SecureBoot-8be4df61") && sb.contains("0 bytes"),
        "{sb}"
    );
}

#[test]
fn a_directory_where_a_file_should_be() {
    let (dir, root) = root_with(&[]);
    for d in [
        "proc/cpuinfo",
        "proc/cmdline",
        "sys/devices/system/cpu/vulnerabilities/mds",
    ] {
        fs::create_dir_all(dir.path().join(d)).unwrap();
    }
    let f = host_facts(&root);
    assert_eq!(
        reason(&f.cpu),
        "/proc/cpuinfo: is a directory, expected a file"
    );
    assert!(reason(&f.cmdline).starts_with("/proc/cmdline:"));
    assert!(reason(&f.cpu_vulnerabilities).contains("/sys/devices/system/cpu/vulnerabilities/mds"));
}

#[test]
fn symlinks_resolve_inside_the_root() {
    let (dir, root) = root_with(&[("etc/shadow", b"root:*:19000:0:99999:7:::\n")]);
    fs::create_dir_all(dir.path().join("proc")).unwrap();
    // The real /etc/shadow must never be read: the link is re-rooted to the fixture's.
    symlink("/etc/shadow", dir.path().join("proc/cpuinfo")).unwrap();
    let r = reason(&host_facts(&root).cpu);
    assert_eq!(r, "/proc/cpuinfo: no `processor` entry");

    fs::remove_file(dir.path().join("etc/shadow")).unwrap();
    assert_eq!(host_facts(&root).cpu, Probe::absent("/proc/cpuinfo"));

    fs::remove_file(dir.path().join("proc/cpuinfo")).unwrap();
    symlink("../../../..", dir.path().join("proc/cpuinfo")).unwrap();
    let r = reason(&host_facts(&root).cpu);
    assert_eq!(r, "/proc/cpuinfo: is a directory, expected a file");

    // A /dev/kvm that points outside is stat-ed inside the root.
    fs::create_dir_all(dir.path().join("dev")).unwrap();
    symlink("/../../../../dev/null", dir.path().join("dev/kvm")).unwrap();
    assert_eq!(host_facts(&root).kvm.device, Probe::absent("/dev/kvm"));
}

#[test]
fn symlink_loops_are_reported() {
    let (dir, root) = root_with(&[]);
    fs::create_dir_all(dir.path().join("proc")).unwrap();
    symlink("/proc/b", dir.path().join("proc/cpuinfo")).unwrap();
    symlink("/proc/cpuinfo", dir.path().join("proc/b")).unwrap();
    symlink("/sys", dir.path().join("sys")).unwrap();
    let f = host_facts(&root);
    assert_eq!(
        reason(&f.cpu),
        "/proc/cpuinfo: too many levels of symbolic links"
    );
    assert!(reason(&f.kvm.modules).contains("too many levels of symbolic links"));
    assert!(reason(&f.firmware.boot_mode).contains("too many levels of symbolic links"));
}

#[test]
fn huge_sparse_cpuinfo_is_refused_without_reading_it() {
    let (dir, root) = root_with(&[]);
    fs::create_dir_all(dir.path().join("proc")).unwrap();
    let file = fs::File::create(dir.path().join("proc/cpuinfo")).unwrap();
    file.set_len(100 * 1024 * 1024).unwrap();
    let r = reason(&host_facts(&root).cpu);
    assert!(r.starts_with("/proc/cpuinfo: file is larger than"), "{r}");
}

#[test]
fn unreadable_files_are_denied_unless_we_are_root() {
    let (dir, root) = root_with(&[
        (
            "proc/cpuinfo",
            b"processor : 0\nvendor_id : GenuineIntel\nflags : vmx\n",
        ),
        ("sys/kernel/mm/ksm/run", b"1\n"),
    ]);
    for f in ["proc/cpuinfo", "sys/kernel/mm/ksm/run"] {
        fs::set_permissions(dir.path().join(f), fs::Permissions::from_mode(0o000)).unwrap();
    }
    // root (CAP_DAC_OVERRIDE) reads mode-000 files anyway: detect it rather than assume.
    let permissions_apply = fs::read(dir.path().join("proc/cpuinfo")).is_err();
    let f = host_facts(&root);
    if permissions_apply {
        assert_eq!(f.cpu, Probe::denied("/proc/cpuinfo"));
        assert_eq!(f.ksm_run, Probe::denied("/sys/kernel/mm/ksm/run"));
    } else {
        eprintln!("running with CAP_DAC_OVERRIDE (root): mode 000 does not deny reads here; checking the values instead");
        assert_eq!(f.cpu.value().unwrap().logical_cpus, 1);
        assert_eq!(f.ksm_run.value().unwrap(), "1");
    }
}

#[test]
fn fixture_paths_never_escape() {
    // A root whose every interesting path is an absolute link to the real host's files.
    let (dir, root) = root_with(&[]);
    for p in ["proc", "sys", "etc", "dev"] {
        symlink(Path::new("/").join(p), dir.path().join(p)).unwrap();
    }
    let f = host_facts(&root);
    // `/proc` inside the root is itself the link `/proc` -> `/proc`: a loop, never the host's.
    assert!(f.cpu.value().is_none());
    assert!(f.kvm.device.value().is_none());
    assert!(f.os.value().is_none());
}
