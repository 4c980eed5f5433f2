//! Debian changelog text (`changelog.Debian`): entries, the CVEs each names as fixed or
//! reopens, and its change items. Pure text parsing, shared by the host collector (which
//! reads a package's changelog) and the advisory data build (which reads QEMU's upstream
//! stable merges from Debian's changelog).

use crate::{ChangelogEntry, ChangelogItem};
use std::collections::BTreeSet;

/// The version in an entry header: `qemu (1:7.2+dfsg-7+deb12u18) bookworm; urgency=medium`.
pub fn header_version(line: &str) -> Option<&str> {
    if line.starts_with(char::is_whitespace) || !line.contains("urgency=") {
        return None;
    }
    let (_package, rest) = line.split_once(" (")?;
    let (version, _dists) = rest.split_once(')')?;
    let version = version.trim();
    (!version.is_empty() && !version.contains(char::is_whitespace)).then_some(version)
}

/// An entry being read.
struct Open {
    version: String,
    line: u32,
    cves: BTreeSet<String>,
    reopens: BTreeSet<String>,
    items: Vec<ChangelogItem>,
    /// Indentation of the bullet of the last item, for continuation lines.
    item_indent: Option<usize>,
}

/// Longest change item kept: real items are a commit subject plus a few `Closes:` lines.
const MAX_ITEM_CHARS: usize = 1000;

/// The text after a bullet of a Debian changelog item, and whether the bullet is the
/// top-level `*` (nested items use `-` or `+`).
fn bullet(trimmed: &str) -> Option<(&str, bool)> {
    ["* ", "- ", "+ "].iter().find_map(|b| {
        trimmed
            .strip_prefix(b)
            .map(|rest| (rest.trim(), *b == "* "))
    })
}

impl Open {
    fn body_line(&mut self, line: &str) {
        // `Reopens: #961297, CVE-2020-13253`: ids after the keyword are reopened, not fixed.
        let lower = line.to_ascii_lowercase();
        match lower.find("reopens") {
            Some(at) => {
                self.cves.extend(cve_ids(&line[..at]));
                self.reopens.extend(cve_ids(&line[at..]));
            }
            None => self.cves.extend(cve_ids(line)),
        }
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim();
        if trimmed.is_empty() {
            self.item_indent = None;
            return;
        }
        if let Some((text, top)) = bullet(trimmed) {
            self.items.push(ChangelogItem {
                line: 0,
                text: text.to_owned(),
                top,
            });
            self.item_indent = Some(indent);
        } else if let (Some(item), Some(bullet_indent)) = (self.items.last_mut(), self.item_indent)
        {
            if indent > bullet_indent && item.text.len() < MAX_ITEM_CHARS {
                item.text.push(' ');
                item.text.push_str(trimmed);
            }
        }
    }

    fn finish(mut self, out: &mut Vec<ChangelogEntry>) {
        // Within one entry a reopen wins over a mention of the same id (the line that
        // removes the patch names the CVE too).
        for id in &self.reopens {
            self.cves.remove(id);
        }
        if self.cves.is_empty() && self.reopens.is_empty() && self.items.is_empty() {
            return;
        }
        out.push(ChangelogEntry {
            version: self.version,
            cves: self.cves.into_iter().collect(),
            line: self.line,
            reopens: self.reopens.into_iter().collect(),
            items: self.items,
        });
    }
}

/// Parses changelog text into its entries, in file order (newest first): the CVEs each
/// names as fixed, the CVEs it reopens, and its change items. Lines outside an entry (before
/// the first header, after a trailer) are ignored, as dpkg-parsechangelog does with its
/// warnings.
pub fn parse(text: &str) -> Vec<ChangelogEntry> {
    let mut out = Vec::new();
    let mut current: Option<Open> = None;
    for (index, line) in text.lines().enumerate() {
        let line_no = u32::try_from(index + 1).unwrap_or(u32::MAX);
        if let Some(version) = header_version(line) {
            if let Some(open) = current.take() {
                open.finish(&mut out);
            }
            current = Some(Open {
                version: version.to_owned(),
                line: line_no,
                cves: BTreeSet::new(),
                reopens: BTreeSet::new(),
                items: Vec::new(),
                item_indent: None,
            });
        } else if line.starts_with(" -- ") {
            if let Some(open) = current.take() {
                open.finish(&mut out);
            }
        } else if let Some(open) = current.as_mut() {
            let before = open.items.len();
            open.body_line(line);
            if open.items.len() > before {
                if let Some(item) = open.items.last_mut() {
                    item.line = line_no;
                }
            }
        }
    }
    if let Some(open) = current {
        open.finish(&mut out);
    }
    out
}

/// Every `CVE-YYYY-NNNN...` in `line` (4-digit year, at least 4 sequence digits), as an
/// upper-case id. A match glued to a preceding letter or digit is not an id.
pub fn cve_ids(line: &str) -> Vec<String> {
    let bytes = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 4 <= bytes.len() {
        let starts = bytes[i..i + 4].eq_ignore_ascii_case(b"CVE-")
            && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric());
        if !starts {
            i += 1;
            continue;
        }
        let year = digits(&bytes[i + 4..]);
        let after_year = i + 4 + year;
        if year == 4 && bytes.get(after_year) == Some(&b'-') {
            let seq = digits(&bytes[after_year + 1..]);
            let end = after_year + 1 + seq;
            let glued = bytes.get(end).is_some_and(u8::is_ascii_alphanumeric);
            if seq >= 4 && !glued {
                out.push(format!("CVE-{}", &line[i + 4..end]));
                i = end;
                continue;
            }
        }
        i += 4;
    }
    out
}

fn digits(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|b| b.is_ascii_digit()).count()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn cve_ids_are_found_with_their_boundaries() {
        assert_eq!(
            cve_ids("Closes: #1117153, CVE-2025-11234 (UAF) cve-2024-3446."),
            vec!["CVE-2025-11234", "CVE-2024-3446"]
        );
        assert!(cve_ids("XCVE-2024-3446 CVE-24-1234 CVE-2024-123 CVE-2024-12345a").is_empty());
        assert_eq!(cve_ids("(CVE-2021-3929)"), vec!["CVE-2021-3929"]);
    }

    #[test]
    fn entries_keep_version_line_and_cves() {
        let text = "qemu (1:7.2+dfsg-7+deb12u2) bookworm-security; urgency=medium\n\
                    \n  * fix CVE-2023-3180 and CVE-2023-3180 again\n\
                    \n -- Michael Tokarev <mjt@tls.msk.ru>  Mon, 1 Jan 2024 00:00:00 +0300\n\
                    \nqemu (1:7.2+dfsg-7+deb12u1) bookworm; urgency=medium\n\
                    \n  * no ids here\n\
                    \n -- Michael Tokarev <mjt@tls.msk.ru>  Mon, 1 Jan 2023 00:00:00 +0300\n\
                    stray CVE-2020-0001 after a trailer\n";
        let entries = parse(text);
        assert_eq!(
            entries,
            vec![
                ChangelogEntry {
                    version: "1:7.2+dfsg-7+deb12u2".into(),
                    cves: vec!["CVE-2023-3180".into()],
                    line: 1,
                    reopens: Vec::new(),
                    items: vec![ChangelogItem {
                        line: 3,
                        text: "fix CVE-2023-3180 and CVE-2023-3180 again".into(),
                        top: true,
                    }],
                },
                ChangelogEntry {
                    version: "1:7.2+dfsg-7+deb12u1".into(),
                    cves: Vec::new(),
                    line: 7,
                    reopens: Vec::new(),
                    items: vec![ChangelogItem {
                        line: 9,
                        text: "no ids here".into(),
                        top: true,
                    }],
                },
            ]
        );
    }

    #[test]
    fn reopens_and_wrapped_items() {
        let text = "qemu (1:5.0-7) unstable; urgency=medium\n\
                    \n  * remove sdcard-fix-CVE-2020-13253.patch -\n\
                    \x20   upstream decided to fix it differently (Reopens: #961297, CVE-2020-13253)\n\
                    \x20 * v7.2.22:\n\
                    \x20  - hw/net/e1000e_core: Adjust\n\
                    \x20    e1000e_write_payload_frag_to_rx_buffers() assert\n\
                    \x20  - io: fix use after free in websocket handshake code\n\
                    \x20    Closes: #1117153, CVE-2025-11234 (UAF in websocket handshake code)\n\
                    \n -- M <m@example.org>  Thu, 16 Jul 2020 18:36:08 +0300\n";
        let entries = parse(text);
        assert_eq!(entries.len(), 1);
        let e = &entries[0];
        assert_eq!(e.reopens, vec!["CVE-2020-13253"]);
        assert_eq!(e.cves, vec!["CVE-2025-11234"]);
        let texts: Vec<&str> = e.items.iter().map(|i| i.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "remove sdcard-fix-CVE-2020-13253.patch - upstream decided to fix it differently (Reopens: #961297, CVE-2020-13253)",
                "v7.2.22:",
                "hw/net/e1000e_core: Adjust e1000e_write_payload_frag_to_rx_buffers() assert",
                "io: fix use after free in websocket handshake code Closes: #1117153, CVE-2025-11234 (UAF in websocket handshake code)",
            ]
        );
        assert_eq!(e.items[2].line, 6);
        assert!(e.items[1].top && !e.items[2].top);
    }
}
