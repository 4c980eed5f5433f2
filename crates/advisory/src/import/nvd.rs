//! NVD CVE API 2.0: a single `cve` object (as the per-CVE files of NVD mirrors hold it), a
//! full API response page (`vulnerabilities[].cve`), and directory trees of either.
//!
//! CPE match criteria become products and ranges: `versionStart/End Including/Excluding`
//! map onto range events, a CPE naming one version becomes an exact version. Platform CPEs
//! (`cpe:2.3:o:...`: the distributions that shipped the product) are not products here;
//! distro verdicts come from the distros' own trackers.

use std::path::Path;

use serde::Deserialize;

use super::read::{json_from_file, DUMP_LIMIT};
use crate::model::{
    parse_date, Advisory, AffectedProduct, CvssScore, Event, ExactVersion, Platform, Product,
    Range, Ranges,
};
use crate::version::VersionScheme;
use crate::ImportError;

/// One `cve` object.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NvdCve {
    id: String,
    published: Option<String>,
    last_modified: Option<String>,
    vuln_status: Option<String>,
    #[serde(default)]
    descriptions: Vec<Description>,
    #[serde(default)]
    metrics: Metrics,
    #[serde(default)]
    weaknesses: Vec<Weakness>,
    #[serde(default)]
    configurations: Vec<Configuration>,
    #[serde(default)]
    references: Vec<Reference>,
}

#[derive(Debug, Deserialize)]
struct Description {
    lang: String,
    value: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metrics {
    #[serde(default)]
    cvss_metric_v31: Vec<MetricEntry>,
    #[serde(default)]
    cvss_metric_v30: Vec<MetricEntry>,
    #[serde(default)]
    cvss_metric_v40: Vec<MetricEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetricEntry {
    #[serde(rename = "type")]
    kind: Option<String>,
    cvss_data: CvssData,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CvssData {
    vector_string: String,
    base_score: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct Weakness {
    #[serde(default)]
    description: Vec<Description>,
}

#[derive(Debug, Deserialize)]
struct Configuration {
    /// `AND` when the nodes must all match (a product *on* a platform).
    #[serde(default)]
    operator: Option<String>,
    #[serde(default)]
    nodes: Vec<Node>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Node {
    #[serde(default)]
    cpe_match: Vec<CpeMatch>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CpeMatch {
    vulnerable: bool,
    criteria: String,
    version_start_including: Option<String>,
    version_start_excluding: Option<String>,
    version_end_including: Option<String>,
    version_end_excluding: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Reference {
    url: String,
}

/// The parts of a CPE 2.3 name we use: part, vendor, product, version, update.
fn split_cpe(criteria: &str) -> Option<(&str, &str, &str, &str, &str)> {
    let mut fields = criteria.strip_prefix("cpe:2.3:")?.split(':');
    let part = fields.next()?;
    let vendor = fields.next()?;
    let product = fields.next()?;
    let version = fields.next()?;
    let update = fields.next().unwrap_or("*");
    Some((part, vendor, product, version, update))
}

/// The platform a non-vulnerable operating-system CPE names (`cpe:2.3:o:microsoft:windows`).
fn platform_of(criteria: &str) -> Option<Platform> {
    let (part, vendor, product, _, _) = split_cpe(criteria)?;
    if part != "o" {
        return None;
    }
    Some(match (vendor, product) {
        ("microsoft", p) if p.starts_with("windows") => Platform::Windows,
        ("apple", p) if p.contains("mac") => Platform::Macos,
        ("linux", "linux_kernel") => Platform::Linux,
        _ => Platform::Other,
    })
}

/// How one CPE match reads as evidence (`NVD CPE cpe:2.3:a:qemu:qemu:*:... versionEndIncluding 8.0.3`).
fn match_source(id: &str, m: &CpeMatch) -> String {
    let mut text = format!("NVD {id} CPE {}", m.criteria);
    for (name, value) in [
        ("versionStartIncluding", &m.version_start_including),
        ("versionStartExcluding", &m.version_start_excluding),
        ("versionEndIncluding", &m.version_end_including),
        ("versionEndExcluding", &m.version_end_excluding),
    ] {
        if let Some(v) = value {
            text.push_str(&format!(" {name} {v}"));
        }
    }
    text
}

/// Adds one vulnerable CPE match to `products`, merging ranges of the same product.
fn add_match(products: &mut Vec<AffectedProduct>, id: &str, m: &CpeMatch) {
    if !m.vulnerable {
        return;
    }
    let Some((part, vendor, cpe_product, version, update)) = split_cpe(&m.criteria) else {
        return;
    };
    let product = match Product::from_cpe(vendor, cpe_product) {
        Some(p) => p,
        None if part == "a" => Product::Other(format!("cpe:{vendor}:{cpe_product}")),
        None => return,
    };
    let scheme = match product {
        Product::RustVmm(_) => VersionScheme::Semver,
        _ => VersionScheme::Upstream,
    };
    let package = format!("{vendor}:{cpe_product}");
    let index = match products.iter().position(|p| p.product == product) {
        Some(i) => i,
        None => {
            products.push(AffectedProduct {
                product,
                package: Some(package),
                ranges: Ranges::default(),
            });
            products.len() - 1
        }
    };
    let ranges = &mut products[index].ranges;
    if version != "*" && version != "-" {
        // NVD writes QEMU's release candidates as version + update (`3.1.0` + `rc0`).
        let exact = if update != "*" && update != "-" {
            format!("{version}-{update}")
        } else {
            version.to_owned()
        };
        ranges.versions.push(ExactVersion {
            scheme,
            version: exact,
            source: Some(match_source(id, m)),
        });
        return;
    }
    let start = match (&m.version_start_including, &m.version_start_excluding) {
        (Some(s), _) => Event::Introduced(s.clone()),
        (None, Some(s)) => Event::IntroducedAfter(s.clone()),
        (None, None) => Event::Introduced("0".into()),
    };
    let end = match (&m.version_end_excluding, &m.version_end_including) {
        (Some(e), _) => Some(Event::Fixed(e.clone())),
        (None, Some(e)) => Some(Event::LastAffected(e.clone())),
        (None, None) => None,
    };
    if end.is_none() && matches!(&start, Event::Introduced(z) if z == "0") {
        // `cpe:...:*` with no bounds says "some versions", not "all versions": unknown.
        return;
    }
    ranges.ranges.push(Range {
        scheme,
        events: std::iter::once(start).chain(end).collect(),
        source: Some(match_source(id, m)),
    });
}

pub(crate) fn convert(path: &Path, cve: NvdCve) -> Result<Option<Advisory>, ImportError> {
    if cve.vuln_status.as_deref() == Some("Rejected") {
        return Ok(None);
    }
    let bad_date = |m: String| ImportError::format(path, format!("{}: {m}", cve.id));
    let mut adv = Advisory::new(cve.id.clone());
    adv.published = cve
        .published
        .as_deref()
        .map(parse_date)
        .transpose()
        .map_err(bad_date)?;
    adv.modified = cve
        .last_modified
        .as_deref()
        .map(parse_date)
        .transpose()
        .map_err(bad_date)?;
    adv.summary = cve
        .descriptions
        .iter()
        .find(|d| d.lang.starts_with("en"))
        .and_then(|d| d.value.lines().next().map(str::to_owned));
    // NVD's own ("Primary") analysis first, then the CNA's ("Secondary").
    let pick = |list: &[MetricEntry]| {
        list.iter()
            .find(|m| m.kind.as_deref() == Some("Primary"))
            .or_else(|| list.first())
            .map(|m| (m.cvss_data.vector_string.clone(), m.cvss_data.base_score))
    };
    adv.cvss.v3 = pick(&cve.metrics.cvss_metric_v31)
        .or_else(|| pick(&cve.metrics.cvss_metric_v30))
        .map(|(v, s)| CvssScore::v3(&v, s));
    adv.cvss.v4 = pick(&cve.metrics.cvss_metric_v40).map(|(v, s)| CvssScore::v4(&v, s));
    adv.cwe = cve
        .weaknesses
        .iter()
        .flat_map(|w| w.description.iter())
        .map(|d| d.value.clone())
        .filter(|v| v.starts_with("CWE-"))
        .collect();
    // A configuration that ANDs the product with an operating system limits it to that
    // platform; the advisory is limited only when every configuration naming a product is.
    let mut platforms = Vec::new();
    let mut unrestricted = false;
    for configuration in &cve.configurations {
        let mut names_product = false;
        for m in configuration.nodes.iter().flat_map(|n| n.cpe_match.iter()) {
            add_match(&mut adv.products, &cve.id, m);
            names_product |=
                m.vulnerable && split_cpe(&m.criteria).is_some_and(|(part, ..)| part == "a");
        }
        if !names_product {
            continue;
        }
        let and = configuration.operator.as_deref() == Some("AND");
        let on: Vec<Platform> = configuration
            .nodes
            .iter()
            .flat_map(|n| n.cpe_match.iter())
            .filter(|m| !m.vulnerable)
            .filter_map(|m| platform_of(&m.criteria))
            .collect();
        if and && !on.is_empty() {
            platforms.extend(on);
        } else {
            unrestricted = true;
        }
    }
    if !unrestricted {
        adv.platforms = platforms;
    }
    adv.references = cve.references.into_iter().map(|r| r.url).collect();
    adv.provenance.feed = "nvd".into();
    adv.provenance.range_origin = Some("nvd-cpe".into());
    adv.normalize();
    Ok(Some(adv))
}

/// Reads a file holding one NVD `cve` object.
pub fn import_nvd_cve_file(path: &Path) -> Result<Vec<Advisory>, ImportError> {
    let cve: NvdCve = json_from_file(path, DUMP_LIMIT)?;
    Ok(convert(path, cve)?.into_iter().collect())
}

/// Parses one NVD `cve` object (or a record wrapping it in `cve`) from bytes; `None` for a
/// rejected CVE.
pub fn parse_nvd_cve(path: &Path, bytes: &[u8]) -> Result<Option<Advisory>, ImportError> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Shape {
        Wrapped { cve: NvdCve },
        Bare(NvdCve),
    }
    let shape: Shape = super::read::json_from_slice(path, bytes)?;
    let cve = match shape {
        Shape::Wrapped { cve } | Shape::Bare(cve) => cve,
    };
    convert(path, cve)
}
