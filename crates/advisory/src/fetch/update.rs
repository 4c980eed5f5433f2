//! `db update`: download each selected source into a scratch folder beside the store,
//! import every file, then replace the store atomically. Any failure keeps the old store.
//! The whole update has a deadline; scratch folders that killed runs left behind are
//! removed by the next run.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;

use super::{FetchError, HttpClient, Source, SourceKind, UpdateError};
use crate::import::{import_file_as, import_path_with, FeedFormat, ImportOptions, Imported};
use crate::store::{
    update_store_with, ImportBatch, Progress, SourceInfo, UpdateSummary, WriteOptions,
};

/// The environment variable holding an NVD API key.
pub const NVD_API_KEY_VAR: &str = "NVD_API_KEY";

/// Knobs for [`update_from_sources`].
#[derive(Debug, Clone)]
pub struct UpdateOptions {
    /// NVD API key, sent as the `apiKey` header (never printed).
    pub nvd_api_key: Option<String>,
    /// NVD results per page (the API's maximum is 2000).
    pub nvd_page_size: u32,
    /// Pause between NVD pages; `None` follows NVD's guidance (6 s without a key, 1 s with).
    pub nvd_page_delay: Option<Duration>,
    /// A guard against a server that keeps announcing more pages.
    pub nvd_max_pages: u32,
    /// Importer options (Debian packages kept, zip caps).
    pub import: ImportOptions,
    /// The time the whole update (downloads, imports, the store write) may take, counted
    /// from the call; `None` for no limit.
    pub deadline: Option<Duration>,
    /// How the store may be changed (empty feeds, waiting for the store lock).
    pub write: WriteOptions,
    /// When the running process started: scratch folders older than this that no live
    /// run holds are left-overs of killed runs. `None`: the time of the call.
    pub process_started: Option<SystemTime>,
}

/// The default total time of a `db update`: ample for every default feed on a slow link,
/// short enough that a stalled server cannot hold a cron slot for long.
pub const DEFAULT_UPDATE_DEADLINE: Duration = Duration::from_secs(30 * 60);

impl Default for UpdateOptions {
    fn default() -> Self {
        Self {
            nvd_api_key: None,
            nvd_page_size: 2000,
            nvd_page_delay: None,
            nvd_max_pages: 200,
            import: ImportOptions::default(),
            deadline: Some(DEFAULT_UPDATE_DEADLINE),
            write: WriteOptions::default(),
            process_started: None,
        }
    }
}

impl UpdateOptions {
    /// Defaults, with the NVD key read from [`NVD_API_KEY_VAR`] when set and non-empty.
    pub fn from_env() -> Self {
        Self {
            nvd_api_key: std::env::var(NVD_API_KEY_VAR)
                .ok()
                .filter(|k| !k.trim().is_empty()),
            ..Self::default()
        }
    }

    fn page_delay(&self) -> Duration {
        self.nvd_page_delay
            .unwrap_or(if self.nvd_api_key.is_some() {
                Duration::from_secs(1)
            } else {
                Duration::from_secs(6)
            })
    }
}

/// Downloads and imports `sources`, then writes them all into the store at `store` in one
/// atomic update. `log` receives one line per step (never a header or key).
pub fn update_from_sources(
    store: &Path,
    client: &HttpClient,
    sources: &[Source],
    options: &UpdateOptions,
    now: &str,
    log: &mut dyn FnMut(&str),
    progress: &mut dyn FnMut(Progress) -> Result<(), String>,
) -> Result<UpdateSummary, UpdateError> {
    let clock = Clock::start(options.deadline);
    let started = options.process_started.unwrap_or_else(SystemTime::now);
    for removed in remove_stale_downloads(store, started) {
        log(&format!(
            "removed {} left by an update that did not finish",
            removed.display()
        ));
    }
    let scratch = Scratch::create(store)?;
    let result = fetch_batches_until(client, sources, &scratch.dir, options, &clock, log).and_then(
        |batches| {
            let write = WriteOptions {
                lock_wait: clock.cap(options.write.lock_wait),
                ..options.write
            };
            let mut bounded = |p: Progress| {
                clock
                    .check("the store was written")
                    .map_err(|e| e.to_string())?;
                progress(p)
            };
            update_store_with(store, &batches, now, write, &mut bounded).map_err(|e| match e {
                crate::store::StoreError::Interrupted { .. } if clock.expired() => {
                    clock.error("ran out while the store was written")
                }
                other => other.into(),
            })
        },
    );
    drop(scratch);
    result
}

/// The deadline of one update.
#[derive(Debug, Clone, Copy)]
struct Clock {
    at: Option<Instant>,
    limit: Option<Duration>,
}

impl Clock {
    fn start(limit: Option<Duration>) -> Clock {
        Clock {
            at: limit.map(|l| Instant::now() + l),
            limit,
        }
    }

    fn expired(&self) -> bool {
        self.at.is_some_and(|at| Instant::now() >= at)
    }

    fn check(&self, next: &str) -> Result<(), UpdateError> {
        if self.expired() {
            Err(self.error(&format!("ran out before {next}")))
        } else {
            Ok(())
        }
    }

    /// `wait`, cut to the time left.
    fn cap(&self, wait: Duration) -> Duration {
        match self.at {
            Some(at) => wait.min(at.saturating_duration_since(Instant::now())),
            None => wait,
        }
    }

    fn error(&self, during: &str) -> UpdateError {
        UpdateError::Deadline {
            seconds: self.limit.map_or(0, |l| l.as_secs()),
            during: during.to_owned(),
        }
    }

    /// A failure at or after the deadline is reported as the deadline, naming the failure.
    fn explain(&self, e: UpdateError) -> UpdateError {
        match e {
            UpdateError::Deadline { .. } => e,
            other if self.expired() => self.error(&other.to_string()),
            other => other,
        }
    }
}

/// This run's download folder, `.NAME.download-PID` beside the store (on the same disk,
/// with room for big feeds, unlike a small tmpfs /tmp), and the lock that tells other runs
/// it is alive. Removed, with its lock file, when dropped.
#[derive(Debug)]
struct Scratch {
    dir: PathBuf,
    lock_path: PathBuf,
    _lock: std::fs::File,
}

impl Scratch {
    fn create(store: &Path) -> Result<Scratch, UpdateError> {
        let dir = scratch_dir(store);
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|cause| UpdateError::Io {
                path: parent.to_path_buf(),
                cause,
            })?;
        }
        // Lock first, then make the folder: another run's clean-up never sees this folder
        // without a held lock beside it.
        let lock_path = lock_of(&dir);
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|cause| UpdateError::Io {
                path: lock_path.clone(),
                cause,
            })?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
            |e| UpdateError::Io {
                path: lock_path.clone(),
                cause: e.into(),
            },
        )?;
        // A folder with our PID is a dead run's (PIDs are reused): it holds nothing of ours.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).map_err(|cause| UpdateError::Io {
            path: dir.clone(),
            cause,
        })?;
        Ok(Scratch {
            dir,
            lock_path,
            _lock: lock,
        })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Best effort: the downloads are only scratch copies, and the next run removes
        // whatever is left.
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_file(&self.lock_path);
    }
}

/// `.NAME.download-PID` beside the store.
fn scratch_dir(store: &Path) -> PathBuf {
    store.with_file_name(format!("{}{}", download_prefix(store), std::process::id()))
}

fn download_prefix(store: &Path) -> String {
    let name = store
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "advisories.db".into());
    format!(".{name}.download-")
}

/// The lock file that marks a download folder as in use.
fn lock_of(dir: &Path) -> PathBuf {
    let mut name = dir.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Removes the download folders of runs that are gone: older than `started` (a folder
/// made after this process started may be a live run's that has not locked it yet) and
/// whose lock no live run holds (the kernel drops a dead process's lock). Symbolic links and
/// other files by that name are left alone. Returns what was removed.
pub fn remove_stale_downloads(store: &Path, started: SystemTime) -> Vec<PathBuf> {
    let prefix = download_prefix(store);
    let folder = match store.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => dir.to_path_buf(),
        None => PathBuf::from("."),
    };
    let Ok(entries) = std::fs::read_dir(&folder) else {
        return Vec::new();
    };
    let own = scratch_dir(store);
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !name.starts_with(&prefix) {
            continue;
        }
        if name.ends_with(".lock") {
            remove_orphan_lock(&entry.path(), started);
            continue;
        }
        let dir = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&dir) else {
            continue;
        };
        let old = meta.modified().is_ok_and(|m| m < started);
        if dir == own || !meta.is_dir() || !old {
            continue;
        }
        let Some(held) = claim(&lock_of(&dir)) else {
            continue;
        };
        if std::fs::remove_dir_all(&dir).is_ok() {
            removed.push(dir.clone());
        }
        if held.is_some() {
            let _ = std::fs::remove_file(lock_of(&dir));
        }
    }
    removed
}

/// A lock file whose folder is gone (a run killed between removing the two): removed when
/// old and not held.
fn remove_orphan_lock(lock: &Path, started: SystemTime) {
    let folder = lock.with_extension("");
    let old = std::fs::symlink_metadata(lock)
        .is_ok_and(|m| m.is_file() && m.modified().is_ok_and(|t| t < started));
    if !old || folder.symlink_metadata().is_ok() {
        return;
    }
    if let Some(Some(_held)) = claim(lock) {
        let _ = std::fs::remove_file(lock);
    }
}

/// Takes the lock at `path` if no live run holds it: `Some(Some(file))` when taken,
/// `Some(None)` when there is no lock file (a folder from an hvguard that kept none),
/// `None` when a live run holds it.
fn claim(path: &Path) -> Option<Option<std::fs::File>> {
    let file = match std::fs::OpenOptions::new().write(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(None),
        Err(_) => return None,
    };
    rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive)
        .ok()
        .map(|()| Some(file))
}

/// Downloads and imports every source into batches, without touching the store, within
/// `options.deadline` (counted from the call).
pub fn fetch_batches(
    client: &HttpClient,
    sources: &[Source],
    workdir: &Path,
    options: &UpdateOptions,
    log: &mut dyn FnMut(&str),
) -> Result<Vec<ImportBatch>, UpdateError> {
    fetch_batches_until(
        client,
        sources,
        workdir,
        options,
        &Clock::start(options.deadline),
        log,
    )
}

fn fetch_batches_until(
    client: &HttpClient,
    sources: &[Source],
    workdir: &Path,
    options: &UpdateOptions,
    clock: &Clock,
    log: &mut dyn FnMut(&str),
) -> Result<Vec<ImportBatch>, UpdateError> {
    if let Some(parent) = workdir.parent() {
        if !parent.as_os_str().is_empty() && !parent.exists() {
            std::fs::create_dir_all(parent).map_err(|cause| UpdateError::Io {
                path: parent.to_path_buf(),
                cause,
            })?;
        }
    }
    let mut batches = Vec::new();
    for (index, source) in sources.iter().enumerate() {
        clock.check(&format!("{} was downloaded", source.name))?;
        let fetched = match &source.kind {
            SourceKind::File { url } => fetch_file(
                client,
                source,
                url,
                &workdir.join(format!("{index}.feed")),
                options,
                clock,
                log,
            ),
            SourceKind::NvdApi { endpoint, query } => fetch_nvd(
                client, source, endpoint, query, workdir, index, options, clock, log,
            ),
        };
        let batch = fetched.map_err(|e| clock.explain(e))?;
        log(&format!(
            "{}: {} record(s), {} byte(s)",
            source.name,
            batch.records(),
            batch.source.size
        ));
        batches.push(batch);
    }
    Ok(batches)
}

fn fetch_file(
    client: &HttpClient,
    source: &Source,
    url: &str,
    dest: &Path,
    options: &UpdateOptions,
    clock: &Clock,
    log: &mut dyn FnMut(&str),
) -> Result<ImportBatch, UpdateError> {
    log(&format!("{}: downloading {url}", source.name));
    let downloaded = client.download_until(url, &[], dest, clock.at)?;
    let imported = import_path_with(dest, &options.import).map_err(|e| UpdateError::BadFeed {
        url: url.to_owned(),
        cause: e,
    })?;
    Ok(ImportBatch {
        source: SourceInfo {
            name: source.name.clone(),
            location: url.to_owned(),
            format: formats(&imported),
            size: downloaded.size,
            sha256: Some(downloaded.sha256),
        },
        imported,
    })
}

/// The paging fields of an NVD API 2.0 response.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageHead {
    results_per_page: u64,
    start_index: u64,
    total_results: u64,
}

#[allow(clippy::too_many_arguments)]
fn fetch_nvd(
    client: &HttpClient,
    source: &Source,
    endpoint: &str,
    query: &str,
    workdir: &Path,
    index: usize,
    options: &UpdateOptions,
    clock: &Clock,
    log: &mut dyn FnMut(&str),
) -> Result<ImportBatch, UpdateError> {
    let headers: Vec<(&str, &str)> = options
        .nvd_api_key
        .as_deref()
        .map(|key| vec![("apiKey", key)])
        .unwrap_or_default();
    let page_size = options.nvd_page_size.max(1);
    let mut imported = Imported::default();
    let mut size = 0u64;
    let mut start = 0u64;
    for page in 0..options.nvd_max_pages {
        if page > 0 {
            let delay = options.page_delay();
            if clock.cap(delay) < delay {
                return Err(clock.error(&format!(
                    "{}: waiting to ask NVD for the next page",
                    source.name
                )));
            }
            std::thread::sleep(delay);
        }
        let url = format!("{endpoint}?{query}&resultsPerPage={page_size}&startIndex={start}");
        log(&format!("{}: downloading {url}", source.name));
        let dest = workdir.join(format!("{index}-nvd-{start}.json"));
        let downloaded = client.download_until(&url, &headers, &dest, clock.at)?;
        size += downloaded.size;
        let head = read_head(&url, &dest, client.config().max_bytes)?;
        let one = import_file_as(&dest, FeedFormat::NvdPage, &options.import).map_err(|e| {
            UpdateError::BadFeed {
                url: url.clone(),
                cause: e,
            }
        })?;
        imported.advisories.extend(one.advisories);
        imported.files.extend(one.files);
        // Each page is parsed and merged; dropping it keeps the scratch folder small.
        let _ = std::fs::remove_file(&dest);
        let next = head.start_index + head.results_per_page;
        if head.results_per_page == 0 || next >= head.total_results {
            return Ok(ImportBatch {
                source: SourceInfo {
                    name: source.name.clone(),
                    location: source.location(),
                    format: FeedFormat::NvdPage.name().to_owned(),
                    size,
                    sha256: None,
                },
                imported,
            });
        }
        start = next;
    }
    Err(FetchError::BadResponse {
        url: source.location(),
        message: format!("more than {} pages", options.nvd_max_pages),
    }
    .into())
}

fn read_head(url: &str, path: &Path, limit: u64) -> Result<PageHead, UpdateError> {
    let bytes = crate::import::read::read_file(path, limit).map_err(|e| UpdateError::BadFeed {
        url: url.to_owned(),
        cause: e,
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        FetchError::BadResponse {
            url: url.to_owned(),
            message: format!("not an NVD API 2.0 page: {e}"),
        }
        .into()
    })
}

fn formats(imported: &Imported) -> String {
    let names: BTreeSet<&str> = imported.files.iter().map(|(_, f)| f.name()).collect();
    names.into_iter().collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dated(path: &Path, when: SystemTime) {
        std::fs::File::open(path)
            .and_then(|f| f.set_modified(when))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    #[test]
    fn only_old_unlocked_download_folders_are_removed() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = dir.path().join("advisories.db");
        let started = SystemTime::now();
        let hour_ago = started - Duration::from_secs(3600);
        let make = |pid: u32, when: SystemTime| {
            let folder = dir.path().join(format!(".advisories.db.download-{pid}"));
            std::fs::create_dir(&folder).unwrap_or_else(|e| panic!("{e}"));
            dated(&folder, when);
            folder
        };
        let dead = make(11, hour_ago);
        // Made after this process started: maybe a live run that has not locked it yet.
        let young = make(12, started + Duration::from_secs(5));
        // A run killed between removing its folder and its lock file.
        let orphan = dir.path().join(".advisories.db.download-13.lock");
        std::fs::write(&orphan, "").unwrap_or_else(|e| panic!("{e}"));
        dated(&orphan, hour_ago);
        // Not a folder: a link by that name is never followed nor removed.
        let link = dir.path().join(".advisories.db.download-14");
        std::os::unix::fs::symlink(dir.path(), &link).unwrap_or_else(|e| panic!("{e}"));

        let removed = remove_stale_downloads(&store, started);
        assert_eq!(removed, vec![dead.clone()]);
        assert!(!dead.exists() && young.exists() && !orphan.exists());
        assert!(link.symlink_metadata().is_ok() && store.parent().is_some_and(Path::exists));
    }
}
