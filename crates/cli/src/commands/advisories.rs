//! `hvguard advisories [--new] [--all]`: the published vulnerabilities that affect this
//! host's hypervisors, from the store (or the shipped snapshot when there is none).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use hvguard_advisory::fetch::{notify, Alert, NotifyLimits, NOTIFY_SCHEMA};
use hvguard_advisory::matching::{match_snapshot, Decision, MatchOutcome};
use hvguard_advisory::policy::Policy;
use hvguard_advisory::store::{store_path, AdvisoryOrigin as Origin, Store};
use hvguard_advisory::Advisory;
use hvguard_core::{Finding, HostRoot, Severity, Snapshot};

use super::Outcome;

/// `hvguard advisories`: list what affects this host.
#[derive(Debug, clap::Args)]
pub struct AdvisoriesArgs {
    /// Only advisories not reported by an earlier `--new` run (per advisory and binary;
    /// the state is kept in the store).
    #[arg(long)]
    pub new: bool,
    /// Also list every decision: fixed by backport, not affected, unknown.
    #[arg(long)]
    pub all: bool,
    /// The host root to read: `/` (the live host) or a mounted image / fixture directory.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    #[command(flatten)]
    pub source: crate::args::AdvisorySourceArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
    /// POST the newly seen advisories as JSON to this webhook (implies the `--new`
    /// bookkeeping; a failure is a warning and never changes the exit code).
    #[arg(long, value_name = "URL")]
    pub notify: Option<String>,
    /// Exit with 1 when a listed finding is at or above this severity.
    #[arg(long, value_name = "SEVERITY", default_value = "high", value_parser = parse_severity)]
    pub fail_on: Severity,
}

fn parse_severity(text: &str) -> Result<Severity, String> {
    text.parse::<Severity>().map_err(|e| e.to_string())
}

/// `advisories` output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    /// For people.
    Text,
    /// For tools.
    Json,
}

/// Runs `hvguard advisories`.
pub fn run(args: AdvisoriesArgs) -> Result<Outcome> {
    let root = crate::pipeline::open_root(&args.root)?;
    let snapshot = collect(&root);
    let path = store_path(args.source.db.as_deref())?;
    let (advisories, origin) = load_advisories(&path)?;
    let policy = Policy::resolve(args.source.policy.as_deref())?;
    let today = jiff::Zoned::now().date();
    let outcome = match_snapshot(&snapshot, &advisories, &policy, today);

    let track = args.new || args.notify.is_some();
    let fresh = if track {
        Some(record_seen(&path, &outcome.findings)?)
    } else {
        None
    };
    let listed: Vec<&Finding> = match (&fresh, args.new) {
        (Some(fresh), true) => fresh.iter().collect(),
        _ => outcome.findings.iter().collect(),
    };
    match args.format {
        ListFormat::Json => println!(
            "{}",
            render_json(&listed, &outcome, args.all, args.new, &origin)?
        ),
        ListFormat::Text => print!("{}", render_text(&listed, &outcome, args.all, &origin)),
    }
    if let (Some(url), Some(fresh)) = (&args.notify, &fresh) {
        send_alert(url, &snapshot, fresh);
    }
    Ok(if listed.iter().any(|f| f.severity >= args.fail_on) {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}

fn collect(root: &HostRoot) -> Snapshot {
    let collected = crate::pipeline::collect(root);
    crate::pipeline::warn(&collected.snapshot.warnings);
    // A broken Kata file only weakens the relevance rating: warn, still list advisories.
    crate::pipeline::warn(&collected.errors);
    collected.snapshot
}

/// The store's advisories when it holds any, else the shipped snapshot (said on stderr).
fn load_advisories(path: &Path) -> Result<(Vec<Advisory>, Origin)> {
    let (advisories, origin) = hvguard_advisory::store::load_advisories(path)?;
    if origin == Origin::Shipped {
        eprintln!(
            "hvguard: no advisories in {}; using the shipped snapshot",
            path.display()
        );
    }
    Ok((advisories, origin))
}

/// The (advisory, binary) key of a finding.
fn seen_key(finding: &Finding) -> Option<(String, String)> {
    let id = finding.advisory.as_ref()?.id.clone();
    let binary = finding.location.as_ref()?.path.display().to_string();
    Some((id, binary))
}

/// Records every finding's (advisory, binary) in the store and returns the findings that
/// were not recorded before.
fn record_seen(path: &Path, findings: &[Finding]) -> Result<Vec<Finding>> {
    let keys: Vec<(String, String)> = findings.iter().filter_map(seen_key).collect();
    let mut store = Store::open_or_create(path)
        .with_context(|| "--new and --notify keep their state in the advisory store")?;
    let fresh = store.record_seen(&keys, &crate::pipeline::now())?;
    Ok(findings
        .iter()
        .filter(|f| seen_key(f).is_some_and(|k| fresh.contains(&k)))
        .cloned()
        .collect())
}

/// Posts the new findings; never fails the command.
fn send_alert(url: &str, snapshot: &Snapshot, fresh: &[Finding]) {
    if fresh.is_empty() {
        eprintln!("hvguard: nothing new to notify");
        return;
    }
    let alert = Alert {
        schema: NOTIFY_SCHEMA,
        generated_at: crate::pipeline::now(),
        host: snapshot.host.hostname.value().cloned(),
        new: fresh.to_vec(),
    };
    match notify(url, &alert, NotifyLimits::default()) {
        Ok(()) => eprintln!(
            "hvguard: notified {url} of {} new advisory finding(s)",
            fresh.len()
        ),
        Err(e) => eprintln!("hvguard: warning: notification failed: {e}"),
    }
}

fn origin_text(origin: &Origin) -> String {
    match origin {
        Origin::Store(p) => format!("store {}", p.display()),
        Origin::Shipped => "shipped snapshot".to_owned(),
    }
}

fn render_text(listed: &[&Finding], outcome: &MatchOutcome, all: bool, origin: &Origin) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    if listed.is_empty() {
        let _ = writeln!(
            out,
            "No vulnerable hypervisor found ({}).",
            origin_text(origin)
        );
    }
    for f in listed {
        let binary = f
            .location
            .as_ref()
            .map(|l| l.path.display().to_string())
            .unwrap_or_default();
        let _ = writeln!(out, "{:<8} {}  {}", f.severity.as_str(), f.title, binary);
        let _ = writeln!(out, "         {}", f.evidence);
        if let Some(a) = &f.advisory {
            let _ = writeln!(out, "         relevance: {}", a.relevance);
            if let Some(fixed) = &a.fixed_in {
                let _ = writeln!(out, "         fixed in: {fixed}");
            }
        }
    }
    if all {
        let _ = writeln!(out, "\nEvery decision:");
        for d in &outcome.decisions {
            let _ = writeln!(out, "{}", decision_line(d));
        }
    }
    let counts: Vec<String> = outcome
        .counts()
        .iter()
        .map(|(status, n)| format!("{n} {}", status.as_str()))
        .collect();
    let _ = writeln!(
        out,
        "\n{} listed; decisions: {} ({})",
        listed.len(),
        if counts.is_empty() {
            "none".to_owned()
        } else {
            counts.join(", ")
        },
        origin_text(origin)
    );
    out
}

fn decision_line(d: &Decision) -> String {
    format!(
        "  {:<17} {:<18} {} {}: {}",
        d.status.as_str(),
        d.advisory,
        d.binary.display(),
        d.installed,
        d.evidence
    )
}

fn render_json(
    listed: &[&Finding],
    outcome: &MatchOutcome,
    all: bool,
    new_only: bool,
    origin: &Origin,
) -> Result<String> {
    let counts: std::collections::BTreeMap<&str, usize> = outcome
        .counts()
        .iter()
        .map(|(s, n)| (s.as_str(), *n))
        .collect();
    let (source, store) = match origin {
        Origin::Store(p) => ("store", Some(p.display().to_string())),
        Origin::Shipped => ("shipped", None),
    };
    let mut value = serde_json::json!({
        "schema": "hvguard.advisories/v1",
        "generated_at": crate::pipeline::now(),
        "advisories_from": source,
        "store": store,
        "new_only": new_only,
        "counts": counts,
        "findings": listed,
    });
    if all {
        value["decisions"] = serde_json::to_value(&outcome.decisions)?;
    }
    Ok(serde_json::to_string_pretty(&value)?)
}
