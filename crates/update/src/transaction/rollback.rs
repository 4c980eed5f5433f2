//! `hvguard update rollback`, and the restore of saved artifacts that `apply` and `drill`
//! also use.

use std::path::PathBuf;

use hvguard_core::Snapshot;

use crate::artifacts;
use crate::components::{self, Packaged};
use crate::journal::{read_journal, ArtifactRecord, Journal, TxRecord};
use crate::locks::{take_update_lock, wait_for_dpkg};
use crate::result::{ComponentChange, Outcome, UpdateResult};
use crate::UpdateError;

use super::checks::{boot_installed, manual_steps, preflight, stale_users, verify_installed};
use super::{Context, Run, StageEnd};

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
