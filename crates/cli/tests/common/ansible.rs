//! Running the playbooks of deploy/ansible with Debian's `ansible-core` in tests.

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::workspace;

pub fn playbooks() -> PathBuf {
    workspace().join("deploy/ansible")
}

pub fn hvguard_bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("hvguard")
}

/// `ansible-playbook` is there, or the test says why it does not run (a failure under CI).
pub fn ansible_available() -> bool {
    match Command::new("ansible-playbook").arg("--version").output() {
        Ok(out) if out.status.success() => true,
        other => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "ansible-playbook (Debian's ansible-core) is required under CI: {other:?}"
            );
            eprintln!("SKIPPED: ansible-playbook is not installed (apt-get install ansible-core)");
            false
        }
    }
}

/// Runs a playbook of deploy/ansible; returns (exit code, stdout + stderr).
pub fn run_playbook(
    work: &Path,
    inventory: &Path,
    playbook: &str,
    extra: &[&str],
) -> (i32, String) {
    let tmp = work.join("ansible-tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let out = Command::new("ansible-playbook")
        .arg("-i")
        .arg(inventory)
        .arg(playbooks().join(playbook))
        .args(extra)
        .env("ANSIBLE_CONFIG", playbooks().join("ansible.cfg"))
        .env("ANSIBLE_ROLES_PATH", playbooks().join("roles"))
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_LOCAL_TEMP", &tmp)
        .env("ANSIBLE_REMOTE_TEMP", &tmp)
        .env("ANSIBLE_HOST_KEY_CHECKING", "0")
        // hvguard run by the playbooks on localhost (the local connection inherits this)
        // keeps its cache files (digests, binary facts) in the test's folder, not /var/cache.
        .env("HVGUARD_CACHE_DIR", work.join("hvguard-cache"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// PLAY RECAP: host -> failed count.
pub fn recap(output: &str) -> BTreeMap<String, u32> {
    output
        .lines()
        .skip_while(|l| !l.starts_with("PLAY RECAP"))
        .filter_map(|l| {
            let (host, rest) = l.split_once(" : ")?;
            let failed = rest
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix("failed="))?
                .parse()
                .ok()?;
            Some((host.trim().to_owned(), failed))
        })
        .collect()
}
