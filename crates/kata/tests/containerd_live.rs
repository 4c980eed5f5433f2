//! Every containerd merge fixture set through the real containerd installed on this machine
//! (Debian 12: `apt-get install containerd`, 1.6.20): `containerd --config F config dump`
//! prints the configuration containerd merged, and its runtime handlers must be what hvguard
//! computes for that containerd's family, and what the set's `expect.toml` says.
//!
//! The live binary is run (argv only, a deadline, killed by PID on expiry); nothing under a
//! scanned root ever is. Each set is copied twice: once with `{root}` left empty for hvguard's
//! `HostRoot`, once with `{root}` replaced by the copy's real path for containerd, which runs
//! with that copy as its working directory (the daemon's `/`).
//!
//! Without containerd the test says SKIPPED; with `CI=true` it fails instead.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod containerd_cases;

use containerd_cases::{cases, handler_of, MAIN};
use hvguard_core::{readings_in_play, ContainerdSemantics, HostRoot};
use hvguard_kata::containerd::{CRI_RUNTIME, GRPC_CRI, KATA_RUNTIME_TYPE_PREFIX};
use hvguard_kata::{load_containerd, Handler};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `containerd config dump` loads every plugin's defaults; a few seconds on a loaded machine.
const DEADLINE: Duration = Duration::from_secs(60);

/// The live containerd and its family, or why there is none.
fn live_containerd() -> Result<(PathBuf, ContainerdSemantics, String), String> {
    let root = HostRoot::live();
    let packages = hvguard_host::packages::read_installed(&root);
    let found = hvguard_host::containerd::discover(&root, &packages);
    let binary = found
        .binaries
        .first()
        .ok_or("no containerd binary (apt-get install containerd)")?;
    let in_play = readings_in_play(&found.binaries);
    let family = match in_play.iter().collect::<Vec<_>>()[..] {
        [one] => *one,
        _ => return Err(format!("containerd version unknown: {found:?}")),
    };
    Ok((
        binary.path.clone(),
        family,
        binary.version.clone().unwrap_or_default(),
    ))
}

struct Dump {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Runs `containerd --config <dir>/etc/containerd/config.toml config dump` in `dir`.
fn dump(binary: &Path, dir: &Path) -> Dump {
    let config = dir.join("etc/containerd/config.toml");
    let mut child = Command::new(binary)
        .arg("--config")
        .arg(&config)
        .args(["config", "dump"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("containerd starts");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).map(|_| s)
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).map(|_| s)
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > DEADLINE {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!(
                "containerd config dump in {} took over {DEADLINE:?}",
                dir.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Dump {
        ok: status.success(),
        stdout: reader.join().unwrap().unwrap(),
        stderr: err_reader.join().unwrap().unwrap(),
    }
}

/// The runtime handlers of a dump, from the table `family` reads.
fn dumped_runtimes(text: &str, family: ContainerdSemantics) -> BTreeMap<String, Handler> {
    let doc: toml_edit::DocumentMut = text.parse().expect("containerd prints TOML");
    let plugin = if family.is_v1() {
        GRPC_CRI
    } else {
        CRI_RUNTIME
    };
    let runtimes = doc["plugins"][plugin]["containerd"]["runtimes"]
        .as_table()
        .expect("the dump has a runtimes table");
    runtimes
        .iter()
        .map(|(name, item)| (name.to_string(), handler_of(item)))
        .collect()
}

#[test]
fn real_containerd_merges_every_fixture_set_as_hvguard_says() {
    let (binary, family, version) = match live_containerd() {
        Ok(found) => found,
        Err(why) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true and the real containerd is missing: {why}");
            }
            eprintln!("\n*** SKIPPED: {why} ***\n");
            println!("SKIPPED: {why}");
            return;
        }
    };
    eprintln!(
        "checking against {} {version} ({})",
        binary.display(),
        family.id()
    );
    let mut failures = Vec::new();
    for case in cases() {
        let ours = tempfile::tempdir().unwrap();
        case.materialise(ours.path(), "");
        let theirs = tempfile::tempdir().unwrap();
        case.materialise(theirs.path(), &theirs.path().to_string_lossy());

        let scan = load_containerd(&HostRoot::new(ours.path()).unwrap(), Path::new(MAIN));
        let want = case.expected_for(family);
        let real = dump(&binary, theirs.path());
        let at = format!("{} ({} {version})", case.name, binary.display());
        if real.ok != scan.starts(family) || real.ok != want.starts {
            failures.push(format!(
                "{at}: containerd starts: {}, hvguard says {}, expect.toml says {}\n  {}",
                real.ok,
                scan.starts(family),
                want.starts,
                real.stderr.trim()
            ));
            continue;
        }
        if !real.ok {
            continue;
        }
        let mut real_runtimes = dumped_runtimes(&real.stdout, family);
        // Every path containerd printed is under the copy; hvguard's are host paths.
        let prefix = theirs.path().to_string_lossy().into_owned();
        for h in real_runtimes.values_mut() {
            if let Some(p) = &mut h.config_path {
                *p = p.replacen(&prefix, "", 1);
            }
        }
        match &scan.handlers[&family] {
            None => {
                // No file gives the table: containerd shows its built-in handler, never a
                // Kata one.
                let kata: Vec<_> = real_runtimes
                    .iter()
                    .filter(|(_, h)| h.runtime_type.starts_with(KATA_RUNTIME_TYPE_PREFIX))
                    .collect();
                if !kata.is_empty() || !want.builtin {
                    failures.push(format!(
                        "{at}: hvguard finds no runtimes table; containerd shows {real_runtimes:?}"
                    ));
                }
            }
            Some(ours) => {
                if *ours != real_runtimes || want.runtimes != real_runtimes {
                    failures.push(format!(
                        "{at}:\n  containerd  {real_runtimes:?}\n  hvguard     {ours:?}\n  expect.toml {:?}",
                        want.runtimes
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
