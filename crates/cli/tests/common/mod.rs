//! Shared helpers for the end-to-end tests: fixture roots copied to a temp dir (so that file
//! modes git cannot keep are set at run time), the binary, and output normalisation.

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

pub mod ansible;
pub mod apt;
pub mod http;

use assert_cmd::Command;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn fixture(name: &str) -> PathBuf {
    workspace().join("tests/fixtures/hosts").join(name)
}

pub fn hvguard() -> Command {
    let mut cmd = Command::cargo_bin("hvguard").expect("binary builds");
    // Pin the advisory inputs: no store (the shipped snapshot is used) and an empty policy,
    // whatever the machine running the tests has in /var/lib/hvguard or /etc/hvguard. The
    // digest cache files go to the build's scratch folder, not the machine's /var/cache.
    cmd.env_remove("KATA_CONF_FILE")
        .env("NO_COLOR", "1")
        .env("HVGUARD_DB", "/nonexistent/hvguard-tests/advisories.db")
        .env(
            "HVGUARD_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("hvguard-digest-cache"),
        )
        .env(
            "HVGUARD_POLICY",
            workspace().join("tests/fixtures/policy/empty.toml"),
        );
    cmd
}

/// Copies a fixture root into a temp dir, keeping symlinks as symlinks, then applies the
/// modes the fixture README describes (git keeps none of them).
pub fn materialise(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&fixture(name), dir.path());
    let modes: &[(&str, u32)] = match name {
        "intel-problems" => &[("dev/kvm", 0o666)],
        "amd-sev-snp-hardened" | "kata-static" => &[("dev/kvm", 0o660)],
        _ => &[],
    };
    for (path, mode) in modes {
        fs::set_permissions(dir.path().join(path), fs::Permissions::from_mode(*mode))
            .expect("chmod");
    }
    dir
}

pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for entry in fs::read_dir(from).expect("read fixture dir") {
        let entry = entry.expect("entry");
        let kind = entry.file_type().expect("file type");
        let dest = to.join(entry.file_name());
        if kind.is_symlink() {
            symlink(fs::read_link(entry.path()).expect("readlink"), &dest).expect("symlink");
        } else if kind.is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            fs::copy(entry.path(), &dest).expect("copy");
        }
    }
}

/// Makes a report comparable across runs: the root, the timestamps and the file owners
/// (which depend on who runs the tests) are replaced by placeholders.
pub fn normalise(text: &str, root: &Path) -> String {
    let root = root.display().to_string();
    let mut out = text.replace(&root, "[ROOT]");
    for key in ["generated_at", "collected_at", "endTimeUtc"] {
        out = replace_json_string(&out, key, "[TIMESTAMP]");
    }
    out = replace_after(&out, "generated: ", "[TIMESTAMP]");
    for key in ["uid", "gid"] {
        out = replace_json_number(&out, key, "[OWNER]");
    }
    out
}

fn replace_json_string(text: &str, key: &str, with: &str) -> String {
    let needle = format!("\"{key}\": \"");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(&needle) {
        out.push_str(&rest[..i + needle.len()]);
        rest = &rest[i + needle.len()..];
        let end = rest.find('"').unwrap_or(rest.len());
        out.push_str(with);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn replace_json_number(text: &str, key: &str, with: &str) -> String {
    let needle = format!("\"{key}\": ");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(&needle) {
        out.push_str(&rest[..i + needle.len()]);
        rest = &rest[i + needle.len()..];
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        out.push('"');
        out.push_str(with);
        out.push('"');
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn replace_after(text: &str, prefix: &str, with: &str) -> String {
    text.lines()
        .map(|line| match line.find(prefix) {
            Some(i) => format!("{}{with}", &line[..i + prefix.len()]),
            None => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + if text.ends_with('\n') { "\n" } else { "" }
}

/// Runs `scan --format json` and returns (exit code, parsed report).
pub fn scan_json(root: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let output = hvguard()
        .arg("scan")
        .arg("--root")
        .arg(root)
        .args(["--format", "json"])
        .args(extra)
        .output()
        .expect("runs");
    let code = output.status.code().expect("exit code");
    let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (code, report)
}

/// The rule ids of a JSON report's findings, with their severities, sorted.
pub fn rules_of(report: &serde_json::Value) -> Vec<(String, String)> {
    let mut rules: Vec<(String, String)> = report["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or_default().to_string(),
                f["severity"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    rules.sort();
    rules.dedup();
    rules
}

pub fn count_rule(report: &serde_json::Value, rule: &str) -> usize {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == rule)
        .count()
}
