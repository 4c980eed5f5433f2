//! Kernel and OS facts: command line, SMT, CPU vulnerabilities, KSM, swap, unprivileged BPF,
//! LSMs, release, hostname and `os-release`.

use crate::probe_io::{parse_text, probe_from_error, read_first_line, read_small};
use hvguard_core::os_name::display_os;
use hvguard_core::root::SMALL_READ_LIMIT;
use hvguard_core::{HostRoot, OsRelease, Probe};
use std::collections::BTreeMap;

/// The kernel command line.
pub const CMDLINE: &str = "/proc/cmdline";
/// SMT (hyper-threading) control state.
pub const SMT_CONTROL: &str = "/sys/devices/system/cpu/smt/control";
/// One file per known CPU vulnerability, giving its mitigation state.
pub const VULNERABILITIES: &str = "/sys/devices/system/cpu/vulnerabilities";
/// Whether Kernel Samepage Merging is running.
pub const KSM_RUN: &str = "/sys/kernel/mm/ksm/run";
/// Swap areas in use.
pub const SWAPS: &str = "/proc/swaps";
/// Whether unprivileged users may load BPF programs.
pub const UNPRIVILEGED_BPF: &str = "/proc/sys/kernel/unprivileged_bpf_disabled";
/// Active Linux Security Modules.
pub const LSM: &str = "/sys/kernel/security/lsm";
/// The running kernel's release.
pub const OSRELEASE: &str = "/proc/sys/kernel/osrelease";
/// The kernel banner, the release's fallback source.
pub const PROC_VERSION: &str = "/proc/version";
/// The kernel's host name.
pub const PROC_HOSTNAME: &str = "/proc/sys/kernel/hostname";
/// The configured host name, the fallback when procfs was not captured.
pub const ETC_HOSTNAME: &str = "/etc/hostname";
/// The operating system identification.
pub const ETC_OS_RELEASE: &str = "/etc/os-release";
/// The vendor's os-release, read when `/etc/os-release` is missing.
pub const USR_OS_RELEASE: &str = "/usr/lib/os-release";

/// A malformed kernel or OS text file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextFormatError {
    #[error("missing the `Filename Type Size Used Priority` header")]
    SwapsHeader,
    #[error("line {line}: expected 5 fields `name type size used priority`")]
    SwapsLine { line: usize },
    #[error("`{0}` is not an LSM name")]
    LsmName(String),
    #[error("does not start with `Linux version `")]
    ProcVersion,
    #[error("line {line}: expected `KEY=value`")]
    OsReleaseLine { line: usize },
    #[error("line {line}: unterminated quote")]
    OsReleaseQuote { line: usize },
}

// ---------------------------------------------------------------- probes

/// `/proc/cmdline` as kernel parameters.
pub fn probe_cmdline(root: &HostRoot) -> Probe<Vec<String>> {
    parse_text(root, CMDLINE, SMALL_READ_LIMIT, |t| {
        Ok::<_, std::convert::Infallible>(parse_cmdline(t))
    })
}

/// SMT control: on, off, forceoff, notsupported, notimplemented.
pub fn probe_smt_control(root: &HostRoot) -> Probe<String> {
    read_small(root, SMT_CONTROL)
}

/// Every CPU vulnerability file, name -> first line.
///
/// An entry that cannot be read makes the whole map unknown rather than quietly shorter:
/// a missing `mds` line must not read as "not vulnerable".
pub fn probe_vulnerabilities(root: &HostRoot) -> Probe<BTreeMap<String, String>> {
    let names = match root.read_dir_os(VULNERABILITIES) {
        Ok(names) => names,
        Err(err) => return probe_from_error(err),
    };
    let mut map = BTreeMap::new();
    for name in names {
        let path = std::path::Path::new(VULNERABILITIES).join(&name);
        match read_first_line(root, &path) {
            Probe::Found { value } => {
                // The kernel's names are ASCII; another name is kept (escaped), not dropped.
                map.insert(display_os(&name).into_owned(), value);
            }
            Probe::Absent { path } => return Probe::Absent { path },
            Probe::Denied { path } => return Probe::Denied { path },
            Probe::Unsupported { reason } => return Probe::Unsupported { reason },
        }
    }
    Probe::found(map)
}

/// `sys/kernel/mm/ksm/run`: 0 stopped, 1 running, 2 unmerging.
pub fn probe_ksm_run(root: &HostRoot) -> Probe<String> {
    read_small(root, KSM_RUN)
}

/// Swap areas in use.
pub fn probe_swaps(root: &HostRoot) -> Probe<Vec<String>> {
    parse_text(root, SWAPS, SMALL_READ_LIMIT, parse_swaps)
}

/// `kernel.unprivileged_bpf_disabled`.
pub fn probe_unprivileged_bpf(root: &HostRoot) -> Probe<String> {
    read_small(root, UNPRIVILEGED_BPF)
}

/// Active LSMs in initialisation order.
pub fn probe_lsm(root: &HostRoot) -> Probe<Vec<String>> {
    parse_text(root, LSM, SMALL_READ_LIMIT, parse_lsm)
}

/// The running kernel's release: `osrelease`, else the third word of `/proc/version`.
pub fn probe_kernel_release(root: &HostRoot) -> Probe<String> {
    match read_small(root, OSRELEASE) {
        Probe::Found { value } if !value.is_empty() => Probe::found(value),
        Probe::Absent { .. } | Probe::Found { .. } => {
            parse_text(root, PROC_VERSION, SMALL_READ_LIMIT, parse_proc_version)
        }
        other => other,
    }
}

/// The host name: the kernel's, else `/etc/hostname`.
pub fn probe_hostname(root: &HostRoot) -> Probe<String> {
    match read_small(root, PROC_HOSTNAME) {
        Probe::Found { value } if !value.is_empty() => Probe::found(value),
        Probe::Absent { .. } | Probe::Found { .. } => {
            read_small(root, ETC_HOSTNAME).and_then(|text| match parse_etc_hostname(&text) {
                Some(name) => Probe::found(name.to_string()),
                None => Probe::unsupported(format!("{ETC_HOSTNAME}: no host name in it")),
            })
        }
        other => other,
    }
}

/// `/etc/os-release`, else `/usr/lib/os-release` (the fallback os-release(5) defines).
pub fn probe_os_release(root: &HostRoot) -> Probe<OsRelease> {
    match parse_text(root, ETC_OS_RELEASE, SMALL_READ_LIMIT, parse_os_release) {
        Probe::Absent { .. } => {
            parse_text(root, USR_OS_RELEASE, SMALL_READ_LIMIT, parse_os_release)
        }
        other => other,
    }
}

// ---------------------------------------------------------------- parsers

/// Splits a kernel command line the way the kernel's `next_arg` does: whitespace separates
/// parameters except inside double quotes, and the quotes themselves are dropped
/// (`dyndbg="file x +p"` is the parameter `dyndbg=file x +p`). Everything after a lone `--`
/// is handed to init and is not a kernel parameter, so it is left out.
pub fn parse_cmdline(text: &str) -> Vec<String> {
    let mut params = Vec::new();
    let mut current = String::new();
    let mut in_quote = false;
    let mut started = false;
    for c in text.chars() {
        if c == '"' {
            in_quote = !in_quote;
            started = true;
        } else if c.is_whitespace() && !in_quote {
            if started {
                if current == "--" {
                    return params;
                }
                params.push(std::mem::take(&mut current));
                started = false;
            }
        } else {
            current.push(c);
            started = true;
        }
    }
    if started && current != "--" {
        params.push(current);
    }
    params
}

/// The swap area names of `/proc/swaps`, header skipped. The kernel escapes space, tab,
/// newline and backslash in names as octal (`\040`); those are decoded.
pub fn parse_swaps(text: &str) -> Result<Vec<String>, TextFormatError> {
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, header)) if header.split_whitespace().next() == Some("Filename") => {}
        _ => return Err(TextFormatError::SwapsHeader),
    }
    let mut areas = Vec::new();
    for (index, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(TextFormatError::SwapsLine { line: index + 1 });
        }
        areas.push(unescape_octal(fields[0]));
    }
    Ok(areas)
}

fn unescape_octal(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let digits = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        if let (b'\\', Some(digits)) = (bytes[i], digits) {
            let v = digits
                .iter()
                .fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
            out.push(u8::try_from(v).unwrap_or(b'?'));
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The comma-separated LSM list (`lockdown,capability,landlock,yama,apparmor`).
pub fn parse_lsm(text: &str) -> Result<Vec<String>, TextFormatError> {
    text.trim()
        .split(',')
        .filter(|n| !n.is_empty())
        .map(|name| {
            if name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                Ok(name.to_string())
            } else {
                Err(TextFormatError::LsmName(name.chars().take(40).collect()))
            }
        })
        .collect()
}

/// The release in `Linux version 6.1.0-18-amd64 (...) #1 SMP ...`.
pub fn parse_proc_version(text: &str) -> Result<String, TextFormatError> {
    let rest = text
        .strip_prefix("Linux version ")
        .ok_or(TextFormatError::ProcVersion)?;
    rest.split_whitespace()
        .next()
        .map(str::to_string)
        .ok_or(TextFormatError::ProcVersion)
}

/// The name in `/etc/hostname`: the first line that is neither blank nor a `#` comment.
pub fn parse_etc_hostname(text: &str) -> Option<&str> {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
}

/// Parses os-release(5): `KEY=value` lines in shell syntax (double quotes with `\` escapes,
/// single quotes taken literally, unquoted values with `\` escapes), `#` comments, blank
/// lines. `ID` defaults to `linux`, as the specification says.
pub fn parse_os_release(text: &str) -> Result<OsRelease, TextFormatError> {
    let mut fields: BTreeMap<&str, String> = BTreeMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (key, value) = trimmed
            .split_once('=')
            .ok_or(TextFormatError::OsReleaseLine { line })?;
        let valid_key = !key.is_empty()
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !key.as_bytes()[0].is_ascii_digit();
        if !valid_key {
            return Err(TextFormatError::OsReleaseLine { line });
        }
        let value = shell_unquote(value).ok_or(TextFormatError::OsReleaseQuote { line })?;
        fields.insert(key, value);
    }
    let mut take = |k: &str| fields.remove(k).filter(|v| !v.is_empty());
    Ok(OsRelease {
        id: take("ID").unwrap_or_else(|| "linux".to_string()),
        version_id: take("VERSION_ID"),
        version_codename: take("VERSION_CODENAME"),
        pretty_name: take("PRETTY_NAME"),
    })
}

/// One shell word; `None` when a quote is left open.
fn shell_unquote(value: &str) -> Option<String> {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => match chars.next()? {
                        e @ ('"' | '\\' | '$' | '`') => out.push(e),
                        '\n' => {}
                        other => {
                            out.push('\\');
                            out.push(other);
                        }
                    },
                    other => out.push(other),
                }
            },
            '\'' => loop {
                match chars.next()? {
                    '\'' => break,
                    other => out.push(other),
                }
            },
            '\\' => out.push(chars.next()?),
            c if c.is_whitespace() => break,
            other => out.push(other),
        }
    }
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn cmdline_respects_quotes_and_init_args() {
        let line = "BOOT_IMAGE=/vmlinuz ro  dyndbg=\"file x.c +p\" \"quoted word\" mitigations=off -- --init-arg nopti\n";
        assert_eq!(
            parse_cmdline(line),
            [
                "BOOT_IMAGE=/vmlinuz",
                "ro",
                "dyndbg=file x.c +p",
                "quoted word",
                "mitigations=off"
            ]
        );
        assert!(parse_cmdline("").is_empty());
        assert!(parse_cmdline("   \n").is_empty());
        assert_eq!(parse_cmdline("a=\"\" b"), ["a=", "b"]);
        assert_eq!(parse_cmdline("unterminated=\"x y"), ["unterminated=x y"]);
        assert_eq!(parse_cmdline("x --"), ["x"]);
    }

    #[test]
    fn swaps() {
        let header = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n";
        assert_eq!(parse_swaps(header), Ok(vec![]));
        let two = format!(
            "{header}/dev/sda3                               partition\t8388604\t\t0\t\t-2\n\
             /swap\\040file                              file\t\t1048572\t\t0\t\t-3\n"
        );
        assert_eq!(parse_swaps(&two).unwrap(), ["/dev/sda3", "/swap file"]);
        assert_eq!(parse_swaps(""), Err(TextFormatError::SwapsHeader));
        assert_eq!(parse_swaps("garbage\n"), Err(TextFormatError::SwapsHeader));
        assert_eq!(
            parse_swaps(&format!("{header}/dev/sda3 partition\n")),
            Err(TextFormatError::SwapsLine { line: 2 })
        );
        assert_eq!(unescape_octal("a\\134b\\0"), "a\\b\\0");
    }

    #[test]
    fn lsm_lists() {
        assert_eq!(
            parse_lsm("lockdown,capability,landlock,yama,apparmor").unwrap(),
            ["lockdown", "capability", "landlock", "yama", "apparmor"]
        );
        assert_eq!(
            parse_lsm("capability,selinux\n").unwrap(),
            ["capability", "selinux"]
        );
        assert_eq!(parse_lsm("").unwrap(), Vec::<String>::new());
        assert!(matches!(
            parse_lsm("\u{1}\u{2}binary"),
            Err(TextFormatError::LsmName(_))
        ));
    }

    #[test]
    fn proc_version() {
        let v = "Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org) (gcc-12) #1 SMP\n";
        assert_eq!(parse_proc_version(v).unwrap(), "6.1.0-18-amd64");
        assert_eq!(
            parse_proc_version("FreeBSD 14"),
            Err(TextFormatError::ProcVersion)
        );
        assert_eq!(
            parse_proc_version("Linux version "),
            Err(TextFormatError::ProcVersion)
        );
    }

    #[test]
    fn etc_hostname() {
        assert_eq!(
            parse_etc_hostname("# comment\n\n  node-1 \n"),
            Some("node-1")
        );
        assert_eq!(parse_etc_hostname("#only\n"), None);
    }

    #[test]
    fn os_release_quoting() {
        let text = "# comment\nNAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n\
            VERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n\
            ANSI_COLOR='0;31'\nESCAPED=\"say \\\"hi\\\" \\$HOME\"\nBARE=a\\ b\n";
        let os = parse_os_release(text).unwrap();
        assert_eq!(os.id, "debian");
        assert_eq!(os.version_id.as_deref(), Some("12"));
        assert_eq!(os.version_codename.as_deref(), Some("bookworm"));
        assert_eq!(
            os.pretty_name.as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        assert_eq!(
            shell_unquote("\"say \\\"hi\\\" \\$HOME\"").unwrap(),
            "say \"hi\" $HOME"
        );
        assert_eq!(shell_unquote("a\\ b").unwrap(), "a b");
        assert_eq!(shell_unquote("'lit\\eral'").unwrap(), "lit\\eral");
    }

    #[test]
    fn os_release_defaults_and_garbage() {
        let os = parse_os_release("").unwrap();
        assert_eq!(os.id, "linux");
        assert_eq!(os.version_id, None);
        assert_eq!(
            parse_os_release("ID=debian\nthis is not os-release\n"),
            Err(TextFormatError::OsReleaseLine { line: 2 })
        );
        assert_eq!(
            parse_os_release("ID=\"debian\n"),
            Err(TextFormatError::OsReleaseQuote { line: 1 })
        );
        assert_eq!(
            parse_os_release("1D=x\n"),
            Err(TextFormatError::OsReleaseLine { line: 1 })
        );
    }
}
