//! The fleet report over real node reports (the fixture hosts' `scan --format json`), over a
//! generated fleet checked against an independent count made with `serde_json::Value`, and
//! over every kind of bad input the issue names: truncated and foreign JSON, duplicate
//! nodes, older and newer schemas, a symlink loop, 100,000 files in one folder.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::generate::{self, fixtures};
use hvguard_fleet::{aggregate, FleetReport, Options};
use serde_json::Value;

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

fn options() -> Options {
    let mut options = Options::new(now());
    options.jobs = 2;
    options
}

fn run(paths: &[PathBuf]) -> FleetReport {
    aggregate(paths, &options())
}

fn reasons(report: &FleetReport) -> Vec<String> {
    report
        .problems
        .iter()
        .map(|p| format!("{}: {}", p.file.display(), p.reason))
        .collect()
}

fn problem_for<'a>(report: &'a FleetReport, file: &Path) -> &'a str {
    report
        .problems
        .iter()
        .find(|p| p.file == file)
        .map(|p| p.reason.as_str())
        .unwrap_or_else(|| panic!("no problem for {}: {:?}", file.display(), reasons(report)))
}

/// What an independent reader makes of a folder of reports: latest report per node by
/// `generated_at`, then the counts the fleet report must agree with.
#[derive(Debug, Default, PartialEq)]
struct Oracle {
    nodes: u64,
    worst: BTreeMap<String, u64>,
    advisories: BTreeMap<String, (u64, bool)>,
    versions: BTreeMap<(String, String), u64>,
    stale_nodes: u64,
}

fn oracle(dir: &Path) -> Oracle {
    let mut latest: BTreeMap<String, (String, Value)> = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            if v["schema"] != "hvguard.report/v1" {
                continue;
            }
            let node = v["host"]["hostname"].as_str().unwrap().to_owned();
            let at = v["generated_at"].as_str().unwrap().to_owned();
            if latest.get(&node).is_none_or(|(old, _)| at > *old) {
                latest.insert(node, (at, v));
            }
        }
    }
    let mut o = Oracle {
        nodes: latest.len() as u64,
        ..Oracle::default()
    };
    for (_, report) in latest.values() {
        let findings = report["findings"].as_array().unwrap();
        let worst = ["critical", "high", "medium", "low", "info"]
            .into_iter()
            .find(|s| findings.iter().any(|f| f["severity"] == *s))
            .unwrap_or("none");
        *o.worst.entry(worst.to_owned()).or_default() += 1;
        let mut ids: BTreeMap<String, bool> = BTreeMap::new();
        for f in findings {
            if f["advisory"].is_object() && f["advisory"]["status"] == "vulnerable" {
                let kev = f["advisory"]["kev"].as_bool().unwrap();
                *ids.entry(f["advisory"]["id"].as_str().unwrap().to_owned())
                    .or_default() |= kev;
            }
        }
        for (id, kev) in ids {
            let e = o.advisories.entry(id).or_default();
            e.0 += 1;
            e.1 |= kev;
        }
        let builds: BTreeSet<(String, String)> = report["hypervisors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h["kind"].as_str().unwrap().to_owned(),
                    h["version"].as_str().unwrap_or("?").to_owned(),
                )
            })
            .collect();
        for b in builds {
            *o.versions.entry(b).or_default() += 1;
        }
        if findings
            .iter()
            .any(|f| f["rule"] == "hypervisor.stale-process")
        {
            o.stale_nodes += 1;
        }
    }
    o
}

fn as_oracle(report: &FleetReport) -> Oracle {
    let b = &report.by_severity;
    Oracle {
        nodes: report.nodes,
        worst: [
            ("critical", b.critical),
            ("high", b.high),
            ("medium", b.medium),
            ("low", b.low),
            ("info", b.info),
            ("none", b.none),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| (s.to_owned(), n))
        .collect(),
        advisories: report
            .advisories
            .iter()
            .map(|a| (a.id.clone(), (a.nodes, a.kev)))
            .collect(),
        versions: report
            .hypervisor_versions
            .iter()
            .map(|v| {
                (
                    (v.kind.clone(), v.version.clone().unwrap_or("?".into())),
                    v.nodes,
                )
            })
            .collect(),
        stale_nodes: report.stale_processes.len() as u64,
    }
}

#[test]
fn the_fixture_hosts_reports_fold_into_one_fleet() {
    let report = run(&[fixtures()]);
    assert_eq!(report.schema, "hvguard.fleet/v1");
    assert_eq!(report.nodes, 6);
    assert_eq!(report.inputs.reports, 6);
    assert_eq!(report.inputs.update_results, 1);
    assert_eq!(report.inputs.update_statuses, 1);
    assert!(report.read_anything());
    // kvm-host-07 (intel-problems) runs Debian's QEMU 7.2.22.
    let qemu = report
        .hypervisor_versions
        .iter()
        .find(|v| v.kind == "qemu" && v.version.as_deref() == Some("7.2.22"))
        .expect("qemu 7.2.22");
    assert_eq!(qemu.hosts, vec!["kvm-host-07"]);
    // The real update status of this machine ("vm") lists overdue advisories, but vm sent no
    // report: its SLA still counts, and the gap is named.
    assert!(report.advisories.iter().any(|a| a.overdue == 1));
    let status = fixtures().join("vm.update-status.json");
    assert_eq!(
        problem_for(&report, &status),
        "node vm has an update status but no report"
    );
    assert_eq!(report.updates.results.get("nothing-to-do"), Some(&1));
    // Two fixture captures have no hostname: they are listed under their file names.
    let unnamed = fixtures().join("kata-deploy.json");
    assert!(problem_for(&report, &unnamed).starts_with("no hostname in the report's host block"));
    assert!(report
        .hosts
        .iter()
        .any(|h| h.node == unnamed.display().to_string()));
    // Worst first.
    let ranks: Vec<_> = report.hosts.iter().map(|h| h.worst).collect();
    let mut sorted = ranks.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(ranks, sorted);
}

#[test]
fn a_generated_fleet_agrees_with_an_independent_count() {
    let dir = tempfile::tempdir().unwrap();
    let generated = generate::write_fleet(dir.path(), 1500, now());
    let report = run(&[dir.path().to_path_buf()]);
    assert_eq!(report.inputs.reports as usize, generated.reports);
    assert_eq!(
        report.inputs.update_results as usize,
        generated.update_results
    );
    assert_eq!(as_oracle(&report), oracle(dir.path()));
    // One in forty reports is two days old: named and flagged, still counted.
    let outdated = report.hosts.iter().filter(|h| h.outdated).count();
    assert!(outdated > 10, "{outdated}");
    assert_eq!(
        report
            .problems
            .iter()
            .filter(|p| p.reason.starts_with("outdated: "))
            .count(),
        outdated
    );
    let attention = report
        .updates
        .attention
        .iter()
        .filter(|u| u.result == "rolled-back")
        .count();
    assert!(attention > 0);
    assert!(report
        .updates
        .attention
        .iter()
        .filter(|u| u.result == "rolled-back")
        .all(|u| u.stage.as_deref() == Some("verify")));
}

#[test]
fn bad_inputs_are_each_named_and_the_rest_is_read() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("reports");
    std::fs::create_dir(&dir).unwrap();
    let real = std::fs::read(fixtures().join("intel-problems.json")).unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let good = write("good.json", &real);
    let truncated = write("truncated.json", &real[..real.len() / 2]);
    let foreign = write(
        "package.json",
        br#"{"name": "left-pad", "version": "1.3.0"}"#,
    );
    let array = write("array.json", b"[1, 2, 3]");
    let sarif = write(
        "scan.sarif.json",
        br#"{"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0", "runs": []}"#,
    );
    let garbage = write("garbage.json", b"\x7fELF\x02\x01\x01\x00");
    let empty = write("empty.json", b"");
    let text = String::from_utf8(real.clone()).unwrap();
    let older = write(
        "older.json",
        text.replace("hvguard.report/v1", "hvguard.report/v0")
            .as_bytes(),
    );
    let newer = write(
        "newer.json",
        text.replace("hvguard.report/v1", "hvguard.report/v2")
            .as_bytes(),
    );
    let snapshot = write(
        "snapshot.json",
        br#"{"schema": "hvguard.snapshot/v1", "collected_at": "2026-11-27T12:00:00Z"}"#,
    );
    // The same node (kvm-host-07) again, an hour earlier: the newer report wins.
    let mut earlier: Value = serde_json::from_slice(&real).unwrap();
    let at: jiff::Timestamp = earlier["generated_at"].as_str().unwrap().parse().unwrap();
    earlier["generated_at"] = at
        .checked_sub(jiff::SignedDuration::from_hours(1))
        .unwrap()
        .to_string()
        .into();
    earlier["findings"] = Value::Array(vec![]);
    let duplicate = write("zz-earlier.json", &serde_json::to_vec(&earlier).unwrap());
    std::os::unix::fs::symlink(".", dir.join("loop")).unwrap();
    std::os::unix::fs::symlink("loop2", dir.join("loop2")).unwrap();

    let mut opts = options();
    // Fixture reports are from when they were captured: age is not what this test is about.
    opts.max_age_hours = 24 * 365 * 100;
    let report = aggregate(std::slice::from_ref(&dir), &opts);
    assert_eq!(report.nodes, 1);
    assert_eq!(report.hosts[0].node, "kvm-host-07");
    assert_eq!(report.hosts[0].file, good, "the newer report wins");
    assert!(report.hosts[0].findings.total() > 0);
    assert!(problem_for(&report, &truncated).starts_with("truncated JSON: "));
    assert_eq!(
        problem_for(&report, &foreign),
        "foreign JSON: no `schema` field, so not a document hvguard wrote"
    );
    assert_eq!(
        problem_for(&report, &array),
        "foreign JSON: the document is not a JSON object"
    );
    assert_eq!(
        problem_for(&report, &sarif),
        "foreign JSON: no `schema` field, so not a document hvguard wrote"
    );
    assert!(problem_for(&report, &garbage).starts_with("not JSON: "));
    assert_eq!(problem_for(&report, &empty), "empty file");
    assert!(problem_for(&report, &older)
        .starts_with("unsupported schema `hvguard.report/v0`: an older or unknown version"));
    assert!(problem_for(&report, &newer)
        .starts_with("unsupported schema `hvguard.report/v2`: written by a newer hvguard"));
    assert!(problem_for(&report, &snapshot).starts_with("a Snapshot, not a report"));
    assert_eq!(
        problem_for(&report, &duplicate),
        format!(
            "duplicate node kvm-host-07: superseded by the newer report {} (latest wins)",
            good.display()
        )
    );
    assert_eq!(
        problem_for(&report, &dir.join("loop")),
        "symlink loop: leads back into a folder that contains it; not followed"
    );
    assert_eq!(
        problem_for(&report, &dir.join("loop2")),
        "symlink loop: the link resolves to itself"
    );
    assert_eq!(report.inputs.files, 11);
    assert_eq!(report.inputs.unusable, 9);
    assert!(report.read_anything());
}

#[test]
fn a_file_over_the_size_limit_is_refused_by_size() {
    let d = tempfile::tempdir().unwrap();
    let big = d.path().join("big.json");
    std::fs::write(&big, vec![b' '; 3 << 20]).unwrap();
    let mut opts = options();
    opts.max_file_bytes = 1 << 20;
    let report = aggregate(std::slice::from_ref(&big), &opts);
    assert_eq!(
        problem_for(&report, &big),
        "larger than 1048576 bytes, not a node document"
    );
    assert!(!report.read_anything());
}

#[test]
fn nothing_readable_is_said_so() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("a.json"), b"{").unwrap();
    let missing = d.path().join("missing");
    let report = run(&[d.path().to_path_buf(), missing.clone()]);
    assert!(!report.read_anything());
    assert_eq!(report.nodes, 0);
    assert_eq!(
        problem_for(&report, &missing),
        "cannot read: No such file or directory"
    );
}

#[test]
fn a_hundred_thousand_files_in_one_folder_are_all_read() {
    // tmpfs when there is one: the test is about the reader, not the disk's metadata speed.
    let shm = Path::new("/dev/shm");
    let d = if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let at = now().round(jiff::Unit::Second).unwrap().to_string();
    for i in 0..100_000u32 {
        let sev = ["critical", "high", "medium", "low", "info"][(i % 5) as usize];
        let body = format!(
            r#"{{"schema":"hvguard.report/v1","generated_at":"{at}","host":{{"hostname":"n{i}"}},"findings":[{{"rule":"host.ksm-enabled","severity":"{sev}"}}],"unknown":[],"hypervisors":[]}}"#
        );
        std::fs::write(d.path().join(format!("n{i}.json")), body).unwrap();
    }
    let report = run(&[d.path().to_path_buf()]);
    assert_eq!(report.inputs.files, 100_000);
    assert_eq!(report.nodes, 100_000);
    assert_eq!(report.by_severity.critical, 20_000);
    assert_eq!(report.by_severity.info, 20_000);
    assert!(report.problems.is_empty(), "{:?}", &reasons(&report)[..3]);
}
