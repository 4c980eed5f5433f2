//! The checks around a change: preflight, verification, the running VMMs left on old
//! binaries, and the manual steps after a failed rollback.

use std::path::Path;

use crate::components::Packaged;
use crate::gate::BootTarget;
use crate::journal::{read_journal, ArtifactRecord, TxRecord};
use crate::locks::wait_for_dpkg;
use crate::result::{OldBinaryUser, Outcome};
use crate::state::free_bytes;

use super::{boot_binary, Context};

/// Room kept free beyond what the packages need.
const SPACE_MARGIN: u64 = 64 << 20;

/// Preflight checks shared by every command that changes packages. `Err` carries the
/// outcome to end with (refused or failed) and the reason.
pub(crate) fn preflight(
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
pub(crate) fn verify_installed(
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
pub(crate) fn boot_installed(
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
pub(crate) fn stale_users(ctx: &Context<'_>) -> Vec<OldBinaryUser> {
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
pub(crate) fn manual_steps(artifacts: &[ArtifactRecord], tx: Option<&str>) -> Vec<String> {
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
