//! `hvguard db status | import PATH... | update [--source NAME|URL]... [--offline] | build`:
//! the local advisory store (docs/advisory-store.md) and the shipped snapshot's data build
//! (docs/advisory-data-build.md).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use hvguard_advisory::fetch::{
    default_sources, select_sources, update_from_sources, FetchConfig, HttpClient, UpdateOptions,
    DEFAULT_UPDATE_DEADLINE, NVD_API_KEY_VAR,
};
use hvguard_advisory::import::{import_path_with, ImportOptions};
use hvguard_advisory::store::{
    store_path, update_store_with, ImportBatch, Progress, SourceInfo, Store, StoreStatus,
    WriteOptions,
};

use super::Outcome;
use crate::output::note;
use hvguard_core::escape::escape;

/// `hvguard db`: inspect and fill the advisory store.
#[derive(Debug, clap::Args)]
pub struct DbArgs {
    /// The store file (default: /var/lib/hvguard/advisories.db as root, else
    /// $XDG_DATA_HOME/hvguard/advisories.db or ~/.local/share/hvguard/advisories.db).
    #[arg(
        long,
        value_name = "FILE",
        env = "HVGUARD_DB",
        hide_env_values = true,
        global = true
    )]
    pub db: Option<PathBuf>,
    #[command(subcommand)]
    pub command: DbCommand,
}

/// What to do with the store.
#[derive(Debug, clap::Subcommand)]
pub enum DbCommand {
    /// Show the store: sources, record counts per source and product, age of each source.
    Status {
        /// Output format.
        #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
        format: StatusFormat,
    },
    /// Import feed files or folders (OSV, OSV zip, CVE 5, NVD 2.0, Debian tracker, KEV,
    /// EPSS, hvguard snapshot). All or nothing: a broken file leaves the store unchanged.
    Import {
        /// Files or folders to import.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Write an input that holds no records, removing what it brought before (refused
        /// otherwise: an empty feed is usually a broken one).
        #[arg(long)]
        replace: bool,
    },
    /// Download the configured feeds (NVD, Debian tracker, KEV, EPSS, OSV) into the store.
    Update {
        /// A source name (`nvd-qemu`, `nvd` for every nvd-*, `kev`, `epss`,
        /// `debian-tracker`, `osv-crates-io`) or an http(s) URL of a feed file; repeatable.
        /// Default: every configured source.
        #[arg(long = "source", value_name = "NAME|URL")]
        sources: Vec<String>,
        /// Do not download: say so and keep the store as it is (exit 0).
        #[arg(long)]
        offline: bool,
        /// Extra attempts for a download that fails with 5xx, 429 or a network error.
        #[arg(long, value_name = "N", default_value_t = 3)]
        retries: u32,
        /// Time limit for one download, in seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 600)]
        timeout: u64,
        /// Time limit for the whole update (every download, import and the store write), in
        /// seconds; 0 for none.
        #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_UPDATE_DEADLINE.as_secs())]
        deadline: u64,
        /// Write a source whose feed holds no records, removing what it brought before
        /// (refused otherwise: an empty feed is usually a broken download or mirror).
        #[arg(long)]
        replace: bool,
        /// For a store export (`db export`) taken from a mirror URL: refuse one made longer
        /// ago than this (its publisher has stopped).
        #[arg(long, value_name = "DAYS", default_value_t = 7)]
        max_snapshot_age: u64,
    },
    /// Write a verified, self-describing snapshot of the store (manifest line with content
    /// hash, sources and age, then the store) for other nodes to take with
    /// `db update --source URL` from an internal mirror.
    Export {
        /// The file to write (atomically; a replaced file is kept as FILE.bak).
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Regenerate the shipped advisory snapshot from raw records and the evidence file.
    Build(super::db_build::BuildArgs),
}

/// `db status` output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusFormat {
    /// For people.
    Text,
    /// For tools.
    Json,
}

/// Runs `hvguard db ...`.
pub fn run(args: DbArgs) -> Result<Outcome> {
    if let DbCommand::Build(build) = args.command {
        // The data build reads and writes files of the repository, not the store.
        return super::db_build::run(build);
    }
    let path = store_path(args.db.as_deref())?;
    match args.command {
        DbCommand::Status { format } => status(&path, format),
        DbCommand::Import { paths, replace } => import(&path, &paths, replace),
        DbCommand::Update {
            sources,
            offline,
            retries,
            timeout,
            deadline,
            replace,
            max_snapshot_age,
        } => update(
            &path,
            &sources,
            offline,
            UpdateLimits {
                retries,
                timeout,
                deadline,
                replace,
                max_snapshot_age,
            },
        ),
        DbCommand::Build(build) => super::db_build::run(build),
        DbCommand::Export { file } => super::db_export::export(&path, &file),
    }
}

fn status(path: &Path, format: StatusFormat) -> Result<Outcome> {
    let shipped = hvguard_advisory::shipped_snapshot()
        .context("the shipped advisory snapshot")?
        .len();
    if !path.exists() {
        match format {
            StatusFormat::Json => print_json(&serde_json::json!({
                "store": null,
                "path": path,
                "shipped_advisories": shipped,
            }))?,
            StatusFormat::Text => crate::output::print_text(&format!(
                "No advisory store at {}: scans use the shipped snapshot ({shipped} advisories).\n\
                 Fill the store with `hvguard db update` or `hvguard db import PATH...`.\n",
                path.display()
            ))?,
        }
        return Ok(Outcome::Clean);
    }
    let status = Store::open_readonly(path)?.status()?;
    let snapshot = hvguard_advisory::store::export::current_snapshot(path)?;
    match format {
        StatusFormat::Json => print_json(&serde_json::json!({
            "store": status,
            "path": path,
            "shipped_advisories": shipped,
            "snapshot": super::db_export::snapshot_json(&snapshot),
        }))?,
        StatusFormat::Text => {
            let mut text = render_status(&status, jiff::Timestamp::now());
            if let Some(line) = super::db_export::snapshot_line(&snapshot) {
                text.push_str(&line);
                text.push('\n');
            }
            crate::output::print_text(&text)?
        }
    }
    Ok(Outcome::Clean)
}

fn print_json(value: &serde_json::Value) -> Result<()> {
    let mut json = serde_json::to_string_pretty(value)?;
    json.push('\n');
    crate::output::print_json(&json)?;
    Ok(())
}

/// The text of `db status`; `now` is a parameter so that ages are testable.
fn render_status(status: &StoreStatus, now: jiff::Timestamp) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Advisory store: {} (schema {})",
        status.path.display(),
        status.schema_version
    );
    let products: Vec<String> = status
        .per_product
        .iter()
        .map(|(p, n)| format!("{p} {n}"))
        .collect();
    let _ = writeln!(
        out,
        "Advisories: {}{}",
        status.advisories,
        if products.is_empty() {
            String::new()
        } else {
            format!(" ({})", products.join(", "))
        }
    );
    let _ = writeln!(
        out,
        "Facts: {} KEV entries, {} EPSS scores, {} distro verdicts; {} advisory findings remembered by `advisories --new/--notify`",
        status.kev, status.epss, status.distro, status.seen
    );
    if status.sources.is_empty() {
        let _ = writeln!(out, "Sources: none imported yet");
        return out;
    }
    let _ = writeln!(out, "Sources:");
    let width = status
        .sources
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(0);
    for s in &status.sources {
        let location = if s.location == s.name {
            ""
        } else {
            &s.location
        };
        let line = format!(
            "  {:width$}  {:>8} records  {:>9}  {}  {location}",
            s.name,
            s.records,
            age(&s.imported_at, now),
            s.format,
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}

/// `3d 4h old`, `25m old`; the raw text when the timestamp does not parse.
fn age(imported_at: &str, now: jiff::Timestamp) -> String {
    let Ok(then) = imported_at.parse::<jiff::Timestamp>() else {
        return imported_at.to_owned();
    };
    let secs = now.as_second().saturating_sub(then.as_second()).max(0);
    let (d, h, m) = (secs / 86_400, (secs % 86_400) / 3600, (secs % 3600) / 60);
    if d > 0 {
        format!("{d}d {h}h old")
    } else if h > 0 {
        format!("{h}h {m}m old")
    } else {
        format!("{m}m old")
    }
}

fn import(path: &Path, inputs: &[PathBuf], replace: bool) -> Result<Outcome> {
    hvguard_advisory::import::set_read_observer(show_read_progress);
    let options = ImportOptions::default();
    let mut batches = Vec::new();
    // Parse everything first: a broken file stops the command before the store is touched.
    for input in inputs {
        note(&format!("importing {}", input.display()));
        let imported = import_path_with(input, &options)?;
        for (path, why) in &imported.skipped {
            note(&format!(
                "skipped {}: not a supported feed ({why})",
                path.display()
            ));
        }
        let source = SourceInfo::for_path(input, &imported)?;
        batches.push(ImportBatch { source, imported });
    }
    let options = WriteOptions {
        replace_empty: replace,
        ..WriteOptions::default()
    };
    let summary = update_store_with(
        path,
        &batches,
        &crate::pipeline::now(),
        options,
        &mut progress_printer(),
    )?;
    for (name, records) in &summary.sources {
        note(&format!("{name}: {records} record(s)"));
    }
    note(&format!(
        "{} advisories in {}",
        summary.advisories,
        summary.path.display()
    ));
    Ok(Outcome::Clean)
}

/// `db update`'s knobs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UpdateLimits {
    pub retries: u32,
    pub timeout: u64,
    pub deadline: u64,
    pub replace: bool,
    /// For a store export taken from a mirror URL, in days.
    pub max_snapshot_age: u64,
}

impl UpdateLimits {
    /// The whole update's time limit (`--deadline 0`: none).
    pub fn deadline(&self) -> Option<Duration> {
        (self.deadline > 0).then(|| Duration::from_secs(self.deadline))
    }

    /// The client every download of one `db update` goes through.
    fn client(&self) -> HttpClient {
        let timeout = Duration::from_secs(self.timeout.max(1));
        HttpClient::new(FetchConfig {
            retries: self.retries,
            request_timeout: timeout,
            stall_timeout: FetchConfig::default().stall_timeout.min(timeout),
            ..FetchConfig::default()
        })
    }
}

fn update(
    path: &Path,
    selectors: &[String],
    offline: bool,
    limits: UpdateLimits,
) -> Result<Outcome> {
    if offline {
        let kept = if path.exists() {
            format!("the store at {} is kept as it is", path.display())
        } else {
            format!(
                "there is no store at {}, so scans use the shipped snapshot",
                path.display()
            )
        };
        note(&format!("--offline: nothing downloaded; {kept}"));
        return Ok(Outcome::Clean);
    }
    let started = Instant::now();
    let client = limits.client();
    // A mirror URL may serve a store export (`db export`) instead of a feed file: that
    // replaces the store's feed data as a whole, so it is taken on its own.
    if let [single] = selectors {
        if super::db_export::is_url(single) {
            if let Some(outcome) =
                super::db_export::update_from_mirror(path, &client, single, limits)?
            {
                return Ok(outcome);
            }
        }
    }
    let sources = select_sources(&default_sources(), selectors)?;
    let options = UpdateOptions {
        // What the mirror check spent counts against the one deadline.
        deadline: limits
            .deadline()
            .map(|d| d.saturating_sub(started.elapsed())),
        write: WriteOptions {
            replace_empty: limits.replace,
            ..WriteOptions::default()
        },
        process_started: Some(crate::pipeline::process_started()),
        ..UpdateOptions::from_env()
    };
    if options.nvd_api_key.is_some() {
        note(&format!("using the NVD API key from {NVD_API_KEY_VAR}"));
    }
    let result = update_from_sources(
        path,
        &client,
        &sources,
        &options,
        &crate::pipeline::now(),
        &mut |line| note(line),
        &mut progress_printer(),
    );
    match result {
        Ok(summary) => {
            note(&format!(
                "{} advisories in {}",
                summary.advisories,
                summary.path.display()
            ));
            Ok(Outcome::Clean)
        }
        Err(e) => Err(abandoned(path, &e)),
    }
}

/// A failed `db update`'s error, saying what the node keeps.
pub(crate) fn abandoned(path: &Path, e: &dyn std::fmt::Display) -> anyhow::Error {
    let kept = if path.exists() {
        format!("the previous store at {} is kept", path.display())
    } else {
        "no store was written; scans use the shipped snapshot".to_owned()
    };
    anyhow::anyhow!("{e} (update abandoned: {kept})")
}

/// A progress line on stderr every tenth of a big write.
fn progress_printer() -> impl FnMut(Progress) -> Result<(), String> {
    let mut next_tenth = 1;
    move |p: Progress| {
        if p.total >= 20_000 && p.done * 10 >= p.total * next_tenth {
            note(&format!("written {}/{} records", p.done, p.total));
            next_tenth = p.done * 10 / p.total + 1;
        }
        Ok(())
    }
}

/// Draws the progress of a long feed read on stderr: a bar redrawn in place on a terminal,
/// a line per quarter otherwise (logs stay short).
fn show_read_progress(path: &Path, done: u64, total: Option<u64>) {
    use std::io::IsTerminal;
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST_QUARTER: AtomicU64 = AtomicU64::new(0);
    const MIB: u64 = 1 << 20;
    let Some(total) = total.filter(|t| *t > 0) else {
        note(&format!("{}: {} MiB read", path.display(), done / MIB));
        return;
    };
    let percent = (done.min(total) * 100) / total;
    if std::io::stderr().is_terminal() {
        let filled = (percent / 5) as usize;
        eprint!(
            "\rhvguard: {} [{}{}] {percent:>3}% ({}/{} MiB)",
            escape(&path.display().to_string()),
            "#".repeat(filled),
            " ".repeat(20 - filled),
            done / MIB,
            total / MIB
        );
        if done >= total {
            eprintln!();
        }
    } else {
        let quarter = percent / 25;
        if quarter != LAST_QUARTER.swap(quarter, Ordering::Relaxed) {
            note(&format!("{}: {percent}% read", path.display()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hvguard_advisory::store::SourceStatus;
    use std::collections::BTreeMap;

    #[test]
    fn ages_are_days_hours_or_minutes() {
        let now: jiff::Timestamp = "2026-11-27T12:00:00Z".parse().expect("ts");
        assert_eq!(age("2026-11-24T08:00:00Z", now), "3d 4h old");
        assert_eq!(age("2026-11-27T10:30:00Z", now), "1h 30m old");
        assert_eq!(age("2026-11-27T11:55:00Z", now), "5m old");
        assert_eq!(age("yesterday", now), "yesterday");
    }

    #[test]
    fn status_text_lists_sources_and_products() {
        let now: jiff::Timestamp = "2026-11-27T12:00:00Z".parse().expect("ts");
        let status = StoreStatus {
            path: "/var/lib/hvguard/advisories.db".into(),
            schema_version: 1,
            sources: vec![SourceStatus {
                name: "kev".into(),
                location: "https://example.org/kev.json".into(),
                format: "kev".into(),
                imported_at: "2026-11-25T12:00:00Z".into(),
                records: 1404,
                size: 1,
                sha256: None,
            }],
            advisories: 3,
            per_product: BTreeMap::from([("qemu".into(), 2), ("firecracker".into(), 1)]),
            kev: 1404,
            epss: 0,
            distro: 0,
            seen: 0,
        };
        let text = render_status(&status, now);
        assert!(
            text.contains("Advisories: 3 (firecracker 1, qemu 2)"),
            "{text}"
        );
        assert!(
            text.contains("kev      1404 records  2d 0h old  kev  https://example.org/kev.json"),
            "{text}"
        );
    }
}
