//! `apply --kata-tarball` and `rollback --kata`: the static Kata release as one transaction
//! with the same journal, gate and result as packaged updates.

use std::path::{Path, PathBuf};

use crate::gate::{self, BootTarget};
use crate::journal::{read_journal, ArtifactRecord};
use crate::kata::{self, Current, KataLayout};
use crate::locks::take_update_lock;
use crate::result::{ComponentChange, OldBinaryUser, Outcome, UpdateResult};
use crate::staging::module_dir_under;
use crate::state::free_bytes;
use crate::transaction::{Context, Run, StageEnd};
use crate::UpdateError;

/// The boot target of a release folder: its QEMU with its own modules, kernel and image.
fn release_target(label: String, dir: &Path) -> Option<BootTarget> {
    let binary = ["bin/qemu-system-x86_64", "bin/qemu-kvm"]
        .iter()
        .map(|p| dir.join(p))
        .find(|p| p.is_file())?;
    let share = dir.join("share/kata-containers");
    let first = |names: &[&str]| names.iter().map(|n| share.join(n)).find(|p| p.exists());
    let mut t = BootTarget::new(label, binary);
    t.module_dir = module_dir_under(dir);
    // The release's own firmware. Kata builds its QEMU with `--datadir=<prefix>/share/kata-qemu`
    // and `--disable-relocatable`, so an unpacked release would read the *active* release's
    // files unless told; a relocatable (Debian-built) QEMU looks in share/qemu and
    // share/seabios beside its bin/ anyway.
    t.data_dirs = ["share/kata-qemu", "share/qemu", "share/seabios"]
        .iter()
        .map(|d| dir.join(d))
        .filter(|d| d.is_dir())
        .collect();
    t.kernel = first(&["vmlinux.container", "vmlinuz.container"]);
    t.initrd = first(&["kata-containers-initrd.img"]);
    t.image = first(&["kata-containers.img"]);
    Some(t)
}

/// Processes running a binary from a release folder other than `active`.
fn old_release_users(ctx: &Context<'_>, layout: &KataLayout, active: &str) -> Vec<OldBinaryUser> {
    let snapshot = (ctx.collect)();
    let releases = layout.releases();
    let active_dir = layout.release(active);
    snapshot
        .vmm_processes
        .value()
        .map(|procs| {
            procs
                .iter()
                .filter(|p| {
                    p.is_stale()
                        || (p.exe.starts_with(&releases) && !p.exe.starts_with(&active_dir))
                        || (p.exe.starts_with(&layout.kata_dir) && p.exe_deleted)
                })
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

fn verify_active(ctx: &Context<'_>, layout: &KataLayout, version: &str) -> StageEnd<()> {
    let got = kata::read_version(&layout.kata_dir);
    if got.as_deref() != Some(version) {
        return StageEnd::Failed(format!(
            "{}/VERSION says {}, expected {version}",
            layout.kata_dir.display(),
            got.as_deref().unwrap_or("nothing")
        ));
    }
    let mut detail = format!("{} is release {version}", layout.kata_dir.display());
    match (
        ctx.gate,
        release_target(format!("active Kata {version}"), &layout.kata_dir),
    ) {
        (Some(gate), Some(target)) => match gate.boot(&target) {
            Ok(m) => detail.push_str(&format!(
                "; {} gate: {} median {} ms ({})",
                gate.name(),
                target.label,
                m.median_ms,
                m.detail
            )),
            Err(reason) => {
                return StageEnd::Failed(format!(
                    "{} gate: {} did not boot: {reason}",
                    gate.name(),
                    target.label
                ))
            }
        },
        (None, _) => detail.push_str("; smoke boot skipped (--skip-smoke)"),
        (Some(_), None) => detail.push_str("; the release ships no QEMU to boot"),
    }
    StageEnd::Ok((), detail)
}

/// `hvguard update apply --kata-tarball FILE --sha256 HEX`.
pub fn apply_tarball(
    ctx: &Context<'_>,
    layout: &KataLayout,
    tarball: &Path,
    sha256: &str,
) -> Result<UpdateResult, UpdateError> {
    let _lock = take_update_lock(&ctx.state.lock(), "update apply --kata-tarball")?;
    let mut run = Run::new("apply", ctx.progress);
    let current = layout.current()?;
    let from = match &current {
        Current::PlainDir { version } | Current::Link { version, .. } => version.clone(),
        Current::Missing => None,
    };
    // The digest is the operator's input: a mismatch is refused before any transaction.
    kata::check_digest(tarball, sha256)?;
    if ctx.dry_run {
        run.result.dry_run = true;
        run.stage("preflight", |_| {
            StageEnd::Ok(
                (),
                format!(
                    "sha256 matches; {} would be unpacked into {} and {} switched to it",
                    tarball.display(),
                    layout.releases().display(),
                    layout.kata_dir.display()
                ),
            )
        });
        return Ok(run.finish(Outcome::NothingToDo));
    }
    run.open(&ctx.store, "kata-apply", &[])?;
    let pre = run.stage("preflight", |_| {
        let size = std::fs::metadata(tarball).map(|m| m.len()).unwrap_or(0);
        let free = match free_bytes(&layout.releases()) {
            Ok(f) => f,
            Err(e) => return StageEnd::Failed(format!("failed: {e}")),
        };
        // A compressed release unpacks to several times its size.
        if free < size.saturating_mul(8) {
            return StageEnd::Failed(format!(
                "refused: {} MiB free under {}, the release needs about {} MiB",
                free >> 20,
                layout.releases().display(),
                size.saturating_mul(8) >> 20
            ));
        }
        if let Some(w) = &ctx.policy.update.window {
            if !ctx.now && !w.contains(ctx.local_now) {
                return StageEnd::Failed(format!(
                    "refused: outside the maintenance window ({}); pass --now to override",
                    w.describe()
                ));
            }
        }
        let interrupted = read_journal(&ctx.store)
            .unwrap_or_default()
            .into_iter()
            .find(|t| t.is_interrupted());
        if let Some(t) = interrupted {
            return StageEnd::Failed(format!(
                "refused: transaction {} was interrupted: run `hvguard update rollback` first",
                t.id
            ));
        }
        StageEnd::Ok(
            (),
            format!("sha256 {sha256} matches; {} MiB free", free >> 20),
        )
    });
    if pre.is_none() {
        return Ok(run.finish(Outcome::Refused));
    }
    let unpacked = run.stage("stage", |_| match kata::unpack(layout, tarball) {
        Ok((v, dir)) => {
            let d = format!("release {v} unpacked in {}", dir.display());
            StageEnd::Ok((v, dir), d)
        }
        Err(e) => StageEnd::Failed(format!("refused: {e}")),
    });
    let Some((version, dir)) = unpacked else {
        return Ok(run.finish(Outcome::Refused));
    };
    run.result.components = vec![ComponentChange {
        package: "kata-static".into(),
        from: from.clone().unwrap_or_else(|| "none".into()),
        to: version.clone(),
    }];
    let discard = |dir: &PathBuf| {
        let _ = std::fs::remove_dir_all(dir);
    };
    let smoke = run.stage("smoke", |_| {
        let Some(gate) = ctx.gate else {
            if ctx.skip_smoke {
                return StageEnd::Skipped("--skip-smoke: the release was not boot-tested".into());
            }
            return StageEnd::Failed("refused: no boot gate given; pass --gate smoke or --gate qemu-start, or --skip-smoke".into());
        };
        let Some(candidate) = release_target(format!("Kata {version}"), &dir) else {
            return StageEnd::Failed(format!("refused: {} has no bin/qemu-system-x86_64 to boot", dir.display()));
        };
        let installed = from
            .as_ref()
            .and_then(|v| release_target(format!("Kata {v}"), &layout.kata_dir));
        let verdict = gate::judge(gate, &candidate, installed.as_ref(), &ctx.policy.update);
        if verdict.ok {
            StageEnd::Ok((), verdict.detail)
        } else {
            StageEnd::Failed(format!("refused: {}", verdict.detail))
        }
    });
    if smoke.is_none() && run.last_failed() {
        discard(&dir);
        return Ok(run.finish(Outcome::Refused));
    }
    let switched = run.stage("switch", |_| match kata::switch(layout, &version) {
        Ok(s) => {
            let d = match &s.migrated {
                Some(m) => format!(
                    "{} was a plain directory: moved to {} (rolling back restores it); now a symlink to release {version}",
                    layout.kata_dir.display(),
                    m.display()
                ),
                None => format!("{} now points at release {version}", layout.kata_dir.display()),
            };
            StageEnd::Ok(s, d)
        }
        Err(e) => StageEnd::Failed(e.to_string()),
    });
    let Some(switched) = switched else {
        discard(&dir);
        return Ok(run.finish(Outcome::Failed));
    };
    if let Some(prev) = &switched.previous {
        let prev_dir = layout.release(prev);
        if let (Some(j), Some(tx)) = (run.journal.as_mut(), run.tx.clone()) {
            let _ = j.add_artifacts(
                &tx,
                &prev_dir,
                &[ArtifactRecord {
                    package: "kata-static".into(),
                    version: prev.clone(),
                    arch: String::new(),
                    path: prev_dir.clone(),
                    sha256: String::new(),
                    size: 0,
                }],
            );
        }
    }
    let verified = run
        .stage("verify", |_| verify_active(ctx, layout, &version))
        .is_some();
    if !verified {
        let Some(prev) = switched.previous.clone() else {
            return Ok(run.finish(Outcome::Failed));
        };
        let back = run.stage("rollback", |_| match kata::switch_back(layout, &prev) {
            Ok(()) => StageEnd::Ok((), format!("switched back to release {prev}")),
            Err(e) => StageEnd::Failed(e.to_string()),
        });
        if back.is_some()
            && run
                .stage("verify-rollback", |_| verify_active(ctx, layout, &prev))
                .is_some()
        {
            return Ok(run.finish(Outcome::RolledBack));
        }
        run.result.manual_steps = vec![
            format!(
                "Point {} back at the previous release: `ln -sfn {} {}.new && mv -T {}.new {}`",
                layout.kata_dir.display(),
                layout.release(&prev).display(),
                layout.kata_dir.display(),
                layout.kata_dir.display(),
                layout.kata_dir.display()
            ),
            format!(
                "Check: `cat {}/VERSION` must print {prev}",
                layout.kata_dir.display()
            ),
            "Record the recovery: `hvguard update rollback --kata`".into(),
        ];
        return Ok(run.finish(Outcome::Failed));
    }
    run.stage("report", |r| {
        let users = old_release_users(ctx, layout, &version);
        let detail = if users.is_empty() {
            "no running VMM uses the previous release".to_owned()
        } else {
            format!("{} running VMM process(es) still use the previous release: drain or restart their sandboxes", users.len())
        };
        r.result.running_on_old_binary = users;
        StageEnd::Ok((), detail)
    });
    Ok(run.finish(Outcome::Updated))
}

/// `hvguard update rollback --kata [--to VERSION]`: back to the previous (or named) release.
pub fn rollback(
    ctx: &Context<'_>,
    layout: &KataLayout,
    to: Option<&str>,
) -> Result<UpdateResult, UpdateError> {
    let _lock = take_update_lock(&ctx.state.lock(), "update rollback --kata")?;
    let mut run = Run::new("rollback", ctx.progress);
    let current = match layout.current()? {
        Current::Link { version, .. } | Current::PlainDir { version } => version,
        Current::Missing => None,
    };
    let target = match to {
        Some(v) => v.to_owned(),
        None => read_journal(&ctx.store)?
            .iter()
            .filter(|t| t.kind == "kata-apply")
            .flat_map(|t| t.artifacts.iter())
            .map(|a| a.version.clone())
            .find(|v| Some(v) != current.as_ref())
            .ok_or_else(|| {
                UpdateError::Input(
                    "no earlier static Kata release is recorded: name one with --to".into(),
                )
            })?,
    };
    if !layout.release(&target).is_dir() {
        return Err(UpdateError::Input(format!(
            "release {target} is not in {} (present: {})",
            layout.releases().display(),
            layout.releases_present().join(", ")
        )));
    }
    run.result.components = vec![ComponentChange {
        package: "kata-static".into(),
        from: current.clone().unwrap_or_else(|| "none".into()),
        to: target.clone(),
    }];
    run.open(&ctx.store, "kata-rollback", &run.result.components.clone())?;
    let switched = run.stage("rollback", |_| match kata::switch_back(layout, &target) {
        Ok(()) => StageEnd::Ok(
            (),
            format!(
                "{} points at release {target} again",
                layout.kata_dir.display()
            ),
        ),
        Err(e) => StageEnd::Failed(e.to_string()),
    });
    if switched.is_none() {
        return Ok(run.finish(Outcome::Failed));
    }
    if run
        .stage("verify-rollback", |_| verify_active(ctx, layout, &target))
        .is_none()
    {
        return Ok(run.finish(Outcome::Failed));
    }
    Ok(run.finish(Outcome::RolledBack))
}
