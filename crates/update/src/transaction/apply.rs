//! `hvguard update apply` and `drill` for packaged hypervisors.

use hvguard_core::Snapshot;

use crate::artifacts;
use crate::components::{self, Packaged};
use crate::gate::{self, BootTarget};
use crate::journal::ArtifactRecord;
use crate::locks::take_update_lock;
use crate::result::{Outcome, UpdateResult};
use crate::staging::{self, Staged};
use crate::UpdateError;

use super::checks::{boot_installed, manual_steps, preflight, stale_users, verify_installed};
use super::rollback::restore;
use super::{boot_binary, changes_of, Context, Run, StageEnd};

/// What `apply` (and the first half of `drill`) did, for the caller to continue.
pub(crate) struct Applied {
    pub(crate) components: Vec<Packaged>,
    pub(crate) records: Vec<ArtifactRecord>,
    pub(crate) staged: Option<Staged>,
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
fn apply_stages(
    run: &mut Run<'_>,
    ctx: &Context<'_>,
    snapshot: &Snapshot,
    drill: bool,
) -> Result<Result<Applied, Outcome>, UpdateError> {
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
                "refused: no boot gate given; pass --gate smoke or --gate qemu-start, or --skip-smoke to update without a boot test".into(),
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
            candidate.data_dirs = staged.data_dirs();
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
    }))
}
