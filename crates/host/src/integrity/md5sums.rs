//! dpkg's per-package digest list, `var/lib/dpkg/info/<pkg>[:<arch>].md5sums`.
//!
//! One file per line: 32 lowercase hex digits, two spaces, the path relative to `/`
//! (`30d041a0b888e3be1b0aab0af8b4bb7c  usr/bin/qemu-system-x86_64`). Conffiles are not listed
//! (dpkg keeps theirs in the status file), so every listed file should match byte for byte.

use std::path::PathBuf;

/// One recorded digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Md5Entry {
    /// The file as the host sees it, with a leading `/`.
    pub path: PathBuf,
    /// Lowercase hex.
    pub digest: String,
    /// 1-based line in the list.
    pub line: u32,
}

/// A line that is not `<32 hex>  <path>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct Md5sumsError {
    pub line: u32,
    pub reason: String,
}

/// Parses a whole `.md5sums` file. Blank lines are skipped; anything else malformed is an
/// error naming the line, since a list that cannot be trusted in part cannot be trusted.
pub fn parse_md5sums(text: &str) -> Result<Vec<Md5Entry>, Md5sumsError> {
    let mut out = Vec::new();
    for (index, raw) in text.split('\n').enumerate() {
        let line = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if raw.trim().is_empty() {
            continue;
        }
        let err = |reason: String| Md5sumsError { line, reason };
        // md5sum's own format: the digest, a space, then a space (text mode) or `*` (binary).
        let (digest, rest) = raw
            .split_at_checked(32)
            .ok_or_else(|| err("shorter than a 32-digit MD5 digest".into()))?;
        if !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(err(format!("{digest:?} is not a hex MD5 digest")));
        }
        let path = rest
            .strip_prefix("  ")
            .or_else(|| rest.strip_prefix(" *"))
            .ok_or_else(|| err("expected two spaces between the digest and the path".into()))?;
        if path.is_empty() {
            return Err(err("no path after the digest".into()));
        }
        let path = path.trim_start_matches('/');
        if path.split('/').any(|c| c == "..") {
            return Err(err(format!("path {path:?} climbs out of the root")));
        }
        out.push(Md5Entry {
            path: PathBuf::from("/").join(path),
            digest: digest.to_ascii_lowercase(),
            line,
        });
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_dpkg_lines() {
        let text = "30d041a0b888e3be1b0aab0af8b4bb7c  usr/bin/qemu-system-x86_64\n\
                    \n\
                    5E584D3646E751EFFA28B73239667F06  usr/share/qemu/a file with spaces\r\n";
        let e = parse_md5sums(text).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].path, PathBuf::from("/usr/bin/qemu-system-x86_64"));
        assert_eq!(e[0].line, 1);
        assert_eq!(e[1].digest, "5e584d3646e751effa28b73239667f06");
        assert_eq!(
            e[1].path,
            PathBuf::from("/usr/share/qemu/a file with spaces")
        );
        assert_eq!(e[1].line, 3);
    }

    #[test]
    fn malformed_lines_name_their_number() {
        for (bad, line) in [
            ("abc  usr/bin/x\n", 1),
            ("\nzz041a0b888e3be1b0aab0af8b4bb7c  usr/bin/x\n", 2),
            ("30d041a0b888e3be1b0aab0af8b4bb7c usr/bin/x\n", 1),
            ("30d041a0b888e3be1b0aab0af8b4bb7c  \n", 1),
            (
                "30d041a0b888e3be1b0aab0af8b4bb7c  usr/../../etc/shadow\n",
                1,
            ),
            ("30d041a0b888e3be1b0aab0af8b4bb\u{e9}  usr/bin/x\n", 1),
        ] {
            let e = parse_md5sums(bad).unwrap_err();
            assert_eq!(e.line, line, "{bad:?}: {e}");
        }
    }
}
