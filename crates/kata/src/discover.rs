//! Finding every Kata configuration on a host root, in the order each runtime looks.
//!
//! Go runtime (`src/runtime/pkg/containerd-shim-v2/create.go` `loadRuntimeConfig`, then
//! `src/runtime/pkg/katautils/config.go` `GetDefaultConfigFilePaths`): containerd's
//! `options.ConfigPath`, then `KATA_CONF_FILE`, then [`GO_DEFAULTS`] in order.
//! runtime-rs (`src/runtime-rs/crates/runtimes/src/manager.rs` `load_config`, then
//! `src/libs/kata-types/src/config/default.rs` `DEFAULT_RUNTIME_CONFIGURATIONS`):
//! `KATA_CONF_FILE`, then `ConfigPath`, then [`RS_DEFAULTS`] in order.
//!
//! Beyond the file each runtime would pick, every `configuration*.toml` in the default
//! folders and in kata-deploy's `runtimes/<shim>/` folders is loaded too: any of them can
//! be selected by a runtime class, and a weak one is a risk waiting for a `ConfigPath`.
//! Each real file is loaded once, however many names reach it.

use crate::containerd::{load_containerd, ContainerdNote, FoundRuntime, CONTAINERD_CONFIG};
use crate::error::KataError;
use crate::files::{is_regular_file, list_dir, real_host_path};
use crate::harden::is_hardened_copy;
use crate::merge::load_with_dropins;
use crate::runtime::path_says_runtime_rs;
use hvguard_core::{ContainerdRuntime, HostRoot, KataConfig, KataRuntime};
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The Go runtime's fall-back files, highest priority first.
pub const GO_DEFAULTS: &[&str] = &[
    "/etc/kata-containers/configuration.toml",
    "/usr/share/defaults/kata-containers/configuration.toml",
    "/opt/kata/share/defaults/kata-containers/configuration.toml",
];

/// runtime-rs's fall-back files, highest priority first.
pub const RS_DEFAULTS: &[&str] = &[
    "/etc/kata-containers/runtime-rs/configuration.toml",
    "/usr/share/defaults/kata-containers/runtime-rs/configuration.toml",
    "/opt/kata/share/defaults/kata-containers/runtime-rs/configuration.toml",
];

/// kata-deploy's per-shim copies live in `<this>/<shim>/`.
pub const KATA_DEPLOY_RUNTIMES: &str = "/opt/kata/share/defaults/kata-containers/runtimes";

/// What discovery may know beyond the root itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiscoveryEnv {
    /// `KATA_CONF_FILE`, as the shims would see it (the CLI passes it on the live root only).
    pub kata_conf_file: Option<PathBuf>,
}

/// Everything discovery found.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Every configuration, drop-ins merged, sorted by main file.
    pub configs: Vec<KataConfig>,
    /// containerd's Kata runtime handlers as every containerd family reads them, sorted by
    /// name; [`crate::narrow_runtimes`] keeps those of the families in play.
    pub containerd: Vec<ContainerdRuntime>,
    /// Warnings about containerd's files, by family ([`crate::notes_for`] renders them).
    pub containerd_notes: Vec<ContainerdNote>,
    /// Skipped drop-ins, dangling `ConfigPath`s, ...
    pub warnings: Vec<String>,
    /// Files that exist but could not be used; discovery carried on without them.
    pub errors: Vec<KataError>,
}

/// Discovers Kata and containerd configuration under `root`.
pub fn discover(root: &HostRoot, env: &DiscoveryEnv) -> Discovery {
    let mut out = Discovery::default();
    let containerd = load_containerd_if_present(root, &mut out);

    let mut candidates = Candidates::default();
    for rt in &containerd {
        if let Some(cp) = &rt.entry.config_path {
            let what = format!("ConfigPath of containerd runtime {}", rt.entry.name);
            candidates.add(root, cp, Some(rt.runtime), &what);
        }
    }
    if let Some(conf) = &env.kata_conf_file {
        candidates.add(root, conf, None, "KATA_CONF_FILE");
    }
    for (defaults, runtime) in [
        (GO_DEFAULTS, KataRuntime::Go),
        (RS_DEFAULTS, KataRuntime::Rs),
    ] {
        for main in defaults {
            let main = Path::new(main);
            let hint = (runtime == KataRuntime::Rs).then_some(KataRuntime::Rs);
            candidates.add_quiet(root, main, hint);
            if let Some(dir) = main.parent() {
                for name in config_names(root, dir, &mut out.warnings) {
                    candidates.add_quiet(root, &dir.join(name), hint);
                }
            }
        }
    }
    let shims = list_dir(root, Path::new(KATA_DEPLOY_RUNTIMES)).unwrap_or_default();
    for shim in shims {
        let dir = Path::new(KATA_DEPLOY_RUNTIMES).join(shim);
        for name in config_names(root, &dir, &mut out.warnings) {
            candidates.add_quiet(root, &dir.join(name), None);
        }
    }

    out.warnings.append(&mut candidates.warnings);
    let labels = runtime_class_labels(root, env, &containerd, &mut out.warnings);
    for (real, hint) in candidates.by_real {
        match load_with_dropins(root, &real, hint) {
            Ok(loaded) => {
                let mut config = loaded.config;
                config.runtime_classes = labels
                    .get(&real)
                    .map(|s| s.iter().cloned().collect())
                    .unwrap_or_default();
                out.warnings.extend(loaded.warnings);
                out.configs.push(config);
            }
            Err(e) => out.errors.push(e),
        }
    }
    out.containerd = containerd.into_iter().map(|r| r.entry).collect();
    out
}

fn load_containerd_if_present(root: &HostRoot, out: &mut Discovery) -> Vec<FoundRuntime> {
    let main = Path::new(CONTAINERD_CONFIG);
    if !root.exists(main) {
        return Vec::new();
    }
    let scan = load_containerd(root, main);
    out.containerd_notes.extend(scan.notes);
    out.errors.extend(scan.errors);
    scan.runtimes
}

/// `configuration*.toml` names in `dir` (the `config.d/` folder is drop-ins, not configs),
/// hvguard's own hardened copies left out: they are outputs, not the operator's
/// configuration (a copy containerd really uses is reached through its `ConfigPath`).
fn config_names(root: &HostRoot, dir: &Path, warnings: &mut Vec<String>) -> Vec<OsString> {
    match list_dir(root, dir) {
        Ok(names) => names
            .into_iter()
            .filter(|n| {
                let n = n.as_bytes();
                n.starts_with(b"configuration")
                    && n.ends_with(b".toml")
                    && !is_hardened_copy(Path::new(OsStr::from_bytes(n)))
            })
            .collect(),
        Err(e) => {
            warnings.push(format!("{e} (folder skipped)"));
            Vec::new()
        }
    }
}

/// Candidate files keyed by real path, each with the runtime known from how it was reached.
#[derive(Default)]
struct Candidates {
    by_real: BTreeMap<PathBuf, Option<KataRuntime>>,
    warnings: Vec<String>,
}

impl Candidates {
    /// A file something explicitly points at: its absence is worth a warning.
    fn add(&mut self, root: &HostRoot, path: &Path, hint: Option<KataRuntime>, what: &str) {
        if root.symlink_metadata(path).is_err() {
            self.warnings.push(format!(
                "{}: {what} names a file that does not exist",
                path.display()
            ));
            return;
        }
        self.add_quiet(root, path, hint);
    }

    /// A file that may or may not be installed: only a name that exists but cannot be
    /// followed (dangling link, loop, not a file) is worth a warning.
    fn add_quiet(&mut self, root: &HostRoot, path: &Path, hint: Option<KataRuntime>) {
        match root.metadata(path) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => {
                self.warnings
                    .push(format!("{}: skipped: not a regular file", path.display()));
                return;
            }
            Err(e) if e.is_not_found() && root.symlink_metadata(path).is_err() => return,
            Err(e) => {
                self.warnings.push(format!("{e} (configuration skipped)"));
                return;
            }
        }
        let real = match real_host_path(root, path) {
            Ok(real) => real,
            Err(e) => {
                self.warnings.push(format!("{e} (configuration skipped)"));
                return;
            }
        };
        // A name under a runtime-rs folder marks the file even when the target lives elsewhere.
        let hint = hint.or_else(|| path_says_runtime_rs(path).then_some(KataRuntime::Rs));
        let slot = self.by_real.entry(real).or_insert(None);
        if slot.is_none() {
            *slot = hint;
        }
    }
}

/// Real config path -> the containerd handlers that load it, following each runtime's
/// precedence.
fn runtime_class_labels(
    root: &HostRoot,
    env: &DiscoveryEnv,
    runtimes: &[FoundRuntime],
    warnings: &mut Vec<String>,
) -> BTreeMap<PathBuf, BTreeSet<String>> {
    let mut labels: BTreeMap<PathBuf, BTreeSet<String>> = BTreeMap::new();
    for rt in runtimes {
        let env_file = env.kata_conf_file.as_deref();
        let explicit = match rt.runtime {
            KataRuntime::Go => rt.entry.config_path.as_deref().or(env_file),
            KataRuntime::Rs => env_file.or(rt.entry.config_path.as_deref()),
        };
        let defaults = match rt.runtime {
            KataRuntime::Go => GO_DEFAULTS,
            KataRuntime::Rs => RS_DEFAULTS,
        };
        let chosen = match explicit {
            Some(p) => Some(p.to_path_buf()),
            None => defaults
                .iter()
                .map(PathBuf::from)
                .find(|p| is_regular_file(root, p)),
        };
        match chosen.and_then(|p| {
            real_host_path(root, &p)
                .ok()
                .filter(|_| is_regular_file(root, &p))
        }) {
            Some(real) => {
                labels
                    .entry(real)
                    .or_default()
                    .insert(rt.entry.name.clone());
            }
            None => {
                // One handler read alike by several families is one entry per reading.
                let warning = format!(
                    "containerd runtime {} ({}:{}): no Kata configuration file found for it",
                    rt.entry.name,
                    rt.entry.path.display(),
                    rt.entry.line
                );
                if !warnings.contains(&warning) {
                    warnings.push(warning);
                }
            }
        }
    }
    labels
}
