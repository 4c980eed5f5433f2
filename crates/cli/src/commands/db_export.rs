//! `hvguard db export FILE`, and the mirror side of `db update --source URL`: one node
//! exports its store, a web server serves the file, every other node takes it
//! (docs/fleet.md, "Advisory data for the fleet").

use std::path::Path;

use anyhow::Result;
use hvguard_advisory::fetch::{
    update_from_mirror as take_from_mirror, HttpClient, MirrorOptions, MirrorTaken, UpdateError,
};
use hvguard_advisory::store::export::{export_store, CurrentSnapshot, Taken};
use hvguard_advisory::store::journal_lock_wait;

use super::db::UpdateLimits;
use super::Outcome;
use crate::output::note;

pub fn is_url(selector: &str) -> bool {
    selector.starts_with("http://") || selector.starts_with("https://")
}

/// `db export FILE`.
pub fn export(store: &Path, file: &Path) -> Result<Outcome> {
    let manifest = export_store(store, file, jiff::Timestamp::now(), journal_lock_wait())?;
    let newest = manifest
        .newest_source()
        .map(|t| t.to_string())
        .unwrap_or_else(|| "unknown".to_owned());
    note(&format!(
        "exported {} advisories, {} KEV, {} EPSS and {} distro records from {} \
         source(s) (newest import {newest}, store schema {}) to {}: sha256 {}, {} bytes of store",
        manifest.counts.advisories,
        manifest.counts.kev,
        manifest.counts.epss,
        manifest.counts.distro,
        manifest.sources.len(),
        manifest.store_schema_version,
        file.display(),
        manifest.content.sha256,
        manifest.content.size
    ));
    Ok(Outcome::Clean)
}

/// Downloads `url`; when it is a store export, takes it and returns the outcome. `None`
/// when the URL serves something else (a feed file), which the caller then imports the
/// usual way (it is downloaded again then: ad-hoc feed URLs are rare, mirrors are not).
pub fn update_from_mirror(
    store: &Path,
    client: &HttpClient,
    url: &str,
    limits: UpdateLimits,
) -> Result<Option<Outcome>> {
    let days = i64::try_from(limits.max_snapshot_age).unwrap_or(i64::MAX / 86_400);
    let options = MirrorOptions {
        now: jiff::Timestamp::now(),
        max_age: jiff::SignedDuration::from_hours(days.saturating_mul(24)),
        deadline: limits.deadline(),
        lock_wait: journal_lock_wait(),
        process_started: Some(crate::pipeline::process_started()),
    };
    let update = match take_from_mirror(store, client, url, &options, &mut |line| note(line)) {
        Ok(update) => update,
        // A refused snapshot says that the store was kept.
        Err(e @ UpdateError::Export(_)) => return Err(e.into()),
        Err(e) => return Err(super::db::abandoned(store, &e)),
    };
    let Some(MirrorTaken { taken, size }) = update else {
        return Ok(None);
    };
    match taken {
        Taken::AlreadyCurrent { manifest } => note(&format!(
            "{} already holds this snapshot (made {}, sha256 {}): nothing to do",
            store.display(),
            manifest.created_at,
            manifest.content.sha256
        )),
        Taken::Replaced { manifest, carried } => {
            note(&format!(
                "took the snapshot made {} from {url} ({size} bytes, sha256 {} verified): \
                 {} advisories from {} source(s) into {}",
                manifest.created_at,
                manifest.content.sha256,
                manifest.counts.advisories,
                manifest.sources.len(),
                store.display()
            ));
            if !carried.is_empty() {
                note(&format!(
                    "kept this node's own tables: {}",
                    carried.join(", ")
                ));
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
