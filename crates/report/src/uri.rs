//! Paths as SARIF URI references (RFC 3986).

use std::fmt::Write as _;

/// Percent-encodes every byte outside the unreserved set and `/`.
///
/// `:` is encoded too, so that a relative path whose first segment holds a colon cannot be
/// read as a URI scheme.
pub(crate) fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A finding's path relative to the scanned root: the path inside the root without its
/// leading `/`, which is how the host itself names the file.
pub(crate) fn relative_to_root(path: &str) -> String {
    encode_path(path.trim_start_matches('/'))
}

/// `file://` URI of an absolute root directory, ending with `/` as SARIF requires of a
/// base; `None` for a relative root, which cannot be made absolute without the disk.
pub(crate) fn root_uri(root: &str) -> Option<String> {
    if !root.starts_with('/') {
        return None;
    }
    let mut uri = format!("file://{}", encode_path(root));
    if !uri.ends_with('/') {
        uri.push('/');
    }
    Some(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_reserved_and_non_ascii_bytes() {
        assert_eq!(
            encode_path("etc/kata containers/a:b.toml"),
            "etc/kata%20containers/a%3Ab.toml"
        );
        assert_eq!(encode_path("opt/kata/é"), "opt/kata/%C3%A9");
        assert_eq!(
            encode_path("usr/bin/qemu-system-x86_64"),
            "usr/bin/qemu-system-x86_64"
        );
    }

    #[test]
    fn relative_paths_and_root_uris() {
        assert_eq!(
            relative_to_root("/etc/kata-containers/configuration.toml"),
            "etc/kata-containers/configuration.toml"
        );
        assert_eq!(relative_to_root("dev/kvm"), "dev/kvm");
        assert_eq!(root_uri("/").as_deref(), Some("file:///"));
        assert_eq!(
            root_uri("/mnt/node 1").as_deref(),
            Some("file:///mnt/node%201/")
        );
        assert_eq!(root_uri("fixtures/host"), None);
    }
}
