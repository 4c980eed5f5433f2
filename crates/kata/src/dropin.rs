//! `config.d/` drop-ins: which files apply, in which order, and what is skipped.
//!
//! Kata reads `config.d/` beside the main file and applies every `*.toml` in it in file-name
//! (byte) order, a later file overriding an earlier one key by key. Anything else in the
//! folder (other suffixes, directories, sockets, dangling or looping symlinks) is skipped
//! with a warning, so an operator learns why a file had no effect.

use crate::files::list_dir;
use hvguard_core::os_name::display_path;
use hvguard_core::HostRoot;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Name of the drop-in folder beside a main configuration file.
pub const DROPIN_DIR: &str = "config.d";

/// The drop-ins that apply to one main file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DropinScan {
    /// Host paths of the drop-ins to apply, in order (real names: not always UTF-8).
    pub files: Vec<PathBuf>,
    /// Entries skipped, each saying why.
    pub warnings: Vec<String>,
}

/// The drop-in folder for `main`.
pub fn dropin_dir(main: &Path) -> PathBuf {
    main.parent()
        .unwrap_or_else(|| Path::new("/"))
        .join(DROPIN_DIR)
}

/// Lists the drop-ins for `main` under `root`.
///
/// Names are bytes: Kata applies a drop-in whatever its name (both runtimes read every
/// entry of the folder), so one whose name is not UTF-8 is applied here too, and named in
/// messages with [`display_path`].
pub fn scan_dropins(root: &HostRoot, main: &Path) -> DropinScan {
    let dir = dropin_dir(main);
    let mut scan = DropinScan::default();
    let names = match list_dir(root, &dir) {
        Ok(names) => names,
        Err(e) => {
            scan.warnings.push(format!("drop-in folder skipped: {e}"));
            return scan;
        }
    };
    for name in names {
        let path = dir.join(&name);
        let shown = display_path(&path);
        if !name.as_bytes().ends_with(b".toml") {
            // Both runtimes read every entry of config.d/ whatever its name (Go's
            // decodeDropIns, runtime-rs's update_from_dropins), so a stray `.bak` is live.
            scan.warnings.push(format!(
                "{}: applied although not named .toml: Kata reads every entry of config.d/",
                shown.display()
            ));
        }
        match root.metadata(&path) {
            Ok(meta) if meta.is_file() => scan.files.push(path),
            Ok(meta) if meta.is_dir() => scan.warnings.push(format!(
                "{}: skipped: a directory, not a drop-in file",
                shown.display()
            )),
            Ok(_) => scan
                .warnings
                .push(format!("{}: skipped: not a regular file", shown.display())),
            Err(e) => scan.warnings.push(format!("{e} (drop-in skipped)")),
        }
    }
    scan
}
