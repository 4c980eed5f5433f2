//! The policy file the .deb installs as a conffile (deploy/etc/hvguard/policy.toml): it parses
//! as shipped, and its commented-out settings are hvguard's real defaults.

use hvguard_advisory::policy::{NfdPolicy, Policy};
use std::path::{Path, PathBuf};

fn conffile() -> (PathBuf, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/etc/hvguard/policy.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (path, text)
}

#[test]
fn the_shipped_policy_parses_to_the_defaults() {
    let (path, text) = conffile();
    let policy = Policy::parse(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    assert!(policy.accept.is_empty());
    assert_eq!(policy.nfd, NfdPolicy::default());
}

/// Uncommenting every setting line gives a valid policy whose [nfd] values are the defaults:
/// the comments cannot drift from the code.
#[test]
fn the_commented_settings_are_valid_and_are_the_defaults() {
    let (path, text) = conffile();
    let setting = |l: &str| {
        let l = l.trim_start_matches("# ");
        l.starts_with('[') || l.split_once(" = ").is_some_and(|(k, _)| !k.contains(' '))
    };
    let uncommented: String = text
        .lines()
        .filter(|l| l.starts_with("# ") && setting(l))
        .map(|l| format!("{}\n", &l[2..]))
        .collect();
    let policy =
        Policy::parse(&path, &uncommented).unwrap_or_else(|e| panic!("{e}\n---\n{uncommented}"));
    assert_eq!(policy.nfd, NfdPolicy::default(), "{uncommented}");
    assert_eq!(policy.accept.len(), 1, "{uncommented}");
    assert_eq!(policy.accept[0].id, "CVE-2021-3929");
    assert_eq!(
        policy.accept[0].binary.as_deref(),
        Some(Path::new("/usr/bin/qemu-system-x86_64"))
    );
}
