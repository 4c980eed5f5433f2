//! Snapshots written by an older hvguard keep loading (issue 11, code health): the checked-in
//! v1 snapshots (see `fixtures/snapshots/README.md`) load, and so does each of them with any
//! one field removed, which is what a snapshot from before that field existed looks like.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hvguard_core::{Probe, Snapshot, SNAPSHOT_SCHEMA};
use serde_json::Value;
use std::path::Path;

const FIXTURES: [&str; 3] = [
    "v1-kata-static.json",
    "v1-kata-deploy.json",
    "v1-intel-problems.json",
];

fn load(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/snapshots")
        .join(name);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn code_health_old_v1_snapshots_load() {
    for name in FIXTURES {
        let snapshot: Snapshot = serde_json::from_value(load(name)).unwrap();
        assert_eq!(snapshot.schema, SNAPSHOT_SCHEMA, "{name}");
        assert_eq!(snapshot.collector_uid, None, "{name}");
    }
    let intel: Snapshot = serde_json::from_value(load("v1-intel-problems.json")).unwrap();
    assert!(intel.host.cmdline.value().is_some());
    assert_eq!(intel.changelogs.len(), 1);
    let deploy: Snapshot = serde_json::from_value(load("v1-kata-deploy.json")).unwrap();
    assert_eq!(deploy.kata.len(), 8);
    let static_: Snapshot = serde_json::from_value(load("v1-kata-static.json")).unwrap();
    assert_eq!(static_.hypervisors.len(), 5);
    assert!(static_.hypervisors.iter().all(|h| h.parent_dirs.is_empty()));
}

/// Every path to an object member of `value` (top level, `host`, `host.kvm`, ...).
fn member_paths(value: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    if let Value::Object(map) = value {
        for (key, child) in map {
            prefix.push(key.clone());
            out.push(prefix.clone());
            // A fact (`{"status": ...}`) is removed whole, not taken apart.
            if child.get("status").is_none() {
                member_paths(child, prefix, out);
            }
            prefix.pop();
        }
    }
}

fn remove(value: &mut Value, path: &[String]) {
    let (last, parents) = path.split_last().unwrap();
    let mut at = value;
    for p in parents {
        at = at.get_mut(p).unwrap();
    }
    at.as_object_mut().unwrap().remove(last);
}

#[test]
fn code_health_a_snapshot_missing_any_fact_still_loads() {
    let full = load("v1-intel-problems.json");
    let mut paths = Vec::new();
    member_paths(&full["host"], &mut vec!["host".to_string()], &mut paths);
    for top in full.as_object().unwrap().keys() {
        paths.push(vec![top.clone()]);
    }
    assert!(paths.len() > 25, "{paths:?}");
    for path in paths {
        let mut v = full.clone();
        remove(&mut v, &path);
        let loaded: Result<Snapshot, _> = serde_json::from_value(v);
        assert!(
            loaded.is_ok(),
            "without {}: {:?}",
            path.join("."),
            loaded.err()
        );
    }
    // A fact the old snapshot did not record reads as unknown, never as a pass.
    let mut v = full.clone();
    remove(&mut v, &["host".into(), "cmdline".into()]);
    let snapshot: Snapshot = serde_json::from_value(v).unwrap();
    assert!(matches!(snapshot.host.cmdline, Probe::Unsupported { .. }));
}
