//! Feed importers and format detection, so that `db import PATH` can take any supported
//! feed, or a directory of them.

mod cve5;
mod debian;
mod epss;
mod kev;
mod nvd;
mod nvd_page;
mod osv;
mod osv_zip;
pub mod progress;
pub mod read;
mod snapshot;
pub mod sniff;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

pub use cve5::{import_cve5_file, parse_cve5};
pub use debian::{
    default_debian_packages, import_debian_tracker, parse_debian_tracker, DEFAULT_DEBIAN_PACKAGES,
};
pub use epss::{import_epss, parse_epss, EpssScores};
pub use kev::{import_kev, parse_kev, KevCatalog};
pub use nvd::{import_nvd_cve_file, parse_nvd_cve};
pub use nvd_page::{import_nvd_page_file, parse_nvd_page};
pub use osv::{import_osv_file, parse_osv};
pub use osv_zip::{import_osv_zip, import_osv_zip_with, ZipLimits};
pub use progress::{set_read_observer, ReadObserver};
pub use snapshot::{
    import_snapshot, parse_snapshot, to_record, write_snapshot, Dropped, Record, SNAPSHOT_FORMAT_V1,
};

use crate::model::{Advisory, DistroAdvisory, EpssScore, KevEntry};
use crate::ImportError;

/// The feeds this crate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FeedFormat {
    /// One OSV record.
    Osv,
    /// An OSV ecosystem zip archive.
    OsvZip,
    /// One CVE JSON 5.x record.
    Cve5,
    /// One NVD API 2.0 `cve` object.
    NvdCve,
    /// An NVD API 2.0 response page.
    NvdPage,
    /// The Debian security tracker JSON.
    DebianTracker,
    /// The CISA KEV catalog.
    Kev,
    /// EPSS CSV, plain or gzip.
    Epss,
    /// hvguard's own snapshot format.
    Snapshot,
}

impl FeedFormat {
    /// A short stable name (`osv`, `nvd-page`, ...).
    pub fn name(self) -> &'static str {
        match self {
            FeedFormat::Osv => "osv",
            FeedFormat::OsvZip => "osv-zip",
            FeedFormat::Cve5 => "cve5",
            FeedFormat::NvdCve => "nvd-cve",
            FeedFormat::NvdPage => "nvd-page",
            FeedFormat::DebianTracker => "debian-tracker",
            FeedFormat::Kev => "kev",
            FeedFormat::Epss => "epss",
            FeedFormat::Snapshot => "hvguard-snapshot",
        }
    }
}

impl fmt::Display for FeedFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How many bytes detection looks at.
const SNIFF_BYTES: usize = 64 * 1024;

/// Recognises a feed from its first bytes; `None` when it is none of them.
///
/// Detection reads the document's shape (`sniff`): each format's distinctive keys at the
/// top level with values of the right kind, most specific first. A key of the same name
/// deeper down (a JSON Schema describing a feed) does not count.
pub fn detect_format_bytes(head: &[u8]) -> Option<FeedFormat> {
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return Some(FeedFormat::OsvZip);
    }
    if head.starts_with(&[0x1f, 0x8b])
        || head.starts_with(b"#model_version")
        || head.starts_with(b"cve,epss,percentile")
    {
        return Some(FeedFormat::Epss);
    }
    let shape = sniff::shape(head)?;
    if shape.top == sniff::Kind::Array {
        // The curated file as first published: a bare array of snapshot records.
        return (shape.has_at(2, "id") && shape.has_at(2, "product"))
            .then_some(FeedFormat::Snapshot);
    }
    let key = |name: &str| shape.top_key(name);
    let string = |name: &str| key(name).filter(|k| k.kind == sniff::Kind::String);
    let kind = |name: &str, kind: sniff::Kind| key(name).is_some_and(|k| k.kind == kind);
    use sniff::Kind::{Array, Object, Scalar};
    if string("format").is_some_and(|k| k.text.starts_with("hvguard.advisories/")) {
        Some(FeedFormat::Snapshot)
    } else if string("catalogVersion").is_some() && kind("vulnerabilities", Array) {
        Some(FeedFormat::Kev)
    } else if string("dataType").is_some_and(|k| k.text == "CVE_RECORD")
        || kind("cveMetadata", Object)
        || (kind("containers", Object) && shape.first_at(2).is_some_and(|k| k.name == "cna"))
    {
        Some(FeedFormat::Cve5)
    } else if string("format").is_some_and(|k| k.text == "NVD_CVE")
        || (kind("resultsPerPage", Scalar) && kind("vulnerabilities", Array))
    {
        Some(FeedFormat::NvdPage)
    } else if string("id").is_some_and(|k| k.text.starts_with("CVE-"))
        && string("sourceIdentifier").is_some()
    {
        Some(FeedFormat::NvdCve)
    } else if string("id").is_some()
        && (key("schema_version").is_some()
            || (string("modified").is_some()
                && (kind("affected", Array) || key("withdrawn").is_some())))
    {
        Some(FeedFormat::Osv)
    } else if shape.first_at(1).is_some_and(|k| k.kind == Object)
        && shape
            .first_at(2)
            .is_some_and(|k| k.name.starts_with("CVE-") || k.name.starts_with("TEMP-"))
        && shape.has_at(3, "releases")
    {
        Some(FeedFormat::DebianTracker)
    } else {
        None
    }
}

/// Recognises the feed in the file at `path` from its first 64 KiB.
pub fn detect_format(path: &Path) -> Result<FeedFormat, ImportError> {
    let head = read::read_head(path, SNIFF_BYTES)?;
    detect_format_bytes(&head).ok_or_else(|| ImportError::UnknownFormat {
        path: path.to_path_buf(),
        hint: describe_head(&head),
    })
}

fn describe_head(head: &[u8]) -> String {
    match head.iter().find(|b| !b.is_ascii_whitespace()) {
        None => "empty file".into(),
        Some(b'{') | Some(b'[') => "JSON without the keys of any supported feed".into(),
        Some(_) => {
            let shown: String = String::from_utf8_lossy(&head[..head.len().min(16)]).into_owned();
            format!("starts with {shown:?}")
        }
    }
}

/// Everything one import produced: advisories, and the facts that feeds add to them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Imported {
    /// Advisories (OSV, CVE 5, NVD, snapshot), in import order.
    pub advisories: Vec<Advisory>,
    /// Distro verdicts (Debian tracker).
    pub distro: Vec<DistroAdvisory>,
    /// KEV entries by CVE id.
    pub kev: BTreeMap<String, KevEntry>,
    /// EPSS scores by CVE id.
    pub epss: BTreeMap<String, EpssScore>,
    /// Each file read, with its detected format, in order.
    pub files: Vec<(PathBuf, FeedFormat)>,
    /// Files of an imported folder that are no supported feed, with why: skipped, named.
    pub skipped: Vec<(PathBuf, String)>,
}

impl Imported {
    fn merge(&mut self, other: Imported) {
        self.advisories.extend(other.advisories);
        self.distro.extend(other.distro);
        self.kev.extend(other.kev);
        self.epss.extend(other.epss);
        self.files.extend(other.files);
        self.skipped.extend(other.skipped);
    }
}

/// Options for [`import_path_with`].
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Source packages kept from the Debian tracker.
    pub debian_packages: BTreeSet<String>,
    /// Caps for zip archives.
    pub zip_limits: ZipLimits,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            debian_packages: default_debian_packages(),
            zip_limits: ZipLimits::default(),
        }
    }
}

/// Imports one file in a known format.
pub fn import_file_as(
    path: &Path,
    format: FeedFormat,
    options: &ImportOptions,
) -> Result<Imported, ImportError> {
    let mut out = Imported {
        files: vec![(path.to_path_buf(), format)],
        ..Imported::default()
    };
    match format {
        FeedFormat::Osv => out.advisories = import_osv_file(path)?,
        FeedFormat::OsvZip => out.advisories = import_osv_zip_with(path, options.zip_limits)?,
        FeedFormat::Cve5 => out.advisories = import_cve5_file(path)?,
        FeedFormat::NvdCve => out.advisories = import_nvd_cve_file(path)?,
        FeedFormat::NvdPage => out.advisories = import_nvd_page_file(path)?,
        FeedFormat::Snapshot => out.advisories = import_snapshot(path)?,
        FeedFormat::DebianTracker => {
            out.distro = import_debian_tracker(path, &options.debian_packages)?
        }
        FeedFormat::Kev => out.kev = import_kev(path)?.entries,
        FeedFormat::Epss => out.epss = import_epss(path)?.scores,
    }
    Ok(out)
}

/// Imports a file or a directory tree with default options.
pub fn import_path(path: &Path) -> Result<Imported, ImportError> {
    import_path_with(path, &ImportOptions::default())
}

/// Imports a file (format detected) or a directory tree: every `.json`, `.zip`, `.csv` and
/// `.gz` file in it, in sorted order, skipping other files. Symlinks inside the tree are not
/// followed (a link loop cannot hang the walk, a link cannot pull in files from elsewhere).
/// In a folder, a file that is no supported feed is skipped and listed in
/// [`Imported::skipped`]; a file named on its own must be a feed. A file that is a feed but
/// broken, or JSON that is not well-formed, stops the import, naming that file.
pub fn import_path_with(path: &Path, options: &ImportOptions) -> Result<Imported, ImportError> {
    let meta = std::fs::metadata(path).map_err(|e| ImportError::io(path, e))?;
    if !meta.is_dir() {
        let format = detect_format(path)?;
        return import_file_as(path, format, options);
    }
    let mut out = Imported::default();
    let mut stack = vec![path.to_path_buf()];
    let mut files = Vec::new();
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| ImportError::io(&dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| ImportError::io(&dir, e))?;
            let child = entry.path();
            let kind = entry.file_type().map_err(|e| ImportError::io(&child, e))?;
            if kind.is_dir() {
                stack.push(child);
            } else if kind.is_file() && is_feed_name(&child) {
                files.push(child);
            }
        }
    }
    files.sort();
    for file in files {
        match detect_format(&file) {
            Ok(format) => out.merge(import_file_as(&file, format, options)?),
            Err(ImportError::UnknownFormat { path, hint }) => {
                // A damaged feed (cut short, say) loses the keys that name it; it must stop
                // the import, not vanish among the skipped files.
                if looks_like_json(&path)? {
                    read::json_from_file::<serde::de::IgnoredAny>(&path, read::DUMP_LIMIT)?;
                }
                out.skipped.push((path, hint))
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// True when the file's first non-blank byte opens a JSON object or array.
fn looks_like_json(path: &Path) -> Result<bool, ImportError> {
    let head = read::read_head(path, 4096)?;
    Ok(matches!(
        head.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{') | Some(b'[')
    ))
}

fn is_feed_name(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("json") | Some("zip") | Some("csv") | Some("gz")
    )
}
