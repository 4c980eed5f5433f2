//! `hvguard harden`: from the findings, a hardened drop-in (or full copy) per configuration.
//!
//! The dry run (default) prints the effective settings that would change as a unified diff and
//! the file that would be written; `--write` writes it atomically. The operator's own files are
//! only ever read.

use super::Outcome;
use crate::args::HardenArgs;
use crate::{output, pipeline};
use anyhow::{bail, Result};
use hvguard_core::{HostRoot, KataConfig, Probe};
use hvguard_kata::harden::{self, DropinStatus};
use std::fmt::Write as _;

pub fn run(args: HardenArgs) -> Result<Outcome> {
    let explicit = !args.configs.is_empty();
    let root = if explicit {
        HostRoot::live()
    } else {
        pipeline::open_root(&args.root.root)?
    };
    let (configs, installed_release) = if explicit {
        let (configs, warnings) = hvguard_kata::load_explicit_with_warnings(&args.configs)?;
        pipeline::warn(&warnings);
        let release = hvguard_host::hypervisors::kata_versions::read_install(&root);
        (configs, release)
    } else {
        let collected = pipeline::collect(&root);
        pipeline::warn(&collected.snapshot.warnings);
        for error in &collected.errors {
            output::error(&format!("{error} (not hardened)"));
        }
        (collected.snapshot.kata, collected.snapshot.kata_install)
    };
    if configs.is_empty() {
        bail!(
            "{}: no Kata configuration found (use --config FILE)",
            root.base().display()
        );
    }
    let release = args.kata_release.clone().or(match installed_release {
        Probe::Found { value } => Some(value.version),
        _ => None,
    });
    let now = jiff::Timestamp::now();
    let mut text = String::new();
    let mut failures = Vec::new();
    for config in &configs {
        if args.verify {
            match super::harden_verify::verify(&root, config, &mut text) {
                Ok(v) if v.ok => {}
                Ok(v) => {
                    let why = v.reason.unwrap_or_default();
                    let _ = writeln!(text, "  not hardened: {why}\n");
                    failures.push(format!("{}: {why}", config.main.display()));
                    continue;
                }
                Err(e) => {
                    let _ = writeln!(text, "  not hardened: {e:#}\n");
                    failures.push(format!("{}: {e:#}", config.main.display()));
                    continue;
                }
            }
        }
        if let Err(e) = harden_one(
            &root,
            config,
            release.as_deref(),
            args.write,
            now,
            &mut text,
        ) {
            // Each cause once: `{e:#}` would repeat a cause its parent already spells out.
            let cause = output::error_chain(&e);
            let _ = writeln!(text, "  not hardened: {cause}\n");
            failures.push(format!("{}: {cause}", config.main.display()));
        }
    }
    // The plan names files and values of the scanned system: escaped at the edge.
    output::print_text(&text)?;
    if !failures.is_empty() {
        bail!(
            "{} configuration(s) not hardened: {}",
            failures.len(),
            failures.join("; ")
        );
    }
    Ok(Outcome::Clean)
}

fn harden_one(
    root: &HostRoot,
    config: &KataConfig,
    release: Option<&str>,
    write: bool,
    now: jiff::Timestamp,
    out: &mut String,
) -> Result<()> {
    // Plan from the configuration without hvguard's own drop-in, so that a second run plans
    // the same settings (and so changes nothing) instead of planning from the fixed result.
    let base = hvguard_kata::load_with_dropins_except(
        root,
        &config.main,
        Some(config.runtime),
        &[harden::DROPIN_NAME],
    )?;
    let mut plan = hvguard_audit::hardening::plan(&base.config);
    plan.config = config.main.clone();
    let _ = writeln!(
        out,
        "== {} ({:?} runtime)",
        config.main.display(),
        config.runtime
    );
    let changes = harden::plan_changes(config, &plan);
    if !changes.new_sections.is_empty() {
        bail!(
            "the plan would add sections the configuration lacks ({}): Kata would read them as new hypervisors",
            changes.new_sections.join(", ")
        );
    }
    if !changes.retyped.is_empty() {
        bail!(
            "the plan would change the type of {}: Kata would reject the drop-in",
            changes.retyped.join(", ")
        );
    }
    if harden::supports_dropins(config.runtime, release) {
        if write {
            let outcome = harden::write_dropin(root, &plan, now)?;
            let _ = writeln!(out, "  {outcome}");
        } else {
            let status = harden::preview_dropin(root, &plan)?;
            let target = harden::dropin_path(root, &config.main)?;
            write_changes(out, &changes);
            let verb = match status {
                DropinStatus::Create => "would create",
                DropinStatus::Replace => "would replace (after a backup)",
                DropinStatus::Unchanged => "already up to date:",
            };
            let _ = writeln!(out, "  {verb} {}", target.display());
        }
    } else {
        let why = match release {
            Some(r) => format!("Kata {r} ({:?} runtime) does not read config.d/ drop-ins", config.runtime),
            None => "the Kata release is unknown (pass --kata-release), so drop-in support is not certain".to_string(),
        };
        let _ = writeln!(out, "  {why}: a hardened full copy is used instead");
        let copy = if write {
            harden::write_hardened_copy(root, &plan, now)?
        } else {
            write_changes(out, &changes);
            harden::preview_hardened_copy(root, &plan)?.0
        };
        let verb = match (write, copy.status) {
            (_, DropinStatus::Unchanged) => "already up to date:",
            (true, _) => "wrote",
            (false, _) => "would write",
        };
        let _ = writeln!(out, "  {verb} {}", copy.path.display());
        if let Some(backup) = &copy.backup {
            let _ = writeln!(out, "  previous copy saved as {}", backup.display());
        }
        for line in copy.instructions.lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    if !plan.suggestions.is_empty() {
        let _ = writeln!(
            out,
            "  needs a human decision (written as comments, not applied):"
        );
        for s in &plan.suggestions {
            let _ = writeln!(
                out,
                "    {} -> {:?}  [{}] {}",
                s.key, s.value, s.rule, s.reason
            );
        }
    }
    out.push('\n');
    Ok(())
}

fn write_changes(out: &mut String, changes: &harden::Changes) {
    for line in changes.to_string().lines() {
        let _ = writeln!(out, "  {line}");
    }
}
