//! `hvguard db export FILE`, and the mirror side of `db update --source URL`: one node
//! exports its store, a web server serves the file, every other node takes it
//! (docs/fleet.md, "Advisory data for the fleet").

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result};
use hvguard_advisory::fetch::{FetchConfig, HttpClient};
use hvguard_advisory::store::export::{
    export_store, is_export_file, take_export, CurrentSnapshot, TakeOptions, Taken,
};

use super::db::FetchLimits;
use super::Outcome;

pub fn is_url(selector: &str) -> bool {
    selector.starts_with("http://") || selector.starts_with("https://")
}

/// `db export FILE`.
pub fn export(store: &Path, file: &Path) -> Result<Outcome> {
    let manifest = export_store(store, file, jiff::Timestamp::now())?;
    let newest = manifest
        .newest_source()
        .map(|t| t.to_string())
        .unwrap_or_else(|| "unknown".to_owned());
    eprintln!(
        "hvguard: exported {} advisories, {} KEV, {} EPSS and {} distro records from {} \
         source(s) (newest import {newest}) to {}: sha256 {}, {} bytes of store",
        manifest.counts.advisories,
        manifest.counts.kev,
        manifest.counts.epss,
        manifest.counts.distro,
        manifest.sources.len(),
        file.display(),
        manifest.content.sha256,
        manifest.content.size
    );
    Ok(Outcome::Clean)
}

/// Downloads `url`; when it is a store export, takes it and returns the outcome. `None`
/// when the URL serves something else (a feed file), which the caller then imports the
/// usual way (it is downloaded again then: ad-hoc feed URLs are rare, mirrors are not).
pub fn update_from_mirror(store: &Path, url: &str, limits: FetchLimits) -> Result<Option<Outcome>> {
    let client = HttpClient::new(FetchConfig {
        retries: limits.retries,
        request_timeout: Duration::from_secs(limits.timeout.max(1)),
        ..FetchConfig::default()
    });
    let name = store
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "advisories.db".into());
    let scratch = store.with_file_name(format!(".{name}.mirror-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)
        .with_context(|| format!("{}: creating the download folder", scratch.display()))?;
    let result = download_and_take(&client, store, url, &scratch, limits);
    // Best effort: the download is only a scratch copy.
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

fn download_and_take(
    client: &HttpClient,
    store: &Path,
    url: &str,
    scratch: &Path,
    limits: FetchLimits,
) -> Result<Option<Outcome>> {
    let dest = scratch.join("download");
    eprintln!("hvguard: downloading {url}");
    let downloaded = client
        .download(url, &[], &dest)
        .with_context(|| format!("the store at {} is kept as it is", store.display()))?;
    if !is_export_file(&dest)
        .with_context(|| format!("{}: reading the download", dest.display()))?
    {
        return Ok(None);
    }
    let days = i64::try_from(limits.max_snapshot_age).unwrap_or(i64::MAX / 86_400);
    let options = TakeOptions {
        now: jiff::Timestamp::now(),
        max_age: jiff::SignedDuration::from_hours(days.saturating_mul(24)),
        lock_wait: hvguard_advisory::store::journal_lock_wait(),
    };
    match take_export(store, &dest, url, &options)? {
        Taken::AlreadyCurrent { manifest } => eprintln!(
            "hvguard: {} already holds this snapshot (made {}, sha256 {}): nothing to do",
            store.display(),
            manifest.created_at,
            manifest.content.sha256
        ),
        Taken::Replaced { manifest, carried } => {
            eprintln!(
                "hvguard: took the snapshot made {} from {url} ({} bytes, sha256 {} verified): \
                 {} advisories from {} source(s) into {}",
                manifest.created_at,
                downloaded.size,
                manifest.content.sha256,
                manifest.counts.advisories,
                manifest.sources.len(),
                store.display()
            );
            if !carried.is_empty() {
                eprintln!(
                    "hvguard: kept this node's own tables: {}",
                    carried.join(", ")
                );
            }
        }
    }
    Ok(Some(Outcome::Clean))
}

/// `db status --format json`: the snapshot the store was filled from, or null.
pub fn snapshot_json(snapshot: &CurrentSnapshot) -> serde_json::Value {
    if snapshot.sha256.is_none() {
        return serde_json::Value::Null;
    }
    serde_json::json!({
        "created_at": snapshot.created_at,
        "sha256": snapshot.sha256,
        "taken_from": snapshot.taken_from,
        "taken_at": snapshot.taken_at,
    })
}

/// `db status`: one line about the snapshot the store was filled from, if any.
pub fn snapshot_line(snapshot: &CurrentSnapshot) -> Option<String> {
    let sha = snapshot.sha256.as_deref()?;
    Some(format!(
        "Snapshot: made {} taken from {} at {} (sha256 {sha})",
        snapshot.created_at.as_deref().unwrap_or("?"),
        snapshot.taken_from.as_deref().unwrap_or("?"),
        snapshot.taken_at.as_deref().unwrap_or("?"),
    ))
}
