//! The facts file against the real configuration files Kata installs: every `config_defaults`
//! entry must hold in the rendered file of its release (tests/fixtures/kata/rendered/, see the
//! README there), and every configuration a fact names must exist in some checked release.

mod common;

use std::path::PathBuf;

use hvguard_compare::facts::RuntimeName;

fn rendered(release: &str, runtime: RuntimeName, file: &str) -> PathBuf {
    let dir = match runtime {
        RuntimeName::Go => "runtime-go",
        RuntimeName::Rs => "runtime-rs",
    };
    common::workspace()
        .join("tests/fixtures/kata/rendered")
        .join(release)
        .join(dir)
        .join(file)
}

fn lookup<'a>(table: &'a toml::Table, key: &str) -> Option<&'a toml::Value> {
    let mut parts = key.split('.');
    let mut value = table.get(parts.next()?)?;
    for part in parts {
        value = value.as_table()?.get(part)?;
    }
    Some(value)
}

#[test]
fn facts_match_rendered_configs() {
    let facts = common::facts();
    let mut checked = 0;
    for hypervisor in &facts.hypervisors {
        for (name, fact) in hypervisor.facts() {
            for claim in &fact.config_defaults {
                let path = rendered(&claim.release, claim.runtime, &claim.file);
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let table: toml::Table =
                    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert_eq!(
                    lookup(&table, &claim.key),
                    claim.value.as_ref(),
                    "{}.{name}: {} in {}",
                    hypervisor.kind,
                    claim.key,
                    path.display()
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 40, "only {checked} claims checked");
}

#[test]
fn every_named_configuration_exists_in_a_checked_release() {
    let facts = common::facts();
    for hypervisor in &facts.hypervisors {
        for (runtime, fact) in [
            (RuntimeName::Go, &hypervisor.kata.go),
            (RuntimeName::Rs, &hypervisor.kata.rs),
        ] {
            for file in &fact.configs {
                let found = ["2.0.0", "3.2.0", "3.20.0", "main"]
                    .iter()
                    .any(|release| rendered(release, runtime, file).is_file());
                assert!(found, "{}: {runtime:?} {file}", hypervisor.kind);
            }
        }
    }
}

#[test]
fn every_source_is_cited_and_pinned() {
    let facts = common::facts();
    let mut cited: std::collections::BTreeSet<&str> = facts
        .hypervisors
        .iter()
        .flat_map(|h| h.source_ids())
        .collect();
    cited.extend(facts.verified_rootfs.sources.iter().map(String::as_str));
    for source in &facts.sources {
        assert!(
            cited.contains(source.id.as_str()),
            "{} is cited by no fact",
            source.id
        );
        // A URL naming a branch moves; one naming a commit says what was read.
        let pinned = source
            .url
            .split('/')
            .any(|part| part.len() == 40 && part.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(
            pinned,
            "{}: {} is not pinned to a commit",
            source.id, source.url
        );
    }
}
