//! The rules a reviewed facts file keeps: one entry per hypervisor, unique and complete
//! sources, every cited source present, and every known fact cited.

use std::collections::BTreeSet;

use super::{parse_release, CompareKind, Fact, Facts, FACTS_FORMAT};

/// Every rule a reviewed file keeps: one entry per hypervisor, unique source ids, every
/// cited source present, and every known fact cited.
pub(super) fn check(facts: &Facts) -> Result<(), String> {
    if facts.format != FACTS_FORMAT {
        return Err(format!(
            "format is `{}`; this hvguard reads `{FACTS_FORMAT}`",
            facts.format
        ));
    }
    let mut ids = BTreeSet::new();
    for source in &facts.sources {
        if !ids.insert(source.id.as_str()) {
            return Err(format!("source `{}` is defined twice", source.id));
        }
        if !source.url.starts_with("https://") {
            return Err(format!("source `{}`: url must be https://", source.id));
        }
        if source.says.trim().is_empty() || source.checked_at.trim().is_empty() {
            return Err(format!(
                "source `{}`: `says` and `checked_at` must not be empty",
                source.id
            ));
        }
    }
    for kind in CompareKind::ALL {
        let count = facts.hypervisors.iter().filter(|h| h.kind == kind).count();
        if count != 1 {
            return Err(format!(
                "hypervisor `{kind}` appears {count} times; every hypervisor appears once"
            ));
        }
    }
    for hypervisor in &facts.hypervisors {
        for (name, fact) in hypervisor.facts() {
            let at = format!("hypervisors[{}].{name}", hypervisor.kind);
            check_fact(&at, fact, &ids)?;
        }
    }
    for id in &facts.verified_rootfs.sources {
        if !ids.contains(id.as_str()) {
            return Err(format!("verified_rootfs cites unknown source `{id}`"));
        }
    }
    for release in [
        &facts.verified_rootfs.kernel_verity_params_since,
        &facts.verified_rootfs.kernel_params_since,
    ] {
        parse_release(release).map_err(|e| format!("verified_rootfs: release {release:?}: {e}"))?;
    }
    Ok(())
}

fn check_fact(at: &str, fact: &Fact, sources: &BTreeSet<&str>) -> Result<(), String> {
    if fact.support.is_none() && fact.value.is_none() {
        return Err(format!("{at}: needs `support` or `value`"));
    }
    if !fact.is_unknown() && fact.sources.is_empty() {
        return Err(format!(
            "{at}: a known fact needs at least one source (or mark it unknown)"
        ));
    }
    for id in &fact.sources {
        if !sources.contains(id.as_str()) {
            return Err(format!("{at}: cites unknown source `{id}`"));
        }
    }
    if let Some(since) = &fact.since {
        parse_release(since).map_err(|e| format!("{at}: since {since:?}: {e}"))?;
    }
    Ok(())
}

/// TOML errors span several lines (a snippet with a caret); the error says it once, on one.
pub(super) fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('|') && *l != "^")
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use std::path::Path;

    const SHIPPED_FACTS: &str = include_str!("../../data/hypervisors.toml");

    #[test]
    fn shipped_file_parses_and_every_hypervisor_is_there() {
        let facts = shipped_facts().unwrap_or_else(|e| panic!("{e}"));
        for kind in CompareKind::ALL {
            assert!(facts.hypervisor(kind).is_some(), "{kind}");
        }
        assert_eq!(
            facts.release_date("firecracker", "1.13.2"),
            "2026-01-19".parse().ok()
        );
    }

    #[test]
    fn an_uncited_fact_is_refused() {
        let text = SHIPPED_FACTS.replacen(
            "language = { value = \"C\", sources = [\"kata-hypervisors-md\", \"kata-virtualization-md\"] }",
            "language = { value = \"C\" }",
            1,
        );
        assert_ne!(text, SHIPPED_FACTS);
        let err = Facts::parse(Path::new("f.toml"), &text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(
            err,
            "f.toml: hypervisors[qemu].language: a known fact needs at least one source (or mark it unknown)"
        );
    }

    #[test]
    fn an_unknown_source_and_a_bad_format_are_refused() {
        let text = SHIPPED_FACTS.replacen("\"kata-hypervisors-md\"]", "\"nowhere\"]", 1);
        let err = Facts::parse(Path::new("f.toml"), &text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("cites unknown source `nowhere`"), "{err}");
        let text = SHIPPED_FACTS.replacen(FACTS_FORMAT, "hvguard.hypervisor-facts/v9", 1);
        let err = Facts::parse(Path::new("f.toml"), &text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("this hvguard reads"), "{err}");
        let err = Facts::parse(Path::new("f.toml"), "format = [")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.starts_with("f.toml: ") && !err.contains('\n'), "{err}");
    }
}
