//! `hvguard advisories [--new] [--all]`: the published vulnerabilities that affect this
//! host's hypervisors, from the store (or the shipped snapshot when there is none).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use hvguard_advisory::fetch::{notify, redact_url, Alert, NotifyLimits, NOTIFY_SCHEMA};
use hvguard_advisory::matching::{match_snapshot, Decision, MatchOutcome};
use hvguard_advisory::policy::Policy;
use hvguard_advisory::store::{
    store_path, AdvisoryOrigin as Origin, SeenKey, StateScope, StateStore,
};
use hvguard_advisory::Advisory;
use hvguard_core::{Finding, HostRoot, Severity, Snapshot};
use hvguard_host::identity::HostIdentity;

use super::Outcome;
use crate::output;

/// `hvguard advisories`: list what affects this host.
#[derive(Debug, clap::Args)]
pub struct AdvisoriesArgs {
    /// Only advisories not listed by an earlier `--new` run for this host (its machine-id,
    /// else its host name) and root; the state is kept in the store.
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
    /// POST the advisories this webhook has not accepted yet (for this host and root) as
    /// JSON. They count as delivered only after a 2xx answer; a failure is a warning, never
    /// changes the exit code, and the next `--notify` run sends them again.
    #[arg(long, value_name = "URL")]
    pub notify: Option<String>,
    /// Time for the whole notification, retries included, in seconds.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 15,
        requires = "notify"
    )]
    pub notify_timeout: u64,
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

/// How long `--new`/`--notify` wait for another writer (a `db update`, another
/// `--notify` run) to release the store.
const STATE_LOCK_WAIT: Duration = Duration::from_secs(120);

/// Runs `hvguard advisories`.
pub fn run(args: AdvisoriesArgs) -> Result<Outcome> {
    let root = crate::pipeline::open_root(&args.root)?;
    let snapshot = collect(&root);
    let path = store_path(args.source.db.as_deref())?;
    let (advisories, origin) = load_advisories(&path)?;
    let policy = Policy::resolve(args.source.policy.as_deref())?;
    let today = jiff::Zoned::now().date();
    let outcome = match_snapshot(&snapshot, &advisories, &policy, today);
    let now = crate::pipeline::now();

    // Held until the end: the listing, the post and what they record are one step for any
    // other writer (two --notify runs never send the same alert twice).
    let mut state = if args.new || args.notify.is_some() {
        Some(
            StateStore::open(&path, STATE_LOCK_WAIT)
                .context("--new and --notify keep their state in the advisory store")?,
        )
    } else {
        None
    };
    let scope = StateScope {
        host: HostIdentity::of(&root, &snapshot.host.hostname).to_string(),
        root: root.base().display().to_string(),
    };
    let listed: Vec<&Finding> = match state.as_mut().filter(|_| args.new) {
        Some(state) => {
            let fresh = state.record_listed(&scope, &keys_of(&outcome.findings), &now)?;
            outcome
                .findings
                .iter()
                .filter(|f| seen_key(f).is_some_and(|k| fresh.contains(&k)))
                .collect()
        }
        None => outcome.findings.iter().collect(),
    };
    let tracked = state.as_ref().map(|_| &scope);
    match args.format {
        ListFormat::Json => {
            let mut json = render_json(&listed, &outcome, args.all, args.new, &origin, tracked)?;
            json.push('\n');
            output::print_json(&json)?;
        }
        ListFormat::Text => {
            output::print_text(&render_text(&listed, &outcome, args.all, &origin))?;
        }
    }
    if let (Some(url), Some(state)) = (&args.notify, state.as_mut()) {
        let limits = NotifyLimits::within(Duration::from_secs(args.notify_timeout.max(1)));
        let alert = AlertContext {
            scope: &scope,
            host: snapshot.host.hostname.value().cloned(),
            now: &now,
        };
        send_pending(url, state, &alert, &outcome.findings, limits)?;
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
        output::note(&format!(
            "no advisories in {}; using the shipped snapshot",
            path.display()
        ));
    }
    Ok((advisories, origin))
}

/// The (advisory, binary) key of a finding.
fn seen_key(finding: &Finding) -> Option<SeenKey> {
    let id = finding.advisory.as_ref()?.id.clone();
    let binary = finding.location.as_ref()?.path.display().to_string();
    Some((id, binary))
}

fn keys_of(findings: &[Finding]) -> Vec<SeenKey> {
    findings.iter().filter_map(seen_key).collect()
}

/// Who an alert is from and when.
struct AlertContext<'a> {
    scope: &'a StateScope,
    host: Option<String>,
    now: &'a str,
}

/// Posts every finding the webhook has not accepted yet (new ones, and ones an earlier run
/// failed to deliver) and records them as delivered only after a 2xx. A failed post is a
/// warning, never a change of the exit code; the findings stay owed to the next run.
fn send_pending(
    url: &str,
    state: &mut StateStore,
    alert: &AlertContext<'_>,
    findings: &[Finding],
    limits: NotifyLimits,
) -> Result<()> {
    let pending = state.pending_alerts(alert.scope, &keys_of(findings), alert.now)?;
    if pending.is_empty() {
        output::note("nothing new to notify");
        return Ok(());
    }
    let retried = pending.iter().filter(|p| p.retry).count();
    if retried > 0 {
        output::note(&format!(
            "{retried} advisory finding(s) an earlier run could not deliver are sent again"
        ));
    }
    let keys: Vec<SeenKey> = pending.into_iter().map(|p| p.key).collect();
    let owed: Vec<Finding> = findings
        .iter()
        .filter(|f| seen_key(f).is_some_and(|k| keys.contains(&k)))
        .cloned()
        .collect();
    let body = Alert {
        schema: NOTIFY_SCHEMA,
        generated_at: alert.now.to_owned(),
        host: alert.host.clone(),
        new: owed,
    };
    let shown = redact_url(url);
    match notify(url, &body, limits) {
        Ok(()) => {
            state.mark_delivered(alert.scope, &keys, alert.now)?;
            output::note(&format!(
                "notified {shown} of {} advisory finding(s)",
                keys.len()
            ));
        }
        Err(e) => output::warn(&format!(
            "notification failed: {e}; {} advisory finding(s) stay unsent and the next \
             --notify run sends them again",
            keys.len()
        )),
    }
    Ok(())
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
    tracked: Option<&StateScope>,
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
    if let Some(scope) = tracked {
        value["state_scope"] = serde_json::to_value(scope)?;
    }
    Ok(serde_json::to_string_pretty(&value)?)
}
