//! Real programs the monitoring and packaging tests run (promtool, node_exporter,
//! systemd-analyze), and how a missing one is reported.

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::path::PathBuf;

/// The program's path, or `None` after a visible SKIPPED line. With `CI=true` a missing
/// prerequisite fails the test instead: .ci/run installs every one of them.
pub fn required(name: &str, package: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{name} is missing: install Debian's {package} (.ci/run does)");
        }
        eprintln!(
            "\n*** SKIPPED: {name} not found (apt-get install {package}); this test did not run ***\n"
        );
    }
    found
}

/// True when the tests run as root (then file modes do not stop writes).
pub fn running_as_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}
