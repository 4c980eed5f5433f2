//! `hvguard scan`: collect (or read a snapshot), evaluate, render; with `--record` and
//! `--baseline`, also remember the scan and compare it (docs/drift-and-integrity.md).

use super::Outcome;
use crate::args::{Format, ScanArgs};
use crate::history::{HistoryRequest, ScanHistory};
use crate::{export, output, pipeline};
use anyhow::Result;
use hvguard_advisory::store::history::EncodedState;

pub fn run(args: ScanArgs) -> Result<Outcome> {
    let store = hvguard_advisory::store::store_path(args.advisories.db.as_deref())?;
    let advisories = pipeline::AdvisoryInput::load(
        args.advisories.db.as_deref(),
        args.advisories.policy.as_deref(),
    )?;
    let mut history = ScanHistory::open(
        &store,
        HistoryRequest {
            record: args.record,
            baseline: args.baseline.clone(),
            keep_days: advisories.policy.history.keep_days,
        },
    )?;
    let (mut snapshot, errors, fresh) = match &args.snapshot {
        Some(path) => (pipeline::read_snapshot(path)?, Vec::new(), Vec::new()),
        None => {
            let root = pipeline::open_root(&args.root.root)?;
            // The store's digest cache where it has one, else the cache file of this root.
            let (collected, fresh) = if args.no_cache {
                (pipeline::collect_uncached(&root), Vec::new())
            } else if let Some(cache) = history.digest_cache() {
                let (collected, cache) = pipeline::collect_with_digests(&root, cache);
                (collected, cache.fresh().to_vec())
            } else {
                (pipeline::collect(&root), Vec::new())
            };
            pipeline::ensure_something_read(&collected.snapshot)?;
            (collected.snapshot, collected.errors, fresh)
        }
    };
    pipeline::warn(&snapshot.warnings);
    history.attach_baseline(&mut snapshot);
    let mut report = pipeline::evaluate(&snapshot, &advisories, pipeline::now());
    let encoded = if args.record {
        EncodedState::new(&snapshot, &report).ok()
    } else {
        None
    };
    let (drift, since_previous) = history.drift(&snapshot, &report, encoded.as_ref());
    report.drift = drift;
    let nfd_policy = &advisories.policy.nfd;
    // The journal and the SLA only matter where metrics are written.
    let writes_metrics =
        args.output.format == Format::Prometheus || args.export.textfile_dir.is_some();
    let sources = export::MetricsSources {
        store: &store,
        advisories: &advisories.advisories,
        policy: &advisories.policy.update,
        today: advisories.today,
    };
    let metrics = export::metrics_input(
        &report,
        errors.len(),
        nfd_policy,
        writes_metrics.then_some(&sources),
    );
    let text = match args.output.format {
        Format::Prometheus => hvguard_report::render_prometheus(&report, &metrics),
        format => output::render_with(&report, format, args.output.color, args.verbose),
    };
    output::print(&text)?;
    history.finish(&snapshot, &report, encoded.as_ref(), since_previous, &fresh);
    let published = export::publish(&args.export, &report, &metrics, nfd_policy);
    if let (false, Err(e)) = (errors.is_empty(), &published) {
        eprintln!("hvguard: error: {e:#}");
    }
    // A configuration that exists but cannot be parsed is an input error: the report above
    // covers everything else, and the exit code says an input was broken.
    pipeline::fail_on_errors(&errors)?;
    published?;
    Ok(Outcome::from_report(&report, args.output.fail_on))
}
