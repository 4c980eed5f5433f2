//! OSV per-ecosystem zip archives, read entirely in memory with caps: nothing is ever
//! extracted to disk, and an archive that claims or inflates to more than the caps, holds
//! too many entries, or names an entry outside itself (`../x`, `/etc/x`) is refused.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::osv::parse_osv;
use super::read::{open_bounded, read_capped};
use crate::{Advisory, ImportError};

/// Caps for reading a zip archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZipLimits {
    /// Largest archive file accepted.
    pub max_archive_bytes: u64,
    /// Most entries accepted.
    pub max_entries: usize,
    /// Largest inflated size of one entry.
    pub max_entry_bytes: u64,
    /// Largest inflated size of all entries together.
    pub max_total_bytes: u64,
}

impl Default for ZipLimits {
    /// Sized for osv.dev's biggest ecosystem archives (hundreds of MB, ~200k records).
    fn default() -> Self {
        Self {
            max_archive_bytes: 2 << 30,
            max_entries: 500_000,
            max_entry_bytes: 16 << 20,
            max_total_bytes: 4 << 30,
        }
    }
}

fn zip_error(path: &Path, entry: &str, message: impl Into<String>) -> ImportError {
    ImportError::Zip {
        path: path.to_path_buf(),
        entry: entry.to_owned(),
        message: message.into(),
    }
}

/// True when an entry name could escape an extraction directory. We never extract, but
/// such a name marks a hostile or broken archive, so the whole archive is refused.
fn is_unsafe_name(name: &str) -> bool {
    name.starts_with('/')
        || name.starts_with('\\')
        || name.as_bytes().get(1) == Some(&b':')
        || name.split(['/', '\\']).any(|part| part == "..")
        || name.contains('\0')
}

/// Reads every `.json` entry of an OSV zip archive with the default limits.
pub fn import_osv_zip(path: &Path) -> Result<Vec<Advisory>, ImportError> {
    import_osv_zip_with(path, ZipLimits::default())
}

/// Reads every `.json` entry of an OSV zip archive with explicit limits.
pub fn import_osv_zip_with(path: &Path, limits: ZipLimits) -> Result<Vec<Advisory>, ImportError> {
    let file = open_bounded(path, limits.max_archive_bytes)?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| zip_error(path, "", e.to_string()))?;
    if archive.len() > limits.max_entries {
        return Err(zip_error(
            path,
            "",
            format!(
                "{} entries, more than the limit of {}",
                archive.len(),
                limits.max_entries
            ),
        ));
    }
    let mut total: u64 = 0;
    let mut out = Vec::new();
    for index in 0..archive.len() {
        let entry = archive
            .by_index(index)
            .map_err(|e| zip_error(path, &format!("#{index}"), e.to_string()))?;
        let name = entry.name().to_owned();
        if is_unsafe_name(&name) {
            return Err(zip_error(
                path,
                &name,
                "unsafe entry name (absolute or containing '..')",
            ));
        }
        if entry.is_dir() || !name.ends_with(".json") {
            continue;
        }
        // The declared size is only a hint: the read below enforces the cap on real bytes.
        if entry.size() > limits.max_entry_bytes {
            return Err(zip_error(
                path,
                &name,
                format!(
                    "declares {} bytes, more than the per-entry limit of {}",
                    entry.size(),
                    limits.max_entry_bytes
                ),
            ));
        }
        let entry_path = PathBuf::from(format!("{}!{name}", path.display()));
        let bytes = read_capped(
            entry.take(limits.max_entry_bytes + 1),
            &entry_path,
            limits.max_entry_bytes,
        )
        .map_err(|e| match e {
            ImportError::TooLarge { limit, .. } => zip_error(
                path,
                &name,
                format!("inflates past the per-entry limit of {limit} bytes"),
            ),
            other => zip_error(path, &name, other.to_string()),
        })?;
        total += bytes.len() as u64;
        if total > limits.max_total_bytes {
            return Err(zip_error(
                path,
                &name,
                format!(
                    "archive inflates past the total limit of {} bytes",
                    limits.max_total_bytes
                ),
            ));
        }
        if let Some(adv) = parse_osv(&entry_path, &bytes)? {
            out.push(adv);
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::is_unsafe_name;

    #[test]
    fn unsafe_names() {
        for bad in [
            "../evil.json",
            "a/../../evil.json",
            "/etc/passwd",
            "C:/x.json",
            "a\\..\\b.json",
        ] {
            assert!(is_unsafe_name(bad), "{bad}");
        }
        for ok in [
            "RUSTSEC-2023-0056.json",
            "crates.io/RUSTSEC-1.json",
            "a..b.json",
        ] {
            assert!(!is_unsafe_name(ok), "{ok}");
        }
    }
}
