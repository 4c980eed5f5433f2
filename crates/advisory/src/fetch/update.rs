//! `db update`: download each selected source into a scratch folder beside the store,
//! import every file, then replace the store atomically. Any failure keeps the old store.
//! The whole update has a deadline.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;

use super::scratch::{remove_stale_downloads, Scratch};
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
pub(super) struct Clock {
    pub(super) at: Option<Instant>,
    limit: Option<Duration>,
}

impl Clock {
    pub(super) fn start(limit: Option<Duration>) -> Clock {
        Clock {
            at: limit.map(|l| Instant::now() + l),
            limit,
        }
    }

    pub(super) fn expired(&self) -> bool {
        self.at.is_some_and(|at| Instant::now() >= at)
    }

    pub(super) fn check(&self, next: &str) -> Result<(), UpdateError> {
        if self.expired() {
            Err(self.error(&format!("ran out before {next}")))
        } else {
            Ok(())
        }
    }

    /// `wait`, cut to the time left.
    pub(super) fn cap(&self, wait: Duration) -> Duration {
        match self.at {
            Some(at) => wait.min(at.saturating_duration_since(Instant::now())),
            None => wait,
        }
    }

    pub(super) fn error(&self, during: &str) -> UpdateError {
        UpdateError::Deadline {
            seconds: self.limit.map_or(0, |l| l.as_secs()),
            during: during.to_owned(),
        }
    }

    /// A failure at or after the deadline is reported as the deadline, naming the failure.
    pub(super) fn explain(&self, e: UpdateError) -> UpdateError {
        match e {
            UpdateError::Deadline { .. } => e,
            other if self.expired() => self.error(&other.to_string()),
            other => other,
        }
    }
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
