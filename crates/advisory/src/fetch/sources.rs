//! The feeds `db update` downloads by default, and how `--source NAME|URL` selects them.

use super::UpdateError;

/// The NVD CVE API 2.0 endpoint.
pub const NVD_API: &str = "https://services.nvd.nist.gov/rest/json/cves/2.0";

/// How a source is fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    /// One file at a URL, in any format `db import` reads.
    File {
        /// The URL.
        url: String,
    },
    /// NVD API 2.0 pages: `query` is the search part, paging is added.
    NvdApi {
        /// The endpoint (the real one, or a test server's).
        endpoint: String,
        /// `virtualMatchString=...` or `keywordSearch=...`.
        query: String,
    },
}

/// One configured feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The stable name (`nvd-qemu`, `kev`), or the URL for ad-hoc sources.
    pub name: String,
    /// How to fetch it.
    pub kind: SourceKind,
}

impl Source {
    fn file(name: &str, url: &str) -> Self {
        Source {
            name: name.to_owned(),
            kind: SourceKind::File {
                url: url.to_owned(),
            },
        }
    }

    fn nvd(name: &str, query: &str) -> Self {
        Source {
            name: name.to_owned(),
            kind: SourceKind::NvdApi {
                endpoint: NVD_API.to_owned(),
                query: query.to_owned(),
            },
        }
    }

    /// Where it is fetched from, for messages and the store's `sources` table.
    pub fn location(&self) -> String {
        match &self.kind {
            SourceKind::File { url } => url.clone(),
            SourceKind::NvdApi { endpoint, query } => format!("{endpoint}?{query}"),
        }
    }
}

/// The default feeds, chosen for hypervisors: NVD by CPE (or keyword where NVD has no
/// stable CPE) for each VMM and Kata, the Debian tracker for backported fixes, KEV and
/// EPSS for priority, and OSV's crates.io archive for the rust-vmm crates that Firecracker,
/// Cloud Hypervisor and Dragonball build on.
pub fn default_sources() -> Vec<Source> {
    vec![
        Source::nvd("nvd-qemu", "virtualMatchString=cpe:2.3:a:qemu:qemu"),
        Source::nvd(
            "nvd-firecracker",
            "virtualMatchString=cpe:2.3:a:amazon:firecracker",
        ),
        Source::nvd(
            "nvd-cloud-hypervisor",
            "keywordSearch=cloud%20hypervisor&keywordExactMatch",
        ),
        Source::nvd("nvd-kata", "virtualMatchString=cpe:2.3:a:katacontainers"),
        Source::file(
            "debian-tracker",
            "https://security-tracker.debian.org/tracker/data/json",
        ),
        Source::file(
            "kev",
            "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json",
        ),
        Source::file(
            "epss",
            "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz",
        ),
        Source::file(
            "osv-crates-io",
            "https://osv-vulnerabilities.storage.googleapis.com/crates.io/all.zip",
        ),
    ]
}

/// Resolves `--source` values against `known`: a name selects that source, a prefix
/// followed by `-` selects a family (`nvd` selects every `nvd-*`), an http(s) URL is an
/// ad-hoc file source. No selectors select every known source. Order and duplicates are
/// normalised so the same request always does the same work.
pub fn select_sources(known: &[Source], selectors: &[String]) -> Result<Vec<Source>, UpdateError> {
    if selectors.is_empty() {
        return Ok(known.to_vec());
    }
    let mut out: Vec<Source> = Vec::new();
    for selector in selectors {
        if selector.starts_with("https://") || selector.starts_with("http://") {
            out.push(Source::file(selector, selector));
            continue;
        }
        let family = format!("{selector}-");
        let matched: Vec<&Source> = known
            .iter()
            .filter(|s| s.name == *selector || s.name.starts_with(&family))
            .collect();
        if matched.is_empty() {
            return Err(UpdateError::UnknownSource {
                name: selector.clone(),
                known: known
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        out.extend(matched.into_iter().cloned());
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out.dedup_by(|a, b| a.name == b.name);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_by_name_family_and_url() {
        let known = default_sources();
        let all = select_sources(&known, &[]).ok().unwrap_or_default();
        assert_eq!(all.len(), known.len());
        let nvd = select_sources(&known, &["nvd".into(), "nvd-qemu".into()])
            .ok()
            .unwrap_or_default();
        assert_eq!(nvd.len(), 4);
        assert!(nvd.iter().all(|s| s.name.starts_with("nvd-")));
        let url = select_sources(&known, &["https://example.org/x.json".into()])
            .ok()
            .unwrap_or_default();
        assert_eq!(url[0].location(), "https://example.org/x.json");
        let err = select_sources(&known, &["nope".into()]);
        assert!(matches!(err, Err(UpdateError::UnknownSource { .. })));
    }

    #[test]
    fn nvd_locations_carry_the_query() {
        let qemu = default_sources().into_iter().find(|s| s.name == "nvd-qemu");
        assert_eq!(
            qemu.map(|s| s.location()),
            Some(format!("{NVD_API}?virtualMatchString=cpe:2.3:a:qemu:qemu"))
        );
    }
}
