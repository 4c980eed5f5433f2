//! The dpkg/apt driver: every call is a fixed program with an argv, never a shell string.
//!
//! Reads ask `apt-cache` and `dpkg-query`; changes go through `apt-get install` with exact
//! `package=version` pairs (or `.deb` paths for a rollback), non-interactive, refusing any
//! removal, and waiting a bounded time for the dpkg lock (`DPkg::Lock::Timeout`).

pub mod parse;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hvguard_host::packages::exec::{run_tool, Tool, ToolOutput};

use crate::UpdateError;
pub use parse::PackagePolicy;

const APT_GET: &str = "/usr/bin/apt-get";
const APT_CACHE: &str = "/usr/bin/apt-cache";
const DPKG_QUERY: &str = "/usr/bin/dpkg-query";
const DPKG_DEB: &str = "/usr/bin/dpkg-deb";
/// apt keeps downloaded packages here (when no hook cleans it).
pub const APT_ARCHIVES: &str = "/var/cache/apt/archives";

/// Output of a package tool is never this large; a bound keeps a runaway tool in check.
const OUTPUT_LIMIT: u64 = 16 << 20;

/// How apt is asked.
#[derive(Debug, Clone)]
pub struct Apt {
    /// Extra `-o KEY=VALUE` options for every `apt-get` and `apt-cache` call (a proxy, a
    /// sources list, a hook).
    pub options: Vec<String>,
    /// How long an install waits for another package manager to release the dpkg lock.
    pub lock_wait: Duration,
    /// Deadline for one download or install.
    pub long_timeout: Duration,
    /// Where installs write their output (`apt-install-<time>.log`), so that apt and dpkg
    /// finish undisturbed even if hvguard dies mid-install; `None`: pipes.
    pub log_dir: Option<PathBuf>,
}

impl Default for Apt {
    fn default() -> Self {
        Apt {
            options: Vec::new(),
            lock_wait: Duration::from_secs(120),
            long_timeout: Duration::from_secs(30 * 60),
            log_dir: None,
        }
    }
}

/// A `.deb` downloaded or saved, with its control fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebFile {
    pub package: String,
    pub version: String,
    pub arch: String,
    pub source: String,
    /// The source version (differs from `version` for binNMUs: `+b3`).
    pub source_version: String,
    pub path: PathBuf,
}

/// One line of `apt-get install -s`: a package that would be installed or changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedChange {
    pub package: String,
    /// The installed version, `None` for a package that would be newly installed.
    pub from: Option<String>,
    pub to: String,
}

impl Apt {
    fn command_text(program: &str, args: &[String]) -> String {
        let mut text = program.rsplit('/').next().unwrap_or(program).to_owned();
        for a in args {
            text.push(' ');
            text.push_str(a);
        }
        text
    }

    fn run(
        &self,
        program: &str,
        args: Vec<String>,
        cwd: Option<&Path>,
        timeout: Duration,
        env: &[(&str, &str)],
    ) -> Result<ToolOutput, UpdateError> {
        self.run_logged(program, args, cwd, timeout, env, None)
    }

    fn run_logged(
        &self,
        program: &str,
        args: Vec<String>,
        cwd: Option<&Path>,
        timeout: Duration,
        env: &[(&str, &str)],
        log: Option<&Path>,
    ) -> Result<ToolOutput, UpdateError> {
        let out = run_tool(&Tool {
            program: Path::new(program),
            args: &args,
            env,
            cwd,
            timeout,
            limit: OUTPUT_LIMIT,
            keep_stderr: true,
            log,
        })?;
        if !out.status.success() {
            return Err(UpdateError::Tool {
                command: Self::command_text(program, &args),
                detail: format!("{}: {}", out.status, out.tail(4)),
            });
        }
        Ok(out)
    }

    fn with_options(&self, rest: &[&str]) -> Vec<String> {
        let mut args = Vec::new();
        for o in &self.options {
            args.push("-o".to_owned());
            args.push(o.clone());
        }
        args.extend(rest.iter().map(|s| (*s).to_owned()));
        args
    }

    /// `apt-cache policy PKG...`.
    pub fn policy(
        &self,
        packages: &[&str],
    ) -> Result<BTreeMap<String, PackagePolicy>, UpdateError> {
        if packages.is_empty() {
            return Ok(BTreeMap::new());
        }
        let mut rest = vec!["policy", "--"];
        rest.extend(packages);
        let args = self.with_options(&rest);
        let command = Self::command_text(APT_CACHE, &args);
        let out = self.run(APT_CACHE, args, None, Duration::from_secs(60), &[])?;
        parse::parse_policy(&String::from_utf8_lossy(&out.stdout))
            .map_err(|detail| UpdateError::Output { command, detail })
    }

    /// `apt-cache madison PKG`: every version the archives offer, newest first.
    pub fn madison(&self, package: &str) -> Result<Vec<(String, String)>, UpdateError> {
        let args = self.with_options(&["madison", "--", package]);
        let out = self.run(APT_CACHE, args, None, Duration::from_secs(60), &[])?;
        Ok(parse::parse_madison(&String::from_utf8_lossy(&out.stdout)))
    }

    /// `apt-cache show PKG=VERSION`: the control fields of that version.
    pub fn show(
        &self,
        package: &str,
        version: &str,
    ) -> Result<BTreeMap<String, String>, UpdateError> {
        let pin = format!("{package}={version}");
        let args = self.with_options(&["show", "--no-all-versions", "--", &pin]);
        let out = self.run(APT_CACHE, args, None, Duration::from_secs(60), &[])?;
        Ok(parse::parse_first_stanza(&String::from_utf8_lossy(
            &out.stdout,
        )))
    }

    /// `apt-get download PKG=VERSION...` into `dir`; returns the files with their fields.
    pub fn download(
        &self,
        dir: &Path,
        pins: &[(String, String)],
    ) -> Result<Vec<DebFile>, UpdateError> {
        if pins.is_empty() {
            return Ok(Vec::new());
        }
        let pinned: Vec<String> = pins.iter().map(|(p, v)| format!("{p}={v}")).collect();
        // Downloads run as root into a folder the `_apt` sandbox user cannot enter.
        let mut rest = vec!["-o", "APT::Sandbox::User=root", "download", "--"];
        rest.extend(pinned.iter().map(String::as_str));
        let args = self.with_options(&rest);
        self.run(APT_GET, args, Some(dir), self.long_timeout, &[])?;
        pins.iter()
            .map(|(package, version)| {
                let path = find_deb(dir, package, version)?;
                self.deb_fields(&path)
            })
            .collect()
    }

    /// What `apt-get install PKG=VERSION...` would change, from apt's own simulation.
    pub fn simulate(&self, pins: &[(String, String)]) -> Result<Vec<PlannedChange>, UpdateError> {
        let pinned: Vec<String> = pins.iter().map(|(p, v)| format!("{p}={v}")).collect();
        let mut rest = vec![
            "install",
            "-s",
            "-y",
            "--no-remove",
            "--no-install-recommends",
            "--",
        ];
        rest.extend(pinned.iter().map(String::as_str));
        let args = self.with_options(&rest);
        let out = self.run(APT_GET, args, None, Duration::from_secs(120), &[])?;
        Ok(parse_simulation(&String::from_utf8_lossy(&out.stdout)))
    }

    fn install_args(&self, targets: &[String], downgrade: bool) -> Vec<String> {
        let timeout = format!("DPkg::Lock::Timeout={}", self.lock_wait.as_secs());
        let mut rest = vec![
            "-o",
            &timeout,
            "-o",
            "Dpkg::Options::=--force-confdef",
            "-o",
            "Dpkg::Options::=--force-confold",
            "install",
            "-y",
            "-q",
            "--no-remove",
            "--no-install-recommends",
        ];
        if downgrade {
            rest.push("--allow-downgrades");
        }
        rest.push("--");
        rest.extend(targets.iter().map(String::as_str));
        self.with_options(&rest)
    }

    const INSTALL_ENV: [(&'static str, &'static str); 2] = [
        ("DEBIAN_FRONTEND", "noninteractive"),
        ("APT_LISTCHANGES_FRONTEND", "none"),
    ];

    fn install_log(&self) -> Option<PathBuf> {
        /// Install logs kept; older ones are removed when a new one starts.
        const KEEP: usize = 20;
        let dir = self.log_dir.as_ref()?;
        std::fs::create_dir_all(dir).ok()?;
        if let Ok(entries) = std::fs::read_dir(dir) {
            // Names start with a UTC timestamp: name order is age order.
            let mut logs: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("apt-install-"))
                })
                .collect();
            logs.sort();
            for old in logs.iter().take(logs.len().saturating_sub(KEEP - 1)) {
                let _ = std::fs::remove_file(old);
            }
        }
        let now = jiff::Timestamp::now();
        Some(dir.join(format!(
            "apt-install-{}-{}.log",
            now.strftime("%Y%m%dT%H%M%S%.3fZ"),
            std::process::id()
        )))
    }

    /// Installs exactly these versions.
    pub fn install_versions(&self, pins: &[(String, String)]) -> Result<(), UpdateError> {
        let pinned: Vec<String> = pins.iter().map(|(p, v)| format!("{p}={v}")).collect();
        let args = self.install_args(&pinned, false);
        let log = self.install_log();
        self.run_logged(
            APT_GET,
            args,
            None,
            self.long_timeout,
            &Self::INSTALL_ENV,
            log.as_deref(),
        )?;
        Ok(())
    }

    /// Installs these `.deb` files (a rollback: older versions allowed).
    pub fn install_files(&self, files: &[PathBuf]) -> Result<(), UpdateError> {
        let paths: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        let args = self.install_args(&paths, true);
        let log = self.install_log();
        self.run_logged(
            APT_GET,
            args,
            None,
            self.long_timeout,
            &Self::INSTALL_ENV,
            log.as_deref(),
        )?;
        Ok(())
    }

    /// The installed version of `package` per dpkg (`None` when not installed).
    pub fn installed_version(&self, package: &str) -> Result<Option<String>, UpdateError> {
        let args = vec![
            "-W".to_owned(),
            "-f=${db:Status-Abbrev}\t${Version}\n".to_owned(),
            "--".to_owned(),
            package.to_owned(),
        ];
        let out = run_tool(&Tool {
            program: Path::new(DPKG_QUERY),
            args: &args,
            env: &[],
            cwd: None,
            timeout: Duration::from_secs(30),
            limit: OUTPUT_LIMIT,
            keep_stderr: true,
            log: None,
        })?;
        // dpkg-query exits 1 for a package it has never heard of.
        let text = String::from_utf8_lossy(&out.stdout);
        let Some(line) = text.lines().next() else {
            return Ok(None);
        };
        let (status, version) = line.split_once('\t').unwrap_or((line, ""));
        Ok((status.starts_with("ii") && !version.is_empty()).then(|| version.to_owned()))
    }

    /// `dpkg-deb -f FILE Package Version Architecture Source`.
    pub fn deb_fields(&self, path: &Path) -> Result<DebFile, UpdateError> {
        let args = vec![
            "-f".to_owned(),
            path.display().to_string(),
            "Package".to_owned(),
            "Version".to_owned(),
            "Architecture".to_owned(),
            "Source".to_owned(),
        ];
        let command = Self::command_text(DPKG_DEB, &args);
        let out = self.run(DPKG_DEB, args, None, Duration::from_secs(60), &[])?;
        let fields = parse::parse_first_stanza(&String::from_utf8_lossy(&out.stdout));
        let get = |k: &str| fields.get(k).cloned();
        let (Some(package), Some(version), Some(arch)) =
            (get("Package"), get("Version"), get("Architecture"))
        else {
            return Err(UpdateError::Output {
                command,
                detail: "no Package, Version or Architecture field".into(),
            });
        };
        // `Source: qemu (1:7.2+dfsg-7+deb12u18)` for binNMUs; absent when equal to Package.
        let source_field = get("Source").unwrap_or_default();
        let mut words = source_field.split_whitespace();
        let source = words
            .next()
            .map(str::to_owned)
            .unwrap_or_else(|| package.clone());
        let source_version = words
            .next()
            .and_then(|v| v.strip_prefix('(')?.strip_suffix(')'))
            .map_or_else(|| version.clone(), str::to_owned);
        Ok(DebFile {
            package,
            version,
            arch,
            source,
            source_version,
            path: path.to_path_buf(),
        })
    }

    /// `dpkg-deb -x FILE DIR`: unpack without installing.
    pub fn extract(&self, deb: &Path, dir: &Path) -> Result<(), UpdateError> {
        let args = vec![
            "-x".to_owned(),
            deb.display().to_string(),
            dir.display().to_string(),
        ];
        self.run(DPKG_DEB, args, None, Duration::from_secs(300), &[])?;
        Ok(())
    }
}

/// The `.deb` `apt-get download` left in `dir` for `package` at `version`.
pub fn find_deb(dir: &Path, package: &str, version: &str) -> Result<PathBuf, UpdateError> {
    let prefix = format!("{package}_{}_", version.replace(':', "%3a"));
    let entries = std::fs::read_dir(dir)
        .map_err(|e| UpdateError::io(dir, "listing downloaded packages", e))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&prefix) && name.ends_with(".deb") {
            return Ok(entry.path());
        }
    }
    Err(UpdateError::Artifact {
        path: dir.join(format!("{prefix}*.deb")),
        reason: "apt-get reported success but the package file is not there".into(),
    })
}

/// `Inst NAME [OLD] (NEW ARCHIVE [ARCH])` lines of `apt-get install -s`.
pub fn parse_simulation(text: &str) -> Vec<PlannedChange> {
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("Inst ")?;
            let (package, rest) = rest.split_once(' ')?;
            let rest = rest.trim_start();
            let (from, rest) = match rest.strip_prefix('[') {
                Some(r) => {
                    let (old, r) = r.split_once(']')?;
                    (Some(old.to_owned()), r.trim_start())
                }
                None => (None, rest),
            };
            let to = rest
                .strip_prefix('(')?
                .split_whitespace()
                .next()?
                .to_owned();
            Some(PlannedChange {
                package: package.to_owned(),
                from,
                to,
            })
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn simulation_lines() {
        let text = "NOTE: This is only a simulation!\n\
            Inst qemu-system-common [1:7.2+dfsg-7+deb12u15] (1:7.2+dfsg-7+deb12u18+b3 Debian:12.11/stable [amd64]) []\n\
            Inst qemu-utils (1:7.2+dfsg-7+deb12u18+b3 Debian:12.11/stable [amd64])\n\
            Conf qemu-system-common (1:7.2+dfsg-7+deb12u18+b3 Debian:12.11/stable [amd64])\n";
        let plan = parse_simulation(text);
        assert_eq!(plan.len(), 2);
        assert_eq!(plan[0].from.as_deref(), Some("1:7.2+dfsg-7+deb12u15"));
        assert_eq!(plan[0].to, "1:7.2+dfsg-7+deb12u18+b3");
        assert_eq!(plan[1].from, None);
    }
}
