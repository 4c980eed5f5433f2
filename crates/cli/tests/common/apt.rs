//! Changing Debian's QEMU packages for real (the destructive suites): the two versions the
//! archive offers (from `apt-cache madison`, never hard-coded), apt driven with argv only,
//! and a guard that reinstalls the newest versions when a test ends, panics included.
//! Other engineers' suites downgrade the same packages: every step waits for dpkg's lock,
//! and the downgraded window of a test should stay short.

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::process::Command;
use std::time::{Duration, Instant};

pub const PACKAGES: [&str; 3] = ["qemu-system-x86", "qemu-system-common", "qemu-system-data"];

pub fn enabled() -> bool {
    if std::env::var("HVGUARD_DESTRUCTIVE_TESTS").as_deref() != Ok("1") {
        eprintln!("SKIPPED: set HVGUARD_DESTRUCTIVE_TESTS=1 to run the suite that changes installed packages");
        return false;
    }
    assert!(
        rustix::process::geteuid().is_root(),
        "HVGUARD_DESTRUCTIVE_TESTS=1 needs root"
    );
    true
}

pub fn apt(args: &[&str]) -> String {
    let out = Command::new("/usr/bin/apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "apt-get {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `apt-cache madison PKG` versions, newest first.
pub fn madison(package: &str) -> Vec<String> {
    let out = Command::new("/usr/bin/apt-cache")
        .args(["madison", package])
        .output()
        .unwrap();
    hvguard_update::apt::parse::parse_madison(&String::from_utf8_lossy(&out.stdout))
        .into_iter()
        .map(|(v, _)| v)
        .collect()
}

pub fn installed(package: &str) -> String {
    let out = Command::new("/usr/bin/dpkg-query")
        .args(["-W", "-f=${Version}", package])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The newest and the oldest version of each package, from the archive.
pub struct Versions {
    pub newest: Vec<(String, String)>,
    pub oldest: Vec<(String, String)>,
}

impl Versions {
    pub fn find() -> Versions {
        let mut newest = Vec::new();
        let mut oldest = Vec::new();
        for p in PACKAGES {
            let v = madison(p);
            assert!(
                v.len() >= 2,
                "{p}: the archive offers {v:?}, two versions are needed"
            );
            newest.push((p.to_owned(), v[0].clone()));
            oldest.push((p.to_owned(), v[v.len() - 1].clone()));
        }
        Versions { newest, oldest }
    }

    pub fn install(pins: &[(String, String)]) {
        let pinned: Vec<String> = pins.iter().map(|(p, v)| format!("{p}={v}")).collect();
        let mut args = vec!["install", "-y", "-q", "--allow-downgrades", "--no-remove"];
        args.extend(pinned.iter().map(String::as_str));
        apt(&args);
    }

    pub fn downgrade(&self) {
        wait_for_dpkg();
        Versions::install(&self.oldest);
        assert_eq!(installed("qemu-system-x86"), self.oldest[0].1);
    }

    pub fn at_oldest(&self) -> bool {
        self.oldest.iter().all(|(p, v)| &installed(p) == v)
    }

    pub fn at_newest(&self) -> bool {
        self.newest.iter().all(|(p, v)| &installed(p) == v)
    }
}

/// Reinstalls the newest versions when dropped, whatever happened.
pub struct Restore<'a>(pub &'a Versions);

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        wait_for_dpkg();
        if !self.0.at_newest() {
            Versions::install(&self.0.newest);
        }
        assert!(self.0.at_newest(), "the newest QEMU is installed again");
    }
}

pub fn wait_for_dpkg() {
    let root = hvguard_core::HostRoot::live();
    let deadline = Instant::now() + Duration::from_secs(600);
    while hvguard_update::locks::dpkg_lock_holder(&root).is_some() {
        assert!(Instant::now() < deadline, "dpkg stayed locked");
        std::thread::sleep(Duration::from_millis(250));
    }
}
