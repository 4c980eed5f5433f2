//! QEMU stable release mails (qemu-devel "[ANNOUNCE] QEMU x.y.z Stable released", or the
//! maintainer's patch round-up when no announcement was sent): which commits a stable
//! release carries, and which CVE ids the mail names.
//!
//! The mails are kept verbatim: quoted-printable and base64 bodies (one PGP/MIME mail) are
//! decoded here. Most mails list commit subjects without CVE ids, so fixes are recognised by
//! subject (`crate::subject`).

use std::collections::BTreeSet;

use hvguard_core::changelog::cve_ids;
use jiff::civil::Date;

use crate::subject::normalize;

/// One stable release mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    /// The stable release (`8.1.2`), from the file name.
    pub version: String,
    /// The file, relative to the build inputs (`qemu-stable/8.1/8.1.2.txt`).
    pub file: String,
    /// The mail's date.
    pub date: Date,
    /// The mail's Message-Id.
    pub message_id: String,
    /// A patch round-up (what was queued), not a release announcement (what shipped).
    pub round_up: bool,
    /// CVE ids the mail names, outside lines about regressions of earlier fixes.
    pub cves: BTreeSet<String>,
    /// Every line of the body (and every line joined with the next, for wrapped subjects),
    /// normalised as commit subjects are: where fix subjects are looked up.
    items: BTreeSet<String>,
}

impl Announcement {
    /// True when the mail lists a commit whose subject normalises to `subject`.
    pub fn lists(&self, subject: &str) -> bool {
        !subject.is_empty() && self.items.contains(subject)
    }

    /// How evidence cites the mail.
    pub fn cite(&self) -> String {
        format!(
            "qemu-stable {} {} of {} ({}, Message-Id {})",
            self.version,
            if self.round_up {
                "patch round-up"
            } else {
                "announcement"
            },
            self.date,
            self.file,
            self.message_id
        )
    }
}

/// Headers, unfolded, and the body that follows them.
fn split_message(text: &str) -> (Vec<(String, String)>, &str) {
    let (head, body) = match text.find("\n\n") {
        Some(at) => (&text[..at], &text[at + 2..]),
        None => (text, ""),
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    (headers, body)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn decode_quoted_printable(body: &str) -> Vec<u8> {
    let bytes = body.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            if bytes.get(i + 1) == Some(&b'\n') {
                i += 2;
                continue;
            }
            if bytes.get(i + 1) == Some(&b'\r') && bytes.get(i + 2) == Some(&b'\n') {
                i += 3;
                continue;
            }
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(b) = hex {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

fn decode_base64(body: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in body.bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            b'\r' | b'\n' | b' ' | b'\t' => continue,
            other => return Err(format!("byte {other:#04x} is not base64")),
        };
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

/// The decoded text parts of a MIME entity (headers + body), depth-limited.
fn text_parts(
    headers: &[(String, String)],
    body: &str,
    depth: u8,
    out: &mut Vec<String>,
) -> Result<(), String> {
    let content_type = header(headers, "content-type")
        .unwrap_or("text/plain")
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/") {
        if depth > 4 {
            return Err("MIME parts nested too deep".into());
        }
        let original = header(headers, "content-type").unwrap_or_default();
        let boundary = original
            .split(';')
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
            .map(|(_, v)| v.trim().trim_matches('"').to_owned())
            .ok_or("multipart without a boundary")?;
        let marker = format!("--{boundary}");
        for part in body.split(marker.as_str()).skip(1) {
            if part.starts_with("--") {
                break;
            }
            let part = part.strip_prefix('\n').unwrap_or(part);
            let (h, b) = split_message(part);
            text_parts(&h, b, depth + 1, out)?;
        }
        return Ok(());
    }
    if !content_type.starts_with("text/plain") {
        return Ok(());
    }
    let encoding = header(headers, "content-transfer-encoding")
        .unwrap_or("7bit")
        .to_ascii_lowercase();
    let bytes = match encoding.as_str() {
        "quoted-printable" => decode_quoted_printable(body),
        "base64" => decode_base64(body)?,
        _ => body.as_bytes().to_vec(),
    };
    out.push(String::from_utf8_lossy(&bytes).into_owned());
    Ok(())
}

/// `Tue, 17 Oct 2023 00:01:52 +0300` -> 2023-10-17 (the date as the sender wrote it).
fn parse_date(value: &str) -> Option<Date> {
    let rest = value.split_once(',').map_or(value, |(_, r)| r);
    let mut words = rest.split_whitespace();
    let day: i8 = words.next()?.parse().ok()?;
    let month = match words.next()?.to_ascii_lowercase().as_str() {
        "jan" => 1,
        "feb" => 2,
        "mar" => 3,
        "apr" => 4,
        "may" => 5,
        "jun" => 6,
        "jul" => 7,
        "aug" => 8,
        "sep" => 9,
        "oct" => 10,
        "nov" => 11,
        "dec" => 12,
        _ => return None,
    };
    let year: i16 = words.next()?.parse().ok()?;
    Date::new(year, month, day).ok()
}

/// A changelog line without its list decoration: the `hash:` or `hash hash Author:` prefix
/// and, for `hash: subject (Author)` lines, the trailing author.
fn strip_decoration(line: &str) -> Vec<&str> {
    let trimmed = line.trim();
    let mut out = vec![trimmed];
    if let Some((hash, rest)) = trimmed.split_once(": ") {
        if hash.len() >= 7 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            let rest = rest.trim();
            out.push(rest);
            if rest.ends_with(')') {
                if let Some(at) = rest.rfind(" (") {
                    out.push(&rest[..at]);
                }
            }
        }
    }
    out
}

/// Every candidate commit subject of the decoded body, normalised.
fn items_of(decoded: &str) -> BTreeSet<String> {
    let lines: Vec<&str> = decoded.lines().collect();
    let mut out = BTreeSet::new();
    for (i, line) in lines.iter().enumerate() {
        for candidate in strip_decoration(line) {
            out.insert(normalize(candidate));
        }
        // A subject wrapped onto the next indented line (round-ups, Tokarev's mails).
        if let Some(next) = lines.get(i + 1) {
            if line.starts_with(char::is_whitespace) && next.starts_with(char::is_whitespace) {
                out.insert(normalize(&format!("{} {}", line.trim(), next.trim())));
            }
        }
    }
    out.remove("");
    out
}

/// Parses one mail; `version` and `file` name it (from its path).
pub fn parse_announcement(version: &str, file: &str, bytes: &[u8]) -> Result<Announcement, String> {
    let text = String::from_utf8_lossy(bytes).replace("\r\n", "\n");
    let (headers, body) = split_message(&text);
    let date = header(&headers, "date")
        .and_then(parse_date)
        .ok_or("no readable Date header")?;
    let message_id = header(&headers, "message-id")
        .ok_or("no Message-Id header")?
        .to_owned();
    let subject = header(&headers, "subject").unwrap_or_default();
    let round_up = subject.to_ascii_lowercase().contains("round-up");
    let mut parts = Vec::new();
    text_parts(&headers, body, 0, &mut parts)?;
    if parts.is_empty() {
        return Err("no text/plain part".into());
    }
    let decoded = parts.join("\n");
    let cves = decoded
        .lines()
        .filter(|l| !l.to_ascii_lowercase().contains("regression"))
        .flat_map(cve_ids)
        .collect();
    Ok(Announcement {
        version: version.to_owned(),
        file: file.to_owned(),
        date,
        message_id,
        round_up,
        cves,
        items: items_of(&decoded),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const MAIL: &str = "Date: Tue, 17 Oct 2023 00:01:52 +0300\nMessage-ID: <x@y>\nSubject: [ANNOUNCE] QEMU 8.1.2 Stable released\nContent-Transfer-Encoding: quoted-printable\n\nAlso a fix for CVE-2023-42467 is included.\n9pfs: fix regression regarding CVE-2023-2861\ne855a6ec51 77668e4b9b Mark Cave-Ayland:\n  esp: restrict non-DMA transfer length to that of avai=\nlable data\n9fe6e8139d: hw/scsi/lsi53c895a: Fix reentrancy issues (CVE-2023-0330) (Thomas H=C3=BCth)\nb121ebe143: e1000e: Fix tx/rx counters (timothee.cocault@gmail.com)\n10* 851495571d14 Peter Maydell:\n   util/async.c: Forbid negative min/max in \n   aio_context_set_thread_pool_params()\n";

    #[test]
    fn headers_quoted_printable_subjects_and_ids() {
        let a = parse_announcement("8.1.2", "qemu-stable/8.1/8.1.2.txt", MAIL.as_bytes()).unwrap();
        assert_eq!(a.date, jiff::civil::date(2023, 10, 17));
        assert!(!a.round_up);
        assert!(a.cves.contains("CVE-2023-42467"));
        assert!(a.cves.contains("CVE-2023-0330"));
        assert!(
            !a.cves.contains("CVE-2023-2861"),
            "a regression fix is not the fix"
        );
        assert!(a.lists(&crate::subject::normalize(
            "esp: restrict non-DMA transfer length to that of available data"
        )));
        assert!(!a.lists(&crate::subject::normalize("esp: restrict non-DMA transfer")));
        assert!(a.lists("hw/scsi/lsi53c895a: fix reentrancy issues"));
        assert!(a.lists("e1000e: fix tx/rx counters"));
        assert!(a.lists(
            "util/async.c: forbid negative min/max in aio_context_set_thread_pool_params()"
        ));
        assert!(a.cite().contains("Message-Id <x@y>"));
    }

    #[test]
    fn base64_multipart() {
        let body = decode_base64("aGVsbG8gd29ybGQ=").unwrap();
        assert_eq!(body, b"hello world");
        assert!(decode_base64("a*b").is_err());
        let mail = "Date: Tue, 25 Feb 2025 00:09:30 +0300\nMessage-ID: <m>\nSubject: [ANNOUNCE] QEMU 9.2.2 Stable released\nContent-Type: multipart/signed; boundary=\"AAA\"\n\n--AAA\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: base64\n\nZXNwOiBmaXggaXQK\n--AAA\nContent-Type: application/pgp-signature\n\nxxx\n--AAA--\n";
        let a = parse_announcement("9.2.2", "f", mail.as_bytes()).unwrap();
        assert!(a.lists("esp: fix it"));
        assert!(parse_announcement("1", "f", b"no headers here").is_err());
    }
}
