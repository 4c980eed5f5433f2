//! Writing hvguard's drop-in: idempotent, atomic, with a backup of what it replaces.

use super::atomic::write_atomic;
use super::error::HardenError;
use super::paths::{as_io, open_folder, Placement, BACKUP_DIR, DROPIN_DIR, DROPIN_NAME};
use super::render::render_dropin;
use super::READ_LIMIT;
use hvguard_core::{HardeningPlan, HostRoot, RootDir, RootError};
use std::ffi::OsStr;
use std::fmt;
use std::path::PathBuf;

/// Mode of folders hvguard creates (`config.d/`, `hvguard-backups/`).
const DIR_MODE: u32 = 0o755;

/// What a write did, or (from [`preview_dropin`]) would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropinStatus {
    /// No drop-in yet: it is created.
    Create,
    /// A drop-in with other content exists: it is backed up, then replaced.
    Replace,
    /// The drop-in already holds exactly these settings: nothing is written.
    Unchanged,
}

/// The result of [`write_dropin`]; paths are host paths, as Kata sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOutcome {
    pub status: DropinStatus,
    /// The drop-in.
    pub path: PathBuf,
    /// Where the replaced drop-in was saved, when one was replaced.
    pub backup: Option<PathBuf>,
    /// True when `config.d/` did not exist and was created.
    pub created_dir: bool,
}

impl fmt::Display for WriteOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.status, &self.backup) {
            (DropinStatus::Unchanged, _) => write!(
                f,
                "nothing to change: {} already holds these settings",
                self.path.display()
            ),
            (DropinStatus::Replace, Some(backup)) => write!(
                f,
                "replaced {} (previous version saved as {})",
                self.path.display(),
                backup.display()
            ),
            _ => write!(f, "wrote {}", self.path.display()),
        }
    }
}

/// What [`write_dropin`] would do for `plan`, without touching the disk (the dry run).
pub fn preview_dropin(root: &HostRoot, plan: &HardeningPlan) -> Result<DropinStatus, HardenError> {
    let placement = Placement::for_main(root, &plan.config)?;
    let content = render_dropin(plan);
    let existing = match &placement.dropin_dir {
        Some(dir) => read_existing(dir, DROPIN_NAME)?,
        None => None,
    };
    Ok(status(existing.as_deref(), &content))
}

/// Writes `plan` as `config.d/80-hvguard-hardening.toml` beside the (real) main configuration.
///
/// Nothing but that file, `config.d/` when missing, and a backup under `hvguard-backups/` is
/// ever created; the main configuration and other drop-ins are only read. A drop-in that already
/// holds the same bytes is left alone. One with other content (an older plan, or a hand edit) is
/// copied to `hvguard-backups/80-hvguard-hardening.toml.bak-<UTC time>` first; the backup folder
/// sits outside `config.d/` because Kata would parse a backup there as a drop-in. A symbolic link
/// in the drop-in's place is refused. On error nothing is left half-written, and a `config.d/`
/// created by this call is removed again. Every write goes through the folders' descriptors
/// (see [`super::paths`]).
pub fn write_dropin(
    root: &HostRoot,
    plan: &HardeningPlan,
    now: jiff::Timestamp,
) -> Result<WriteOutcome, HardenError> {
    let mut placement = Placement::for_main(root, &plan.config)?;
    let content = render_dropin(plan);
    let existing = match &placement.dropin_dir {
        Some(dir) => read_existing(dir, DROPIN_NAME)?,
        None => None,
    };
    let status = status(existing.as_deref(), &content);
    let mut outcome = WriteOutcome {
        status,
        path: placement.dropin_dir_path.join(DROPIN_NAME),
        backup: None,
        created_dir: false,
    };
    if status == DropinStatus::Unchanged {
        return Ok(outcome);
    }
    outcome.created_dir = placement.ensure_dropin_dir(DIR_MODE)?;
    let placement = &placement;
    let result = (|| {
        let dropin_dir =
            placement
                .dropin_dir
                .as_ref()
                .ok_or_else(|| HardenError::NotADirectory {
                    path: placement.dropin_dir_path.clone(),
                })?;
        if let Some(old) = &existing {
            outcome.backup = Some(backup(root, placement, DROPIN_NAME, old, now)?);
        }
        write_atomic(
            dropin_dir,
            DROPIN_NAME,
            Some(&placement.config_dir),
            content.as_bytes(),
        )
    })();
    if let Err(e) = result {
        if outcome.created_dir {
            // Only succeeds when empty, so nothing of anyone else's can go with it.
            let _ = placement.config_dir.remove_subdir(DROPIN_DIR.as_ref());
        }
        return Err(e);
    }
    Ok(outcome)
}

fn status(existing: Option<&[u8]>, content: &str) -> DropinStatus {
    match existing {
        None => DropinStatus::Create,
        Some(old) if old == content.as_bytes() => DropinStatus::Unchanged,
        Some(_) => DropinStatus::Replace,
    }
}

/// The bytes of `name` in `dir`, a file hvguard may replace; `None` when absent. Refuses
/// links and non-files, without opening them.
pub(crate) fn read_existing(dir: &RootDir, name: &str) -> Result<Option<Vec<u8>>, HardenError> {
    dir.read_file(OsStr::new(name), READ_LIMIT)
        .map_err(|e| match e {
            RootError::Symlink { path } => HardenError::Symlink { path },
            RootError::IsADirectory { path } | RootError::NotARegularFile { path } => {
                HardenError::NotAFile { path }
            }
            RootError::TooLarge { path, limit } => HardenError::TooLarge { path, limit },
            RootError::Io { path, cause } => HardenError::io(path, "read file", cause),
            other => HardenError::Root(other),
        })
}

/// Saves `old` (the current content of `name`) under `hvguard-backups/`, returning its host
/// path.
pub(crate) fn backup(
    root: &HostRoot,
    placement: &Placement,
    name: &str,
    old: &[u8],
    now: jiff::Timestamp,
) -> Result<PathBuf, HardenError> {
    let config_dir = &placement.config_dir;
    let host_dir = config_dir.entry_path(OsStr::new(BACKUP_DIR));
    let dir = match open_folder(root, &host_dir)? {
        Some(dir) => dir,
        None => config_dir
            .create_subdir(OsStr::new(BACKUP_DIR), DIR_MODE)
            .map_err(|e| as_io(e, &host_dir, "create folder"))?,
    };
    let stem = format!("{name}.bak-{}", now.strftime("%Y%m%dT%H%M%SZ"));
    let mut file = stem.clone();
    let mut n = 1;
    while dir.entry_kind(OsStr::new(&file))?.is_some() {
        file = format!("{stem}-{n}");
        n += 1;
    }
    write_atomic(&dir, &file, None, old)?;
    Ok(dir.entry_path(OsStr::new(&file)))
}
