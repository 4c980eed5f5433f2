//! `hvguard harden --verify`: boot the configuration with the hardened settings applied before
//! anything is written, and refuse when it no longer boots, naming the setting that broke it.
//!
//! The hardened configuration is the configuration without hvguard's drop-in, plus the plan's
//! settings (exactly what Kata will read once the drop-in is written). Only settings that change
//! how the VMM is started (its command line) can be checked by a boot; the others are listed as
//! not verifiable this way. When the hardened configuration fails and the original boots, the
//! boot-relevant settings are bisected: the smallest prefix that fails ends with the culprit.
//! Guest assets, marker and accelerator come from the configuration and the policy's `[smoke]`
//! table (docs/harden.md).

use anyhow::{bail, Result};
use hvguard_core::{HardeningSetting, HostRoot, KataConfig, SourcedValue};
use hvguard_kata::harden;
use hvguard_smoke::{run_smoke, HostVirt, SmokePolicy, SmokeReport, SmokeSpec};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What `--verify` found for one configuration.
#[derive(Debug)]
pub struct Verification {
    /// The hardened configuration boots (or there was nothing a boot could check).
    pub ok: bool,
    /// Why not, in one line: names the setting when bisection found it.
    pub reason: Option<String>,
}

fn with_settings(base: &KataConfig, settings: &[&HardeningSetting], dropin: &Path) -> KataConfig {
    let mut config = base.clone();
    for s in settings {
        config.values.insert(
            s.key.clone(),
            SourcedValue {
                value: s.value.clone(),
                path: dropin.to_path_buf(),
                line: 0,
                column: 0,
            },
        );
    }
    config
}

fn boot(spec: &SmokeSpec) -> Result<SmokeReport> {
    let mut spec = spec.clone();
    // One boot answers "does it boot"; the policy's run count is for measuring.
    spec.runs = 1;
    Ok(run_smoke(&spec)?)
}

fn failure(report: &SmokeReport) -> String {
    report
        .runs
        .iter()
        .find_map(|r| r.reason.as_ref())
        .map_or_else(|| "did not boot".to_string(), ToString::to_string)
}

/// Verifies `config`'s hardening plan by booting it; writes what it did to `out`.
pub fn verify(root: &HostRoot, config: &KataConfig, out: &mut String) -> Result<Verification> {
    if !root.is_live() {
        bail!("--verify boots the hypervisor, so it only works on the live host (not with --root)");
    }
    let _ = writeln!(out, "== {} (verify)", config.main.display());
    let base = hvguard_kata::load_with_dropins_except(
        root,
        &config.main,
        Some(config.runtime),
        &[harden::DROPIN_NAME],
    )?
    .config;
    let plan = hvguard_audit::hardening::plan(&base);
    let dropin = harden::dropin_path(root, &config.main)?;
    let policy = SmokePolicy::resolve(
        std::env::var_os("HVGUARD_POLICY")
            .map(PathBuf::from)
            .as_deref(),
    )?;
    let host = HostVirt::from_facts(
        &hvguard_host::kvm::probe_kvm(root),
        &hvguard_host::cpu::probe_cpu(root),
    );
    let spec_of = |settings: &[&HardeningSetting]| -> Result<SmokeSpec> {
        let mut spec =
            SmokeSpec::from_kata(&with_settings(&base, settings, &dropin), &policy.overrides)?;
        spec.host = host.clone();
        Ok(spec)
    };

    let original = spec_of(&[])?;
    let (relevant, inert): (Vec<&HardeningSetting>, Vec<&HardeningSetting>) = plan
        .settings
        .iter()
        .partition(|s| spec_of(&[*s]).is_ok_and(|spec| spec != original));
    if !inert.is_empty() {
        let keys: Vec<&str> = inert.iter().map(|s| s.key.as_str()).collect();
        let _ = writeln!(
            out,
            "  verify: not checked by a boot (they do not change how the VMM starts): {}",
            keys.join(", ")
        );
    }
    let hardened = spec_of(&relevant)?;
    let report = boot(&hardened)?;
    if report.ok {
        let _ = writeln!(
            out,
            "  verify: the hardened configuration boots ({} with {}, {:.0} ms to {:?})",
            report.hypervisor.path.display(),
            report.accel.as_str().to_uppercase(),
            report.median_boot_ms.unwrap_or_default(),
            report.marker
        );
        return Ok(Verification {
            ok: true,
            reason: None,
        });
    }
    let hardened_failure = failure(&report);
    let _ = writeln!(
        out,
        "  verify: the hardened configuration does not boot: {hardened_failure}"
    );
    let before = boot(&original)?;
    if !before.ok {
        let why = failure(&before);
        let _ = writeln!(out, "  verify: nor does the original configuration: {why}");
        return Ok(Verification {
            ok: false,
            reason: Some(format!(
                "the configuration does not boot even without the hardened settings ({why}); fix that first"
            )),
        });
    }
    if relevant.is_empty() {
        return Ok(Verification {
            ok: false,
            reason: Some(format!(
                "the hardened configuration did not boot ({hardened_failure}) although it starts the VMM exactly as the original, which boots: an unreliable boot, not a setting"
            )),
        });
    }
    // Bisect: the original (no setting) boots, all of them do not.
    let (mut good, mut bad) = (0usize, relevant.len());
    let mut culprit_failure = hardened_failure;
    while bad - good > 1 {
        let mid = (good + bad) / 2;
        let report = boot(&spec_of(&relevant[..mid])?)?;
        if report.ok {
            good = mid;
        } else {
            culprit_failure = failure(&report);
            bad = mid;
        }
    }
    let culprit = relevant[bad - 1];
    Ok(Verification {
        ok: false,
        reason: Some(format!(
            "the hardened setting {} = {} ({}) stops the guest from booting: {culprit_failure}",
            culprit.key,
            toml_value(&culprit.value),
            culprit.rule
        )),
    })
}

fn toml_value(v: &hvguard_core::ConfigValue) -> String {
    use hvguard_core::ConfigValue::*;
    match v {
        Bool(b) => b.to_string(),
        Integer(i) => i.to_string(),
        Float(f) => f.to_string(),
        String(s) => format!("{s:?}"),
        Array(items) => format!(
            "[{}]",
            items.iter().map(toml_value).collect::<Vec<_>>().join(", ")
        ),
    }
}
