//! hvguard's textfile read by Debian's real node_exporter: start `prometheus-node-exporter`
//! on 127.0.0.1 (a free port) with only the textfile collector, pointed at the folder
//! `hvguard scan --textfile-dir` wrote, scrape `/metrics` over HTTP, and check that the hvguard
//! metrics arrive and that node_exporter found nothing wrong with the file. The exporter is
//! killed by PID before the test ends, pass or fail.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;
mod tools;

use common::*;
use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The exporter process; killed (SIGKILL to its PID) and reaped when dropped.
struct Exporter {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Starts the exporter and waits until it answers; retries on another port if the one picked
/// was taken in between.
fn start(binary: &Path, textfile_dir: &Path, work: &Path) -> Exporter {
    for attempt in 0..3 {
        let port = free_port();
        let log = work.join(format!("node-exporter-{attempt}.log"));
        let child = Command::new(binary)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--collector.disable-defaults")
            .arg("--collector.textfile")
            .arg(format!(
                "--collector.textfile.directory={}",
                textfile_dir.display()
            ))
            .stdin(Stdio::null())
            .stdout(fs::File::create(&log).unwrap())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .expect("node_exporter starts");
        let mut exporter = Exporter { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Some(status) = exporter.child.try_wait().unwrap() {
                let said = fs::read_to_string(&exporter.log).unwrap_or_default();
                if said.contains("address already in use") {
                    break;
                }
                panic!("node_exporter exited ({status}):\n{said}");
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return exporter;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if exporter.child.try_wait().unwrap().is_none() {
            panic!(
                "node_exporter did not listen on {port} within 15 s:\n{}",
                fs::read_to_string(&exporter.log).unwrap_or_default()
            );
        }
    }
    panic!("no free port for node_exporter after 3 attempts");
}

/// `GET /metrics` over plain HTTP/1.0 (the exporter then closes the connection), bounded.
fn scrape(port: u16) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(
            b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/plain;version=0.0.4\r\n\r\n",
        )
        .unwrap();
    let mut response = Vec::new();
    stream
        .take(8 << 20)
        .read_to_end(&mut response)
        .expect("read the response");
    let response = String::from_utf8(response).expect("utf-8");
    let (head, body) = response.split_once("\r\n\r\n").expect("HTTP head and body");
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{head}"
    );
    body.to_string()
}

/// A series: metric name and labels (raw, still escaped), order-independent.
type Series = (String, BTreeMap<String, String>);

/// (series, value) of every sample line; the value is the last space-separated field.
fn samples(text: &str) -> Vec<(Series, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("series value");
            (parse_series(series), value.parse().expect("number"))
        })
        .collect()
}

fn parse_series(series: &str) -> Series {
    let Some((name, rest)) = series.split_once('{') else {
        return (series.to_string(), BTreeMap::new());
    };
    let mut labels = BTreeMap::new();
    let mut rest = rest.strip_suffix('}').expect("closing brace");
    while !rest.is_empty() {
        let (label, after) = rest.split_once("=\"").expect("label=\"");
        let mut end = 0;
        let bytes = after.as_bytes();
        while bytes[end] != b'"' {
            end += if bytes[end] == b'\\' { 2 } else { 1 };
        }
        labels.insert(label.to_string(), after[..end].to_string());
        rest = after[end + 1..].trim_start_matches(',');
    }
    (name.to_string(), labels)
}

fn value(body: &str, series: &str) -> Option<String> {
    body.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')
            .map(str::to_string)
    })
}

#[test]
fn node_exporter_serves_hvguard_metrics_from_the_textfile() {
    let Some(binary) = tools::required("prometheus-node-exporter", "prometheus-node-exporter")
    else {
        return;
    };
    let root = materialise("kata-static");
    let work = tempfile::tempdir().unwrap();
    let textfiles = work.path().join("textfile");
    fs::create_dir(&textfiles).unwrap();
    let out = hvguard()
        .args(["scan", "--root"])
        .arg(root.path())
        .arg("--textfile-dir")
        .arg(&textfiles)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let written = fs::read_to_string(textfiles.join("hvguard.prom")).unwrap();

    let exporter = start(&binary, &textfiles, work.path());
    let pid = exporter.child.id();
    let body = scrape(exporter.port);

    assert_eq!(
        value(&body, "node_textfile_scrape_error").as_deref(),
        Some("0"),
        "node_exporter could not use the file:\n{body}"
    );
    assert!(
        body.lines()
            .any(|l| l.starts_with("node_textfile_mtime_seconds{file=")
                && l.contains("hvguard.prom")),
        "{body}"
    );
    assert_eq!(
        value(&body, "hvguard_findings_by_severity{severity=\"critical\"}").as_deref(),
        Some("2")
    );
    assert_eq!(value(&body, "hvguard_kata_ready").as_deref(), Some("0"));
    assert_eq!(
        value(&body, "hvguard_stale_vmm_processes").as_deref(),
        Some("0")
    );
    assert!(
        value(&body, "hvguard_scan_timestamp_seconds").is_some(),
        "{body}"
    );
    // Every sample hvguard wrote is served with its value (node_exporter re-sorts families
    // and prints large numbers in exponent form).
    let served = samples(&body);
    for (series, value) in samples(&written) {
        assert!(
            served.iter().any(|(s, v)| *s == series && *v == value),
            "{series:?} {value} not served:\n{body}"
        );
    }
    for help in written.lines().filter(|l| l.starts_with("# HELP ")) {
        assert!(body.lines().any(|l| l == help), "{help} not served");
    }

    drop(exporter);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists()
            || fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| s.contains(") Z "))
                .unwrap_or(true),
        "node_exporter {pid} still running"
    );
}
