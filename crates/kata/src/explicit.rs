//! Files named on the command line (`hvguard audit --config FILE...`).
//!
//! Each file is read from the running host's file system (bounded to
//! [`MAX_CONFIG_BYTES`](crate::MAX_CONFIG_BYTES)) with its own `config.d/` drop-ins. Relative
//! paths are made absolute against the current directory so positions name a file an
//! operator can open from anywhere. The runtime is guessed from the path and the keys
//! (see [`crate::runtime`]).

use crate::error::KataError;
use crate::merge::load_with_dropins;
use hvguard_core::{HostRoot, KataConfig, RootError};
use std::path::PathBuf;

/// Loads each file with its drop-ins; the first file that fails stops the load.
pub fn load_explicit(paths: &[PathBuf]) -> Result<Vec<KataConfig>, KataError> {
    load_explicit_with_warnings(paths).map(|(configs, _)| configs)
}

/// Like [`load_explicit`], also returning the drop-in entries that were skipped.
pub fn load_explicit_with_warnings(
    paths: &[PathBuf],
) -> Result<(Vec<KataConfig>, Vec<String>), KataError> {
    let root = HostRoot::live();
    let mut configs = Vec::with_capacity(paths.len());
    let mut warnings = Vec::new();
    for path in paths {
        let abs = std::path::absolute(path).map_err(|cause| RootError::Io {
            path: path.clone(),
            cause,
        })?;
        let loaded = load_with_dropins(&root, &abs, None)?;
        configs.push(loaded.config);
        warnings.extend(loaded.warnings);
    }
    Ok((configs, warnings))
}
