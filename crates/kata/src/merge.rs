//! A main file plus its drop-ins, merged into one `KataConfig`.

use crate::dropin::scan_dropins;
use crate::error::KataError;
use crate::files::load_file;
use crate::runtime::guess_runtime;
use hvguard_core::os_name::display_path;
use hvguard_core::{HostRoot, KataConfig, KataRuntime};
use std::path::Path;

/// A loaded configuration and what was skipped on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The merged configuration.
    pub config: KataConfig,
    /// Drop-in entries skipped (not `.toml`, directories, symlink loops).
    pub warnings: Vec<String>,
}

/// Loads `main` under `root` and applies its `config.d/` drop-ins in order.
///
/// `runtime` is what the caller knows (a runtime-rs folder, a containerd entry); `None`
/// lets the path and the keys decide. A drop-in that does not parse fails the whole load,
/// as it fails Kata's own.
pub fn load_with_dropins(
    root: &HostRoot,
    main: &Path,
    runtime: Option<KataRuntime>,
) -> Result<Loaded, KataError> {
    load_with_dropins_except(root, main, runtime, &[])
}

/// Like [`load_with_dropins`], leaving out the drop-ins named in `except` (file names).
///
/// `hvguard harden` plans from the configuration *without* its own drop-in: planning from a
/// configuration that already holds the fixes would plan nothing and replace the drop-in
/// with an empty one, undoing the hardening on every second run.
pub fn load_with_dropins_except(
    root: &HostRoot,
    main: &Path,
    runtime: Option<KataRuntime>,
    except: &[&str],
) -> Result<Loaded, KataError> {
    let (parsed, stat) = load_file(root, main)?;
    let runtime = runtime.unwrap_or_else(|| guess_runtime(main, &parsed));
    let mut config = KataConfig {
        runtime,
        main: display_path(main),
        dropins: Vec::new(),
        runtime_classes: Vec::new(),
        files: vec![stat],
        values: parsed.values,
    };
    let scan = scan_dropins(root, main);
    for dropin in scan.files {
        if dropin
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| except.contains(&n))
        {
            continue;
        }
        let (parsed, stat) = load_file(root, &dropin)?;
        // Later files win key by key; the winner carries its own file and line.
        config.values.extend(parsed.values);
        config.dropins.push(display_path(&dropin));
        config.files.push(stat);
    }
    Ok(Loaded {
        config,
        warnings: scan.warnings,
    })
}
