//! The selection-rationale document: Markdown an operator commits and reviews later. Its state
//! lines (HTML comments, see [`crate::previous`]) let the next run say what changed.

use std::fmt::Write;

use crate::facts::{Fact, Feature, Support};
use crate::model::{Comparison, ConfigView, HypervisorEntry, IntegrityItem};
use crate::previous::{is_listable_id, STATE_PREFIX, STATE_SUFFIX};
use crate::RECENT_YEARS;

/// A table cell: one line, pipes escaped.
fn cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

/// Inline code, for paths and settings.
fn code(text: &str) -> String {
    format!("`{}`", text.replace('`', "'"))
}

fn table(out: &mut String, header: &[String], rows: &[Vec<String>]) {
    let _ = writeln!(
        out,
        "| {} |",
        header
            .iter()
            .map(|h| cell(h))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
    for row in rows {
        let _ = writeln!(
            out,
            "| {} |",
            row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
        );
    }
    out.push('\n');
}

fn fact_cell(fact: &Fact) -> String {
    let mut text = fact.summary();
    if let (Some(scope), Support::Yes) = (&fact.scope, fact.supported()) {
        let _ = write!(text, " ({scope})");
    }
    if let Some(since) = &fact.since {
        let _ = write!(text, " (since {since})");
    }
    if !fact.sources.is_empty() {
        let _ = write!(text, " [{}]", fact.sources.join(", "));
    }
    text
}

fn row(
    label: &str,
    comparison: &Comparison,
    f: impl Fn(&HypervisorEntry) -> String,
) -> Vec<String> {
    std::iter::once(label.to_owned())
        .chain(comparison.hypervisors.iter().map(f))
        .collect()
}

fn header(comparison: &Comparison, first: &str) -> Vec<String> {
    std::iter::once(first.to_owned())
        .chain(comparison.hypervisors.iter().map(|h| h.name.clone()))
        .collect()
}

/// Renders the document.
pub fn render(comparison: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{STATE_PREFIX}date={}{STATE_SUFFIX}", comparison.date);
    let host = comparison.host.hostname.as_deref().unwrap_or("this host");
    let _ = writeln!(out, "# Hypervisor selection rationale: {host}\n");
    let origin = match &comparison.advisories_from.store {
        Some(p) => format!("the advisory store {}", code(&p.display().to_string())),
        None => "the advisory snapshot shipped with hvguard".to_owned(),
    };
    let _ = writeln!(
        out,
        "Written by `hvguard hypervisors compare --format markdown` on {}. Facts: hvguard's reviewed facts file (reviewed {}, checked at Kata {}). Advisories: {} ({} records). Commit this file; re-run the command with `--previous` this file to see what changed.\n",
        comparison.date,
        comparison.facts.reviewed,
        comparison.facts.kata_checked_at,
        origin,
        comparison.advisories_from.count
    );
    summary(&mut out, comparison);
    changes(&mut out, comparison);
    this_host(&mut out, comparison);
    tables(&mut out, comparison);
    method(&mut out);
    sources(&mut out, comparison);
    for h in &comparison.hypervisors {
        let ids: Vec<&str> = h
            .advisories
            .ids
            .iter()
            .map(String::as_str)
            .filter(|id| is_listable_id(id))
            .collect();
        let _ = writeln!(
            out,
            "{STATE_PREFIX}counted {}{}{}{STATE_SUFFIX}",
            h.kind,
            if ids.is_empty() { "" } else { " " },
            ids.join(" ")
        );
    }
    out
}

fn summary(out: &mut String, comparison: &Comparison) {
    let _ = writeln!(out, "## Summary\n");
    if comparison.host.configs.is_empty() {
        let _ = writeln!(
            out,
            "No Kata configuration was found on this host: the tables below compare the hypervisors without a current choice to judge.\n"
        );
        return;
    }
    for config in &comparison.host.configs {
        let name = hypervisor_name(comparison, config);
        let verdict = match config.choice.strongest {
            Some(true) => "the strongest option for what it uses".to_owned(),
            Some(false) => {
                let best = config
                    .choice
                    .candidates
                    .first()
                    .and_then(|c| comparison.hypervisors.iter().find(|h| h.kind == c.kind))
                    .map_or_else(|| "another hypervisor".to_owned(), |h| h.name.clone());
                format!("not the strongest option: {best} ranks higher for what it uses")
            }
            None => "not ranked".to_owned(),
        };
        let _ = writeln!(
            out,
            "- {} ({} runtime{}) runs **{}**: {}.",
            code(&config.path.display().to_string()),
            config.runtime,
            if config.runtime_classes.is_empty() {
                String::new()
            } else {
                format!(", runtime class {}", config.runtime_classes.join(", "))
            },
            name,
            verdict
        );
    }
    out.push('\n');
}

fn hypervisor_name(comparison: &Comparison, config: &ConfigView) -> String {
    config
        .hypervisor
        .and_then(|k| comparison.hypervisors.iter().find(|h| h.kind == k))
        .map_or_else(|| "an unknown hypervisor".to_owned(), |h| h.name.clone())
}

fn changes(out: &mut String, comparison: &Comparison) {
    let Some(since) = &comparison.since else {
        return;
    };
    let _ = writeln!(out, "## What changed since {}\n", since.date);
    let how = if since.by_advisory_list {
        format!(
            "advisories in the data now that {} did not count",
            since.from
        )
    } else {
        format!("advisories published after {} ({})", since.date, since.from)
    };
    let mut rows = Vec::new();
    for h in &comparison.hypervisors {
        for a in h.advisories.new_since.iter().flatten() {
            rows.push(vec![
                h.name.clone(),
                a.id.clone(),
                a.published
                    .map_or_else(|| "unknown".to_owned(), |d| d.to_string()),
                a.severity.clone(),
                a.kind.clone(),
                yes_no(a.vm_escape),
                yes_no(a.kev),
                a.summary.clone().unwrap_or_default(),
            ]);
        }
    }
    if rows.is_empty() {
        let _ = writeln!(out, "No new advisories ({how}).\n");
        return;
    }
    let _ = writeln!(out, "New advisories: {how}.\n");
    let header: Vec<String> = [
        "Hypervisor",
        "Advisory",
        "Published",
        "Severity",
        "Kind",
        "VM escape",
        "KEV",
        "Summary",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    table(out, &header, &rows);
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

fn this_host(out: &mut String, comparison: &Comparison) {
    let host = &comparison.host;
    let _ = writeln!(out, "## This host\n");
    let _ = writeln!(
        out,
        "Kata release: {}.\n",
        host.kata_release
            .as_deref()
            .map_or_else(|| "not known (no /opt/kata/VERSION)".to_owned(), code)
    );
    let _ = writeln!(out, "### Installed hypervisors\n");
    let mut rows = Vec::new();
    for h in &comparison.hypervisors {
        for i in &h.installed {
            let open: Vec<String> = i
                .open_advisories
                .iter()
                .map(|a| {
                    format!(
                        "{} ({}{})",
                        a.id,
                        a.severity,
                        if a.kev { ", KEV" } else { "" }
                    )
                })
                .collect();
            rows.push(vec![
                h.name.clone(),
                code(&i.path.display().to_string()),
                i.version.clone().unwrap_or_else(|| "unknown".to_owned()),
                i.package.clone().unwrap_or_else(|| "none".to_owned()),
                if i.used_by.is_empty() {
                    "no Kata configuration".to_owned()
                } else {
                    i.used_by
                        .iter()
                        .map(|p| code(&p.display().to_string()))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
                if open.is_empty() {
                    "none".to_owned()
                } else {
                    format!("{}: {}", open.len(), open.join(", "))
                },
            ]);
        }
    }
    if rows.is_empty() {
        let _ = writeln!(out, "No hypervisor binary was found.\n");
    } else {
        let header: Vec<String> = [
            "Hypervisor",
            "Binary",
            "Version",
            "Package",
            "Used by",
            "Open advisories",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        table(out, &header, &rows);
    }
    let _ = writeln!(out, "### Confidential guests on this host\n");
    let header: Vec<String> = ["Technology", "State", "Evidence", "To enable"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let rows: Vec<Vec<String>> = [("AMD SEV-SNP", &host.sev_snp), ("Intel TDX", &host.tdx)]
        .iter()
        .map(|(name, c)| {
            vec![
                (*name).to_owned(),
                c.state.to_owned(),
                c.evidence.clone(),
                c.to_enable.clone().unwrap_or_else(|| "-".to_owned()),
            ]
        })
        .collect();
    table(out, &header, &rows);
    for config in &host.configs {
        config_section(out, comparison, config);
    }
}

fn integrity_row(label: &str, item: &IntegrityItem) -> Vec<String> {
    vec![
        label.to_owned(),
        item.state.to_owned(),
        item.observed.clone(),
        item.to_enable.clone().unwrap_or_else(|| "-".to_owned()),
    ]
}

fn config_section(out: &mut String, comparison: &Comparison, config: &ConfigView) {
    let _ = writeln!(out, "### {}\n", code(&config.path.display().to_string()));
    let needs: Vec<&str> = config.needs.iter().map(|f| f.as_str()).collect();
    let _ = writeln!(
        out,
        "Runs {} with the {} runtime; uses {}.\n",
        hypervisor_name(comparison, config),
        config.runtime,
        if needs.is_empty() {
            "no feature that narrows the choice".to_owned()
        } else {
            needs.join(", ")
        }
    );
    let header: Vec<String> = ["Protection", "State", "Observed", "To enable"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let rows = vec![
        vec![
            "seccomp".to_owned(),
            config.isolation.seccomp.state.to_owned(),
            config.isolation.seccomp.evidence.clone(),
            "-".to_owned(),
        ],
        vec![
            "jailer".to_owned(),
            config.isolation.jailer.state.to_owned(),
            config.isolation.jailer.evidence.clone(),
            "-".to_owned(),
        ],
        integrity_row("guest firmware", &config.integrity.firmware),
        integrity_row("measured boot", &config.integrity.measured_boot),
        integrity_row(
            "verified root filesystem",
            &config.integrity.verified_rootfs,
        ),
    ];
    table(out, &header, &rows);
    let _ = writeln!(out, "Why:\n");
    for reason in &config.choice.reasons {
        let _ = writeln!(out, "- {reason}");
    }
    out.push('\n');
    if !config.choice.would_change.is_empty() {
        let _ = writeln!(out, "What would change the conclusion:\n");
        for change in &config.choice.would_change {
            let _ = writeln!(out, "- {change}");
        }
        out.push('\n');
    }
}

fn tables(out: &mut String, comparison: &Comparison) {
    let _ = writeln!(out, "## Comparison\n");
    let _ = writeln!(
        out,
        "Bracketed ids name the sources listed at the end. \"unknown\" means no source read states it.\n"
    );
    let _ = writeln!(out, "### Kata support and features\n");
    let mut rows = vec![
        row("Language", comparison, |h| fact_cell(&h.language)),
        row("Go runtime", comparison, |h| fact_cell(&h.kata.go)),
        row("runtime-rs", comparison, |h| fact_cell(&h.kata.rs)),
        row("Default guest memory (MiB)", comparison, |h| {
            fact_cell(&h.kata.default_memory_mib)
        }),
    ];
    for feature in [
        Feature::VirtioFs,
        Feature::CpuHotplug,
        Feature::MemoryHotplug,
        Feature::Vfio,
        Feature::Gpu,
        Feature::SevSnp,
        Feature::Tdx,
    ] {
        rows.push(row(feature.as_str(), comparison, |h| {
            fact_cell(h.features.get(feature))
        }));
    }
    table(out, &header(comparison, "Feature"), &rows);
    let _ = writeln!(out, "### Isolation (Kata's defaults)\n");
    let rows = vec![
        row("seccomp", comparison, |h| fact_cell(&h.isolation.seccomp)),
        row("jailer", comparison, |h| fact_cell(&h.isolation.jailer)),
        row("Landlock", comparison, |h| fact_cell(&h.isolation.landlock)),
    ];
    table(out, &header(comparison, "Protection"), &rows);
    let _ = writeln!(out, "### Published overhead figures\n");
    let rows = vec![
        row("VMM memory overhead", comparison, |h| {
            fact_cell(&h.overhead.memory)
        }),
        row("Boot time", comparison, |h| fact_cell(&h.overhead.boot)),
    ];
    table(out, &header(comparison, "Figure"), &rows);
    let _ = writeln!(
        out,
        "The figures are each project's own, under its own conditions (see the sources): they are not comparable measurements.\n"
    );
    let _ = writeln!(out, "### Guest integrity\n");
    let rows = vec![
        row("Guest firmware", comparison, |h| {
            fact_cell(&h.integrity.firmware)
        }),
        row("Secure Boot capable firmware", comparison, |h| {
            h.integrity
                .firmware
                .secure_boot
                .unwrap_or(Support::Unknown)
                .as_str()
                .to_owned()
        }),
        row("Measured boot (SEV-SNP/TDX)", comparison, |h| {
            fact_cell(&h.integrity.measured_boot)
        }),
    ];
    table(out, &header(comparison, "Integrity"), &rows);
    let rules = &comparison.verified_rootfs.rules;
    let _ = writeln!(
        out,
        "Verified root filesystem (dm-verity), for every local hypervisor: the `kernel_verity_params` setting from Kata {}; from {} a guest image built with `MEASURED_ROOTFS=yes` puts {} in `kernel_params` [{}].\n",
        rules.kernel_verity_params_since,
        rules.kernel_params_since,
        code(&rules.kernel_params_marker),
        rules.sources.join(", ")
    );
    let _ = writeln!(out, "### Advisory record\n");
    let count = |h: &HypervisorEntry, key: &str| {
        h.advisories
            .by_severity
            .get(key)
            .copied()
            .unwrap_or(0)
            .to_string()
    };
    let rows = vec![
        row("Advisories", comparison, |h| h.advisories.total.to_string()),
        row("VM-escape class", comparison, |h| {
            h.advisories.vm_escape.to_string()
        }),
        row(
            &format!("VM-escape class, last {RECENT_YEARS} years"),
            comparison,
            |h| h.advisories.vm_escape_recent.to_string(),
        ),
        row("CISA KEV", comparison, |h| h.advisories.kev.to_string()),
        row("Critical", comparison, |h| count(h, "critical")),
        row("High", comparison, |h| count(h, "high")),
        row("Medium", comparison, |h| count(h, "medium")),
        row("Low", comparison, |h| count(h, "low")),
        row("No CVSS", comparison, |h| count(h, "unrated")),
        row("Median days to first fix", comparison, |h| {
            match h.advisories.median_days_to_fix {
                Some(d) => format!("{d} (of {})", h.advisories.days_to_fix_samples),
                None => "no dated fixes".to_owned(),
            }
        }),
    ];
    table(out, &header(comparison, "Record"), &rows);
    for h in &comparison.hypervisors {
        let _ = writeln!(out, "- {}: {}.", h.name, h.advisories.coverage);
    }
    if !comparison.shared_rust_vmm.is_empty() {
        let _ = writeln!(
            out,
            "- rust-vmm crate advisories, counted for no hypervisor (no binary records its crate versions): {}.",
            comparison.shared_rust_vmm.join(", ")
        );
    }
    out.push('\n');
    let _ = writeln!(out, "### Advisories per year\n");
    let mut years: Vec<&String> = comparison
        .hypervisors
        .iter()
        .flat_map(|h| h.advisories.by_year.keys())
        .collect();
    years.sort();
    years.dedup();
    let rows: Vec<Vec<String>> = years
        .iter()
        .map(|y| {
            row(y, comparison, |h| {
                h.advisories
                    .by_year
                    .get(*y)
                    .copied()
                    .unwrap_or(0)
                    .to_string()
            })
        })
        .collect();
    if rows.is_empty() {
        let _ = writeln!(out, "No advisories.\n");
    } else {
        table(out, &header(comparison, "Year"), &rows);
    }
}

fn method(out: &mut String) {
    let _ = writeln!(out, "## How this was decided\n");
    for line in [
        "VM-escape class: an advisory whose kind is `vm-escape` with at least one component a guest drives (host-side tools, the guest agent and other architectures' code do not count).",
        "Ranking for a configuration: among hypervisors Kata runs that offer every feature the configuration uses, per-thread seccomp on by default ranks above a process-wide filter, above none; then the jailer; then a record of its own in the advisory data (advisories of its own product: an empty record is no evidence); then fewer VM-escape-class advisories in the last five years.",
        "Median days to first fix: from publication to the earliest release carrying the fix, over advisories whose fixed releases all have known dates; a fix released before publication counts as 0.",
        "Details: docs/choosing-a-hypervisor.md in hvguard.",
    ] {
        let _ = writeln!(out, "- {line}");
    }
    out.push('\n');
}

fn sources(out: &mut String, comparison: &Comparison) {
    let _ = writeln!(out, "## Sources\n");
    let mut all: Vec<&crate::facts::Source> = comparison
        .hypervisors
        .iter()
        .flat_map(|h| h.sources.iter())
        .chain(comparison.verified_rootfs.sources.iter())
        .collect();
    all.sort_by(|a, b| a.id.cmp(&b.id));
    all.dedup_by(|a, b| a.id == b.id);
    let header: Vec<String> = ["Id", "What it says", "Checked at", "Link"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|s| {
            vec![
                s.id.clone(),
                s.says.clone(),
                s.checked_at.clone(),
                format!("<{}>", s.url),
            ]
        })
        .collect();
    table(out, &header, &rows);
}
