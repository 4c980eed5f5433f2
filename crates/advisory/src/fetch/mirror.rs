//! `db update --source URL` against a fleet mirror: the URL is downloaded into this run's
//! download folder (locked, and removed by a later run when this one is killed, like the
//! feeds' downloads) within the update's deadline; when it is a store export (`db export`)
//! it is checked and taken as a whole ([`take_export`]), otherwise the caller imports the URL
//! as a feed file.

use std::path::Path;
use std::time::{Duration, SystemTime};

use super::scratch::{remove_stale_downloads, Scratch};
use super::update::Clock;
use super::{HttpClient, UpdateError};
use crate::store::export::{is_export_file, take_export, TakeOptions, Taken};

/// Knobs for [`update_from_mirror`].
#[derive(Debug, Clone)]
pub struct MirrorOptions {
    /// The time the snapshot's age is measured against.
    pub now: jiff::Timestamp,
    /// A snapshot older than this is refused (its publisher has stopped).
    pub max_age: jiff::SignedDuration,
    /// The time the download and the take may take, counted from the call.
    pub deadline: Option<Duration>,
    /// How long to wait for another writer to release the store lock (cut to the deadline).
    pub lock_wait: Duration,
    /// When the running process started (see [`super::UpdateOptions::process_started`]).
    pub process_started: Option<SystemTime>,
}

/// A store export a mirror URL served, taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorTaken {
    /// What the take did (replaced the store, or found it already current).
    pub taken: Taken,
    /// Bytes downloaded.
    pub size: u64,
}

/// Downloads `url`; when it is a store export, takes it into the store at `store`. `None`
/// when the URL serves something else (a feed file): nothing was changed. `log` receives one
/// line per step.
pub fn update_from_mirror(
    store: &Path,
    client: &HttpClient,
    url: &str,
    options: &MirrorOptions,
    log: &mut dyn FnMut(&str),
) -> Result<Option<MirrorTaken>, UpdateError> {
    let clock = Clock::start(options.deadline);
    let started = options.process_started.unwrap_or_else(SystemTime::now);
    for removed in remove_stale_downloads(store, started) {
        log(&format!(
            "removed {} left by an update that did not finish",
            removed.display()
        ));
    }
    let scratch = Scratch::create(store)?;
    let dest = scratch.dir.join("download");
    log(&format!("downloading {url}"));
    let downloaded = client
        .download_until(url, &[], &dest, clock.at)
        .map_err(|e| clock.explain(e.into()))?;
    let is_export = is_export_file(&dest).map_err(|cause| UpdateError::Io {
        path: dest.clone(),
        cause,
    })?;
    if !is_export {
        return Ok(None);
    }
    clock.check("the snapshot was taken")?;
    let take = TakeOptions {
        now: options.now,
        max_age: options.max_age,
        lock_wait: clock.cap(options.lock_wait),
    };
    let taken = take_export(store, &dest, url, &take)?;
    drop(scratch);
    Ok(Some(MirrorTaken {
        taken,
        size: downloaded.size,
    }))
}
