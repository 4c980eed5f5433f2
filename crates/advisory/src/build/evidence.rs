//! The reviewed evidence file of the data build (`evidence.toml`): the facts no feed
//! carries, each with its source. Unknown keys and facts without a source are errors naming
//! the line, so nothing unreviewed slips in.
//!
//! ```toml
//! [[release]]            # a QEMU mainline release and its date
//! version = "9.1.0"
//! date = "2024-09-04"
//! source = "qemu-devel: [ANNOUNCE] QEMU 9.1.0 is now available, Message-Id <...>"
//!
//! [[fact]]               # facts about one advisory; every field but id/source optional
//! id = "CVE-2024-7730"
//! components = ["virtio-snd"]
//! source = "NVD CVE-2024-7730 description: heap overflow in the virtio-snd device"
//! ```

use hvguard_core::HypervisorKind;
use jiff::civil::Date;
use serde::Deserialize;

use crate::model::{FixKind, Platform};

/// A QEMU mainline release date.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    /// `x.y.0`.
    pub version: String,
    /// The day it was announced.
    pub date: Date,
    /// The announcement.
    pub source: String,
}

/// An affected interval stated by hand.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interval {
    /// First affected version (`"0"`: since the beginning).
    #[serde(default)]
    pub introduced: Option<String>,
    /// First fixed version.
    #[serde(default)]
    pub fixed: Option<String>,
    /// Last affected version.
    #[serde(default)]
    pub last_affected: Option<String>,
}

/// A fix stated by hand.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fix {
    /// The first fixed release.
    pub version: String,
    /// Branch, mainline or bound.
    pub kind: FixKind,
}

/// Facts about one advisory, with the source that establishes them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fact {
    /// The advisory id.
    pub id: String,
    /// Where the facts come from: required.
    pub source: String,
    /// The components (replacing the curated single component).
    #[serde(default)]
    pub components: Vec<String>,
    /// QEMU type names of the vulnerable device, when the components' do not fit.
    #[serde(default)]
    pub devices: Vec<String>,
    /// The binaries the issue is in.
    #[serde(default)]
    pub binaries: Vec<HypervisorKind>,
    /// For Kata advisories: the sandbox hypervisors concerned.
    #[serde(default)]
    pub hypervisors: Vec<HypervisorKind>,
    /// Platforms the issue is limited to.
    #[serde(default)]
    pub platforms: Vec<Platform>,
    /// Subjects of the fixing commits.
    #[serde(default)]
    pub fix_subjects: Vec<String>,
    /// Affected intervals to add.
    #[serde(default)]
    pub ranges: Vec<Interval>,
    /// Fixes to add.
    #[serde(default)]
    pub fixes: Vec<Fix>,
    /// Leave the advisory out of the snapshot, for this reason.
    #[serde(default)]
    pub drop: Option<String>,
}

/// The whole evidence file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// QEMU mainline release dates.
    #[serde(default)]
    pub release: Vec<Release>,
    /// Per-advisory facts.
    #[serde(default)]
    pub fact: Vec<Fact>,
}

impl Evidence {
    /// Parses the file's text; errors say where (`line N, column M: ...`).
    pub fn parse(text: &str) -> Result<Evidence, String> {
        let evidence: Evidence = toml::from_str(text).map_err(|e| {
            let at = e
                .span()
                .map(|span| {
                    let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                    format!("line {line}: ")
                })
                .unwrap_or_default();
            format!("{at}{}", e.message())
        })?;
        for fact in &evidence.fact {
            if fact.source.trim().is_empty() {
                return Err(format!("fact for {}: empty source", fact.id));
            }
        }
        for release in &evidence.release {
            if release.source.trim().is_empty() {
                return Err(format!("release {}: empty source", release.version));
            }
        }
        Ok(evidence)
    }

    /// The facts about `id`, in file order.
    pub fn facts_for<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Fact> + 'a {
        self.fact.iter().filter(move |f| f.id == id)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn facts_need_sources_and_known_keys() {
        let ok = Evidence::parse(
            "[[release]]\nversion = \"9.1.0\"\ndate = \"2024-09-04\"\nsource = \"mail\"\n\n[[fact]]\nid = \"CVE-1\"\ncomponents = [\"virtio-snd\"]\nbinaries = [\"qemu-ga\"]\nfixes = [{ version = \"6.2.0\", kind = \"mainline\" }]\nsource = \"NVD\"\n",
        )
        .unwrap();
        assert_eq!(ok.fact[0].binaries, vec![HypervisorKind::QemuGuestAgent]);
        assert_eq!(ok.release[0].date, jiff::civil::date(2024, 9, 4));
        let unknown = Evidence::parse("[[fact]]\nid = \"X\"\nsource = \"s\"\ncomponent = \"x\"\n");
        assert!(
            unknown.unwrap_err().starts_with("line 4"),
            "unknown key is refused"
        );
        let empty = Evidence::parse("[[fact]]\nid = \"X\"\nsource = \" \"\n");
        assert!(empty.unwrap_err().contains("empty source"));
        let missing = Evidence::parse("[[fact]]\nid = \"X\"\n");
        assert!(missing.is_err());
    }
}
