//! Writing hvguard's drop-in: idempotent, atomic, with a backup of what it replaces.

use super::atomic::write_atomic;
use super::error::HardenError;
use super::paths::{host_path, Placement, DROPIN_NAME};
use super::render::render_dropin;
use super::READ_LIMIT;
use hvguard_core::{HardeningPlan, HostRoot};
use std::fmt;
use std::fs::{self, DirBuilder, File};
use std::io::{self, Read};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

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
    check_dropin_dir(&placement.dropin_dir)?;
    let content = render_dropin(plan);
    Ok(status(
        read_existing(&placement.dropin)?.as_deref(),
        &content,
    ))
}

/// Writes `plan` as `config.d/80-hvguard-hardening.toml` beside the (real) main configuration.
///
/// Nothing but that file, `config.d/` when missing, and a backup under `hvguard-backups/` is
/// ever created; the main configuration and other drop-ins are only read. A drop-in that already
/// holds the same bytes is left alone. One with other content (an older plan, or a hand edit) is
/// copied to `hvguard-backups/80-hvguard-hardening.toml.bak-<UTC time>` first; the backup folder
/// sits outside `config.d/` because Kata would parse a backup there as a drop-in. A symbolic link
/// in the drop-in's place is refused. On error nothing is left half-written, and a `config.d/`
/// created by this call is removed again.
pub fn write_dropin(
    root: &HostRoot,
    plan: &HardeningPlan,
    now: jiff::Timestamp,
) -> Result<WriteOutcome, HardenError> {
    let placement = Placement::for_main(root, &plan.config)?;
    let dir_exists = check_dropin_dir(&placement.dropin_dir)?;
    let content = render_dropin(plan);
    let existing = read_existing(&placement.dropin)?;
    let status = status(existing.as_deref(), &content);
    let mut outcome = WriteOutcome {
        status,
        path: host_path(root, &placement.dropin),
        backup: None,
        created_dir: false,
    };
    if status == DropinStatus::Unchanged {
        return Ok(outcome);
    }
    if !dir_exists {
        make_dir(&placement.dropin_dir)?;
        outcome.created_dir = true;
    }
    let result = (|| {
        if let Some(old) = &existing {
            let backup = backup(&placement, DROPIN_NAME, old, now)?;
            outcome.backup = Some(host_path(root, &backup));
        }
        write_atomic(
            &placement.dropin,
            Some(&placement.config_dir),
            content.as_bytes(),
        )
    })();
    if let Err(e) = result {
        if outcome.created_dir {
            // Only succeeds when empty, so nothing of anyone else's can go with it.
            let _ = fs::remove_dir(&placement.dropin_dir);
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

/// True when `config.d/` exists (as a folder, possibly through a link Kata would follow too).
fn check_dropin_dir(dir: &Path) -> Result<bool, HardenError> {
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(true),
        Ok(_) => Err(HardenError::NotADirectory {
            path: dir.to_path_buf(),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(HardenError::io(dir, "inspect folder", e)),
    }
}

pub(crate) fn make_dir(dir: &Path) -> Result<(), HardenError> {
    DirBuilder::new()
        .mode(DIR_MODE)
        .create(dir)
        .map_err(|e| HardenError::io(dir, "create folder", e))
}

/// The bytes of a file hvguard may replace, `None` when absent. Refuses links and non-files.
pub(crate) fn read_existing(path: &Path) -> Result<Option<Vec<u8>>, HardenError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(HardenError::io(path, "inspect file", e)),
    };
    if meta.file_type().is_symlink() {
        return Err(HardenError::Symlink {
            path: path.to_path_buf(),
        });
    }
    if !meta.is_file() {
        return Err(HardenError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    let file = File::open(path).map_err(|e| HardenError::io(path, "read file", e))?;
    let mut bytes = Vec::new();
    file.take(READ_LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| HardenError::io(path, "read file", e))?;
    if bytes.len() as u64 > READ_LIMIT {
        return Err(HardenError::TooLarge {
            path: path.to_path_buf(),
            limit: READ_LIMIT,
        });
    }
    Ok(Some(bytes))
}

/// Saves `old` (the current content of `name`) under `hvguard-backups/`, returning the real path.
pub(crate) fn backup(
    placement: &Placement,
    name: &str,
    old: &[u8],
    now: jiff::Timestamp,
) -> Result<PathBuf, HardenError> {
    let dir = &placement.backup_dir;
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(HardenError::NotADirectory {
                path: dir.to_path_buf(),
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => make_dir(dir)?,
        Err(e) => return Err(HardenError::io(dir, "inspect folder", e)),
    }
    let stem = format!("{name}.bak-{}", now.strftime("%Y%m%dT%H%M%SZ"));
    let mut path = dir.join(&stem);
    let mut n = 1;
    while fs::symlink_metadata(&path).is_ok() {
        path = dir.join(format!("{stem}-{n}"));
        n += 1;
    }
    write_atomic(&path, None, old)?;
    Ok(path)
}
