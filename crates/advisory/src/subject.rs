//! Commit subjects as changelogs and stable announcements write them, compared the same way
//! everywhere: a fix is recognised by its subject where no CVE id is written next to it
//! (most QEMU stable announcements, many Debian upstream-merge entries).

/// Markers after which a changelog line stops being the subject (`Closes: #1068819, ...`,
/// `[CVE-2023-42467]`, `(CVE-2023-3255)`, Debian's "(the 3 changes above ...)").
const TRAILERS: &[&str] = &[
    " (closes", " closes:", "(closes:", " [cve-", " (cve-", " (the ", " (lp:",
];

/// The subject in comparable form: lower case, one space between words, trailing
/// references and punctuation removed. One pass over the text: the matcher runs it over
/// every item of a package changelog (thousands of lines).
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
    }
    // Every marker starts with a space or a parenthesis: only those positions are tried.
    let bytes = out.as_bytes();
    let cut = (0..bytes.len())
        .find(|&i| {
            matches!(bytes[i], b' ' | b'(')
                && TRAILERS
                    .iter()
                    .any(|t| bytes[i..].starts_with(t.as_bytes()))
        })
        .unwrap_or(bytes.len());
    out.truncate(cut);
    let kept = out
        .trim_end_matches(|c: char| c == '.' || c == ',' || c == ';' || c.is_whitespace())
        .len();
    out.truncate(kept);
    out
}

/// True when a changelog or announcement item carries the commit `subject`: equal once both
/// are normalised (the subject as the advisory data normalised it).
pub fn same(normalized_subject: &str, item: &str) -> bool {
    !normalized_subject.is_empty() && normalize(item) == normalized_subject
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailers_case_and_spacing() {
        assert_eq!(
            normalize("hw/scsi/scsi-disk: Disallow block sizes smaller than 512 [CVE-2023-42467]"),
            "hw/scsi/scsi-disk: disallow block sizes smaller than 512"
        );
        assert_eq!(
            normalize("io: fix use after free in websocket handshake code Closes: #1117153, CVE-2025-11234 (UAF)"),
            "io: fix use after free in websocket handshake code"
        );
        assert_eq!(
            normalize("pcie_sriov: Validate NumVFs (Closes: #1068819, CVE-2024-26327)"),
            "pcie_sriov: validate numvfs"
        );
        assert_eq!(
            normalize("  virtio-net:  Ensure queue index fits with RSS. "),
            "virtio-net: ensure queue index fits with rss"
        );
        assert_eq!(
            normalize(
                "chardev/char-pty: Avoid losing bytes when the other side just (re-)connected"
            ),
            "chardev/char-pty: avoid losing bytes when the other side just (re-)connected"
        );
        assert!(same(
            "hw/usb/hcd-uhci: don't assert for setup to non-0 endpoint",
            "hw/usb/hcd-uhci: don't assert for SETUP to non-0 endpoint"
        ));
        assert!(!same("", ""));
    }
}
