//! `db update` and the webhook against a local HTTP server (127.0.0.1 only, no internet):
//! success with a paged NVD API, 500s, truncated and oversized bodies, a slow server, junk,
//! a refused connection. The old store must survive every failure byte for byte.

// Test helpers outside #[test] fns: a failed setup step should panic with its cause.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::fixture;
use hvguard_advisory::fetch::{
    notify, update_from_sources, Alert, FetchConfig, FetchError, HttpClient, NotifyLimits, Source,
    SourceKind, UpdateError, UpdateOptions,
};
use hvguard_advisory::import::import_path;
use hvguard_advisory::store::{update_store, ImportBatch, Progress, SourceInfo, Store};

const NOW: &str = "2026-11-27T12:00:00Z";

#[derive(Debug, Clone)]
struct Request {
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

enum Reply {
    /// A complete response.
    Ok(u16, Vec<u8>),
    /// Raw bytes, then close (for lying Content-Length and close-delimited bodies).
    Raw(Vec<u8>),
    /// Say nothing for this long, then close.
    Stall(Duration),
}

struct Server {
    base: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    fn start(handler: impl Fn(&Request, usize) -> Reply + Send + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&requests);
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { continue };
                let Some(request) = read_request(&stream) else {
                    continue;
                };
                log.lock().expect("lock").push(request.clone());
                respond(stream, handler(&request, n));
            }
        });
        Server { base, requests }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("lock").clone()
    }
}

fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let target = line.split_whitespace().nth(1)?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        target,
        headers,
        body,
    })
}

fn respond(mut stream: TcpStream, reply: Reply) {
    match reply {
        Reply::Ok(status, body) => {
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
        Reply::Raw(bytes) => {
            let _ = stream.write_all(&bytes);
        }
        Reply::Stall(d) => std::thread::sleep(d),
    }
    let _ = stream.flush();
}

fn client(retries: u32) -> HttpClient {
    HttpClient::new(FetchConfig {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_millis(1500),
        stall_timeout: Duration::from_millis(1500),
        max_redirects: 10,
        max_bytes: 8 << 20,
        retries,
        backoff: Duration::from_millis(10),
        use_env_proxy: false,
    })
}

fn file_source(name: &str, url: String) -> Source {
    Source {
        name: name.into(),
        kind: SourceKind::File { url },
    }
}

/// A store holding the four real OSV fixture records, and its bytes.
fn existing_store(dir: &Path) -> (PathBuf, Vec<u8>) {
    let db = dir.join("advisories.db");
    let batch = ImportBatch {
        source: SourceInfo {
            name: "osv".into(),
            location: "fixtures/osv".into(),
            format: "osv".into(),
            size: 0,
            sha256: None,
        },
        imported: import_path(&fixture("osv")).expect("osv"),
    };
    update_store(&db, &[batch], NOW, &mut |_: Progress| Ok(())).expect("seed store");
    let bytes = std::fs::read(&db).expect("read");
    (db, bytes)
}

fn run_update(db: &Path, client: &HttpClient, sources: &[Source]) -> Result<(), UpdateError> {
    let options = UpdateOptions {
        nvd_page_delay: Some(Duration::ZERO),
        ..UpdateOptions::default()
    };
    update_from_sources(db, client, sources, &options, NOW, &mut |_| {}, &mut |_| {
        Ok(())
    })
    .map(|_| ())
}

/// The update failed, the store is byte-identical, and no scratch file is left beside it.
fn assert_survived(dir: &Path, db: &Path, before: &[u8]) {
    assert_eq!(std::fs::read(db).expect("read"), before, "store changed");
    let extra: Vec<_> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p != db && !p.to_string_lossy().ends_with(".lock"))
        .collect();
    assert!(extra.is_empty(), "left behind: {extra:?}");
}

/// An NVD API 2.0 page built from the real `cve` objects, honouring the paging parameters.
fn nvd_page(target: &str) -> Vec<u8> {
    let param = |name: &str| -> usize {
        target
            .split(['?', '&'])
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixture("nvd"))
        .expect("nvd fixtures")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    let (start, per_page) = (param("startIndex"), param("resultsPerPage"));
    let items: Vec<serde_json::Value> = files
        .iter()
        .skip(start)
        .take(per_page)
        .map(|f| {
            let cve: serde_json::Value =
                serde_json::from_slice(&std::fs::read(f).expect("read")).expect("json");
            serde_json::json!({ "cve": cve })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "resultsPerPage": items.len(),
        "startIndex": start,
        "totalResults": files.len(),
        "format": "NVD_CVE",
        "version": "2.0",
        "timestamp": "2026-11-27T12:00:00.000",
        "vulnerabilities": items,
    }))
    .expect("page")
}

#[test]
fn update_downloads_pages_and_files_into_the_store() {
    let kev =
        std::fs::read(fixture("kev/cisa-kev-known_exploited_vulnerabilities.json")).expect("kev");
    let epss = std::fs::read(fixture("epss/epss_scores-sample.csv.gz")).expect("epss");
    let server = Server::start(move |req, _| {
        if req.target.starts_with("/nvd") {
            Reply::Ok(200, nvd_page(&req.target))
        } else if req.target == "/kev.json" {
            Reply::Ok(200, kev.clone())
        } else if req.target == "/epss.csv.gz" {
            Reply::Ok(200, epss.clone())
        } else {
            Reply::Ok(404, b"not found".to_vec())
        }
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, _) = existing_store(dir.path());
    let sources = vec![
        Source {
            name: "nvd-test".into(),
            kind: SourceKind::NvdApi {
                endpoint: server.url("/nvd"),
                query: "virtualMatchString=cpe:2.3:a:qemu:qemu".into(),
            },
        },
        file_source("kev", server.url("/kev.json")),
        file_source("epss", server.url("/epss.csv.gz")),
    ];
    let options = UpdateOptions {
        nvd_api_key: Some("secret-test-key".into()),
        nvd_page_size: 5,
        nvd_page_delay: Some(Duration::ZERO),
        ..UpdateOptions::default()
    };
    let mut lines = Vec::new();
    let summary = update_from_sources(
        &db,
        &client(0),
        &sources,
        &options,
        NOW,
        &mut |l| lines.push(l.to_owned()),
        &mut |_| Ok(()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        summary.sources,
        vec![
            ("nvd-test".into(), 24),
            ("kev".into(), 1404),
            ("epss".into(), 7)
        ]
    );

    let requests = server.requests();
    let nvd: Vec<&Request> = requests
        .iter()
        .filter(|r| r.target.starts_with("/nvd"))
        .collect();
    assert_eq!(nvd.len(), 5, "24 results in pages of 5");
    assert!(nvd[4].target.contains("startIndex=20"), "{}", nvd[4].target);
    assert!(nvd
        .iter()
        .all(|r| r.header("apiKey") == Some("secret-test-key")));
    let kev_req = requests
        .iter()
        .find(|r| r.target == "/kev.json")
        .expect("kev fetched");
    assert_eq!(
        kev_req.header("apiKey"),
        None,
        "the NVD key goes to NVD only"
    );
    assert!(
        lines.iter().all(|l| !l.contains("secret-test-key")),
        "{lines:?}"
    );

    let store = Store::open_readonly(&db).expect("open");
    let status = store.status().expect("status");
    assert_eq!(status.kev, 1404);
    let osv = status
        .sources
        .iter()
        .find(|s| s.name == "osv")
        .expect("old source kept");
    assert_eq!(osv.records, 4);
    let kev_source = status
        .sources
        .iter()
        .find(|s| s.name == "kev")
        .expect("kev");
    assert_eq!(kev_source.sha256.as_deref().map(str::len), Some(64));
    let advisories = store.advisories().expect("load");
    let venom = advisories
        .iter()
        .find(|a| a.id == "CVE-2015-3456")
        .expect("VENOM from NVD");
    assert!(venom.epss.is_some());
    let extra: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p != &db && !p.to_string_lossy().ends_with(".lock"))
        .collect();
    assert!(extra.is_empty(), "scratch files left: {extra:?}");
}

#[test]
fn a_500_is_retried_then_fails_and_the_store_survives() {
    let server = Server::start(|_, _| Reply::Ok(500, b"boom".to_vec()));
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, before) = existing_store(dir.path());
    let url = server.url("/kev.json");
    let err = run_update(&db, &client(2), &[file_source("kev", url.clone())]).expect_err("500");
    assert!(
        matches!(
            err,
            UpdateError::Fetch(FetchError::Status {
                status: 500,
                attempts: 3,
                ..
            })
        ),
        "{err}"
    );
    assert!(err.to_string().contains(&url), "{err}");
    assert_eq!(server.requests().len(), 3, "first try and two retries");
    assert_survived(dir.path(), &db, &before);
}

#[test]
fn a_server_error_then_success_is_recovered_by_a_retry() {
    let kev =
        std::fs::read(fixture("kev/cisa-kev-known_exploited_vulnerabilities.json")).expect("kev");
    let server = Server::start(move |_, n| {
        if n == 0 {
            Reply::Ok(503, b"busy".to_vec())
        } else {
            Reply::Ok(200, kev.clone())
        }
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, _) = existing_store(dir.path());
    run_update(&db, &client(2), &[file_source("kev", server.url("/k"))])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(server.requests().len(), 2);
    assert_eq!(
        Store::open_readonly(&db)
            .expect("open")
            .status()
            .expect("status")
            .kev,
        1404
    );
}

#[test]
fn a_truncated_body_fails_and_the_store_survives() {
    let server = Server::start(|_, _| {
        let mut bytes =
            b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n".to_vec();
        bytes.extend_from_slice(
            br#"{"title": "CISA Catalog", "catalogVersion": "2025.08.25", "vulnerabilities": ["#,
        );
        Reply::Raw(bytes)
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, before) = existing_store(dir.path());
    let url = server.url("/kev.json");
    let err =
        run_update(&db, &client(1), &[file_source("kev", url.clone())]).expect_err("truncated");
    assert!(
        matches!(
            err,
            UpdateError::Fetch(FetchError::Truncated { expected: 5000, .. })
        ),
        "{err}"
    );
    assert!(err.to_string().contains(&url), "{err}");
    assert_survived(dir.path(), &db, &before);
}

#[test]
fn a_slow_server_times_out_and_the_store_survives() {
    let server = Server::start(|_, _| Reply::Stall(Duration::from_secs(4)));
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, before) = existing_store(dir.path());
    let started = Instant::now();
    let err = run_update(&db, &client(0), &[file_source("kev", server.url("/slow"))])
        .expect_err("timeout");
    assert!(
        matches!(err, UpdateError::Fetch(FetchError::Timeout { .. })),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "gave up on time"
    );
    assert_survived(dir.path(), &db, &before);
}

#[test]
fn oversized_bodies_are_refused_with_and_without_a_length() {
    let server = Server::start(|req, _| {
        let body = vec![b' '; 9 << 20];
        if req.target == "/announced" {
            Reply::Ok(200, body)
        } else {
            // No Content-Length: the body ends when the connection closes.
            let mut bytes = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
            bytes.extend_from_slice(&body);
            Reply::Raw(bytes)
        }
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, before) = existing_store(dir.path());
    for path in ["/announced", "/streamed"] {
        let err = run_update(&db, &client(0), &[file_source("big", server.url(path))])
            .expect_err("too large");
        assert!(
            matches!(err, UpdateError::Fetch(FetchError::TooLarge { limit, .. }) if limit == 8 << 20),
            "{path}: {err}"
        );
        assert_survived(dir.path(), &db, &before);
    }
}

#[test]
fn a_body_that_is_no_feed_fails_naming_the_url() {
    let server = Server::start(|_, _| Reply::Ok(200, b"<html>captive portal</html>".to_vec()));
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, before) = existing_store(dir.path());
    let url = server.url("/kev.json");
    let err = run_update(&db, &client(0), &[file_source("kev", url.clone())]).expect_err("junk");
    assert!(matches!(err, UpdateError::BadFeed { .. }), "{err}");
    assert!(err.to_string().starts_with(&url), "{err}");
    assert_survived(dir.path(), &db, &before);
}

#[test]
fn no_network_is_a_network_error_and_the_store_survives() {
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, before) = existing_store(dir.path());
    let url = format!("http://127.0.0.1:{port}/kev.json");
    let err = run_update(&db, &client(1), &[file_source("kev", url.clone())]).expect_err("refused");
    assert!(
        matches!(
            err,
            UpdateError::Fetch(FetchError::Network { attempts: 2, .. })
        ),
        "{err}"
    );
    assert!(err.to_string().contains(&url), "{err}");
    assert_survived(dir.path(), &db, &before);
}

#[test]
fn the_webhook_receives_the_new_advisories_after_a_retry() {
    let server = Server::start(|_, n| {
        if n == 0 {
            Reply::Ok(503, Vec::new())
        } else {
            Reply::Ok(204, Vec::new())
        }
    });
    let alert = Alert {
        schema: hvguard_advisory::fetch::NOTIFY_SCHEMA,
        generated_at: NOW.into(),
        host: Some("node-1".into()),
        new: vec![
            serde_json::json!({"id": "CVE-2024-3446", "binary": "/usr/bin/qemu-system-x86_64"}),
        ],
    };
    let limits = NotifyLimits {
        attempt_timeout: Duration::from_secs(2),
        budget: Duration::from_secs(5),
        backoff: Duration::from_millis(10),
        use_env_proxy: false,
    };
    notify(&server.url("/hook"), &alert, limits).unwrap_or_else(|e| panic!("{e}"));
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].header("content-type"), Some("application/json"));
    let body: serde_json::Value = serde_json::from_slice(&requests[1].body).expect("json body");
    assert_eq!(body["schema"], "hvguard.advisory-alert/v1");
    assert_eq!(body["host"], "node-1");
    assert_eq!(body["new"][0]["id"], "CVE-2024-3446");
}

#[test]
fn a_dead_webhook_fails_within_its_budget() {
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let limits = NotifyLimits {
        attempt_timeout: Duration::from_millis(500),
        budget: Duration::from_millis(800),
        backoff: Duration::from_millis(100),
        use_env_proxy: false,
    };
    let alert: Alert<String> = Alert {
        schema: hvguard_advisory::fetch::NOTIFY_SCHEMA,
        generated_at: NOW.into(),
        host: None,
        new: vec!["CVE-2024-3446".into()],
    };
    let started = Instant::now();
    let err = notify(&format!("http://127.0.0.1:{port}/hook"), &alert, limits).expect_err("dead");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
}
