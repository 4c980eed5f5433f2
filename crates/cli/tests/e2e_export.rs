//! End-to-end: `scan --format prometheus`, `--textfile-dir` and `--nfd-file` on fixture
//! hosts: promtool-clean metrics, both files written atomically together with mode 0644, the
//! policy's `[nfd]` readiness, and unwritable outputs (exit 2 naming the folder, nothing
//! half-written).

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;
mod tools;

use common::*;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Materialised, its worst finding is `info` (host.confidential-computing-unused).
const FIXTURE: &str = "amd-sev-snp-hardened";
/// Its worst findings are critical.
const CRITICAL_FIXTURE: &str = "kata-static";
const READY: &str = "feature.node.kubernetes.io/hvguard-kata-ready";

fn scan(root: &Path, extra: &[&str]) -> Output {
    hvguard()
        .arg("scan")
        .arg("--root")
        .arg(root)
        .args(extra)
        .output()
        .expect("runs")
}

fn path_arg(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn promtool_check(text: &str) {
    let Some(promtool) = tools::required("promtool", "prometheus") else {
        return;
    };
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && said.trim().is_empty(),
        "{said}\n{text}"
    );
}

fn sample(text: &str, series: &str) -> Option<String> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')
            .map(str::to_string)
    })
}

fn line_value<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.lines().find_map(|l| l.strip_prefix(prefix))
}

fn minutes_between(from: &str, to: &str) -> i64 {
    let from: jiff::Timestamp = from.parse().expect("timestamp");
    let to: jiff::Timestamp = to.parse().expect("timestamp");
    to.duration_since(from).as_secs() / 60
}

#[test]
fn prometheus_format_is_promtool_clean() {
    let root = materialise(FIXTURE);
    let out = scan(root.path(), &["--format", "prometheus"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    promtool_check(&text);
    assert_eq!(
        sample(&text, "hvguard_findings_by_severity{severity=\"info\"}").as_deref(),
        Some("1")
    );
    assert_eq!(
        sample(
            &text,
            "hvguard_findings{rule=\"host.confidential-computing-unused\",severity=\"info\"}"
        )
        .as_deref(),
        Some("1")
    );
    // Below the default [nfd] threshold (high).
    assert_eq!(sample(&text, "hvguard_kata_ready").as_deref(), Some("1"));
    assert_eq!(
        sample(&text, "hvguard_scan_input_errors").as_deref(),
        Some("0")
    );
    assert_eq!(
        sample(&text, "hvguard_stale_vmm_processes").as_deref(),
        Some("0")
    );
    let now = jiff::Timestamp::now().as_second();
    let scanned: i64 = sample(&text, "hvguard_scan_timestamp_seconds")
        .expect("timestamp")
        .parse()
        .expect("integer seconds");
    assert!((now - scanned).abs() < 600, "{scanned} vs {now}");
}

#[test]
fn textfile_and_nfd_file_are_written_together() {
    let root = materialise(CRITICAL_FIXTURE);
    let textfiles = tempfile::tempdir().unwrap();
    let features = tempfile::tempdir().unwrap();
    let nfd = features.path().join("hvguard");
    let out = scan(
        root.path(),
        &[
            "--format",
            "prometheus",
            "--textfile-dir",
            path_arg(textfiles.path()),
            "--nfd-file",
            path_arg(&nfd),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let prom = fs::read_to_string(textfiles.path().join("hvguard.prom")).unwrap();
    assert_eq!(
        prom,
        String::from_utf8(out.stdout).unwrap(),
        "stdout and the textfile agree"
    );
    assert_eq!(names(textfiles.path()), ["hvguard.prom"]);
    assert_eq!(names(features.path()), ["hvguard"]);
    for file in [textfiles.path().join("hvguard.prom"), nfd.clone()] {
        let mode = fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "{}", file.display());
    }
    let labels = fs::read_to_string(&nfd).unwrap();
    assert_eq!(line_value(&labels, &format!("{READY}=")), Some("false"));
    let generated = line_value(&labels, "# generated: ").expect("generated");
    let expiry = line_value(&labels, "# +expiry-time=").expect("expiry");
    assert_eq!(
        minutes_between(generated, expiry),
        60,
        "default [nfd] expiry"
    );
}

#[test]
fn policy_threshold_and_expiry_decide_the_labels() {
    let root = materialise(FIXTURE);
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    fs::write(
        &policy,
        "[nfd]\nthreshold = \"info\"\nexpiry_minutes = 20\n",
    )
    .unwrap();
    let nfd = dir.path().join("hvguard");
    let out = hvguard()
        .env("HVGUARD_POLICY", &policy)
        .args(["scan", "--format", "prometheus", "--root"])
        .arg(root.path())
        .args(["--nfd-file", path_arg(&nfd)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "--fail-on stays high: {out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(sample(&text, "hvguard_kata_ready").as_deref(), Some("0"));
    let labels = fs::read_to_string(&nfd).unwrap();
    assert_eq!(line_value(&labels, &format!("{READY}=")), Some("false"));
    let generated = line_value(&labels, "# generated: ").unwrap();
    let expiry = line_value(&labels, "# +expiry-time=").unwrap();
    assert_eq!(minutes_between(generated, expiry), 20);
}

#[test]
fn a_broken_configuration_makes_the_node_not_ready() {
    let root = materialise(FIXTURE);
    let kata = root.path().join("etc/kata-containers");
    fs::create_dir_all(&kata).unwrap();
    fs::write(
        kata.join("configuration.toml"),
        "[hypervisor.qemu\npath = 1\n",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Without the broken file this host is ready (see prometheus_format_is_promtool_clean).
    let out = hvguard()
        .args(["scan", "--root"])
        .arg(root.path())
        .args(["--textfile-dir", path_arg(dir.path()), "--nfd-file"])
        .arg(dir.path().join("hvguard"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let prom = fs::read_to_string(dir.path().join("hvguard.prom")).unwrap();
    assert_eq!(
        sample(&prom, "hvguard_scan_input_errors").as_deref(),
        Some("1")
    );
    assert_eq!(sample(&prom, "hvguard_kata_ready").as_deref(), Some("0"));
    let labels = fs::read_to_string(dir.path().join("hvguard")).unwrap();
    assert_eq!(line_value(&labels, &format!("{READY}=")), Some("false"));
}

/// Either output failing leaves the other untouched (the old file stays), exits 2 and names
/// the folder.
#[test]
fn a_missing_or_wrong_output_folder_is_exit_2_and_nothing_is_written() {
    let root = materialise(FIXTURE);
    let good = tempfile::tempdir().unwrap();
    let old = "# HELP old x\n# TYPE old gauge\nold 1\n";
    fs::write(good.path().join("hvguard.prom"), old).unwrap();
    let missing = good.path().join("no/such/dir");
    let file_not_dir = good.path().join("hvguard.prom");

    // The NFD folder is missing: the textfile, staged first, is not renamed in.
    let out = scan(
        root.path(),
        &[
            "--textfile-dir",
            path_arg(good.path()),
            "--nfd-file",
            path_arg(&missing.join("hvguard")),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}: cannot create a file there",
            missing.display()
        )),
        "{stderr}"
    );
    assert_eq!(
        fs::read_to_string(good.path().join("hvguard.prom")).unwrap(),
        old
    );
    assert_eq!(
        names(good.path()),
        ["hvguard.prom"],
        "no temporary file left"
    );

    // The textfile folder is missing or is a file.
    for bad in [&missing, &file_not_dir] {
        let out = scan(
            root.path(),
            &[
                "--textfile-dir",
                path_arg(bad),
                "--nfd-file",
                path_arg(&good.path().join("hvguard")),
            ],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(&bad.display().to_string()), "{stderr}");
        assert!(stderr.lines().count() == 1, "one line: {stderr}");
        assert_eq!(names(good.path()), ["hvguard.prom"]);
    }
}

/// A folder the scanning user may not write to. As root (where modes do not stop writes),
/// hvguard runs as `nobody` through util-linux's setpriv.
#[test]
fn an_unwritable_output_folder_is_exit_2() {
    // Everything `nobody` needs (the binary, the host root, the policy) is copied into one
    // world-readable folder: the checkout itself may sit under a private home.
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.path().join("hvguard");
    fs::copy(assert_cmd::cargo::cargo_bin("hvguard"), &bin).unwrap();
    let root = dir.path().join("root");
    copy_tree(&fixture(FIXTURE), &root);
    let policy = dir.path().join("policy.toml");
    fs::write(&policy, "").unwrap();
    make_world_readable(dir.path());
    let locked = dir.path().join("locked");
    fs::create_dir(&locked).unwrap();
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o555)).unwrap();
    let mut cmd = if tools::running_as_root() {
        let Some(setpriv) = tools::required("setpriv", "util-linux") else {
            return;
        };
        let mut c = Command::new(setpriv);
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin);
        c
    } else {
        Command::new(&bin)
    };
    let out = cmd
        .env("HVGUARD_DB", "/nonexistent/hvguard-tests/advisories.db")
        .env("HVGUARD_POLICY", &policy)
        .args(["scan", "--root"])
        .arg(&root)
        .arg("--textfile-dir")
        .arg(&locked)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}: cannot create a file there", locked.display()))
            && stderr.contains("ermission denied"),
        "{stderr}"
    );
    assert!(names(&locked).is_empty());
}

/// `chmod -R a+rX`: folders 0755, files keep their bits plus read (and execute where the
/// owner had it).
fn make_world_readable(path: &Path) {
    let meta = fs::symlink_metadata(path).unwrap();
    if meta.file_type().is_symlink() {
        return;
    }
    let mode = meta.permissions().mode();
    let extra = if meta.is_dir() || mode & 0o100 != 0 {
        0o555
    } else {
        0o444
    };
    fs::set_permissions(path, fs::Permissions::from_mode((mode | extra) & 0o7777)).unwrap();
    if meta.is_dir() {
        for entry in fs::read_dir(path).unwrap() {
            make_world_readable(&entry.unwrap().path());
        }
    }
}

/// `--nfd-file` without a value takes NFD's folder and does not swallow the next flag.
#[test]
fn nfd_file_without_a_value_uses_nfds_folder() {
    let features = Path::new("/etc/kubernetes/node-feature-discovery/features.d");
    if features.exists() {
        eprintln!(
            "SKIPPED: {} exists on this machine; not writing into it",
            features.display()
        );
        return;
    }
    let out = hvguard()
        .args(["scan", "--nfd-file", "--root"])
        .arg(fixture(FIXTURE))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot write the Node Feature Discovery feature file /etc/kubernetes/node-feature-discovery/features.d/hvguard"),
        "{stderr}"
    );
}
