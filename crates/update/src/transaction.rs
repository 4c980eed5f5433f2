//! `apply`, `rollback` and `drill`: one transaction each, every stage journalled before it
//! runs, a failed gate changing nothing, and a failure after the install undone from the
//! saved artifacts (DESIGN.md §10).
//!
//! Stages of `apply`: `preflight` (window, interrupted transactions, dpkg lock, apt's own
//! simulation, free space), `artifacts` (the installed versions' `.deb`s), `stage` (the
//! candidates downloaded and unpacked), `smoke` (the gate boots the staged candidate and the
//! installed build), `install`, `verify` (dpkg, the binary's own version, a boot of the
//! installed binary), `rollback` (only after a failure), `report` (sandboxes still running
//! the old binary).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hvguard_advisory::policy::Policy;
use hvguard_core::{HostRoot, Snapshot};

use crate::apt::Apt;
use crate::artifacts;
use crate::components::{self, Packaged};
use crate::gate::{self, BootGate, BootTarget};
use crate::journal::{read_journal, ArtifactRecord, Journal, TxRecord};
use crate::locks::{take_update_lock, wait_for_dpkg};
use crate::result::{ComponentChange, OldBinaryUser, Outcome, Stage, UpdateResult};
use crate::staging::{self, Staged};
use crate::state::{free_bytes, StateDirs};
use crate::UpdateError;

/// Now, to the second, as RFC 3339.
pub fn now() -> String {
    let now = jiff::Timestamp::now();
    now.round(jiff::Unit::Second).unwrap_or(now).to_string()
}

/// Room kept free beyond what the packages need.
const SPACE_MARGIN: u64 = 64 << 20;

/// Everything a transaction needs from its caller.
pub struct Context<'a> {
    pub root: HostRoot,
    pub apt: Apt,
    pub policy: &'a Policy,
    /// The advisory store, which holds the journal.
    pub store: PathBuf,
    pub state: StateDirs,
    /// The boot test; `None` when this build has none (then `apply` refuses unless
    /// `skip_smoke`).
    pub gate: Option<&'a dyn BootGate>,
    pub skip_smoke: bool,
    /// Update without rollback artifacts when none can be obtained.
    pub no_rollback: bool,
    /// Ignore the maintenance window.
    pub now: bool,
    pub dry_run: bool,
    /// How long to wait for another package manager.
    pub lock_wait: Duration,
    /// Collects a fresh Snapshot of the live host (the verify and report stages).
    pub collect: &'a dyn Fn() -> Snapshot,
    /// Progress lines for stderr.
    pub progress: &'a dyn Fn(&str),
    /// The local date-time, for the window.
    pub local_now: jiff::civil::DateTime,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("store", &self.store)
            .field("state", &self.state)
            .field("gate", &self.gate.map(|g| g.name().to_owned()))
            .finish_non_exhaustive()
    }
}

/// A transaction in progress: the journal, and the result being built.
pub(crate) struct Run<'a> {
    pub(crate) journal: Option<Journal>,
    pub(crate) tx: Option<String>,
    pub(crate) result: UpdateResult,
    progress: &'a dyn Fn(&str),
}

/// What a stage body reports.
pub(crate) enum StageEnd<T> {
    Ok(T, String),
    Skipped(String),
    Failed(String),
}

impl<'a> Run<'a> {
    pub(crate) fn new(command: &str, progress: &'a dyn Fn(&str)) -> Self {
        Run {
            journal: None,
            tx: None,
            result: UpdateResult::new(command),
            progress,
        }
    }

    pub(crate) fn open(
        &mut self,
        store: &Path,
        kind: &str,
        components: &[ComponentChange],
    ) -> Result<(), UpdateError> {
        let mut journal = Journal::open(store)?;
        let tx = journal.begin(kind, components, None)?;
        (self.progress)(&format!("transaction {tx} ({kind})"));
        self.result.transaction = Some(tx.clone());
        self.tx = Some(tx);
        self.journal = Some(journal);
        Ok(())
    }

    fn journal_note(&mut self, what: &str, e: UpdateError) {
        (self.progress)(&format!("warning: journal: {what}: {e}"));
    }

    /// Runs one stage: journalled as started before `body` runs, and with its end after.
    pub(crate) fn stage<T>(
        &mut self,
        name: &str,
        body: impl FnOnce(&mut Self) -> StageEnd<T>,
    ) -> Option<T> {
        (self.progress)(&format!("stage {name}: started"));
        let seq = match (&mut self.journal, &self.tx) {
            (Some(j), Some(tx)) => match j.stage_started(tx, name) {
                Ok(seq) => Some(seq),
                Err(e) => {
                    self.journal_note("recording a stage", e);
                    None
                }
            },
            _ => None,
        };
        let started = Instant::now();
        let end = body(self);
        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (state, ok, skipped, detail, value) = match end {
            StageEnd::Ok(v, d) => ("ok", true, false, d, Some(v)),
            StageEnd::Skipped(d) => ("skipped", true, true, d, None),
            StageEnd::Failed(d) => ("failed", false, false, d, None),
        };
        (self.progress)(&format!("stage {name}: {state} ({ms} ms): {detail}"));
        if let (Some(j), Some(tx), Some(seq)) = (&mut self.journal, &self.tx, seq) {
            if let Err(e) = j.stage_finished(tx, seq, state, ms, &detail) {
                self.journal_note("recording a stage's end", e);
            }
        }
        self.result.stages.push(Stage {
            name: name.to_owned(),
            ok,
            ms,
            detail,
            skipped,
        });
        if ok && !skipped {
            value
        } else if skipped {
            None
        } else {
            None
        }
    }

    /// True when the last stage failed.
    pub(crate) fn last_failed(&self) -> bool {
        self.result.stages.last().is_some_and(|s| !s.ok)
    }

    pub(crate) fn finish(mut self, outcome: Outcome) -> UpdateResult {
        self.result.result = outcome;
        if let (Some(j), Some(tx)) = (&mut self.journal, &self.tx) {
            if let Err(e) = j.finish(tx, outcome) {
                (self.progress)(&format!("warning: journal: closing the transaction: {e}"));
            }
        }
        self.result
    }

    fn record_artifacts(&mut self, dir: &Path, records: &[ArtifactRecord]) {
        if let (Some(j), Some(tx)) = (&mut self.journal, &self.tx) {
            if let Err(e) = j.add_artifacts(tx, dir, records) {
                (self.progress)(&format!("warning: journal: recording artifacts: {e}"));
            }
        }
    }
}

/// The changes of `components`, one per package that moves.
fn changes_of(components: &[&Packaged]) -> Vec<ComponentChange> {
    let mut out: Vec<ComponentChange> = components
        .iter()
        .flat_map(|c| c.packages.iter().filter(|p| p.changes()))
        .filter_map(|p| {
            Some(ComponentChange {
                package: p.name.clone(),
                from: p.installed.clone(),
                to: p.candidate.clone()?,
            })
        })
        .collect();
    out.sort();
    out
}

/// The binary a component is booted by: the x86_64 system emulator when it has one.
fn boot_binary(c: &Packaged) -> Option<&PathBuf> {
    c.paths
        .iter()
        .find(|p| p.ends_with("qemu-system-x86_64"))
        .or_else(|| c.paths.first())
}

/// Preflight checks shared by every command that changes packages. `Err` carries the
/// outcome to end with (refused or failed) and the reason.
fn preflight(
    ctx: &Context<'_>,
    own_tx: Option<&str>,
    pins: &[(String, String)],
    check_window: bool,
) -> Result<String, (Outcome, String)> {
    let mut notes = Vec::new();
    let interrupted: Vec<TxRecord> = read_journal(&ctx.store)
        .map_err(|e| (Outcome::Failed, e.to_string()))?
        .into_iter()
        .filter(|t| t.is_interrupted() && Some(t.id.as_str()) != own_tx)
        .collect();
    if let Some(t) = interrupted.first() {
        return Err((
            Outcome::Refused,
            format!(
                "transaction {} ({}) was interrupted in stage {}: run `hvguard update rollback` first",
                t.id,
                t.kind,
                t.open_stage().map_or("unknown", |s| s.name.as_str())
            ),
        ));
    }
    if check_window {
        match &ctx.policy.update.window {
            Some(w) if !ctx.now && !w.contains(ctx.local_now) => {
                return Err((
                    Outcome::Refused,
                    format!(
                    "outside the maintenance window ({}); it is {} now (pass --now to override)",
                    w.describe(),
                    ctx.local_now.strftime("%a %H:%M")
                ),
                ))
            }
            Some(w) if ctx.now => {
                notes.push(format!("window {} overridden by --now", w.describe()))
            }
            Some(w) => notes.push(format!("inside the window {}", w.describe())),
            None => notes.push("no maintenance window set".into()),
        }
    }
    let waited =
        wait_for_dpkg(&ctx.root, ctx.lock_wait).map_err(|e| (Outcome::Failed, e.to_string()))?;
    notes.push(format!("dpkg lock free (waited {} ms)", waited.as_millis()));
    if !pins.is_empty() {
        let plan = ctx.apt.simulate(pins).map_err(|e| {
            (
                Outcome::Refused,
                format!("apt cannot install the candidates: {e}"),
            )
        })?;
        let extra: Vec<String> = plan
            .iter()
            .filter(|c| !pins.iter().any(|(p, _)| p == &c.package))
            .map(|c| {
                format!(
                    "{} {} -> {}",
                    c.package,
                    c.from.as_deref().unwrap_or("(new)"),
                    c.to
                )
            })
            .collect();
        if let Some(held) = plan.iter().find(|c| ctx.policy.update.holds(&c.package)) {
            return Err((
                Outcome::Refused,
                format!(
                    "apt would also change {}, which the policy holds",
                    held.package
                ),
            ));
        }
        if !extra.is_empty() {
            notes.push(format!("apt also changes: {}", extra.join(", ")));
        }
        let mut download = 0u64;
        let mut unpacked = 0u64;
        for (package, version) in pins {
            let fields = ctx
                .apt
                .show(package, version)
                .map_err(|e| (Outcome::Refused, e.to_string()))?;
            download += fields
                .get("Size")
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0);
            unpacked += fields
                .get("Installed-Size")
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0)
                * 1024;
        }
        // Staging holds the downloads and their unpacked tree; the artifacts about as much
        // again as the downloads; the install needs the unpacked size in /usr.
        let state_need = 2 * download + unpacked + SPACE_MARGIN;
        let state_free =
            free_bytes(&ctx.state.base).map_err(|e| (Outcome::Failed, e.to_string()))?;
        let usr_free =
            free_bytes(Path::new("/usr")).map_err(|e| (Outcome::Failed, e.to_string()))?;
        if state_free < state_need || usr_free < unpacked + SPACE_MARGIN {
            return Err((
                Outcome::Refused,
                format!(
                    "not enough free space: {} needs {} MiB (free {} MiB), /usr needs {} MiB (free {} MiB)",
                    ctx.state.base.display(),
                    state_need >> 20,
                    state_free >> 20,
                    (unpacked + SPACE_MARGIN) >> 20,
                    usr_free >> 20
                ),
            ));
        }
        notes.push(format!(
            "free space ok ({} MiB to download, {} MiB unpacked)",
            download >> 20,
            unpacked >> 20
        ));
    }
    Ok(notes.join("; "))
}

/// Checks that dpkg has exactly `expected` and that the component binaries report it.
fn verify_installed(
    ctx: &Context<'_>,
    expected: &[(String, String)],
    components: &[&Packaged],
    label: &str,
) -> Result<String, String> {
    for (package, version) in expected {
        let got = ctx
            .apt
            .installed_version(package)
            .map_err(|e| e.to_string())?;
        if got.as_deref() != Some(version.as_str()) {
            return Err(format!(
                "dpkg shows {package} {} where {version} was expected",
                got.as_deref().unwrap_or("not installed")
            ));
        }
    }
    let snapshot = (ctx.collect)();
    let mut notes = vec![format!("dpkg shows the {label} versions")];
    for c in components {
        let want = expected
            .iter()
            .find(|(p, _)| p == &c.package)
            .map(|(_, v)| v.as_str());
        for path in &c.paths {
            let Some(h) = snapshot.hypervisors.iter().find(|h| &h.path == path) else {
                return Err(format!("{} is gone after the change", path.display()));
            };
            let owner = h.package.as_ref().map(|p| p.version.as_str());
            if want.is_some() && owner != want {
                return Err(format!(
                    "{} is owned by {} {}, expected {}",
                    path.display(),
                    c.package,
                    owner.unwrap_or("nothing"),
                    want.unwrap_or("?")
                ));
            }
            // Debian's QEMU embeds its package version: the binary on disk must say it.
            if let (Some(evidence), Some(want)) = (&h.version_evidence, want) {
                if evidence.contains("(Debian ") && !evidence.contains(want) {
                    return Err(format!(
                        "{} reports \"{evidence}\", not {want}",
                        path.display()
                    ));
                }
            }
        }
        if let Some(p) = boot_binary(c) {
            if let Some(h) = snapshot.hypervisors.iter().find(|h| &h.path == p) {
                notes.push(format!(
                    "{} reports {}",
                    p.display(),
                    h.version_evidence.as_deref().unwrap_or("no version banner")
                ));
            }
        }
    }
    Ok(notes.join("; "))
}

/// Boots the installed binaries of `components` with the gate (verification after a change).
fn boot_installed(
    ctx: &Context<'_>,
    components: &[&Packaged],
    label: &str,
) -> Result<String, String> {
    let Some(gate) = ctx.gate else {
        return Ok("smoke boot skipped (--skip-smoke)".into());
    };
    let mut notes = Vec::new();
    for c in components {
        let Some(path) = boot_binary(c) else { continue };
        let target = BootTarget::new(format!("{label} {}", c.package), path);
        let m = gate.boot(&target).map_err(|reason| {
            format!(
                "{} gate: {} did not boot: {reason}",
                gate.name(),
                target.label
            )
        })?;
        notes.push(format!(
            "{} gate: {} median {} ms ({})",
            gate.name(),
            target.label,
            m.median_ms,
            m.detail
        ));
    }
    Ok(notes.join("; "))
}

/// The running VMMs still using a binary or library that is no longer on disk as it was.
fn stale_users(ctx: &Context<'_>) -> Vec<OldBinaryUser> {
    let snapshot = (ctx.collect)();
    snapshot
        .vmm_processes
        .value()
        .map(|procs| {
            procs
                .iter()
                .filter(|p| p.is_stale())
                .map(|p| OldBinaryUser {
                    pid: p.pid,
                    kind: p.kind.as_str().to_owned(),
                    exe: p.exe.display().to_string(),
                    sandbox: p.sandbox.clone(),
                    running_version: p.running_version.clone(),
                    disk_version: p.disk_version.clone(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The exact commands an operator runs when the automatic rollback failed.
fn manual_steps(artifacts: &[ArtifactRecord], tx: Option<&str>) -> Vec<String> {
    let mut steps = vec![
        "Make sure no package manager is running (`ps -C apt-get,apt,dpkg`), then finish any half-done dpkg work: `dpkg --configure -a`".to_owned(),
    ];
    if artifacts.is_empty() {
        steps.push("No rollback artifacts were saved: reinstall the previous versions from the archive with `apt-get install --allow-downgrades PACKAGE=VERSION ...` (the versions are in `hvguard update history`)".into());
    } else {
        let files: Vec<String> = artifacts
            .iter()
            .map(|a| a.path.display().to_string())
            .collect();
        let sums: Vec<String> = artifacts
            .iter()
            .map(|a| format!("{}  {}", a.sha256, a.path.display()))
            .collect();
        steps.push(format!(
            "Check the saved packages: `sha256sum {}` must print: {}",
            files.join(" "),
            sums.join("; ")
        ));
        steps.push(format!(
            "Reinstall them: `apt-get install -y --allow-downgrades --no-remove {}` (or `dpkg -i {}`)",
            files.join(" "),
            files.join(" ")
        ));
        let pins: Vec<String> = artifacts.iter().map(|a| a.package.clone()).collect();
        let want: Vec<String> = artifacts
            .iter()
            .map(|a| format!("{} {}", a.package, a.version))
            .collect();
        steps.push(format!(
            "Verify: `dpkg-query -W {}` must show {}",
            pins.join(" "),
            want.join(", ")
        ));
    }
    steps.push(format!(
        "Record the recovery: `hvguard update rollback` (it verifies and closes transaction {}), then `hvguard update status`",
        tx.unwrap_or("(none)")
    ));
    steps
}

/// Reinstalls `records` and verifies them; the stages are `rollback` and `verify-rollback`.
pub(crate) fn restore(
    run: &mut Run<'_>,
    ctx: &Context<'_>,
    records: &[ArtifactRecord],
    components: &[&Packaged],
) -> bool {
    let done = run.stage("rollback", |_| {
        if let Err(e) = artifacts::verify(records) {
            return StageEnd::Failed(e.to_string());
        }
        if let Err(e) = wait_for_dpkg(&ctx.root, ctx.lock_wait) {
            return StageEnd::Failed(e.to_string());
        }
        let files: Vec<PathBuf> = records.iter().map(|r| r.path.clone()).collect();
        match ctx.apt.install_files(&files) {
            Ok(()) => StageEnd::Ok(
                (),
                format!(
                    "reinstalled {} saved package(s), digests checked",
                    records.len()
                ),
            ),
            Err(e) => StageEnd::Failed(e.to_string()),
        }
    });
    if done.is_none() {
        return false;
    }
    let expected: Vec<(String, String)> = records
        .iter()
        .map(|r| (r.package.clone(), r.version.clone()))
        .collect();
    run.stage("verify-rollback", |_| {
        let installed = match verify_installed(ctx, &expected, components, "saved") {
            Ok(d) => d,
            Err(e) => return StageEnd::Failed(e),
        };
        match boot_installed(ctx, components, "restored") {
            Ok(b) => StageEnd::Ok((), format!("{installed}; {b}")),
            Err(e) => StageEnd::Failed(e),
        }
    })
    .is_some()
}

/// What `apply` (and the first half of `drill`) did, for the caller to continue.
pub(crate) struct Applied<'c> {
    pub(crate) components: Vec<Packaged>,
    pub(crate) records: Vec<ArtifactRecord>,
    pub(crate) staged: Option<Staged>,
    _marker: std::marker::PhantomData<&'c ()>,
}

/// `hvguard update apply` for packaged hypervisors.
pub fn apply(ctx: &Context<'_>, snapshot: &Snapshot) -> Result<UpdateResult, UpdateError> {
    let _lock = take_update_lock(&ctx.state.lock(), "update apply")?;
    let mut run = Run::new("apply", ctx.progress);
    let outcome = apply_stages(&mut run, ctx, snapshot, false)?;
    Ok(match outcome {
        Ok(applied) => {
            if let Some(s) = &applied.staged {
                s.remove();
            }
            let outcome = if ctx.dry_run || run.result.components.is_empty() {
                Outcome::NothingToDo
            } else {
                Outcome::Updated
            };
            run.finish(outcome)
        }
        Err(outcome) => run.finish(outcome),
    })
}

/// `hvguard update drill`: apply, verify, then roll back deliberately and verify that.
pub fn drill(ctx: &Context<'_>, snapshot: &Snapshot) -> Result<UpdateResult, UpdateError> {
    let _lock = take_update_lock(&ctx.state.lock(), "update drill")?;
    let mut run = Run::new("drill", ctx.progress);
    if ctx.no_rollback {
        return Err(UpdateError::Input(
            "a drill rehearses the rollback: --no-rollback makes no sense with it".into(),
        ));
    }
    let applied = match apply_stages(&mut run, ctx, snapshot, true)? {
        Ok(a) => a,
        Err(outcome) => return Ok(run.finish(outcome)),
    };
    if let Some(s) = &applied.staged {
        s.remove();
    }
    if run.result.components.is_empty() || ctx.dry_run {
        return Ok(run.finish(Outcome::NothingToDo));
    }
    let refs: Vec<&Packaged> = applied.components.iter().collect();
    if restore(&mut run, ctx, &applied.records, &refs) {
        Ok(run.finish(Outcome::RolledBack))
    } else {
        run.result.manual_steps = manual_steps(&applied.records, run.tx.as_deref());
        Ok(run.finish(Outcome::Failed))
    }
}

/// The stages of `apply`; `Ok(Err(outcome))` when the transaction ended early (refused,
/// rolled back or failed), `Err` only for a busy lock or an unusable journal.
fn apply_stages<'c>(
    run: &mut Run<'_>,
    ctx: &'c Context<'_>,
    snapshot: &Snapshot,
    drill: bool,
) -> Result<Result<Applied<'c>, Outcome>, UpdateError> {
    let all = components::packaged(snapshot, &ctx.apt, &ctx.policy.update)?;
    let changing: Vec<Packaged> = all.into_iter().filter(|c| c.has_update()).collect();
    let refs: Vec<&Packaged> = changing.iter().collect();
    run.result.components = changes_of(&refs);
    let pins: Vec<(String, String)> = changing.iter().flat_map(Packaged::pins).collect();
    let installed_pins: Vec<(String, String)> =
        changing.iter().flat_map(Packaged::installed_pins).collect();
    let empty = Applied {
        components: Vec::new(),
        records: Vec::new(),
        staged: None,
        _marker: std::marker::PhantomData,
    };
    if changing.is_empty() {
        run.stage("preflight", |_| {
            StageEnd::Ok(
                (),
                "every packaged hypervisor is at its candidate (or held)".into(),
            )
        });
        return Ok(Ok(empty));
    }
    if !ctx.dry_run {
        run.open(
            &ctx.store,
            if drill { "drill" } else { "apply" },
            &run.result.components.clone(),
        )?;
    }
    let own_tx = run.tx.clone();
    let pre = run.stage("preflight", |_| {
        match preflight(ctx, own_tx.as_deref(), &pins, true) {
            Ok(d) => StageEnd::Ok((), d),
            Err((outcome, d)) => StageEnd::Failed(format!("{}: {d}", outcome.as_str())),
        }
    });
    if pre.is_none() {
        let refused = run
            .result
            .stages
            .last()
            .is_some_and(|s| s.detail.starts_with("refused"));
        return Ok(Err(if refused {
            Outcome::Refused
        } else {
            Outcome::Failed
        }));
    }
    if ctx.dry_run {
        run.result.dry_run = true;
        return Ok(Ok(empty));
    }
    if ctx.gate.is_none() && !ctx.skip_smoke {
        run.stage::<()>("smoke", |_| {
            StageEnd::Failed(
                "refused: no boot gate in this build (hvguard-smoke is not wired yet); pass --gate qemu-start for the QEMU start probe, or --skip-smoke to update without a boot test".into(),
            )
        });
        return Ok(Err(Outcome::Refused));
    }
    let tx = run.tx.clone().unwrap_or_default();
    let artifact_dir = ctx.state.rollback().join(&tx);
    let records = if ctx.no_rollback {
        run.stage::<()>("artifacts", |_| {
            StageEnd::Skipped(
                "--no-rollback: no artifacts saved; a failure cannot be undone automatically"
                    .into(),
            )
        });
        Vec::new()
    } else {
        let saved = run.stage("artifacts", |_| match artifacts::save(&ctx.apt, &artifact_dir, &installed_pins) {
            Ok(records) => {
                let detail = records
                    .iter()
                    .map(|r| format!("{} {} sha256 {}", r.package, r.version, &r.sha256[..16.min(r.sha256.len())]))
                    .collect::<Vec<_>>()
                    .join(", ");
                StageEnd::Ok(records, format!("saved under {}: {detail}", artifact_dir.display()))
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&artifact_dir);
                StageEnd::Failed(format!(
                    "refused: no rollback artifacts obtainable ({e}); pass --no-rollback to update without them"
                ))
            }
        });
        match saved {
            Some(records) => {
                run.record_artifacts(&artifact_dir, &records);
                let keep = usize::try_from(ctx.policy.update.keep_rollback_artifacts).unwrap_or(3);
                for removed in artifacts::prune(
                    &ctx.state.rollback(),
                    keep,
                    std::slice::from_ref(&artifact_dir),
                ) {
                    (ctx.progress)(&format!(
                        "removed old rollback artifacts {}",
                        removed.display()
                    ));
                }
                records
            }
            None => return Ok(Err(Outcome::Refused)),
        }
    };
    let staged = run.stage("stage", |_| {
        match staging::stage(&ctx.apt, &ctx.state.staging(), &tx, &pins) {
            Ok(s) => {
                let d = format!(
                    "{} candidate package(s) unpacked in {}",
                    s.debs.len(),
                    s.root.display()
                );
                StageEnd::Ok(s, d)
            }
            Err(e) => StageEnd::Failed(format!("refused: {e}")),
        }
    });
    let Some(staged) = staged else {
        return Ok(Err(Outcome::Refused));
    };
    let gate_ok = run.stage("smoke", |_| {
        let Some(gate) = ctx.gate else {
            return StageEnd::Skipped("--skip-smoke: the candidate was not boot-tested".into());
        };
        let mut details = Vec::new();
        for c in &refs {
            let Some(path) = boot_binary(c) else { continue };
            let Some(binary) = staged.binary(path) else {
                return StageEnd::Failed(format!(
                    "refused: the staged candidate has no {}",
                    path.display()
                ));
            };
            let mut candidate = BootTarget::new(
                format!("candidate {}", c.candidate.as_deref().unwrap_or("?")),
                binary,
            );
            candidate.module_dir = staged.module_dir();
            let installed = BootTarget::new(format!("installed {}", c.installed), path);
            let verdict = gate::judge(gate, &candidate, Some(&installed), &ctx.policy.update);
            if !verdict.ok {
                return StageEnd::Failed(format!("refused: {}", verdict.detail));
            }
            details.push(verdict.detail);
        }
        StageEnd::Ok((), details.join("; "))
    });
    if gate_ok.is_none() && run.last_failed() {
        staged.remove();
        return Ok(Err(Outcome::Refused));
    }
    let installed = run.stage("install", |_| match ctx.apt.install_versions(&pins) {
        Ok(()) => StageEnd::Ok(
            (),
            format!(
                "apt-get installed {}",
                pins.iter()
                    .map(|(p, v)| format!("{p}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        ),
        Err(e) => StageEnd::Failed(e.to_string()),
    });
    let verified = installed.is_some()
        && run
            .stage("verify", |_| {
                let d = match verify_installed(ctx, &pins, &refs, "candidate") {
                    Ok(d) => d,
                    Err(e) => return StageEnd::Failed(e),
                };
                match boot_installed(ctx, &refs, "installed") {
                    Ok(b) => StageEnd::Ok((), format!("{d}; {b}")),
                    Err(e) => StageEnd::Failed(e),
                }
            })
            .is_some();
    if !verified {
        staged.remove();
        if !ctx.policy.update.auto_rollback || records.is_empty() {
            run.result.manual_steps = manual_steps(&records, run.tx.as_deref());
            return Ok(Err(Outcome::Failed));
        }
        return Ok(Err(if restore(run, ctx, &records, &refs) {
            Outcome::RolledBack
        } else {
            run.result.manual_steps = manual_steps(&records, run.tx.as_deref());
            Outcome::Failed
        }));
    }
    run.stage("report", |r| {
        let users = stale_users(ctx);
        let detail = if users.is_empty() {
            "no running sandbox uses a replaced binary".to_owned()
        } else {
            format!(
                "{} running VMM process(es) still use the old binary or libraries: drain or restart their sandboxes",
                users.len()
            )
        };
        r.result.running_on_old_binary = users;
        StageEnd::Ok((), detail)
    });
    Ok(Ok(Applied {
        components: changing,
        records,
        staged: Some(staged),
        _marker: std::marker::PhantomData,
    }))
}

/// `hvguard update rollback [--to VERSION]`: reinstalls a saved artifact set.
pub fn rollback(
    ctx: &Context<'_>,
    snapshot: &Snapshot,
    to: Option<&str>,
) -> Result<UpdateResult, UpdateError> {
    let _lock = take_update_lock(&ctx.state.lock(), "update rollback")?;
    let mut run = Run::new("rollback", ctx.progress);
    let txs = read_journal(&ctx.store)?;
    let with_artifacts: Vec<&TxRecord> = txs.iter().filter(|t| !t.artifacts.is_empty()).collect();
    let chosen = match to {
        Some(version) => with_artifacts
            .iter()
            .find(|t| {
                t.artifacts.iter().any(|a| a.version == version)
                    || t.components.iter().any(|c| c.from == version)
            })
            .copied()
            .ok_or_else(|| {
                let known: Vec<String> = with_artifacts
                    .iter()
                    .flat_map(|t| {
                        t.artifacts
                            .iter()
                            .map(|a| format!("{} {}", a.package, a.version))
                    })
                    .collect();
                UpdateError::Input(format!(
                    "no saved rollback artifacts hold version {version} (saved: {})",
                    if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    }
                ))
            })?,
        None => {
            // The newest set whose versions are not what is installed now.
            let differs = |t: &&TxRecord| {
                t.artifacts.iter().any(|a| {
                    ctx.apt
                        .installed_version(&a.package)
                        .ok()
                        .flatten()
                        .as_deref()
                        != Some(a.version.as_str())
                })
            };
            match with_artifacts.iter().copied().find(differs) {
                Some(t) => t,
                None => {
                    let interrupted: Vec<&TxRecord> =
                        txs.iter().filter(|t| t.is_interrupted()).collect();
                    if interrupted.is_empty() {
                        run.stage("preflight", |_| {
                            StageEnd::Ok((), "nothing to roll back: every saved artifact set matches what is installed".into())
                        });
                        return Ok(run.finish(Outcome::NothingToDo));
                    }
                    // Interrupted before anything changed: close it.
                    let mut journal = Journal::open(&ctx.store)?;
                    for t in &interrupted {
                        journal.close_interrupted(
                            &t.id,
                            "closed by rollback: installed versions already match",
                        )?;
                    }
                    run.stage("preflight", |_| {
                        StageEnd::Ok((), format!(
                            "closed {} interrupted transaction(s); the installed versions already match their saved artifacts",
                            interrupted.len()
                        ))
                    });
                    return Ok(run.finish(Outcome::NothingToDo));
                }
            }
        }
    };
    let records = chosen.artifacts.clone();
    run.result.components = records
        .iter()
        .map(|a| ComponentChange {
            package: a.package.clone(),
            from: ctx
                .apt
                .installed_version(&a.package)
                .ok()
                .flatten()
                .unwrap_or_else(|| "not installed".into()),
            to: a.version.clone(),
        })
        .collect();
    let components: Vec<Packaged> = components::packaged(snapshot, &ctx.apt, &ctx.policy.update)
        .unwrap_or_default()
        .into_iter()
        .filter(|c| records.iter().any(|r| r.package == c.package))
        .collect();
    let refs: Vec<&Packaged> = components.iter().collect();
    run.open(&ctx.store, "rollback", &run.result.components.clone())?;
    let own = run.tx.clone();
    let pre = run.stage("preflight", |_| {
        match preflight(ctx, own.as_deref(), &[], false) {
            Ok(d) => StageEnd::Ok(
                (),
                format!("restoring the artifacts of transaction {}; {d}", chosen.id),
            ),
            // An interrupted transaction is what a rollback is for: only the dpkg lock matters.
            Err((_, d)) if d.contains("was interrupted") => {
                StageEnd::Ok((), format!("recovering: {d}"))
            }
            Err((outcome, d)) => StageEnd::Failed(format!("{}: {d}", outcome.as_str())),
        }
    });
    if pre.is_none() {
        return Ok(run.finish(Outcome::Failed));
    }
    if restore(&mut run, ctx, &records, &refs) {
        if let Some(j) = run.journal.as_mut() {
            for t in txs.iter().filter(|t| t.is_interrupted()) {
                let _ = j.close_interrupted(
                    &t.id,
                    &format!("recovered by rollback {}", own.as_deref().unwrap_or("")),
                );
            }
        }
        run.stage("report", |r| {
            let users = stale_users(ctx);
            r.result.running_on_old_binary = users;
            StageEnd::Ok(
                (),
                format!("restored the versions saved by transaction {}", chosen.id),
            )
        });
        Ok(run.finish(Outcome::RolledBack))
    } else {
        run.result.manual_steps = manual_steps(&records, run.tx.as_deref());
        Ok(run.finish(Outcome::Failed))
    }
}
