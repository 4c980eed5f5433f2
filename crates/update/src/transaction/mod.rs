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

mod apply;
mod checks;
mod rollback;

pub use apply::{apply, drill};
pub use rollback::rollback;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hvguard_advisory::policy::Policy;
use hvguard_core::{HostRoot, Snapshot};

use crate::apt::Apt;
use crate::components::Packaged;
use crate::gate::BootGate;
use crate::journal::{ArtifactRecord, Journal};
use crate::result::{ComponentChange, Outcome, Stage, UpdateResult};
use crate::state::StateDirs;
use crate::UpdateError;

/// Now, to the second, as RFC 3339.
pub fn now() -> String {
    let now = jiff::Timestamp::now();
    now.round(jiff::Unit::Second).unwrap_or(now).to_string()
}

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
        // Announced only once journalled: whoever sees the line (or kills us after it) finds
        // the stage in the journal.
        (self.progress)(&format!("stage {name}: started"));
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
        value.filter(|_| ok && !skipped)
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

    pub(crate) fn record_artifacts(&mut self, dir: &Path, records: &[ArtifactRecord]) {
        if let (Some(j), Some(tx)) = (&mut self.journal, &self.tx) {
            if let Err(e) = j.add_artifacts(tx, dir, records) {
                (self.progress)(&format!("warning: journal: recording artifacts: {e}"));
            }
        }
    }
}

/// The changes of `components`, one per package that moves.
pub(crate) fn changes_of(components: &[&Packaged]) -> Vec<ComponentChange> {
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
pub(crate) fn boot_binary(c: &Packaged) -> Option<&PathBuf> {
    c.paths
        .iter()
        .find(|p| p.ends_with("qemu-system-x86_64"))
        .or_else(|| c.paths.first())
}
