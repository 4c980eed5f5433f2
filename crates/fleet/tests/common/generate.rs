//! A fleet of node reports for tests, the bench and the hyperfine run, made from the real
//! `scan --format json` reports of the fixture hosts (tests/fixtures/nodes/) and varied per
//! node: host name, report time, hypervisor builds, which findings fired, KEV flags, stale
//! VMM processes, and an update result for some nodes. Deterministic (a fixed LCG), so a
//! run can be repeated.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nodes")
}

/// The real node reports (`hvguard.report/v1`) of the fixture hosts, sorted by file name.
pub fn real_reports() -> Vec<Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.ends_with(".json") && !name.contains(".update-")
        })
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect()
}

/// The real update result (`update apply --dry-run --format json` on this machine).
pub fn real_update_result() -> Value {
    serde_json::from_slice(&std::fs::read(fixtures().join("vm.update-result.json")).unwrap())
        .unwrap()
}

/// Real QEMU releases a Kata fleet runs (Debian's, Ubuntu's, and Kata's static builds).
const QEMU_BUILDS: &[&str] = &[
    "7.2.22", "7.2.15", "8.2.2", "8.2.9", "9.1.3", "9.2.4", "10.0.3",
];
const UPDATE_RESULTS: &[&str] = &[
    "updated",
    "nothing-to-do",
    "updated",
    "rolled-back",
    "refused",
];

/// A tiny deterministic generator (Knuth's MMIX LCG): tests must not depend on a crate's
/// random stream.
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Lcg {
        Lcg(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// What the generated fleet holds, for checking the aggregation against.
#[derive(Debug, Default)]
pub struct Generated {
    pub reports: usize,
    pub update_results: usize,
    pub bytes: u64,
}

/// Node `i`'s report, varied from `base`.
pub fn vary(base: &Value, i: usize, now: jiff::Timestamp, rng: &mut Lcg) -> Value {
    let mut report = base.clone();
    report["host"]["hostname"] = json!(format!("kata-node-{i:05}"));
    // Most reports are from the last hour; one in 40 is two days old (a node whose timer
    // stopped).
    let minutes = if rng.below(40) == 0 {
        2 * 24 * 60 + rng.below(600) as i64
    } else {
        rng.below(60) as i64
    };
    let at = now
        .checked_sub(jiff::SignedDuration::from_mins(minutes))
        .unwrap();
    report["generated_at"] = json!(at.to_string());
    if let Some(hypervisors) = report["hypervisors"].as_array_mut() {
        let build = QEMU_BUILDS[rng.below(QEMU_BUILDS.len() as u64) as usize];
        for h in hypervisors.iter_mut().filter(|h| h["kind"] == "qemu") {
            h["version"] = json!(build);
        }
    }
    if let Some(findings) = report["findings"].as_array_mut() {
        // Each finding fires on about four nodes in five.
        findings.retain(|_| rng.below(5) != 0);
        for f in findings.iter_mut() {
            if f["advisory"].is_object() && rng.below(10) == 0 {
                f["advisory"]["kev"] = json!(true);
            }
        }
        if rng.below(25) == 0 {
            findings.insert(0, stale_process_finding(rng.below(40_000) as u32 + 1000));
        }
    }
    let summary = summary_of(&report["findings"]);
    report["summary"] = summary;
    report
}

fn summary_of(findings: &Value) -> Value {
    let mut counts = [0u64; 5];
    for f in findings.as_array().into_iter().flatten() {
        let i = match f["severity"].as_str().unwrap_or("") {
            "critical" => 0,
            "high" => 1,
            "medium" => 2,
            "low" => 3,
            _ => 4,
        };
        counts[i] += 1;
    }
    json!({"critical": counts[0], "high": counts[1], "medium": counts[2], "low": counts[3], "info": counts[4]})
}

/// A `hypervisor.stale-process` finding in the shape the rule writes.
fn stale_process_finding(pid: u32) -> Value {
    json!({
        "rule": "hypervisor.stale-process",
        "severity": "high",
        "title": "A running VMM still uses a replaced hypervisor binary",
        "message": format!("QEMU pid {pid} (sandbox-{pid:x}) runs /usr/bin/qemu-system-x86_64 (deleted)"),
        "location": {"path": format!("/proc/{pid}/exe")},
        "evidence": "exe: /usr/bin/qemu-system-x86_64 (deleted); running QEMU emulator version 7.2.15, on disk 7.2.22",
        "remediation": "Restart the sandbox (drain the pod) so it runs the updated binary.",
        "references": [],
        "advisory": null
    })
}

/// Node `i`'s update result, varied from the real one.
pub fn vary_update(base: &Value, i: usize, now: jiff::Timestamp, rng: &mut Lcg) -> Value {
    let mut result = base.clone();
    result["host"]["hostname"] = json!(format!("kata-node-{i:05}"));
    result["generated_at"] = json!(now.to_string());
    let outcome = UPDATE_RESULTS[rng.below(UPDATE_RESULTS.len() as u64) as usize];
    result["result"] = json!(outcome);
    if outcome == "rolled-back" {
        result["stages"] = json!([
            {"name": "install", "ok": true, "ms": 5123, "detail": "installed qemu-system-x86 1:7.2+dfsg-7+deb12u18+b3"},
            {"name": "verify", "ok": false, "ms": 412, "detail": "qemu-start gate: the installed build did not start"},
            {"name": "rollback", "ok": true, "ms": 4810, "detail": "reinstalled 1:7.2+dfsg-7+deb12u15"}
        ]);
    }
    result
}

/// Writes `nodes` reports (and an update result for every tenth node) into `dir`, spread
/// over `dir/rack-NN/` folders of 500 nodes.
pub fn write_fleet(dir: &Path, nodes: usize, now: jiff::Timestamp) -> Generated {
    let reports = real_reports();
    let update = real_update_result();
    let mut rng = Lcg::new(0x0068_7667_7561_7264);
    let mut generated = Generated::default();
    for i in 0..nodes {
        let rack = dir.join(format!("rack-{:02}", i / 500));
        if i % 500 == 0 {
            std::fs::create_dir_all(&rack).unwrap();
        }
        let report = vary(&reports[i % reports.len()], i, now, &mut rng);
        let bytes = serde_json::to_vec_pretty(&report).unwrap();
        generated.bytes += bytes.len() as u64;
        std::fs::write(rack.join(format!("kata-node-{i:05}.json")), bytes).unwrap();
        generated.reports += 1;
        if i % 10 == 0 {
            let result = vary_update(&update, i, now, &mut rng);
            let bytes = serde_json::to_vec_pretty(&result).unwrap();
            generated.bytes += bytes.len() as u64;
            std::fs::write(
                rack.join(format!("kata-node-{i:05}.update-result.json")),
                bytes,
            )
            .unwrap();
            generated.update_results += 1;
        }
    }
    generated
}
