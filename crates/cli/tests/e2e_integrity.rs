//! `hypervisor.binary-modified` on Debian's real QEMU package: its real `md5sums` over copies of
//! its real files in a fixture root (one file modified), and the live installation (clean).

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::{hvguard, scan_json};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const PACKAGE: &str = "qemu-system-x86";
const MD5SUMS: &str = "/var/lib/dpkg/info/qemu-system-x86.md5sums";

/// With CI=true a missing prerequisite fails the test; elsewhere it is skipped, visibly.
fn require_debian_qemu() -> bool {
    if Path::new(MD5SUMS).exists() && Path::new("/usr/bin/qemu-system-x86_64").exists() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("Debian's {PACKAGE} is not installed (.ci/run installs it)");
    }
    eprintln!("SKIPPED: Debian's {PACKAGE} is not installed; this test did not run");
    false
}

fn tool_digest(tool: &str, file: &Path) -> String {
    let out = Command::new(tool).arg(file).output().expect(tool);
    assert!(out.status.success(), "{tool} {}", file.display());
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// A root holding the package as dpkg installed it: its status stanza, file list, digest list
/// and a copy of every file it ships outside /usr/share/{doc,man}.
fn root_with_the_real_package() -> (tempfile::TempDir, Vec<(PathBuf, String)>) {
    let dir = tempfile::tempdir().unwrap();
    let info = dir.path().join("var/lib/dpkg/info");
    std::fs::create_dir_all(&info).unwrap();
    let status = Command::new("dpkg-query")
        .args(["-s", PACKAGE])
        .output()
        .expect("dpkg-query");
    assert!(status.status.success());
    std::fs::write(dir.path().join("var/lib/dpkg/status"), status.stdout).unwrap();
    for ext in ["md5sums", "list"] {
        let name = format!("{PACKAGE}.{ext}");
        std::fs::copy(
            Path::new("/var/lib/dpkg/info").join(&name),
            info.join(&name),
        )
        .unwrap();
    }
    let mut shipped = Vec::new();
    for line in std::fs::read_to_string(MD5SUMS).unwrap().lines() {
        let (digest, rel) = line.split_once("  ").unwrap();
        if rel.starts_with("usr/share/doc/") || rel.starts_with("usr/share/man/") {
            continue;
        }
        let dest = dir.path().join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(Path::new("/").join(rel), &dest).unwrap();
        shipped.push((PathBuf::from("/").join(rel), digest.to_string()));
    }
    (dir, shipped)
}

fn integrity_hits(report: &Value) -> Vec<&Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "hypervisor.binary-modified")
        .collect()
}

#[test]
fn a_modified_file_of_the_real_package_is_found() {
    if !require_debian_qemu() {
        return;
    }
    let (root, shipped) = root_with_the_real_package();
    assert!(shipped.len() >= 3, "{shipped:?}");
    // Untouched copies of the real files match the real digests: nothing to report.
    let (_, clean) = scan_json(root.path(), &[]);
    assert!(integrity_hits(&clean).is_empty(), "{clean:#}");
    assert!(!clean["unknown"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["rule"] == "hypervisor.binary-modified"
            && u["reason"].as_str().unwrap().contains(PACKAGE)));

    let target = "/usr/bin/qemu-system-x86_64-microvm";
    let (_, recorded) = shipped
        .iter()
        .find(|(p, _)| p == Path::new(target))
        .expect("the package ships the microvm binary");
    let copy = root.path().join(target.trim_start_matches('/'));
    let mut bytes = std::fs::read(&copy).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(&copy, bytes).unwrap();
    let actual = tool_digest("md5sum", &copy);

    let (code, report) = scan_json(root.path(), &[]);
    assert_eq!(code, 1, "a critical finding fails the scan");
    let hits = integrity_hits(&report);
    assert_eq!(hits.len(), 1, "{hits:#?}");
    let hit = hits[0];
    assert_eq!(hit["severity"], "critical");
    assert_eq!(hit["location"]["path"], target);
    let evidence = hit["evidence"].as_str().unwrap();
    assert!(
        evidence.contains(&actual),
        "{evidence} lacks md5sum's {actual}"
    );
    assert!(evidence.contains(recorded.as_str()), "{evidence}");
    assert!(evidence.contains(MD5SUMS), "{evidence}");
    assert!(hit["message"].as_str().unwrap().contains(PACKAGE));
}

#[test]
fn the_live_qemu_installation_is_clean() {
    if !require_debian_qemu() {
        return;
    }
    let out = hvguard().arg("collect").output().unwrap();
    assert!(out.status.success());
    let snapshot: Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = snapshot["integrity"]["packages"]["value"]
        .as_array()
        .expect("package digests checked on the live host");
    let qemu = packages
        .iter()
        .find(|p| p["package"] == PACKAGE)
        .expect("qemu-system-x86 checked");
    assert!(qemu["checked"].as_u64().unwrap() >= 3, "{qemu}");
    assert_eq!(qemu["modified"], Value::Array(vec![]), "{qemu}");
    assert_eq!(qemu["unknown"], Value::Null);
    let binary = snapshot["integrity"]["binaries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["path"] == "/usr/bin/qemu-system-x86_64")
        .expect("the binary is hashed");
    assert_eq!(
        binary["sha256"],
        tool_digest("sha256sum", Path::new("/usr/bin/qemu-system-x86_64"))
    );
    assert_eq!(binary["packaged"], true);
    let (_, report) = scan_json(Path::new("/"), &[]);
    assert!(integrity_hits(&report).is_empty(), "{report:#}");
}

/// The cache files of `stem` in `dir` (`digests`, `binfacts`).
fn cache_files(dir: &Path, stem: &str) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("{stem}-"))
        })
        .collect()
}

/// The digest cache file a plain scan (no store) keeps for a `--root` tree in `dir`.
fn the_cache_file(dir: &Path) -> PathBuf {
    let files = cache_files(dir, "digests");
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("digests-root-"), "{name}");
    files[0].clone()
}

fn identity(path: &Path) -> (u64, i64, i64) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).unwrap();
    (m.ino(), m.mtime(), m.mtime_nsec())
}

#[test]
fn a_plain_scan_keeps_a_digest_cache_file_and_still_finds_a_modified_binary() {
    if !require_debian_qemu() {
        return;
    }
    let (root, shipped) = root_with_the_real_package();
    let cache = tempfile::tempdir().unwrap();
    let scan = |extra: &[&str]| -> (i32, Value) {
        let out = hvguard()
            .env("HVGUARD_CACHE_DIR", cache.path())
            .args(["scan", "--format", "json", "--root"])
            .arg(root.path())
            .args(extra)
            .output()
            .unwrap();
        let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
        });
        (out.status.code().unwrap(), report)
    };
    // Files changed in the last two seconds are hashed but never cached (coarse timestamps).
    std::thread::sleep(std::time::Duration::from_millis(2100));

    let (_, report) = scan(&[]);
    assert!(integrity_hits(&report).is_empty(), "{report:#}");
    let file = the_cache_file(cache.path());
    let text = std::fs::read_to_string(&file).unwrap();
    let entries = text.lines().count() - 2;
    assert!(entries >= shipped.len(), "{entries} entries: {text}");
    let written = identity(&file);

    // Every digest is in the file: the second scan computes none, so it writes nothing.
    let (_, report) = scan(&[]);
    assert!(integrity_hits(&report).is_empty());
    assert_eq!(identity(&file), written, "the cache file was rewritten");

    // The digests really come from the file: give the microvm binary a wrong one there.
    let target = "/usr/bin/qemu-system-x86_64-microvm";
    let copy = root.path().join(target.trim_start_matches('/'));
    let inode = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(&copy).unwrap().ino().to_string()
    };
    let wrong = "0".repeat(32);
    let poisoned: String = text
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            if f.len() == 7 && f[1] == inode && f[5] == "md5" {
                format!("{} {wrong}\n", f[..6].join(" "))
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    assert_ne!(poisoned, text, "no md5 entry for {target}");
    std::fs::write(&file, &poisoned).unwrap();
    let (code, report) = scan(&[]);
    assert_eq!(code, 1);
    let hits = integrity_hits(&report);
    assert_eq!(hits.len(), 1, "{hits:#?}");
    assert!(hits[0]["evidence"].as_str().unwrap().contains(&wrong));
    // --no-digest-cache hashes everything: the bytes are fine; the file is left alone.
    let (code, report) = scan(&["--no-digest-cache"]);
    assert!(
        integrity_hits(&report).is_empty(),
        "exit {code}: {report:#}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), poisoned);
    std::fs::write(&file, &text).unwrap();

    // A modified binary has a new identity: hashed again, found, and its digest saved.
    let mut bytes = std::fs::read(&copy).unwrap();
    let at = bytes.len() / 3;
    bytes[at] ^= 0x01;
    std::fs::write(&copy, bytes).unwrap();
    let actual = tool_digest("md5sum", &copy);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let (code, report) = scan(&[]);
    assert_eq!(code, 1);
    let hits = integrity_hits(&report);
    assert_eq!(hits.len(), 1, "{hits:#?}");
    assert_eq!(hits[0]["location"]["path"], target);
    assert!(hits[0]["evidence"].as_str().unwrap().contains(&actual));
    let rewritten = std::fs::read_to_string(&file).unwrap();
    assert!(
        rewritten
            .lines()
            .nth(2)
            .unwrap()
            .ends_with(&format!(" md5 {actual}")),
        "the new digest comes first: {rewritten}"
    );
    // From the cache now, the finding holds, and nothing is written.
    let saved = identity(&file);
    assert_eq!(integrity_hits(&scan(&[]).1).len(), 1);
    assert_eq!(identity(&file), saved);
}

#[test]
fn the_store_keeps_the_digests_where_there_is_one_and_the_file_otherwise() {
    let root = common::materialise("intel-problems");
    let cache = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    let db = store.path().join("advisories.db");
    let scan = |db: &Path, extra: &[&str]| {
        let out = hvguard()
            .env("HVGUARD_CACHE_DIR", cache.path())
            .env("HVGUARD_DB", db)
            .args(["scan", "--format", "json", "--root"])
            .arg(root.path())
            .args(extra)
            .output()
            .unwrap();
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::thread::sleep(std::time::Duration::from_millis(2100));
    // The first record makes the store; from then on it holds the cache, not the file.
    scan(&db, &["--record"]);
    std::fs::remove_file(the_cache_file(cache.path())).unwrap();
    scan(&db, &[]);
    scan(&db, &["--record"]);
    assert_eq!(cache_files(cache.path(), "digests").len(), 0);
    // Without a store, the file.
    scan(&store.path().join("none.db"), &[]);
    let text = std::fs::read_to_string(the_cache_file(cache.path())).unwrap();
    assert!(text.lines().count() > 2, "{text}");
}

/// The binary facts cache file beside the digests: a second collection takes every fact from
/// it and makes the same snapshot; the facts really come from the file (a forged entry shows),
/// but only from a file nobody else may write; `--no-cache` neither reads nor writes it.
#[test]
fn a_plain_collection_keeps_the_binary_facts_and_trusts_only_its_own_file() {
    if !require_debian_qemu() {
        return;
    }
    let (root, _) = root_with_the_real_package();
    let cache = tempfile::tempdir().unwrap();
    let collect = || -> Value {
        let out = hvguard()
            .env("HVGUARD_CACHE_DIR", cache.path())
            .args(["collect", "--root"])
            .arg(root.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut snapshot: Value = serde_json::from_slice(&out.stdout).unwrap();
        snapshot["collected_at"] = Value::Null;
        snapshot
    };
    let devices = |snapshot: &Value| {
        snapshot["hypervisors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["path"] == "/usr/bin/qemu-system-x86_64")
            .expect("QEMU inventoried")["devices"]
            .clone()
    };
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let cold = collect();
    let files = cache_files(cache.path(), "binfacts");
    assert_eq!(files.len(), 1, "{files:?}");
    let file = files[0].clone();
    let written = identity(&file);
    let warm = collect();
    assert_eq!(cold, warm);
    assert_eq!(identity(&file), written, "every fact came from the file");
    assert!(devices(&warm)["present"]
        .as_array()
        .unwrap()
        .contains(&"pvrdma".into()));

    // A forged entry (pvrdma dropped from the binary's type names) is believed...
    let text = std::fs::read_to_string(&file).unwrap();
    let forged = text.replace(",pvrdma,", ",");
    assert_ne!(forged, text);
    std::fs::write(&file, &forged).unwrap();
    assert!(devices(&collect())["absent"]
        .as_array()
        .unwrap()
        .contains(&"pvrdma".into()));
    // ...only while the file is the caller's own and nobody else may write it.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert_eq!(collect(), cold);

    // --no-cache (and its old name) reads and writes no cache file.
    let empty = tempfile::tempdir().unwrap();
    for flag in ["--no-cache", "--no-digest-cache"] {
        let out = hvguard()
            .env("HVGUARD_CACHE_DIR", empty.path())
            .args(["scan", "--format", "json", flag, "--root"])
            .arg(root.path())
            .output()
            .unwrap();
        assert!(matches!(out.status.code(), Some(0 | 1)), "{flag}");
        assert_eq!(
            std::fs::read_dir(empty.path()).unwrap().count(),
            0,
            "{flag}"
        );
    }
}
