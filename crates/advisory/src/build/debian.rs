//! QEMU's upstream stable merges as Debian's `qemu` changelog records them: a top-level item
//! (`* v7.2.22:`, `* update to upstream 7.2.15 stable/bugfix release, v7.2.15.diff`) followed
//! by one nested item per upstream commit, some with the CVE they close.

use hvguard_core::changelog::cve_ids;
use hvguard_core::{ChangelogEntry, ChangelogItem};

/// One upstream stable release merged into a Debian package version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StableMerge<'a> {
    /// The upstream stable release (`7.2.11`).
    pub upstream: String,
    /// The Debian entry that merged it.
    pub entry: &'a ChangelogEntry,
    /// The commits it lists, continuation lines joined.
    pub items: Vec<&'a ChangelogItem>,
}

impl StableMerge<'_> {
    /// The commits naming `cve`.
    pub fn naming<'s>(&'s self, cve: &'s str) -> impl Iterator<Item = &'s ChangelogItem> + 's {
        self.items
            .iter()
            .copied()
            .filter(move |i| cve_ids(&i.text).iter().any(|id| id == cve))
    }
}

/// `x.y.z` with three numeric parts.
fn release_number(token: &str) -> Option<&str> {
    let parts: Vec<&str> = token.split('.').collect();
    (parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
    .then_some(token)
}

/// The upstream release a top-level item merges: `v7.2.22:`, `v7.2.2.diff: upstream 7.2.2
/// stable/bugfix release`, `update to upstream 7.2.15 stable/bugfix release, v7.2.15.diff`.
pub fn merged_release(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    for raw in lower.split([' ', ',']) {
        let token = raw.trim_end_matches(':');
        let token = token.strip_suffix(".diff").unwrap_or(token);
        if let Some(v) = token.strip_prefix('v').and_then(release_number) {
            return Some(v.to_owned());
        }
        if lower.contains("upstream") && lower.contains("stable") {
            if let Some(v) = release_number(token) {
                return Some(v.to_owned());
            }
        }
    }
    None
}

/// A new upstream (mainline) release packaged by one Debian entry, with the CVEs the entry's
/// item says it closes (`* new upstream release (7.1)` / `Closes: #1014590, CVE-2022-0216`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamRelease<'a> {
    /// The mainline release (`7.1.0`).
    pub version: String,
    /// The Debian entry packaging it.
    pub entry: &'a ChangelogEntry,
    /// The item announcing it, continuation lines joined.
    pub item: &'a ChangelogItem,
}

/// The upstream version of a Debian package version: `1:7.0~rc4+dfsg-1` -> `7.0`.
fn upstream_of_package(version: &str) -> &str {
    let no_epoch = version.split_once(':').map_or(version, |(_, v)| v);
    no_epoch.split(['+', '~', '-']).next().unwrap_or(no_epoch)
}

/// `x.y` or `x.y.0` as `x.y.0`; anything else (a stable `x.y.z`) is not a mainline release.
fn mainline(version: &str) -> Option<String> {
    let parts: Vec<&str> = version.split('.').collect();
    let numeric = parts
        .iter()
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    match parts.as_slice() {
        [x, y] if numeric => Some(format!("{x}.{y}.0")),
        [x, y, "0"] if numeric => Some(format!("{x}.{y}.0")),
        _ => None,
    }
}

/// The mainline release a top-level item packages: `new upstream release (6.1.0)`,
/// `6.2.0 upstream release`, `New upstream 7.0 (rc)`, or `new upstream release` with the
/// entry's own upstream version. Cherry-picks (`fixes from upstream`) and stable merges are
/// not releases.
fn packaged_release(text: &str, entry_version: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let head = lower.split("closes").next().unwrap_or(&lower);
    let announces = head.contains("new upstream") || head.contains("upstream release");
    if !announces || head.contains("stable") || head.contains("from upstream") {
        return None;
    }
    let named = head
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ',')
        .map(|t| t.trim_start_matches('v').trim_end_matches('.'))
        .find(|t| t.contains('.') && t.bytes().all(|b| b.is_ascii_digit() || b == b'.'));
    match named {
        Some(v) => mainline(v),
        None => mainline(upstream_of_package(entry_version)),
    }
}

/// Every mainline release Debian packaged, with its closing item, newest first.
pub fn upstream_releases(entries: &[ChangelogEntry]) -> Vec<UpstreamRelease<'_>> {
    let mut out = Vec::new();
    for entry in entries {
        for item in entry.items.iter().filter(|i| i.top) {
            if let Some(version) = packaged_release(&item.text, &entry.version) {
                out.push(UpstreamRelease {
                    version,
                    entry,
                    item,
                });
            }
        }
    }
    out
}

/// Every upstream stable merge in `entries`, newest first.
pub fn stable_merges(entries: &[ChangelogEntry]) -> Vec<StableMerge<'_>> {
    let mut out = Vec::new();
    for entry in entries {
        let mut current: Option<StableMerge<'_>> = None;
        for item in &entry.items {
            if item.top {
                out.extend(current.take());
                if let Some(upstream) = merged_release(&item.text) {
                    current = Some(StableMerge {
                        upstream,
                        entry,
                        items: Vec::new(),
                    });
                }
            } else if let Some(merge) = current.as_mut() {
                merge.items.push(item);
            }
        }
        out.extend(current);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn block_headers() {
        assert_eq!(merged_release("v7.2.22:").as_deref(), Some("7.2.22"));
        assert_eq!(
            merged_release("update to upstream 7.2.15 stable/bugfix release, v7.2.15.diff, https://gitlab.com/qemu-project/qemu/-/commits/v7.2.15 :").as_deref(),
            Some("7.2.15")
        );
        assert_eq!(
            merged_release("v7.2.2.diff: upstream 7.2.2 stable/bugfix release").as_deref(),
            Some("7.2.2")
        );
        assert_eq!(
            merged_release("d/rules: add the forgotten --enable-libusb"),
            None
        );
        assert_eq!(
            merged_release("fix legacy ide regression introduced in 7.2.6"),
            None
        );
    }

    #[test]
    fn packaged_mainline_releases() {
        let r = |t: &str, e: &str| packaged_release(t, e);
        assert_eq!(
            r("new upstream release (7.1)", "1:7.1+dfsg-1").as_deref(),
            Some("7.1.0")
        );
        assert_eq!(
            r(
                "6.2.0 upstream release Closes: #1, CVE-2021-20196",
                "1:6.2+dfsg-1"
            )
            .as_deref(),
            Some("6.2.0")
        );
        assert_eq!(
            r(
                "New upstream 7.0 (rc) Closes: #990562, CVE-2021-3611",
                "1:7.0~rc4+dfsg-1"
            )
            .as_deref(),
            Some("7.0.0")
        );
        assert_eq!(
            r(
                "new upstream release Closes: #1025123 CVE-2022-4172",
                "1:7.2+dfsg-1"
            )
            .as_deref(),
            Some("7.2.0")
        );
        assert_eq!(
            r(
                "new upstream release 5.1.0. Make source DFSG-clean again",
                "1:5.1+dfsg-0exp1"
            )
            .as_deref(),
            Some("5.1.0")
        );
        assert_eq!(r("CVE-2021-3416 fix from upstream", "1:5.2+dfsg-6"), None);
        assert_eq!(
            r(
                "update to upstream 7.2.15 stable/bugfix release",
                "1:7.2+dfsg-7+deb12u9"
            ),
            None
        );
        assert_eq!(
            r("Mention (some) bugs closed by 6.1 upstream", "1:6.1+dfsg-1"),
            None
        );
    }

    #[test]
    fn merges_of_the_real_changelog() {
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/build/debian/qemu.changelog.Debian.gz"
        ))
        .unwrap();
        let mut text = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text)
            .unwrap();
        let entries = hvguard_core::changelog::parse(&String::from_utf8_lossy(&text));
        let merges = stable_merges(&entries);
        let versions: Vec<&str> = merges.iter().map(|m| m.upstream.as_str()).collect();
        for v in ["7.2.22", "7.2.21", "7.2.11", "7.2.7", "7.2.4", "7.2.2"] {
            assert!(versions.contains(&v), "{v}: {versions:?}");
        }
        let m = merges.iter().find(|m| m.upstream == "7.2.11").unwrap();
        assert_eq!(m.entry.version, "1:7.2+dfsg-7+deb12u6");
        let sriov: Vec<_> = m.naming("CVE-2024-26327").collect();
        assert_eq!(sriov.len(), 1);
        assert!(sriov[0].text.starts_with("pcie_sriov: Validate NumVFs"));
        // The Debian-only patch for CVE-2023-6683 (deb12u4) is not an upstream merge.
        let m = merges.iter().find(|m| m.upstream == "7.2.10").unwrap();
        assert_eq!(m.naming("CVE-2023-6683").count(), 1);
        assert!(merges
            .iter()
            .all(|m| m.entry.version != "1:7.2+dfsg-7+deb12u4"
                || m.naming("CVE-2023-6683").count() == 0));
    }
}
