//! The terminal summary: one block per hypervisor, then this host's configurations.

use std::fmt::Write;

use crate::model::Comparison;
use crate::RECENT_YEARS;

/// Renders the summary.
pub fn render(comparison: &Comparison) -> String {
    let mut out = String::new();
    let origin = match &comparison.advisories_from.store {
        Some(p) => format!("store {}", p.display()),
        None => "shipped snapshot".to_owned(),
    };
    let _ = writeln!(
        out,
        "Hypervisors Kata supports ({}; facts reviewed {}; {} advisories from the {origin})\n",
        comparison.date, comparison.facts.reviewed, comparison.advisories_from.count
    );
    for h in &comparison.hypervisors {
        let a = &h.advisories;
        let _ = writeln!(out, "{} [{}]", h.name, h.kind);
        let _ = writeln!(
            out,
            "  language {}; Go runtime {}; runtime-rs {}",
            h.language.summary(),
            h.kata.go.summary(),
            h.kata.rs.summary()
        );
        let features: Vec<String> = h
            .features
            .all()
            .iter()
            .map(|(f, fact)| format!("{} {}", f.as_str(), fact.supported().as_str()))
            .collect();
        let _ = writeln!(out, "  features: {}", features.join(", "));
        let _ = writeln!(
            out,
            "  isolation: seccomp {}{}; jailer {}; Landlock {}",
            h.isolation.seccomp.summary(),
            h.isolation
                .seccomp
                .scope
                .as_deref()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default(),
            h.isolation.jailer.summary(),
            h.isolation.landlock.summary()
        );
        let _ = writeln!(
            out,
            "  overhead: memory {}; boot {}",
            h.overhead.memory.summary(),
            h.overhead.boot.summary()
        );
        let _ = writeln!(
            out,
            "  advisories: {} total, {} VM-escape class ({} in the last {RECENT_YEARS} years), {} KEV, median days to first fix {}",
            a.total,
            a.vm_escape,
            a.vm_escape_recent,
            a.kev,
            a.median_days_to_fix
                .map_or_else(|| "n/a".to_owned(), |d| format!("{d} (of {})", a.days_to_fix_samples))
        );
        if let Some(new) = &a.new_since {
            let ids: Vec<&str> = new.iter().map(|n| n.id.as_str()).collect();
            let _ = writeln!(
                out,
                "  new since last review: {}",
                if ids.is_empty() {
                    "none".to_owned()
                } else {
                    ids.join(", ")
                }
            );
        }
        for i in &h.installed {
            let ids: Vec<&str> = i.open_advisories.iter().map(|o| o.id.as_str()).collect();
            let open = match ids.len() {
                0 => "no open advisory".to_owned(),
                1 => format!("1 open advisory: {}", ids[0]),
                n => format!("{n} open advisories: {}", ids.join(", ")),
            };
            let _ = writeln!(
                out,
                "  installed: {} {} ({open})",
                i.path.display(),
                i.version.as_deref().unwrap_or("version unknown"),
            );
        }
        out.push('\n');
    }
    let host = &comparison.host;
    let _ = writeln!(
        out,
        "This host: SEV-SNP {} ({}); TDX {} ({})",
        host.sev_snp.state, host.sev_snp.evidence, host.tdx.state, host.tdx.evidence
    );
    for config in &host.configs {
        let name = config
            .hypervisor
            .map_or_else(|| "unknown".to_owned(), |k| k.to_string());
        let verdict = match config.choice.strongest {
            Some(true) => "strongest for its needs",
            Some(false) => "a stronger option exists",
            None => "not ranked",
        };
        let _ = writeln!(
            out,
            "  {} ({}, {name}): {verdict}",
            config.path.display(),
            config.runtime
        );
        for reason in &config.choice.reasons {
            let _ = writeln!(out, "    - {reason}");
        }
    }
    if host.configs.is_empty() {
        let _ = writeln!(out, "  no Kata configuration found");
    }
    out
}
