//! End-to-end: `scan --format prometheus`, `--textfile-dir` and `--nfd-file` on fixture
//! hosts: promtool-clean metrics, both files written atomically together with mode 0644, the
//! policy's `[nfd]` readiness, and unwritable outputs (exit 2 naming the folder, nothing
//! half-written).

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;
mod tools;

use common::*;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Materialised, its worst finding is `info` (host.confidential-computing-unused).
const FIXTURE: &str = "amd-sev-snp-hardened";
/// Its worst findings are critical.
const CRITICAL_FIXTURE: &str = "kata-static";
const READY: &str = "feature.node.kubernetes.io/hvguard-kata-ready";

fn scan(root: &Path, extra: &[&str]) -> Output {
    hvguard()
        .arg("scan")
        .arg("--root")
        .arg(root)
        .args(extra)
        .output()
        .expect("runs")
}

fn path_arg(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn promtool_check(text: &str) {
    let Some(promtool) = tools::required("promtool", "prometheus") else {
        return;
    };
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && said.trim().is_empty(),
        "{said}\n{text}"
    );
}

fn sample(text: &str, series: &str) -> Option<String> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')
            .map(str::to_string)
    })
}

fn line_value<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.lines().find_map(|l| l.strip_prefix(prefix))
}

fn minutes_between(from: &str, to: &str) -> i64 {
    let from: jiff::Timestamp = from.parse().expect("timestamp");
    let to: jiff::Timestamp = to.parse().expect("timestamp");
    to.duration_since(from).as_secs() / 60
}

#[test]
fn prometheus_format_is_promtool_clean() {
    let root = materialise(FIXTURE);
    let out = scan(root.path(), &["--format", "prometheus"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    promtool_check(&text);
    assert_eq!(
        sample(&text, "hvguard_findings_by_severity{severity=\"info\"}").as_deref(),
        Some("1")
    );
    assert_eq!(
        sample(
            &text,
            "hvguard_findings{rule=\"host.confidential-computing-unused\",severity=\"info\"}"
        )
        .as_deref(),
        Some("1")
    );
    // Below the default [nfd] threshold (high).
    assert_eq!(sample(&text, "hvguard_kata_ready").as_deref(), Some("1"));
    assert_eq!(
        sample(&text, "hvguard_scan_input_errors").as_deref(),
        Some("0")
    );
    assert_eq!(
        sample(&text, "hvguard_stale_vmm_processes").as_deref(),
        Some("0")
    );
    let now = jiff::Timestamp::now().as_second();
    let scanned: i64 = sample(&text, "hvguard_scan_timestamp_seconds")
        .expect("timestamp")
        .parse()
        .expect("integer seconds");
    assert!((now - scanned).abs() < 600, "{scanned} vs {now}");
}

#[test]
fn textfile_and_nfd_file_are_written_together() {
    let root = materialise(CRITICAL_FIXTURE);
    let textfiles = tempfile::tempdir().unwrap();
    let features = tempfile::tempdir().unwrap();
    let nfd = features.path().join("hvguard");
    let out = scan(
        root.path(),
        &[
            "--format",
            "prometheus",
            "--textfile-dir",
            path_arg(textfiles.path()),
            "--nfd-file",
            path_arg(&nfd),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let prom = fs::read_to_string(textfiles.path().join("hvguard.prom")).unwrap();
    assert_eq!(
        prom,
        String::from_utf8(out.stdout).unwrap(),
        "stdout and the textfile agree"
    );
    assert_eq!(names(textfiles.path()), ["hvguard.prom"]);
    assert_eq!(names(features.path()), ["hvguard"]);
    for file in [textfiles.path().join("hvguard.prom"), nfd.clone()] {
        let mode = fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "{}", file.display());
    }
    let labels = fs::read_to_string(&nfd).unwrap();
    assert_eq!(line_value(&labels, &format!("{READY}=")), Some("false"));
    let generated = line_value(&labels, "# generated: ").expect("generated");
    let expiry = line_value(&labels, "# +expiry-time=").expect("expiry");
    assert_eq!(
        minutes_between(generated, expiry),
        60,
        "default [nfd] expiry"
    );
}

#[test]
fn policy_threshold_and_expiry_decide_the_labels() {
    let root = materialise(FIXTURE);
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    fs::write(
        &policy,
        "[nfd]\nthreshold = \"info\"\nexpiry_minutes = 20\n",
    )
    .unwrap();
    let nfd = dir.path().join("hvguard");
    let out = hvguard()
        .env("HVGUARD_POLICY", &policy)
        .args(["scan", "--format", "prometheus", "--root"])
        .arg(root.path())
        .args(["--nfd-file", path_arg(&nfd)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "--fail-on stays high: {out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(sample(&text, "hvguard_kata_ready").as_deref(), Some("0"));
    let labels = fs::read_to_string(&nfd).unwrap();
    assert_eq!(line_value(&labels, &format!("{READY}=")), Some("false"));
    let generated = line_value(&labels, "# generated: ").unwrap();
    let expiry = line_value(&labels, "# +expiry-time=").unwrap();
    assert_eq!(minutes_between(generated, expiry), 20);
}

#[test]
fn a_broken_configuration_makes_the_node_not_ready() {
    let root = materialise(FIXTURE);
    let kata = root.path().join("etc/kata-containers");
    fs::create_dir_all(&kata).unwrap();
    fs::write(
        kata.join("configuration.toml"),
        "[hypervisor.qemu\npath = 1\n",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Without the broken file this host is ready (see prometheus_format_is_promtool_clean).
    let out = hvguard()
        .args(["scan", "--root"])
        .arg(root.path())
        .args(["--textfile-dir", path_arg(dir.path()), "--nfd-file"])
        .arg(dir.path().join("hvguard"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let prom = fs::read_to_string(dir.path().join("hvguard.prom")).unwrap();
    assert_eq!(
        sample(&prom, "hvguard_scan_input_errors").as_deref(),
        Some("1")
    );
    assert_eq!(sample(&prom, "hvguard_kata_ready").as_deref(), Some("0"));
    let labels = fs::read_to_string(dir.path().join("hvguard")).unwrap();
    assert_eq!(line_value(&labels, &format!("{READY}=")), Some("false"));
}

/// Either output failing leaves the other untouched (the old file stays), exits 2 and names
/// the folder.
#[test]
fn a_missing_or_wrong_output_folder_is_exit_2_and_nothing_is_written() {
    let root = materialise(FIXTURE);
    let good = tempfile::tempdir().unwrap();
    let old = "# HELP old x\n# TYPE old gauge\nold 1\n";
    fs::write(good.path().join("hvguard.prom"), old).unwrap();
    let missing = good.path().join("no/such/dir");
    let file_not_dir = good.path().join("hvguard.prom");

    // The NFD folder is missing: the textfile, staged first, is not renamed in.
    let out = scan(
        root.path(),
        &[
            "--textfile-dir",
            path_arg(good.path()),
            "--nfd-file",
            path_arg(&missing.join("hvguard")),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}: cannot create a file there",
            missing.display()
        )),
        "{stderr}"
    );
    assert_eq!(
        fs::read_to_string(good.path().join("hvguard.prom")).unwrap(),
        old
    );
    assert_eq!(
        names(good.path()),
        ["hvguard.prom"],
        "no temporary file left"
    );

    // The textfile folder is missing or is a file.
    for bad in [&missing, &file_not_dir] {
        let out = scan(
            root.path(),
            &[
                "--textfile-dir",
                path_arg(bad),
                "--nfd-file",
                path_arg(&good.path().join("hvguard")),
            ],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(&bad.display().to_string()), "{stderr}");
        assert!(stderr.lines().count() == 1, "one line: {stderr}");
        assert_eq!(names(good.path()), ["hvguard.prom"]);
    }
}

/// A folder the scanning user may not write to. As root (where modes do not stop writes),
/// hvguard runs as `nobody` through util-linux's setpriv.
#[test]
fn an_unwritable_output_folder_is_exit_2() {
    // Everything `nobody` needs (the binary, the host root, the policy) is copied into one
    // world-readable folder: the checkout itself may sit under a private home.
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.path().join("hvguard");
    fs::copy(assert_cmd::cargo::cargo_bin("hvguard"), &bin).unwrap();
    let root = dir.path().join("root");
    copy_tree(&fixture(FIXTURE), &root);
    let policy = dir.path().join("policy.toml");
    fs::write(&policy, "").unwrap();
    make_world_readable(dir.path());
    let locked = dir.path().join("locked");
    fs::create_dir(&locked).unwrap();
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o555)).unwrap();
    let mut cmd = if tools::running_as_root() {
        let Some(setpriv) = tools::required("setpriv", "util-linux") else {
            return;
        };
        let mut c = Command::new(setpriv);
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin);
        c
    } else {
        Command::new(&bin)
    };
    let out = cmd
        .env("HVGUARD_DB", "/nonexistent/hvguard-tests/advisories.db")
        .env("HVGUARD_POLICY", &policy)
        .args(["scan", "--root"])
        .arg(&root)
        .arg("--textfile-dir")
        .arg(&locked)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}: cannot create a file there", locked.display()))
            && stderr.contains("ermission denied"),
        "{stderr}"
    );
    assert!(names(&locked).is_empty());
}

/// `chmod -R a+rX`: folders 0755, files keep their bits plus read (and execute where the
/// owner had it).
fn make_world_readable(path: &Path) {
    let meta = fs::symlink_metadata(path).unwrap();
    if meta.file_type().is_symlink() {
        return;
    }
    let mode = meta.permissions().mode();
    let extra = if meta.is_dir() || mode & 0o100 != 0 {
        0o555
    } else {
        0o444
    };
    fs::set_permissions(path, fs::Permissions::from_mode((mode | extra) & 0o7777)).unwrap();
    if meta.is_dir() {
        for entry in fs::read_dir(path).unwrap() {
            make_world_readable(&entry.unwrap().path());
        }
    }
}

/// `--nfd-file` without a value takes NFD's folder and does not swallow the next flag.
#[test]
fn nfd_file_without_a_value_uses_nfds_folder() {
    let features = Path::new("/etc/kubernetes/node-feature-discovery/features.d");
    if features.exists() {
        eprintln!(
            "SKIPPED: {} exists on this machine; not writing into it",
            features.display()
        );
        return;
    }
    let out = hvguard()
        .args(["scan", "--nfd-file", "--root"])
        .arg(fixture(FIXTURE))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot write the Node Feature Discovery feature file /etc/kubernetes/node-feature-discovery/features.d/hvguard"),
        "{stderr}"
    );
}

/// Every sample of `family` in `text`, as `(labels, value)`.
fn samples<'a>(text: &'a str, family: &str) -> Vec<(&'a str, &'a str)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let labels = series.strip_prefix(family)?;
            (labels.is_empty() || labels.starts_with('{')).then_some((labels, value))
        })
        .collect()
}

/// Runs `promtool test rules` on deploy/prometheus/hvguard-rules.yml with `series` (exposition
/// lines, given the `instance`/`job` labels node_exporter adds) and the expected alerts.
fn promtool_rules_fire(series: &[String], alerts: &str) {
    let Some(promtool) = tools::required("promtool", "prometheus") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut input = String::new();
    for line in series {
        let (name_labels, value) = line.rsplit_once(' ').unwrap();
        let labelled = match name_labels.strip_suffix('}') {
            Some(open) => format!("{open},instance=\"node\",job=\"node\"}}"),
            None => format!("{name_labels}{{instance=\"node\",job=\"node\"}}"),
        };
        input.push_str(&format!(
            "      - series: '{labelled}'\n        values: '{value}x10'\n"
        ));
    }
    let test = format!(
        "rule_files:\n  - {}\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n{input}    alert_rule_test:\n{alerts}",
        workspace()
            .join("deploy/prometheus/hvguard-rules.yml")
            .display()
    );
    let file = dir.path().join("real.test.yml");
    fs::write(&file, &test).unwrap();
    let out = Command::new(promtool)
        .args(["test", "rules"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}\n{test}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn update_and_sla_families_come_from_the_journal_and_the_scan() {
    let root = materialise(CRITICAL_FIXTURE);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("advisories.db");
    let run = |policy: Option<&Path>| -> String {
        let mut cmd = hvguard();
        cmd.env("HVGUARD_DB", &db)
            .arg("scan")
            .arg("--root")
            .arg(root.path())
            .args(["--format", "prometheus"]);
        if let Some(p) = policy {
            cmd.arg("--policy").arg(p);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        promtool_check(&text);
        text
    };

    // No store: no journal, so no update families; the SLA is computed from the scan alone.
    let text = run(None);
    assert!(
        samples(&text, "hvguard_update_last_result").is_empty(),
        "{text}"
    );
    assert!(samples(&text, "hvguard_update_last_timestamp_seconds").is_empty());
    let overdue = samples(&text, "hvguard_sla_overdue");
    assert_eq!(overdue.len(), 5, "every severity: {overdue:?}");
    let total: u64 = overdue.iter().map(|(_, v)| v.parse::<u64>().unwrap()).sum();
    assert!(
        total > 0,
        "the fixture's old advisories are long overdue: {text}"
    );
    // Each advisory counts once: no more than the distinct vulnerable advisories reported.
    let json = hvguard()
        .arg("scan")
        .arg("--root")
        .arg(root.path())
        .args(["--format", "json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let ids: std::collections::BTreeSet<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["advisory"]["status"] == "vulnerable")
        .filter_map(|f| f["advisory"]["id"].as_str())
        .collect();
    assert!(total as usize <= ids.len(), "{total} > {}", ids.len());

    // The policy's sla_days decide: ten years for everything leaves nothing overdue.
    let lenient = dir.path().join("policy.toml");
    fs::write(
        &lenient,
        "[update]\nsla_days = { critical = 3650, high = 3650, medium = 3650, low = 3650 }\n",
    )
    .unwrap();
    let text = run(Some(&lenient));
    assert!(samples(&text, "hvguard_sla_overdue")
        .iter()
        .all(|(_, v)| *v == "0"));

    // A failed apply in the journal, then a drill (not an update): the failed apply is the
    // last update, and the alert rules fire on exactly what hvguard wrote.
    let mut journal = hvguard_update::journal::Journal::open(&db).unwrap();
    let tx = journal.begin("apply", &[], None).unwrap();
    journal
        .finish(&tx, hvguard_update::result::Outcome::Failed)
        .unwrap();
    let drill = journal.begin("drill", &[], None).unwrap();
    journal
        .finish(&drill, hvguard_update::result::Outcome::RolledBack)
        .unwrap();
    let text = run(None);
    assert_eq!(
        sample(&text, "hvguard_update_last_result{result=\"failed\"}").as_deref(),
        Some("1")
    );
    for other in ["succeeded", "rolled_back", "refused"] {
        assert_eq!(
            sample(
                &text,
                &format!("hvguard_update_last_result{{result=\"{other}\"}}")
            )
            .as_deref(),
            Some("0")
        );
    }
    let finished: i64 = sample(&text, "hvguard_update_last_timestamp_seconds")
        .unwrap()
        .parse()
        .unwrap();
    assert!((jiff::Timestamp::now().as_second() - finished).abs() < 600);
    let series: Vec<String> = text
        .lines()
        .filter(|l| {
            l.starts_with("hvguard_sla_overdue") || l.starts_with("hvguard_update_last_result")
        })
        .map(str::to_string)
        .collect();
    promtool_rules_fire(
        &series,
        r#"      - eval_time: 5m
        alertname: HvguardSlaOverdue
        exp_alerts:
          - exp_labels:
              severity: warning
              instance: node
              job: node
            exp_annotations:
              summary: "Remediation deadlines have passed on node"
              description: "hvguard_sla_overdue counts the open advisories past their remediation deadline (publication date plus the policy's [update] sla_days), per severity; `hvguard update status` on the node lists them."
      - eval_time: 5m
        alertname: HvguardUpdateFailed
        exp_alerts:
          - exp_labels:
              severity: critical
              instance: node
              job: node
              result: failed
            exp_annotations:
              summary: "The last hvguard update on node failed"
              description: "See `hvguard update history` on the node for the journal of the transaction."
"#,
    );

    // A later refused static Kata apply is the last update now; it does not alert.
    let kata = journal.begin("kata-apply", &[], None).unwrap();
    journal
        .finish(&kata, hvguard_update::result::Outcome::Refused)
        .unwrap();
    drop(journal);
    let text = run(None);
    assert_eq!(
        sample(&text, "hvguard_update_last_result{result=\"refused\"}").as_deref(),
        Some("1")
    );
    let series: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("hvguard_update_last_result"))
        .map(str::to_string)
        .collect();
    promtool_rules_fire(
        &series,
        "      - eval_time: 5m\n        alertname: HvguardUpdateFailed\n        exp_alerts: []\n",
    );
}
