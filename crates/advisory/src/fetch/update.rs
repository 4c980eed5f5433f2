//! `db update`: download each selected source into a scratch folder beside the store,
//! import every file, then replace the store atomically. Any failure keeps the old store.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::{FetchError, HttpClient, Source, SourceKind, UpdateError};
use crate::import::{import_file_as, import_path_with, FeedFormat, ImportOptions, Imported};
use crate::store::{update_store, ImportBatch, Progress, SourceInfo, UpdateSummary};

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
}

impl Default for UpdateOptions {
    fn default() -> Self {
        Self {
            nvd_api_key: None,
            nvd_page_size: 2000,
            nvd_page_delay: None,
            nvd_max_pages: 200,
            import: ImportOptions::default(),
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
    let workdir = scratch_dir(store);
    // A leftover from a killed run holds nothing worth keeping.
    let _ = std::fs::remove_dir_all(&workdir);
    std::fs::create_dir_all(&workdir).map_err(|cause| UpdateError::Io {
        path: workdir.clone(),
        cause,
    })?;
    let result = fetch_batches(client, sources, &workdir, options, log)
        .and_then(|batches| Ok(update_store(store, &batches, now, progress)?));
    // Best effort: the downloads are only scratch copies.
    let _ = std::fs::remove_dir_all(&workdir);
    result
}

/// `.NAME.download-PID` beside the store: on the same disk, with room for big feeds
/// (unlike a small tmpfs /tmp).
fn scratch_dir(store: &Path) -> PathBuf {
    let name = store
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "advisories.db".into());
    store.with_file_name(format!(".{name}.download-{}", std::process::id()))
}

/// Downloads and imports every source into batches, without touching the store.
pub fn fetch_batches(
    client: &HttpClient,
    sources: &[Source],
    workdir: &Path,
    options: &UpdateOptions,
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
        let batch = match &source.kind {
            SourceKind::File { url } => fetch_file(
                client,
                source,
                url,
                &workdir.join(format!("{index}.feed")),
                options,
                log,
            )?,
            SourceKind::NvdApi { endpoint, query } => fetch_nvd(
                client, source, endpoint, query, workdir, index, options, log,
            )?,
        };
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
    log: &mut dyn FnMut(&str),
) -> Result<ImportBatch, UpdateError> {
    log(&format!("{}: downloading {url}", source.name));
    let downloaded = client.download(url, &[], dest)?;
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
            std::thread::sleep(options.page_delay());
        }
        let url = format!("{endpoint}?{query}&resultsPerPage={page_size}&startIndex={start}");
        log(&format!("{}: downloading {url}", source.name));
        let dest = workdir.join(format!("{index}-nvd-{start}.json"));
        let downloaded = client.download(&url, &headers, &dest)?;
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
