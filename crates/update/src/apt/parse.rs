//! Parsers for what apt and dpkg print: `apt-cache policy`, `apt-cache show` and
//! `apt-cache madison`. Pure functions over text, fuzzed (`fuzz/fuzz_targets/apt_output.rs`).

use std::collections::BTreeMap;

/// What `apt-cache policy PKG` says about one package.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackagePolicy {
    /// The installed version, `None` for `(none)`.
    pub installed: Option<String>,
    /// The version `apt-get install PKG` would install, `None` for `(none)`.
    pub candidate: Option<String>,
    /// Every version in the version table, in apt's order (newest first), with the
    /// archives offering it (`/var/lib/dpkg/status` for the installed one).
    pub versions: Vec<(String, Vec<String>)>,
}

/// Parses `apt-cache policy PKG...` output into package -> policy. Packages apt does not
/// know are simply absent (apt prints nothing for them on stdout).
pub fn parse_policy(text: &str) -> Result<BTreeMap<String, PackagePolicy>, String> {
    let mut out: BTreeMap<String, PackagePolicy> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut in_table = false;
    for (index, line) in text.lines().enumerate() {
        let n = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        if !line.starts_with(' ') {
            let Some(name) = line
                .strip_suffix(':')
                .filter(|n| !n.contains(char::is_whitespace))
            else {
                // apt's own notes ("Package files:", pin lines) are not package stanzas.
                current = None;
                continue;
            };
            out.entry(name.to_owned()).or_default();
            current = Some(name.to_owned());
            in_table = false;
            continue;
        }
        let Some(name) = &current else { continue };
        let Some(policy) = out.get_mut(name) else {
            continue;
        };
        let trimmed = line.trim();
        if let Some(v) = trimmed.strip_prefix("Installed:") {
            policy.installed = version_or_none(v);
        } else if let Some(v) = trimmed.strip_prefix("Candidate:") {
            policy.candidate = version_or_none(v);
        } else if trimmed == "Version table:" {
            in_table = true;
        } else if in_table {
            // A version line: ` *** VERSION PRIO` or `     VERSION PRIO`; an origin line:
            // `        PRIO URL SUITE/COMPONENT ARCH Packages` or `100 /var/lib/dpkg/status`.
            let body = trimmed.strip_prefix("***").map_or(trimmed, str::trim);
            let words: Vec<&str> = body.split_whitespace().collect();
            let is_origin = words.len() >= 2
                && words[0].bytes().all(|b| b.is_ascii_digit() || b == b'-')
                && (words[1].contains('/') || words[1].contains(':'));
            if is_origin {
                let origin = words[1..].join(" ");
                match policy.versions.last_mut() {
                    Some((_, origins)) => origins.push(origin),
                    None => return Err(format!("line {n}: archive line before any version")),
                }
            } else if words.len() == 2 && words[1].parse::<i64>().is_ok() {
                policy.versions.push((words[0].to_owned(), Vec::new()));
            } else {
                return Err(format!(
                    "line {n}: unexpected version-table line {trimmed:?}"
                ));
            }
        }
    }
    Ok(out)
}

fn version_or_none(text: &str) -> Option<String> {
    let v = text.trim();
    (!v.is_empty() && v != "(none)").then(|| v.to_owned())
}

/// The first stanza of `apt-cache show PKG=VERSION`: field -> value (continuation lines
/// dropped; only single-line fields are used).
pub fn parse_first_stanza(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !out.is_empty() {
                break;
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            continue;
        }
        if let Some((key, value)) = line.split_once(':') {
            out.entry(key.trim().to_owned())
                .or_insert_with(|| value.trim().to_owned());
        }
    }
    out
}

/// `apt-cache madison PKG`: `(version, archive)` rows in apt's order, newest first.
pub fn parse_madison(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let mut cells = line.split('|').map(str::trim);
            let _package = cells.next()?;
            let version = cells.next()?;
            let archive = cells.next()?;
            (!version.is_empty()).then(|| (version.to_owned(), archive.to_owned()))
        })
        .collect()
}

/// The file name `apt-get download` gives `package` at `version` (`:` written `%3a`).
pub fn deb_file_name(package: &str, version: &str, arch: &str) -> String {
    format!("{package}_{}_{arch}.deb", version.replace(':', "%3a"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const POLICY: &str = "qemu-system-x86:
  Installed: 1:7.2+dfsg-7+deb12u15
  Candidate: 1:7.2+dfsg-7+deb12u18+b3
  Version table:
     1:7.2+dfsg-7+deb12u18+b3 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
 *** 1:7.2+dfsg-7+deb12u15 500
        500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
        100 /var/lib/dpkg/status
qemu-utils:
  Installed: (none)
  Candidate: 1:7.2+dfsg-7+deb12u18+b3
  Version table:
     1:7.2+dfsg-7+deb12u18+b3 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
";

    #[test]
    fn policy_of_two_packages() {
        let p = parse_policy(POLICY).unwrap();
        let x86 = &p["qemu-system-x86"];
        assert_eq!(x86.installed.as_deref(), Some("1:7.2+dfsg-7+deb12u15"));
        assert_eq!(x86.candidate.as_deref(), Some("1:7.2+dfsg-7+deb12u18+b3"));
        assert_eq!(x86.versions.len(), 2);
        assert_eq!(x86.versions[1].1.len(), 2);
        assert!(x86.versions[1].1[1].contains("/var/lib/dpkg/status"));
        assert_eq!(p["qemu-utils"].installed, None);
    }

    #[test]
    fn malformed_tables_are_errors_with_a_line() {
        let bad = "x:\n  Version table:\n        500 http://a b/c amd64 Packages\n";
        assert!(parse_policy(bad).unwrap_err().starts_with("line 3"));
        let bad = "x:\n  Version table:\n     what is this\n";
        assert!(parse_policy(bad).unwrap_err().starts_with("line 3"));
        assert!(parse_policy("").unwrap().is_empty());
    }

    #[test]
    fn madison_and_show() {
        let m = parse_madison(
            "qemu-system-x86 | 1:7.2+dfsg-7+deb12u18+b3 | http://deb.debian.org/debian bookworm/main amd64 Packages\n\
             qemu-system-x86 | 1:7.2+dfsg-7+deb12u15 | http://deb.debian.org/debian-security bookworm-security/main amd64 Packages\n",
        );
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].0, "1:7.2+dfsg-7+deb12u15");
        let s = parse_first_stanza(
            "Package: qemu-system-x86\nVersion: 1\nDescription: x\n more\nSize: 9247148\nInstalled-Size: 40000\n\nPackage: other\nSize: 1\n",
        );
        assert_eq!(s["Size"], "9247148");
        assert_eq!(s["Installed-Size"], "40000");
        assert_eq!(
            deb_file_name("qemu-system-x86", "1:7.2+dfsg-7+deb12u15", "amd64"),
            "qemu-system-x86_1%3a7.2+dfsg-7+deb12u15_amd64.deb"
        );
    }
}
