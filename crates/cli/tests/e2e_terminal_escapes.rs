//! Terminal escape injection: file names, configuration values and snapshot strings from the
//! scanned system carry ESC/BEL sequences (`\x1b]0;...\x07` retitles a terminal, `\x1b[2J`
//! clears it). Whatever stream hvguard writes them to (stderr warnings and errors, the text
//! report, `harden` output), they must come out escaped, never raw.

// Test helpers: a failed setup step should stop with its cause.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::*;
use std::path::{Path, PathBuf};

const OSC_TITLE: &str = "\u{1b}]0;pwned\u{7}";
const OSC_TITLE_ESCAPED: &str = "\\u{1b}]0;pwned\\u{7}";

/// No byte a terminal acts on, except the line feeds (and tabs) hvguard lays out itself.
fn assert_terminal_safe(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let bad: Vec<char> = text
        .chars()
        .filter(|&c| hvguard_core::escape::is_terminal_unsafe(c) && c != '\n')
        .collect();
    assert!(
        bad.is_empty(),
        "{what} carries raw controls {bad:?}:\n{text}"
    );
}

/// The qemu runtime's `config.d/` in a fresh copy of the kata-deploy fixture.
fn kata_deploy_dropins() -> (tempfile::TempDir, PathBuf) {
    let root = materialise("kata-deploy");
    let dir = root
        .path()
        .join("opt/kata/share/defaults/kata-containers/runtimes/qemu/config.d");
    (root, dir)
}

#[test]
fn a_warning_about_a_hostile_file_name_is_escaped() {
    let (root, dropins) = kata_deploy_dropins();
    // A directory where a drop-in file is expected: skipped with a warning naming it.
    std::fs::create_dir(dropins.join(format!("50-{OSC_TITLE}.toml"))).expect("mkdir");
    for format in ["text", "json"] {
        let out = hvguard()
            .arg("scan")
            .arg("--root")
            .arg(root.path())
            .args(["--format", format])
            .output()
            .expect("runs");
        assert_terminal_safe("stderr", &out.stderr);
        assert_terminal_safe("stdout", &out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("50-{OSC_TITLE_ESCAPED}.toml: skipped")),
            "{stderr}"
        );
    }
}

#[test]
fn an_error_about_a_hostile_file_name_is_escaped() {
    let (root, dropins) = kata_deploy_dropins();
    std::fs::write(dropins.join("60-\u{1b}[2Jred.toml"), "broken = [").expect("write");
    let out = hvguard()
        .arg("scan")
        .arg("--root")
        .arg(root.path())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert_terminal_safe("stderr", &out.stderr);
    assert_terminal_safe("stdout", &out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("60-\\u{1b}[2Jred.toml:1:"), "{stderr}");
}

/// A snapshot written by `collect`, with hostile strings put where a compromised node (or a
/// man in the middle of the fleet pipeline) could put them.
fn hostile_snapshot(dir: &Path) -> PathBuf {
    let root = materialise("kata-static");
    let out = hvguard()
        .arg("collect")
        .arg("--root")
        .arg(root.path())
        .output()
        .expect("collect");
    let mut snapshot: serde_json::Value = serde_json::from_slice(&out.stdout).expect("snapshot");
    snapshot["warnings"] = serde_json::json!([format!("{OSC_TITLE} warning from the node")]);
    snapshot["host"]["hostname"] = serde_json::json!({
        "status": "found",
        "value": format!("node{OSC_TITLE}\u{1b}[2J\u{9b}31m"),
    });
    let path = dir.join("snapshot.json");
    std::fs::write(&path, serde_json::to_vec(&snapshot).expect("json")).expect("write");
    path
}

#[test]
fn snapshot_strings_are_escaped_on_every_stream() {
    let dir = tempfile::tempdir().expect("tempdir");
    let snapshot = hostile_snapshot(dir.path());
    for format in ["text", "json", "sarif"] {
        let out = hvguard()
            .arg("scan")
            .arg("--snapshot")
            .arg(&snapshot)
            .args(["--format", format])
            .output()
            .expect("runs");
        assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
        assert_terminal_safe("stderr", &out.stderr);
        assert_terminal_safe(format, &out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!(
                "warning: {OSC_TITLE_ESCAPED} warning from the node"
            )),
            "{stderr}"
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        if format == "text" {
            assert!(stdout.contains("node\\u{1b}]0;pwned"), "{stdout}");
        } else {
            // Still the same JSON value, with the escapes JSON knows.
            let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
            assert!(value.to_string().contains("pwned"));
        }
    }
}

#[test]
fn harden_output_escapes_hostile_paths_and_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    let folder = dir.path().join(format!("kata{OSC_TITLE}"));
    std::fs::create_dir(&folder).expect("mkdir");
    let config = folder.join("configuration.toml");
    let original = std::fs::read_to_string(
        workspace().join("tests/fixtures/kata/rendered/3.20.0/runtime-go/configuration-qemu.toml"),
    )
    .expect("rendered config");
    // An insecure value the plan will replace, so the dry run shows it.
    let hostile = original.replacen(
        "[hypervisor.qemu]\n",
        "[hypervisor.qemu]\nseccompsandbox = \"\\u001b]0;pwned\\u0007\"\n",
        1,
    );
    assert_ne!(hostile, original, "the section header was found");
    let hostile = comment_out_other(&hostile, "seccompsandbox");
    std::fs::write(&config, hostile).expect("write");
    let out = hvguard()
        .args(["harden", "--kata-release", "3.20.0", "--config"])
        .arg(&config)
        .output()
        .expect("runs");
    assert_terminal_safe("stderr", &out.stderr);
    assert_terminal_safe("stdout", &out.stdout);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("kata{OSC_TITLE_ESCAPED}")),
        "{stdout}"
    );
}

/// Keeps only the first uncommented `key = ...` line (the one this test added).
fn comment_out_other(text: &str, key: &str) -> String {
    let mut seen = false;
    text.lines()
        .map(|line| {
            let is_key = line.trim_start().starts_with(key)
                && line.trim_start()[key.len()..].trim_start().starts_with('=');
            if is_key && seen {
                format!("# {line}")
            } else {
                seen |= is_key;
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}
