//! `hvguard update status|apply|rollback|drill|history`: hypervisor updates on this node
//! (see docs/updates.md). The work is done by hvguard-update; this module turns flags into
//! its context, prints the JSON or text, and maps the result onto exit codes.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use hvguard_advisory::policy::Policy;
use hvguard_core::{HostRoot, Snapshot};
use hvguard_smoke::{HostVirt, SmokeError, SmokePolicy};
use hvguard_update::apt::Apt;
use hvguard_update::gate::qemu_start::QemuStartGate;
use hvguard_update::gate::smoke::SmokeGate;
use hvguard_update::gate::BootGate;
use hvguard_update::kata::KataLayout;
use hvguard_update::result::UpdateResult;
use hvguard_update::state::{StateDirs, DEFAULT_STATE_DIR};
use hvguard_update::status::{status, StatusInput};
use hvguard_update::transaction::{self, Context};
use hvguard_update::UpdateError;

use super::Outcome;
use crate::{output, pipeline};

/// `hvguard update`.
#[derive(Debug, clap::Args)]
pub struct UpdateArgs {
    #[command(subcommand)]
    pub command: UpdateCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum UpdateCommand {
    /// Installed versions, candidates, what the candidates fix, SLA (exit 1 when overdue).
    Status(StatusArgs),
    /// Update the hypervisor packages (or a static Kata release) as one tested transaction.
    Apply(ApplyArgs),
    /// Reinstall the versions saved before an update (or switch Kata back).
    Rollback(RollbackArgs),
    /// Rehearse: install the candidate, verify it, roll back, verify that.
    Drill(DrillArgs),
    /// The journal: every transaction and its stages.
    History(HistoryArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UpdateFormat {
    Text,
    Json,
}

/// The boot test before (and after) install.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GateChoice {
    /// Boot a guest to userspace as `hvguard smoke` does: the policy's [smoke] guest or the
    /// Kata configuration's (a static Kata release boots its own), with this host's Kata
    /// settings; the candidate's median boot is judged against the installed build's.
    Smoke,
    /// Fallback without a guest: start the build's QEMU with its own modules and ask its
    /// version over QMP.
    QemuStart,
}

/// What every subcommand shares.
#[derive(Debug, clap::Args)]
pub struct Common {
    #[command(flatten)]
    pub source: crate::args::AdvisorySourceArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = UpdateFormat::Text)]
    pub format: UpdateFormat,
    /// Where the update lock, the staging area and the rollback artifacts live.
    #[arg(long, value_name = "DIR", env = "HVGUARD_STATE_DIR", default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// An apt option (`KEY=VALUE`) passed as `-o` to every apt-get and apt-cache call
    /// (a proxy, a sources list); repeatable.
    #[arg(long = "apt-option", value_name = "KEY=VALUE")]
    pub apt_options: Vec<String>,
    /// Seconds to wait for another package manager to release the dpkg lock.
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    pub lock_wait: u64,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub common: Common,
    /// Only what the store already knows: do not download the candidates' changelogs.
    #[arg(long)]
    pub offline: bool,
}

/// Flags of the commands that change the host.
#[derive(Debug, clap::Args)]
pub struct ChangeArgs {
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
    /// The boot test: `smoke` boots the configured guest (policy [smoke] table, or the Kata
    /// configuration's own); `qemu-start` only starts the build (no guest).
    #[arg(long, value_enum, default_value_t = GateChoice::Smoke)]
    pub gate: GateChoice,
    /// Change packages without a boot test (recorded as a skipped stage).
    #[arg(long)]
    pub skip_smoke: bool,
    /// Ignore the policy's maintenance window.
    #[arg(long)]
    pub now: bool,
    /// The static Kata install (a symlink into `<DIR>-releases/` after the first switch).
    #[arg(long, value_name = "DIR", default_value = "/opt/kata")]
    pub kata_dir: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub change: ChangeArgs,
    /// Show the plan and run the preflight checks; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Update even when the installed versions' packages cannot be saved for a rollback.
    #[arg(long)]
    pub no_rollback: bool,
    /// Apply a static Kata release (`kata-static-<version>-<arch>.tar.*`) instead of packages.
    #[arg(long, value_name = "FILE", requires = "sha256")]
    pub kata_tarball: Option<PathBuf>,
    /// The tarball's expected SHA-256 (from the release's checksum file).
    #[arg(long, value_name = "HEX", requires = "kata_tarball")]
    pub sha256: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub change: ChangeArgs,
    /// Restore the saved set holding this version (default: the newest set that differs
    /// from what is installed).
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,
    /// Switch the static Kata install back instead of reinstalling packages.
    #[arg(long)]
    pub kata: bool,
}

#[derive(Debug, clap::Args)]
pub struct DrillArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub change: ChangeArgs,
}

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub source: crate::args::AdvisorySourceArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = UpdateFormat::Text)]
    pub format: UpdateFormat,
    /// Show at most this many transactions (newest first).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: usize,
}

pub fn run(args: UpdateArgs) -> Result<Outcome> {
    match args.command {
        UpdateCommand::Status(a) => run_status(a),
        UpdateCommand::Apply(a) => run_apply(a),
        UpdateCommand::Rollback(a) => run_rollback(a),
        UpdateCommand::Drill(a) => run_drill(a),
        UpdateCommand::History(a) => run_history(a),
    }
}

fn apt(common: &Common) -> Apt {
    Apt {
        options: common.apt_options.clone(),
        lock_wait: Duration::from_secs(common.lock_wait),
        log_dir: Some(common.state_dir.join("logs")),
        ..Apt::default()
    }
}

fn live_snapshot() -> hvguard_core::Snapshot {
    let root = HostRoot::live();
    let collected = pipeline::collect(&root);
    collected.snapshot
}

fn run_status(args: StatusArgs) -> Result<Outcome> {
    let common = &args.common;
    let store = hvguard_advisory::store::store_path(common.source.db.as_deref())?;
    let policy = Policy::resolve(common.source.policy.as_deref())?;
    let snapshot = live_snapshot();
    pipeline::warn(&snapshot.warnings);
    let report = status(&StatusInput {
        snapshot: &snapshot,
        apt: &apt(common),
        policy: &policy,
        store: &store,
        state: &StateDirs::new(&common.state_dir),
        today: jiff::Zoned::now().date(),
        read_candidates: !args.offline,
    })?;
    pipeline::warn(&report.warnings);
    let report = hvguard_update::status::StatusReport {
        host: Some(pipeline::live_host()),
        ..report
    };
    let text = match common.format {
        UpdateFormat::Json => format!("{}\n", serde_json::to_string_pretty(&report)?),
        UpdateFormat::Text => report.render_text(),
    };
    output::print(&text)?;
    Ok(Outcome::Code(report.exit_code()))
}

fn confirm(yes: bool, dry_run: bool, what: &str) -> Result<()> {
    if yes || dry_run {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        bail!("refusing to {what} without --yes (no terminal to ask on)");
    }
    eprint!("hvguard: {what} now? [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if !matches!(answer.trim(), "y" | "Y" | "yes") {
        bail!("not confirmed: nothing changed");
    }
    Ok(())
}

fn progress(line: &str) {
    eprintln!("hvguard: update: {line}");
}

/// The smoke gate for this host: the policy's `[smoke]` table, the Kata configuration in use
/// (`[smoke] config`, else the one discovery finds, as `scan` does) and this host's
/// virtualisation facts, so that `accel = auto` decides from facts (a `kvm_pvm` host goes to
/// TCG at once). `release_guest`: a static Kata release boots its own guest, so none need be
/// configured; otherwise a missing guest is an input error before anything runs.
fn smoke_gate(
    policy: Option<&Path>,
    snapshot: &Snapshot,
    release_guest: bool,
) -> Result<SmokeGate> {
    let smoke = SmokePolicy::resolve(policy)?;
    let config = match &smoke.config {
        Some(path) => Some(super::smoke::load_config(path)?),
        None => super::smoke::config_in_use(snapshot.kata.clone())?,
    };
    let host = HostVirt::from_facts(&snapshot.host.kvm, &snapshot.host.cpu);
    let gate = SmokeGate::new(config, smoke.overrides, host);
    if !release_guest {
        match gate.configured_guest() {
            Ok(_) => {}
            Err(SmokeError::NoKernel { .. }) => bail!(
                "the smoke gate has no guest to boot: neither the policy's [smoke] table nor a Kata configuration names a guest kernel; set `kernel` and `initrd` in [smoke] (scripts/build-test-guest builds a test guest from Debian packages), or pass --gate qemu-start (starts the build, boots no guest) or --skip-smoke"
            ),
            Err(e) => bail!(
                "the smoke gate cannot boot this host's configuration: {e}; fix it, set `config` in the policy's [smoke] table, or pass --gate qemu-start (starts the build, boots no guest)"
            ),
        }
    }
    Ok(gate)
}

/// Runs `body` with a transaction context built from the flags and a Snapshot of the live host.
fn with_context(
    common: &Common,
    change: &ChangeArgs,
    dry_run: bool,
    no_rollback: bool,
    release_guest: bool,
    body: impl FnOnce(&Context<'_>, &Snapshot) -> Result<UpdateResult, UpdateError>,
) -> Result<Outcome> {
    let store = hvguard_advisory::store::store_path(common.source.db.as_deref())?;
    let policy = Policy::resolve(common.source.policy.as_deref())?;
    let snapshot = live_snapshot();
    let qemu_start = QemuStartGate::default();
    let smoke;
    let gate: Option<&dyn BootGate> = match (change.skip_smoke, change.gate) {
        (true, _) => None,
        (false, GateChoice::QemuStart) => Some(&qemu_start),
        (false, GateChoice::Smoke) => {
            smoke = smoke_gate(common.source.policy.as_deref(), &snapshot, release_guest)?;
            Some(&smoke)
        }
    };
    let collect = live_snapshot;
    let ctx = Context {
        root: HostRoot::live(),
        apt: apt(common),
        policy: &policy,
        store,
        state: StateDirs::new(&common.state_dir),
        gate,
        skip_smoke: change.skip_smoke,
        no_rollback,
        now: change.now,
        dry_run,
        lock_wait: Duration::from_secs(common.lock_wait),
        collect: &collect,
        progress: &progress,
        local_now: jiff::Zoned::now().datetime(),
    };
    let mut result = body(&ctx, &snapshot).map_err(anyhow::Error::from)?;
    result.host = Some(pipeline::live_host());
    let text = match common.format {
        UpdateFormat::Json => format!("{}\n", serde_json::to_string_pretty(&result)?),
        UpdateFormat::Text => result.render_text(),
    };
    output::print(&text)?;
    Ok(Outcome::Code(result.exit_code()))
}

fn run_apply(args: ApplyArgs) -> Result<Outcome> {
    let what = if args.kata_tarball.is_some() {
        "switch the static Kata release"
    } else {
        "update the hypervisor packages"
    };
    confirm(args.change.yes, args.dry_run, what)?;
    let layout = KataLayout::new(&args.change.kata_dir);
    with_context(
        &args.common,
        &args.change,
        args.dry_run,
        args.no_rollback,
        args.kata_tarball.is_some(),
        |ctx, snapshot| match (&args.kata_tarball, &args.sha256) {
            (Some(tarball), Some(sha)) => {
                hvguard_update::kata::transaction::apply_tarball(ctx, &layout, tarball, sha)
            }
            _ => transaction::apply(ctx, snapshot),
        },
    )
}

fn run_rollback(args: RollbackArgs) -> Result<Outcome> {
    confirm(args.change.yes, false, "roll back")?;
    let layout = KataLayout::new(&args.change.kata_dir);
    with_context(
        &args.common,
        &args.change,
        false,
        false,
        args.kata,
        |ctx, snapshot| {
            if args.kata {
                hvguard_update::kata::transaction::rollback(ctx, &layout, args.to.as_deref())
            } else {
                transaction::rollback(ctx, snapshot, args.to.as_deref())
            }
        },
    )
}

fn run_drill(args: DrillArgs) -> Result<Outcome> {
    confirm(
        args.change.yes,
        false,
        "install the candidate and roll it back (drill)",
    )?;
    with_context(
        &args.common,
        &args.change,
        false,
        false,
        false,
        transaction::drill,
    )
}

fn run_history(args: HistoryArgs) -> Result<Outcome> {
    let store = hvguard_advisory::store::store_path(args.source.db.as_deref())?;
    let mut txs = hvguard_update::journal::read_journal(&store)
        .with_context(|| format!("reading the update journal in {}", store.display()))?;
    txs.truncate(args.limit);
    let text = match args.format {
        UpdateFormat::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&serde_json::json!({
                "schema": "hvguard.update-history/v1",
                "transactions": txs,
            }))?
        ),
        UpdateFormat::Text => {
            use std::fmt::Write as _;
            let mut out = String::new();
            if txs.is_empty() {
                out.push_str("no update transactions recorded\n");
            }
            for t in &txs {
                let state = match (&t.result, t.is_interrupted()) {
                    (Some(r), _) => r.clone(),
                    (None, true) => "INTERRUPTED".into(),
                    (None, false) => "running".into(),
                };
                let _ = writeln!(out, "{} {} {} ({})", t.started_at, t.kind, t.id, state);
                for c in &t.components {
                    let _ = writeln!(out, "    {} {} -> {}", c.package, c.from, c.to);
                }
                for s in &t.stages {
                    let _ = writeln!(
                        out,
                        "    [{}] {} {}",
                        s.state,
                        s.name,
                        s.detail.as_deref().unwrap_or("")
                    );
                }
                for a in &t.artifacts {
                    let _ = writeln!(
                        out,
                        "    saved {} {} at {}",
                        a.package,
                        a.version,
                        a.path.display()
                    );
                }
            }
            out
        }
    };
    output::print(&text)?;
    Ok(Outcome::Clean)
}
