//! dpkg's `var/lib/dpkg/status`: which packages are on disk, at which versions.
//!
//! The file is a sequence of RFC 822-like stanzas separated by empty lines. A real Debian
//! host's file is 2-4 MB with thousands of stanzas, most of it `Description` bodies and
//! `Conffiles` lists; the parser walks lines with `memchr`, skips continuation lines after one
//! byte test, and allocates only for the stanzas it keeps.

use super::PackageError;
use hvguard_core::os_name::display_path;
use hvguard_core::{HostRoot, Package, PackageManager, Probe, RootError};
use std::path::Path;

/// Where dpkg keeps its database, as the host sees it.
pub const STATUS_PATH: &str = "/var/lib/dpkg/status";

/// Ceiling for the status file: ten times the largest real one seen, far below memory pressure.
pub const STATUS_READ_LIMIT: u64 = 64 << 20;

/// Reads and parses the status file under `root`.
///
/// Missing file: `Absent`; unreadable: `Denied`; too large, not text or malformed:
/// `Unsupported` with a reason naming the file (and the line, for malformed content).
pub fn read_status(root: &HostRoot) -> Probe<Vec<Package>> {
    match root.read_text(STATUS_PATH, STATUS_READ_LIMIT) {
        Ok(text) => match parse_status(&text) {
            Ok(packages) => Probe::found(packages),
            Err(e) => Probe::unsupported(
                PackageError::Parse {
                    path: STATUS_PATH.into(),
                    line: e.line,
                    reason: e.reason,
                }
                .to_string(),
            ),
        },
        Err(e) => probe_from_root_error(e),
    }
}

/// Turns a read failure into the `Probe` that tells the report why the fact is unknown.
pub(crate) fn probe_from_root_error<T>(e: RootError) -> Probe<T> {
    if e.is_not_found() {
        Probe::absent(display_path(e.path()))
    } else if e.is_permission_denied() {
        Probe::denied(display_path(e.path()))
    } else {
        Probe::unsupported(e.to_string())
    }
}

/// A malformed status file: the 1-based line and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSyntaxError {
    pub line: usize,
    pub reason: String,
}

/// The `Status:` third word for which the package's files are on disk.
///
/// `installed` is the normal case. `triggers-pending`, `triggers-awaiting` and
/// `half-configured` are unpacked packages whose configuration step is pending or failed, and
/// `unpacked` ones have not been configured yet: their binaries exist and can be run, which is
/// what a scanner cares about. `half-installed` (an unpack that was interrupted: the version
/// field may not match the files), `config-files` (only conffiles remain) and `not-installed`
/// are left out.
fn files_on_disk(state: &str) -> bool {
    matches!(
        state,
        "installed" | "triggers-pending" | "triggers-awaiting" | "half-configured" | "unpacked"
    )
}

/// Fields of the stanza being read, borrowed from the input.
#[derive(Default)]
struct Stanza<'a> {
    first_line: usize,
    package: Option<&'a str>,
    status: Option<&'a str>,
    version: Option<&'a str>,
    source: Option<&'a str>,
    arch: Option<&'a str>,
    fields: usize,
}

impl<'a> Stanza<'a> {
    fn finish(&mut self, out: &mut Vec<Package>) -> Result<(), StatusSyntaxError> {
        let stanza = std::mem::take(self);
        if stanza.fields == 0 {
            return Ok(());
        }
        let Some(name) = stanza.package else {
            return Err(StatusSyntaxError {
                line: stanza.first_line,
                reason: "stanza has no Package field".into(),
            });
        };
        let installed = stanza
            .status
            .and_then(|s| s.split_ascii_whitespace().nth(2))
            .is_some_and(files_on_disk);
        if !installed {
            return Ok(());
        }
        let Some(version) = stanza.version else {
            return Err(StatusSyntaxError {
                line: stanza.first_line,
                reason: format!("installed package {name} has no Version field"),
            });
        };
        let (source_name, source_version) = split_source(stanza.source, name, version);
        out.push(Package {
            manager: PackageManager::Dpkg,
            name: name.to_string(),
            version: version.to_string(),
            source_name: source_name.to_string(),
            source_version: source_version.to_string(),
            arch: stanza.arch.unwrap_or("").to_string(),
        });
        Ok(())
    }
}

/// `Source: qemu (1:7.2+dfsg-7+deb12u18)` => (`qemu`, `1:7.2+dfsg-7+deb12u18`); a bare
/// `Source: qemu` shares the binary's version; no `Source` means the source is the binary.
fn split_source<'a>(
    source: Option<&'a str>,
    name: &'a str,
    version: &'a str,
) -> (&'a str, &'a str) {
    let Some(source) = source else {
        return (name, version);
    };
    match source.split_once('(') {
        Some((src, rest)) => {
            let src_version = rest.trim_end().trim_end_matches(')').trim();
            let src_version = if src_version.is_empty() {
                version
            } else {
                src_version
            };
            (src.trim(), src_version)
        }
        None => (source.trim(), version),
    }
}

/// Parses a whole status file. Returns the packages whose files are on disk, sorted.
pub fn parse_status(text: &str) -> Result<Vec<Package>, StatusSyntaxError> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut stanza = Stanza::default();
    let mut line_no = 0usize;
    let mut start = 0usize;
    while start < bytes.len() {
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i);
        line_no += 1;
        let raw = &text[start..end];
        start = end + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let Some(&first) = line.as_bytes().first() else {
            stanza.finish(&mut out)?;
            continue;
        };
        if first == b' ' || first == b'\t' {
            // Continuation of a multi-line field (Description, Conffiles, ...): none we read.
            if stanza.fields == 0 {
                return Err(StatusSyntaxError {
                    line: line_no,
                    reason: "continuation line outside a field".into(),
                });
            }
            continue;
        }
        let Some(colon) = memchr::memchr(b':', line.as_bytes()) else {
            return Err(StatusSyntaxError {
                line: line_no,
                reason: format!("expected `Field: value`, found {:?}", truncate(line, 60)),
            });
        };
        let (field, value) = (&line[..colon], line[colon + 1..].trim());
        if field.is_empty() || field.bytes().any(|b| b.is_ascii_whitespace()) {
            return Err(StatusSyntaxError {
                line: line_no,
                reason: format!("invalid field name {:?}", truncate(field, 60)),
            });
        }
        if stanza.fields == 0 {
            stanza.first_line = line_no;
        }
        stanza.fields += 1;
        // dpkg writes these with this exact capitalisation; matching it avoids a lowercase copy.
        match field {
            "Package" => stanza.package = Some(value),
            "Status" => stanza.status = Some(value),
            "Version" => stanza.version = Some(value),
            "Source" => stanza.source = Some(value),
            "Architecture" => stanza.arch = Some(value),
            _ => {}
        }
    }
    stanza.finish(&mut out)?;
    out.sort();
    Ok(out)
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// True when a file of the dpkg database exists under `root` (used to pick dpkg over rpm).
pub fn database_present(root: &HostRoot) -> bool {
    root.exists(Path::new(STATUS_PATH))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn source_forms() {
        assert_eq!(
            split_source(Some("qemu (1:7.2+dfsg-7+deb12u18)"), "qemu-system-x86", "x"),
            ("qemu", "1:7.2+dfsg-7+deb12u18")
        );
        assert_eq!(
            split_source(Some("ipxe"), "ipxe-qemu", "1.0"),
            ("ipxe", "1.0")
        );
        assert_eq!(
            split_source(None, "seabios", "1.16.2-1"),
            ("seabios", "1.16.2-1")
        );
        assert_eq!(split_source(Some("qemu ()"), "q", "2"), ("qemu", "2"));
    }

    #[test]
    fn stanza_without_package_is_an_error_with_its_line() {
        let err =
            parse_status("Package: a\nStatus: install ok installed\nVersion: 1\n\nVersion: 2\n")
                .unwrap_err();
        assert_eq!(err.line, 5);
    }

    #[test]
    fn continuation_before_any_field_is_garbage() {
        assert_eq!(parse_status(" orphan\n").unwrap_err().line, 1);
    }
}
