//! `hvguard harden`: from the findings, a hardened drop-in (or full copy) per configuration.
//!
//! The dry run (default) prints the effective settings that would change as a unified diff and
//! the file that would be written; `--write` writes it atomically. The operator's own files are
//! only ever read.

use super::Outcome;
use crate::args::HardenArgs;
use crate::{output, pipeline};
use anyhow::{bail, Result};
use hvguard_core::{HostRoot, KataConfig, KataRuntime, Probe};
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
    let mut not_hardened = Vec::new();
    for config in &configs {
        if harden::is_hardened_copy(&config.main) {
            // hvguard's own output, reached through containerd's ConfigPath: it is rewritten
            // from the original, never hardened (and copied) again.
            let _ = writeln!(
                text,
                "== {}: hvguard's own hardened copy, regenerated from its original, not hardened again\n",
                config.main.display()
            );
            continue;
        }
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
        match harden_one(
            &root,
            config,
            release.as_deref(),
            args.write,
            now,
            &mut text,
        ) {
            Ok(Verdict::Hardened) => {}
            Ok(Verdict::NotHardened) => not_hardened.push(config.main.display().to_string()),
            Err(e) => {
                // Each cause once: `{e:#}` would repeat a cause its parent already spells out.
                let cause = output::error_chain(&e);
                let _ = writeln!(text, "  not hardened: {cause}\n");
                failures.push(format!("{}: {cause}", config.main.display()));
            }
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
    if !not_hardened.is_empty() {
        eprintln!(
            "hvguard: {} configuration(s) not hardened: files Kata reads after hvguard's undo hardened settings (see above): {}",
            not_hardened.len(),
            not_hardened.join(", ")
        );
        return Ok(Outcome::Findings);
    }
    Ok(Outcome::Clean)
}

/// Whether the configuration Kata will read holds every hardened value.
enum Verdict {
    Hardened,
    NotHardened,
}

fn runtime_name(runtime: KataRuntime) -> &'static str {
    match runtime {
        KataRuntime::Go => "Go runtime",
        KataRuntime::Rs => "runtime-rs",
    }
}

fn harden_one(
    root: &HostRoot,
    config: &KataConfig,
    release: Option<&str>,
    write: bool,
    now: jiff::Timestamp,
    out: &mut String,
) -> Result<Verdict> {
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
        "== {} ({})",
        config.main.display(),
        runtime_name(config.runtime)
    );
    let planned = harden::plan_changes(config, &plan);
    if !planned.new_sections.is_empty() {
        bail!(
            "the plan would add sections the configuration lacks ({}): Kata would read them as new hypervisors",
            planned.new_sections.join(", ")
        );
    }
    if !planned.retyped.is_empty() {
        bail!(
            "the plan would change the type of {}: Kata would reject the drop-in",
            planned.retyped.join(", ")
        );
    }
    let effective = if harden::supports_dropins(config.runtime, release) {
        // What Kata will read: hvguard's drop-in among the others, in Kata's order.
        let effective = harden::effective_with_dropin(root, &config.main, &plan)?;
        let changes = harden::plan_changes_effective(config, &plan, &effective);
        if write {
            let outcome = harden::write_dropin(root, &plan, now)?;
            match outcome.status {
                DropinStatus::Unchanged if !effective.is_hardened() => {
                    let _ = writeln!(out, "  {} is in place", outcome.path.display());
                }
                _ => {
                    let _ = writeln!(out, "  {outcome}");
                }
            }
        } else {
            let status = harden::preview_dropin(root, &plan)?;
            let target = harden::dropin_path(root, &config.main)?;
            write_changes(out, &changes, &effective);
            let verb = match status {
                DropinStatus::Create => "would create",
                DropinStatus::Replace => "would replace (after a backup)",
                DropinStatus::Unchanged if effective.is_hardened() => "already up to date:",
                DropinStatus::Unchanged => "already written, not in effect:",
            };
            let _ = writeln!(out, "  {verb} {}", target.display());
        }
        effective
    } else {
        let why = match release {
            Some(r) => format!("Kata {r} ({}) does not read config.d/ drop-ins", runtime_name(config.runtime)),
            None => "the Kata release is unknown (pass --kata-release), so drop-in support is not certain".to_string(),
        };
        let _ = writeln!(out, "  {why}: a hardened full copy is used instead");
        let copy = if write {
            harden::write_hardened_copy(root, &plan, now)?
        } else {
            harden::preview_hardened_copy(root, &plan)?.0
        };
        // A release known not to read config.d/ ignores it; with the release unknown, the
        // drop-ins beside the copy may well apply to it.
        let effective = match release {
            Some(_) => None,
            None => Some(harden::effective_with_copy(
                root,
                &config.main,
                &plan,
                &copy.path,
            )?),
        };
        if !write {
            match &effective {
                Some(effective) => write_changes(out, &planned, effective),
                None => write_lines(out, &planned.to_string()),
            }
        }
        let hardened = effective
            .as_ref()
            .is_none_or(harden::Effective::is_hardened);
        let verb = match (write, copy.status) {
            (_, DropinStatus::Unchanged) if hardened => "already up to date:",
            (_, DropinStatus::Unchanged) => "already written, not in effect:",
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
        effective.unwrap_or_else(|| harden::Effective {
            values: Default::default(),
            undone: Vec::new(),
        })
    };
    write_undone(out, &effective);
    if !plan.suggestions.is_empty() {
        let _ = writeln!(
            out,
            "  needs a human decision (written as comments, not applied):"
        );
        for s in &plan.suggestions {
            let _ = writeln!(
                out,
                "    {} = {}  [{}] {}",
                s.key,
                harden::render_value(&s.value),
                s.rule,
                s.reason
            );
        }
    }
    out.push('\n');
    Ok(if effective.is_hardened() {
        Verdict::Hardened
    } else {
        Verdict::NotHardened
    })
}

/// The diff, except that "nothing to change" is never said while a later file undoes a
/// hardened key.
fn write_changes(out: &mut String, changes: &harden::Changes, effective: &harden::Effective) {
    if changes.is_empty() && !effective.is_hardened() {
        return;
    }
    write_lines(out, &changes.to_string());
}

fn write_lines(out: &mut String, text: &str) {
    for line in text.lines() {
        let _ = writeln!(out, "  {line}");
    }
}

/// Names every hardened key a file read after hvguard's sets back, with that file and line.
fn write_undone(out: &mut String, effective: &harden::Effective) {
    if effective.is_hardened() {
        return;
    }
    let _ = writeln!(
        out,
        "  NOT hardened: {} hardened setting(s) undone by files Kata reads later:",
        effective.undone.len()
    );
    for u in &effective.undone {
        let _ = writeln!(
            out,
            "    {} = {} at {}:{} (hvguard sets {})",
            u.key,
            harden::render_value(&u.value),
            u.path.display(),
            u.line,
            harden::render_value(&u.planned)
        );
    }
}
