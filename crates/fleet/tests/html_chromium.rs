//! The HTML fleet report is one self-contained page: nothing is fetched from anywhere, and
//! Debian's real Chromium (headless) renders it to a screenshot that is not blank (the
//! header band, the severity colours and many shades are there), runs its sorting script
//! without an error, and sorts a table when a column header is clicked.
//!
//! With `CI=true` a missing `chromium` fails the test; otherwise it says SKIPPED.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::generate::{self, fixtures};
use hvguard_fleet::render::render_html;
use hvguard_fleet::{aggregate, Options};

fn page(dir: &Path) -> String {
    let fleet = dir.join("fleet");
    generate::write_fleet(&fleet, 300, jiff::Timestamp::now());
    let mut options = Options::new(jiff::Timestamp::now());
    options.jobs = 2;
    let report = aggregate(&[fixtures(), fleet], &options);
    render_html(&report)
}

#[test]
fn the_page_loads_nothing_from_anywhere() {
    let d = tempfile::tempdir().unwrap();
    let html = page(d.path());
    let lower = html.to_ascii_lowercase();
    for forbidden in [
        "http://", "https://", "<link", "<img", "<iframe", "@import", "url(", "src=", "//cdn",
    ] {
        assert!(
            !lower.contains(forbidden),
            "the page contains {forbidden:?}"
        );
    }
    assert_eq!(lower.matches("<script").count(), 1, "one inline script");
    assert!(html.contains("<svg"), "a chart");
    assert!(html.contains("<table class=\"sortable\">"));
    assert!(html.starts_with("<!DOCTYPE html>"));
}

/// Chromium's binary, or `None` after saying why (a failure under CI).
fn chromium() -> Option<PathBuf> {
    for candidate in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(candidate).is_file() {
            return Some(candidate.into());
        }
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "Debian's chromium is required under CI (apt-get install chromium)"
    );
    eprintln!("SKIPPED: chromium is not installed (apt-get install chromium)");
    None
}

/// Runs headless Chromium with a fresh profile and the flags that keep it off the network;
/// `mode` is `--screenshot=FILE` or `--dump-dom`. Returns (stdout, stderr). The process is
/// stopped by PID if it does not finish in two minutes.
fn run_chromium(binary: &Path, profile: &Path, mode: &str, url: &str) -> (String, String) {
    let mut child = Command::new(binary)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-default-apps",
            "--enable-logging=stderr",
            "--window-size=1400,1000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(mode)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within two minutes");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    (out_reader.join().unwrap(), err_reader.join().unwrap())
}

#[test]
fn headless_chromium_renders_the_page_and_its_tables_sort() {
    let Some(binary) = chromium() else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let html = page(d.path());
    let file = d.path().join("fleet.html");
    std::fs::write(&file, &html).unwrap();
    let shot = d.path().join("shot.png");
    let (_, stderr) = run_chromium(
        &binary,
        &d.path().join("profile-1"),
        &format!("--screenshot={}", shot.display()),
        &format!("file://{}", file.display()),
    );
    assert!(!stderr.contains("Uncaught"), "a script error:\n{stderr}");
    let image = Png::decode(&std::fs::read(&shot).unwrap());
    assert_eq!((image.width, image.height), (1400, 1000));
    // The dark header band across the top, the severity bars, and a page that is mostly
    // drawn (not one colour).
    assert_eq!(image.pixel(5, 5), [0x0f, 0x17, 0x2a], "the header band");
    assert!(
        image.count(|p| p == [0x7f, 0x1d, 0x1d]) > 500,
        "critical bars"
    );
    assert!(image.count(|p| p == [0xdc, 0x26, 0x26]) > 500, "high bars");
    let shades = image.distinct_colours();
    assert!(shades > 50, "only {shades} colours: a blank page?");
    let background = image.count(|p| p == [0xf8, 0xfa, 0xfc] || p == [0xff, 0xff, 0xff]);
    assert!(
        background < image.width * image.height * 9 / 10,
        "nine tenths background"
    );

    // Sorting: click the "node" header once (text, ascending) and the "critical" header twice
    // (numbers, descending) in the advisories and nodes tables; the DOM after the clicks is
    // in that order.
    let clicking = html.replace(
        "</body>",
        "<script>\
         document.querySelectorAll('#nodes th')[0].click();\
         var n = document.querySelectorAll('#advisories th')[1]; n.click(); n.click();\
         </script></body>",
    );
    let file = d.path().join("clicked.html");
    std::fs::write(&file, clicking).unwrap();
    let (dom, stderr) = run_chromium(
        &binary,
        &d.path().join("profile-2"),
        "--dump-dom",
        &format!("file://{}", file.display()),
    );
    assert!(!stderr.contains("Uncaught"), "a script error:\n{stderr}");
    let nodes = first_cells(&dom, "nodes", 0);
    let mut sorted = nodes.clone();
    sorted.sort_by(|a, b| hvguard_fleet::aggregate::natural_cmp(a, b));
    assert_eq!(nodes, sorted, "node names ascending after one click");
    assert!(dom.contains("aria-sort=\"ascending\""));
    let counts: Vec<u64> = first_cells(&dom, "advisories", 1)
        .iter()
        .map(|c| c.parse().unwrap())
        .collect();
    assert!(counts.len() > 5);
    assert!(
        counts.windows(2).all(|w| w[0] >= w[1]),
        "affected-node counts descending after two clicks: {counts:?}"
    );
}

/// The text of column `col` in every body row of the table in `<section id=ID>`.
fn first_cells(dom: &str, id: &str, col: usize) -> Vec<String> {
    let start = dom
        .find(&format!("<section id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no section {id}"));
    let section = &dom[start..];
    let body = &section[section.find("<tbody>").unwrap()..section.find("</tbody>").unwrap()];
    body.split("<tr>")
        .skip(1)
        .map(|row| {
            let cell = row.split("<td").nth(col + 1).unwrap();
            let text = &cell[cell.find('>').unwrap() + 1..];
            let text = &text[..text.find("</td>").unwrap()];
            // Strip inner tags (the severity badge).
            let mut out = String::new();
            let mut in_tag = false;
            for c in text.chars() {
                match c {
                    '<' => in_tag = true,
                    '>' => in_tag = false,
                    c if !in_tag => out.push(c),
                    _ => {}
                }
            }
            out.replace("&amp;", "&")
        })
        .collect()
}

/// Just enough of PNG to look at Chromium's screenshot: 8-bit RGB or RGBA, not interlaced.
struct Png {
    width: usize,
    height: usize,
    rgb: Vec<[u8; 3]>,
}

impl Png {
    fn decode(bytes: &[u8]) -> Png {
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
        let mut pos = 8;
        let (mut width, mut height, mut channels) = (0, 0, 0);
        let mut idat = Vec::new();
        while pos + 8 <= bytes.len() {
            let len = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
            let kind = &bytes[pos + 4..pos + 8];
            let data = &bytes[pos + 8..pos + 8 + len];
            match kind {
                b"IHDR" => {
                    width = u32::from_be_bytes(data[0..4].try_into().unwrap()) as usize;
                    height = u32::from_be_bytes(data[4..8].try_into().unwrap()) as usize;
                    assert_eq!(data[8], 8, "bit depth");
                    channels = match data[9] {
                        2 => 3,
                        6 => 4,
                        other => panic!("colour type {other}"),
                    };
                    assert_eq!(data[12], 0, "interlaced");
                }
                b"IDAT" => idat.extend_from_slice(data),
                b"IEND" => break,
                _ => {}
            }
            pos += 12 + len;
        }
        let mut raw = Vec::new();
        flate2::read::ZlibDecoder::new(idat.as_slice())
            .read_to_end(&mut raw)
            .unwrap();
        let stride = width * channels;
        assert_eq!(raw.len(), height * (stride + 1));
        let mut pixels = vec![0u8; height * stride];
        for y in 0..height {
            let filter = raw[y * (stride + 1)];
            let line = &raw[y * (stride + 1) + 1..(y + 1) * (stride + 1)];
            for x in 0..stride {
                let a = if x >= channels {
                    pixels[y * stride + x - channels]
                } else {
                    0
                };
                let b = if y > 0 {
                    pixels[(y - 1) * stride + x]
                } else {
                    0
                };
                let c = if x >= channels && y > 0 {
                    pixels[(y - 1) * stride + x - channels]
                } else {
                    0
                };
                let predicted = match filter {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => ((a as u16 + b as u16) / 2) as u8,
                    4 => paeth(a, b, c),
                    other => panic!("filter {other}"),
                };
                pixels[y * stride + x] = line[x].wrapping_add(predicted);
            }
        }
        let rgb = pixels
            .chunks(channels)
            .map(|p| [p[0], p[1], p[2]])
            .collect();
        Png { width, height, rgb }
    }

    fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        self.rgb[y * self.width + x]
    }

    fn count(&self, f: impl Fn([u8; 3]) -> bool) -> usize {
        self.rgb.iter().filter(|p| f(**p)).count()
    }

    fn distinct_colours(&self) -> usize {
        let mut seen: Vec<[u8; 3]> = self.rgb.clone();
        seen.sort();
        seen.dedup();
        seen.len()
    }
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = a as i16 + b as i16 - c as i16;
    let (pa, pb, pc) = (
        (p - a as i16).abs(),
        (p - b as i16).abs(),
        (p - c as i16).abs(),
    );
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}
