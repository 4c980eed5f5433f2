//! What Kata will really run with once hvguard's file is in place.
//!
//! Kata reads the main configuration, then every entry of `config.d/` in file-name (byte)
//! order, a later file winning key by key. hvguard's drop-in is `80-…`: an operator's
//! `90-operator.toml` comes after it and can set a hardened key right back. Writing the
//! drop-in and saying "hardened" would then be a lie, so the result is computed the way
//! Kata computes it, with hvguard's drop-in at its own place among the others, and every
//! hardened key a later file undoes is named with that file and line.

use super::copy::harden_text;
use super::error::HardenError;
use super::paths::DROPIN_NAME;
use super::render::render_dropin;
use super::READ_LIMIT;
use crate::aliases::canonical_key;
use crate::dropin::{dropin_dir, scan_dropins};
use crate::files::load_file;
use crate::load::parse_config_str;
use hvguard_core::os_name::display_path;
use hvguard_core::{ConfigValue, HardeningPlan, HostRoot, SourcedValue};
use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A hardened key that a file read after hvguard's sets to something else.
#[derive(Debug, Clone, PartialEq)]
pub struct Undone {
    /// The key, in the loader's (canonical) spelling.
    pub key: String,
    /// What hvguard sets.
    pub planned: ConfigValue,
    /// What Kata ends up with.
    pub value: ConfigValue,
    /// The file that sets it, and where.
    pub path: PathBuf,
    pub line: u32,
}

/// The configuration Kata will read, and the hardened keys it does not hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Effective {
    /// Canonical dotted key -> the value that wins and where it is written.
    pub values: BTreeMap<String, SourcedValue>,
    /// Hardened keys a later file undoes, by key.
    pub undone: Vec<Undone>,
}

impl Effective {
    /// True when every hardened key holds the hardened value.
    pub fn is_hardened(&self) -> bool {
        self.undone.is_empty()
    }
}

/// Kata's effective configuration for `main` once hvguard's drop-in holds `plan`: the real
/// main file (Kata resolves links first), then `config.d/` in name order with hvguard's
/// drop-in in its place (replacing the one there now, if any).
pub fn effective_with_dropin(
    root: &HostRoot,
    main: &Path,
    plan: &HardeningPlan,
) -> Result<Effective, HardenError> {
    let real = root.canonical(main)?;
    let (base, _) = load_file(root, &real)?;
    let ours = dropin_dir(&real).join(DROPIN_NAME);
    let ours = parse_config_str(&ours, &render_dropin(plan))?;
    merge(root, &real, base.values, Some(ours.values), plan)
}

/// Kata's effective configuration when it is pointed at the hardened copy of `main`: the
/// copy, then `config.d/` (which sits beside both and applies to the copy too, on every
/// release that reads drop-ins).
pub fn effective_with_copy(
    root: &HostRoot,
    main: &Path,
    plan: &HardeningPlan,
    copy: &Path,
) -> Result<Effective, HardenError> {
    let real = root.canonical(main)?;
    let text = root.read_text(&real, READ_LIMIT)?;
    let hardened = harden_text(main, &text, &plan.settings)?;
    let base = parse_config_str(copy, &hardened)?;
    merge(root, &real, base.values, None, plan)
}

fn merge(
    root: &HostRoot,
    real_main: &Path,
    mut values: BTreeMap<String, SourcedValue>,
    ours: Option<BTreeMap<String, SourcedValue>>,
    plan: &HardeningPlan,
) -> Result<Effective, HardenError> {
    let scan = scan_dropins(root, real_main);
    let mut ours = ours;
    for dropin in scan.files {
        let name = dropin.file_name().map(|n| n.as_bytes()).unwrap_or_default();
        if name == DROPIN_NAME.as_bytes() {
            continue;
        }
        if name > DROPIN_NAME.as_bytes() {
            if let Some(ours) = ours.take() {
                values.extend(ours);
            }
        }
        let (parsed, _) = load_file(root, &dropin)?;
        values.extend(parsed.values);
    }
    if let Some(ours) = ours {
        values.extend(ours);
    }
    let undone = plan
        .settings
        .iter()
        .filter_map(|s| {
            let key = canonical_key(&s.key).unwrap_or_else(|| s.key.clone());
            let now = values.get(&key)?;
            (now.value != s.value).then(|| Undone {
                key,
                planned: s.value.clone(),
                value: now.value.clone(),
                path: display_path(&now.path),
                line: now.line,
            })
        })
        .collect();
    Ok(Effective { values, undone })
}
