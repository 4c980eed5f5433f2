//! The binary facts cache as a small file beside the digest cache file: `binfacts-live` for
//! the running host, `binfacts-root-<16 hex>` for a `--root` tree, in the same folder and
//! under the same trust and writing rules ([`crate::cache_folder`]). Format (text, one entry
//! per line, fields separated by one space; text values escaped as in the `root` line):
//!
//! ```text
//! hvguard-binfacts-cache v1
//! root <the root's path, escaped>
//! facts <16 hex: what this hvguard's catalogues look for>
//! <device> <inode> <size> <mtime_ns> <ctime_ns> version:<kind|any> -
//! <device> <inode> <size> <mtime_ns> <ctime_ns> version:<kind|any> <kind> <offset> <version> <evidence>
//! <device> <inode> <size> <mtime_ns> <ctime_ns> type-names no-rodata
//! <device> <inode> <size> <mtime_ns> <ctime_ns> type-names too-large <bytes>
//! <device> <inode> <size> <mtime_ns> <ctime_ns> type-names found <name,name,...|->
//! <device> <inode> <size> <mtime_ns> <ctime_ns> containerd -
//! <device> <inode> <size> <mtime_ns> <ctime_ns> containerd <version> <evidence>
//! ```
//!
//! The `facts` line is a digest of this hvguard's version and of the catalogues the facts
//! answer to (banners, QOM type names and anchors): a file written by another hvguard, whose
//! searches may differ, reads as empty. Like the digest cache, a missing, oversized, foreign
//! (another root's, another hvguard's), untrusted or damaged file reads as empty and a damaged
//! line is skipped; the scan then reads the binaries. The file decides which devices a QEMU
//! build holds (a forged `found` line could make a device look absent and an advisory "not
//! affected"), which is why only a file nobody else could have written is read.

use super::{BinaryFactsCache, CachedFact, Fact, FactQuery};
use crate::cache_folder::{
    parse_identity, push_escaped, push_identity, root_line, unescape, CacheFileError, RootFile,
};
use crate::containerd::FoundVersion;
use crate::hypervisors::kind::BANNERS;
use crate::hypervisors::qom::{TypeNames, ANCHORS, TYPE_NAMES};
use crate::hypervisors::scan::VersionMatch;
use hvguard_core::{HostRoot, HypervisorKind};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::OnceLock;

/// The first line of every binary facts cache file.
pub const HEADER: &str = "hvguard-binfacts-cache v1";

/// Entries written and read at most. A Debian QEMU host has about ten; the rest is room for
/// hosts with many Kata releases side by side.
pub const MAX_ENTRIES: usize = 512;

/// Entries kept beyond those the collection used or read (binaries a package update replaced
/// are never looked up again).
pub const SPARE_ENTRIES: usize = 32;

/// A file larger than this is not one hvguard wrote (512 full `type-names` lines take about
/// 600 KB).
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// Longest version or evidence text kept (a banner line is at most 200 bytes).
pub const MAX_TEXT: usize = 256;

/// The file name's stem.
const STEM: &str = "binfacts";

/// The binary facts cache file of one host root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryFactsFile(RootFile);

impl BinaryFactsFile {
    /// The file of `root` in the folder `dir`.
    pub fn for_root(dir: &Path, root: &HostRoot) -> BinaryFactsFile {
        BinaryFactsFile(RootFile::for_root(dir, STEM, root))
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// The entries of the file; empty when it is missing, untrusted, another root's or
    /// another hvguard's, too large or unreadable.
    pub fn load(&self) -> Vec<CachedFact> {
        self.0
            .read(MAX_FILE_BYTES)
            .map_or_else(Vec::new, |text| parse(&text, self.0.root()))
    }

    /// Writes what `cache` holds worth keeping when this collection read a fact; a
    /// collection that found every fact in the cache writes nothing. Returns whether the file
    /// was written.
    pub fn save(&self, cache: &BinaryFactsCache) -> Result<bool, CacheFileError> {
        if !cache.has_fresh() {
            return Ok(false);
        }
        let limit = (cache.entries_in_use() + SPARE_ENTRIES).min(MAX_ENTRIES);
        self.0
            .write(&render(self.0.root(), &cache.to_keep(limit)))?;
        Ok(true)
    }
}

/// The `facts` line: this hvguard's version and catalogues, digested.
pub fn facts_line() -> &'static str {
    static LINE: OnceLock<String> = OnceLock::new();
    LINE.get_or_init(|| {
        let mut h = Sha256::new();
        h.update(env!("CARGO_PKG_VERSION"));
        for b in BANNERS {
            h.update([0]);
            h.update(b.kind.as_str());
            h.update([1]);
            h.update(b.prefix);
        }
        for list in [ANCHORS, TYPE_NAMES] {
            h.update([2]);
            for name in list {
                h.update(name);
                h.update([0]);
            }
        }
        let mut line = String::from("facts ");
        for byte in &h.finalize()[..8] {
            let _ = write!(line, "{byte:02x}");
        }
        line
    })
}

/// The entries of a file's text for `root`; lines that do not parse are skipped, and a text
/// without the header, written for another root or by another hvguard has none. At most
/// [`MAX_ENTRIES`].
pub fn parse(text: &str, root: &Path) -> Vec<CachedFact> {
    let mut lines = text.lines();
    if lines.next() != Some(HEADER)
        || lines.next() != Some(root_line(root).as_str())
        || lines.next() != Some(facts_line())
    {
        return Vec::new();
    }
    lines.filter_map(parse_line).take(MAX_ENTRIES).collect()
}

fn parse_line(line: &str) -> Option<CachedFact> {
    let mut f = line.split(' ');
    let identity = parse_identity(&mut f)?;
    let query = parse_query(f.next()?)?;
    let fact = match query {
        FactQuery::Version(_) => Fact::Version(match f.next()? {
            "-" => None,
            kind => Some(VersionMatch {
                kind: parse_kind(kind)?,
                offset: f.next()?.parse().ok()?,
                version: text(f.next()?)?,
                evidence: text(f.next()?)?,
            }),
        }),
        FactQuery::TypeNames => Fact::TypeNames(match f.next()? {
            "no-rodata" => TypeNames::NoRodata,
            "too-large" => TypeNames::TooLarge(f.next()?.parse().ok()?),
            "found" => TypeNames::Found(parse_names(f.next()?)?),
            _ => return None,
        }),
        FactQuery::ContainerdVersion => Fact::ContainerdVersion(match f.next()? {
            "-" => None,
            version => Some(FoundVersion {
                version: text(version)?,
                evidence: text(f.next()?)?,
            }),
        }),
    };
    f.next().is_none().then_some(CachedFact {
        identity,
        query,
        fact,
    })
}

fn parse_query(field: &str) -> Option<FactQuery> {
    match field {
        "type-names" => Some(FactQuery::TypeNames),
        "containerd" => Some(FactQuery::ContainerdVersion),
        "version:any" => Some(FactQuery::Version(None)),
        other => Some(FactQuery::Version(Some(parse_kind(
            other.strip_prefix("version:")?,
        )?))),
    }
}

fn parse_kind(field: &str) -> Option<HypervisorKind> {
    HypervisorKind::ALL
        .iter()
        .copied()
        .find(|k| k.as_str() == field)
}

/// An escaped text value: printable ASCII (what the searches produce), at most [`MAX_TEXT`].
fn text(field: &str) -> Option<String> {
    let bytes = unescape(field)?;
    let printable = bytes.len() <= MAX_TEXT && bytes.iter().all(|b| (0x20..=0x7e).contains(b));
    printable.then(|| bytes.into_iter().map(char::from).collect())
}

/// Catalogue names, comma-separated in catalogue (sorted) order, or `-` for none.
fn parse_names(field: &str) -> Option<BTreeSet<&'static str>> {
    if field == "-" {
        return Some(BTreeSet::new());
    }
    let mut out = BTreeSet::new();
    let mut last: Option<&str> = None;
    for name in field.split(',') {
        // One spelling per set: sorted, no repeats, catalogue names only.
        if last.is_some_and(|l| l >= name) {
            return None;
        }
        out.insert(*TYPE_NAMES.iter().find(|n| **n == name)?);
        last = Some(name);
    }
    Some(out)
}

fn query_field(query: FactQuery) -> String {
    match query {
        FactQuery::Version(None) => "version:any".to_string(),
        FactQuery::Version(Some(kind)) => format!("version:{}", kind.as_str()),
        FactQuery::TypeNames => "type-names".to_string(),
        FactQuery::ContainerdVersion => "containerd".to_string(),
    }
}

/// The text of a file for `root` holding `entries` (the first [`MAX_ENTRIES`]). Values a
/// parser would refuse (too long, not printable) are not written, so the file always reads
/// back as what was kept.
pub fn render(root: &Path, entries: &[CachedFact]) -> String {
    let mut out = String::with_capacity(128 + entries.len() * 160);
    out.push_str(HEADER);
    out.push('\n');
    out.push_str(&root_line(root));
    out.push('\n');
    out.push_str(facts_line());
    out.push('\n');
    for e in entries.iter().take(MAX_ENTRIES) {
        let mut line = String::new();
        push_identity(&mut line, &e.identity);
        line.push(' ');
        line.push_str(&query_field(e.query));
        let mut texts: Vec<&str> = Vec::new();
        match &e.fact {
            Fact::Version(None) | Fact::ContainerdVersion(None) => line.push_str(" -"),
            Fact::Version(Some(m)) => {
                let _ = write!(line, " {} {}", m.kind.as_str(), m.offset);
                texts = vec![&m.version, &m.evidence];
            }
            Fact::ContainerdVersion(Some(v)) => texts = vec![&v.version, &v.evidence],
            Fact::TypeNames(TypeNames::NoRodata) => line.push_str(" no-rodata"),
            Fact::TypeNames(TypeNames::TooLarge(size)) => {
                let _ = write!(line, " too-large {size}");
            }
            Fact::TypeNames(TypeNames::Found(names)) if names.is_empty() => {
                line.push_str(" found -");
            }
            Fact::TypeNames(TypeNames::Found(names)) => {
                line.push_str(" found ");
                line.push_str(&names.iter().copied().collect::<Vec<_>>().join(","));
            }
        }
        let mut keep = true;
        for t in texts {
            keep &= t.len() <= MAX_TEXT && t.bytes().all(|b| (0x20..=0x7e).contains(&b));
            line.push(' ');
            push_escaped(&mut line, t.as_bytes());
        }
        if keep {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use hvguard_core::FileIdentity;
    use std::os::unix::fs::PermissionsExt;

    fn identity(inode: u64) -> FileIdentity {
        FileIdentity {
            device: 2049,
            inode,
            size: 18_397_984,
            mtime_ns: 1_748_131_200_123_456_789,
            ctime_ns: -5,
        }
    }

    fn entries() -> Vec<CachedFact> {
        let qemu = VersionMatch {
            kind: HypervisorKind::Qemu,
            version: "7.2.22".into(),
            evidence: "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)".into(),
            offset: 10_951_456,
        };
        let names: BTreeSet<&'static str> =
            ["pvrdma", "virtio-blk-device", "virtio-net-device"].into();
        let e = |inode, query, fact| CachedFact {
            identity: identity(inode),
            query,
            fact,
        };
        vec![
            e(
                1,
                FactQuery::Version(Some(HypervisorKind::Qemu)),
                Fact::Version(Some(qemu)),
            ),
            e(
                1,
                FactQuery::TypeNames,
                Fact::TypeNames(TypeNames::Found(names)),
            ),
            e(2, FactQuery::Version(None), Fact::Version(None)),
            e(
                3,
                FactQuery::TypeNames,
                Fact::TypeNames(TypeNames::NoRodata),
            ),
            e(
                4,
                FactQuery::TypeNames,
                Fact::TypeNames(TypeNames::TooLarge(99)),
            ),
            e(
                5,
                FactQuery::TypeNames,
                Fact::TypeNames(TypeNames::Found(BTreeSet::new())),
            ),
            e(
                6,
                FactQuery::ContainerdVersion,
                Fact::ContainerdVersion(Some(FoundVersion {
                    version: "1.6.20".into(),
                    evidence: "1.6.20+unknown".into(),
                })),
            ),
            e(
                7,
                FactQuery::ContainerdVersion,
                Fact::ContainerdVersion(None),
            ),
        ]
    }

    #[test]
    fn round_trips_and_skips_what_does_not_parse() {
        let root = Path::new("/");
        let text = render(root, &entries());
        assert!(text.starts_with("hvguard-binfacts-cache v1\nroot /\nfacts "));
        assert!(
            text.contains(" version:qemu qemu 10951456 7.2.22 QEMU%20emulator%20version%207.2.22%20(Debian%201:7.2+dfsg-7+deb12u18+b3)\n"),
            "{text}"
        );
        assert!(text.contains(" type-names found pvrdma,virtio-blk-device,virtio-net-device\n"));
        assert_eq!(parse(&text, root), entries());
        let damaged = format!(
            "{text}\
             1 1 1 1 1 type-names found virtio-net-device,pvrdma\n\
             1 1 1 1 1 type-names found pvrdma,pvrdma\n\
             1 1 1 1 1 type-names found not-a-device\n\
             1 1 1 1 1 type-names found\n\
             1 1 1 1 1 version:qemu - extra\n\
             1 1 1 1 1 version:qemu qemu x 7.2 e\n\
             1 1 1 1 1 version:qemu qemu 1 7.2%0A e\n\
             1 1 1 1 1 version:nope -\n\
             1 1 1 1 1 containerd 1.0%41 e\n\
             1 1 1 1 1 containerd {}\n\
             1 1 1 1 1 sha256 -\n\
             x\n\n",
            "a".repeat(MAX_TEXT + 1)
        );
        assert_eq!(parse(&damaged, root), entries());
        assert!(parse(&text.replace("v1\n", "v2\n"), root).is_empty());
        assert!(parse(&text, Path::new("/mnt")).is_empty());
        let other_hvguard = text.replace(facts_line(), "facts 0000000000000000");
        assert!(parse(&other_hvguard, root).is_empty());
    }

    #[test]
    fn values_no_parser_would_accept_are_not_written() {
        let mut kept = entries();
        kept.push(CachedFact {
            identity: identity(9),
            query: FactQuery::ContainerdVersion,
            fact: Fact::ContainerdVersion(Some(FoundVersion {
                version: "1.0\n".into(),
                evidence: "x".into(),
            })),
        });
        assert_eq!(
            parse(&render(Path::new("/"), &kept), Path::new("/")),
            entries()
        );
    }

    #[test]
    fn saved_atomically_beside_the_digests_and_read_only_when_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let tree = tempfile::tempdir().unwrap();
        let path = tree.path().join("containerd");
        std::fs::write(&path, b"1.6.20+unknown").unwrap();
        let root = HostRoot::new(tree.path()).unwrap();
        let file = BinaryFactsFile::for_root(&dir.path().join("cache"), &root);
        let mut cache = BinaryFactsCache::default().with_racy_window_ns(0);
        assert!(!file.save(&cache).unwrap(), "nothing read, nothing written");
        let opened = std::fs::File::open(&path).unwrap();
        let meta = opened.metadata().unwrap();
        let fact = Fact::ContainerdVersion(None);
        cache.record(&opened, &meta, FactQuery::ContainerdVersion, fact.clone());
        assert!(file.save(&cache).unwrap());
        let name = file.path().file_name().unwrap().to_string_lossy();
        assert!(name.starts_with("binfacts-root-"), "{name}");
        assert_eq!(file.load().len(), 1);
        assert_eq!(file.load()[0].fact, fact);
        std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o622)).unwrap();
        assert!(file.load().is_empty(), "others may write it");
    }
}
