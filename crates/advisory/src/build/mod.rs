//! The reproducible data build behind the shipped `hvguard.advisories/v1` snapshot
//! (`hvguard db build`, docs/advisory-data-build.md).
//!
//! Inputs (a folder, `crates/advisory/data/build/` in the repository):
//! - `curated/hypervisor-advisories.json`: the curated table (summaries, CVSS, kinds, and
//!   the ranges of records NVD never analysed);
//! - `nvd/CVE-*.json`, `cve5/CVE-*.json`, `osv/*.json`: the raw feed records;
//! - `debian/qemu.changelog.Debian.gz`: Debian's QEMU changelog (upstream 7.2.N merges);
//! - `qemu-stable/<series>/<version>.txt`: QEMU's stable release mails;
//! - `evidence.toml`: reviewed hand facts, each with its source.
//!
//! Steps, each recording the source of what it adds:
//! 1. start from the curated table;
//! 2. replace ranges with the raw records' (NVD CPE matches with their sources, the CNA's
//!    affected versions, OSV ranges); drop ids a feed marks rejected, with a note;
//! 3. apply the evidence file (components, binaries, hypervisors, fix subjects, ranges,
//!    fixes, drops);
//! 4. derive mainline fixes from Debian's packaging of upstream releases, stable-branch
//!    fixes from the Debian upstream merges and the stable mails (a CVE named, or every
//!    fix-commit subject listed), and a bound on the mainline fix where none is known;
//! 5. normalise and write, sorted, so that the same inputs always give the same bytes.

pub mod announce;
pub mod debian;
pub mod derive;
pub mod evidence;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hvguard_core::HypervisorKind;

use crate::import::{parse_snapshot, Dropped};
use crate::model::{Advisory, AffectedProduct, Event, FixFact, Product, Range, Ranges};
use crate::version::VersionScheme;
use announce::{parse_announcement, Announcement};
use evidence::Evidence;

/// The command that regenerates the shipped snapshot, written into it.
pub const BUILT_BY: &str = "hvguard db build --from crates/advisory/data/build --out crates/advisory/data/hypervisor-advisories.json";

/// Files larger than this are not inputs of this build.
const INPUT_LIMIT: u64 = 16 << 20;

/// Why the build stopped.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// An input could not be read.
    #[error("{}: {cause}", .path.display())]
    Io {
        /// The input.
        path: PathBuf,
        /// The cause (in the message, not exposed again as a `source()`).
        cause: std::io::Error,
    },
    /// An input is malformed.
    #[error("{}: {message}", .path.display())]
    Input {
        /// The input.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The inputs contradict each other or leave a record incomplete.
    #[error("{message}")]
    Inconsistent {
        /// What is wrong.
        message: String,
    },
}

fn input(path: &Path, message: impl Into<String>) -> BuildError {
    BuildError::Input {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, BuildError> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|cause| BuildError::Io {
        path: path.to_path_buf(),
        cause,
    })?;
    let mut bytes = Vec::new();
    file.take(INPUT_LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(|cause| BuildError::Io {
            path: path.to_path_buf(),
            cause,
        })?;
    if bytes.len() as u64 > INPUT_LIMIT {
        return Err(input(path, format!("larger than {INPUT_LIMIT} bytes")));
    }
    Ok(bytes)
}

/// The `.json`/`.txt` files of a folder (recursively), sorted.
fn files(dir: &Path, ext: &str) -> Result<Vec<PathBuf>, BuildError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|cause| BuildError::Io {
            path: d.clone(),
            cause,
        })?;
        for entry in entries {
            let entry = entry.map_err(|cause| BuildError::Io {
                path: d.clone(),
                cause,
            })?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|cause| BuildError::Io {
                path: path.clone(),
                cause,
            })?;
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() && path.extension().is_some_and(|e| e == ext) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// What a build produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Built {
    /// The advisories, sorted by id.
    pub advisories: Vec<Advisory>,
    /// Ids left out, with the reason.
    pub dropped: Vec<Dropped>,
    /// One line per derived fact, for review.
    pub log: Vec<String>,
}

impl Built {
    /// The snapshot text (`hvguard.advisories/v1`, wrapped, pretty, sorted).
    pub fn to_json(&self) -> Result<String, BuildError> {
        crate::import::write_snapshot(&self.advisories, &self.dropped, Some(BUILT_BY)).map_err(
            |e| BuildError::Inconsistent {
                message: format!("writing the snapshot: {e}"),
            },
        )
    }
}

/// The raw records of the feeds, by CVE id.
struct Raw {
    nvd: BTreeMap<String, Option<Advisory>>,
    cve5: BTreeMap<String, Option<Advisory>>,
    osv: BTreeMap<String, Advisory>,
}

fn load_raw(from: &Path) -> Result<Raw, BuildError> {
    let mut raw = Raw {
        nvd: BTreeMap::new(),
        cve5: BTreeMap::new(),
        osv: BTreeMap::new(),
    };
    for path in files(&from.join("nvd"), "json")? {
        let id = stem(&path)?;
        let bytes = read(&path)?;
        let advisory =
            crate::import::parse_nvd_cve(&path, &bytes).map_err(|e| input(&path, e.to_string()))?;
        raw.nvd.insert(id, advisory);
    }
    for path in files(&from.join("cve5"), "json")? {
        let id = stem(&path)?;
        let bytes = read(&path)?;
        let advisory =
            crate::import::parse_cve5(&path, &bytes).map_err(|e| input(&path, e.to_string()))?;
        raw.cve5.insert(id, advisory);
    }
    for path in files(&from.join("osv"), "json")? {
        let bytes = read(&path)?;
        if let Some(advisory) =
            crate::import::parse_osv(&path, &bytes).map_err(|e| input(&path, e.to_string()))?
        {
            raw.osv.insert(advisory.id.clone(), advisory);
        }
    }
    Ok(raw)
}

fn stem(path: &Path) -> Result<String, BuildError> {
    path.file_stem()
        .and_then(|s| s.to_str())
        .map(str::to_owned)
        .ok_or_else(|| input(path, "file name is not UTF-8"))
}

fn load_announcements(dir: &Path) -> Result<Vec<Announcement>, BuildError> {
    let mut out = Vec::new();
    for path in files(dir, "txt")? {
        let version = stem(&path)?;
        // The README of the folder names the premature 8.2.2 mail: not a release.
        if version.contains("early") {
            continue;
        }
        let rel = format!(
            "qemu-stable/{}",
            path.strip_prefix(dir).unwrap_or(&path).display()
        );
        let bytes = read(&path)?;
        let a = parse_announcement(&version, &rel, &bytes).map_err(|m| input(&path, m))?;
        out.push(a);
    }
    Ok(out)
}

fn load_changelog(path: &Path) -> Result<Vec<hvguard_core::ChangelogEntry>, BuildError> {
    use std::io::Read;
    let bytes = read(path)?;
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(&bytes[..])
        .take(64 << 20)
        .read_to_end(&mut text)
        .map_err(|e| input(path, format!("not a readable gzip stream: {e}")))?;
    Ok(hvguard_core::changelog::parse(&String::from_utf8_lossy(
        &text,
    )))
}

/// The curated component names that the taxonomy spells differently.
fn taxonomy_name(product: &Product, component: &str) -> Option<String> {
    let renamed = match (product, component) {
        (_, "other") => return None,
        (Product::Qemu, "agent") => "guest-agent",
        (Product::Kata, "agent") => "kata-agent",
        (Product::Kata, "runtime") => "kata-runtime",
        (_, "rng") => "virtio-rng",
        (_, "balloon") => "virtio-balloon",
        (_, other) => other,
    };
    Some(renamed.to_owned())
}

/// The binaries a QEMU or Firecracker component lives in, when not the main binary.
fn binaries_of(product: &Product, component: &str) -> Vec<HypervisorKind> {
    match (product, component) {
        (Product::Qemu, "qemu-img") => vec![HypervisorKind::QemuImg],
        (Product::Qemu, "guest-agent") => vec![HypervisorKind::QemuGuestAgent],
        (Product::Qemu, "virtiofsd") => vec![HypervisorKind::QemuVirtiofsd],
        (Product::Qemu, "bridge-helper") => vec![HypervisorKind::QemuBridgeHelper],
        // The NBD server runs in qemu-nbd, in qemu-storage-daemon and, through QMP
        // nbd-server-start, in the emulator itself.
        (Product::Qemu, "nbd") => vec![
            HypervisorKind::Qemu,
            HypervisorKind::QemuNbd,
            HypervisorKind::QemuStorageDaemon,
        ],
        (Product::Firecracker, "jailer") => vec![HypervisorKind::Jailer],
        _ => Vec::new(),
    }
}

/// Replaces the ranges of `adv`'s product with those of a raw record of the same product.
fn take_ranges(adv: &mut Advisory, raw: &Advisory) -> bool {
    let Some(product) = adv.products.first().map(|p| p.product.clone()) else {
        return false;
    };
    let Some(entry) = raw.products.iter().find(|p| p.product == product) else {
        return false;
    };
    if let Some(own) = adv.products.first_mut() {
        own.ranges = entry.ranges.clone();
    }
    true
}

/// Step 2: ranges and platforms from the raw records; rejected ids dropped.
fn apply_raw(
    curated: Vec<Advisory>,
    raw: &Raw,
    dropped: &mut Vec<Dropped>,
    log: &mut Vec<String>,
) -> Vec<Advisory> {
    let mut out = Vec::new();
    for mut adv in curated {
        let id = adv.id.clone();
        if let Some(None) = raw.nvd.get(&id) {
            dropped.push(Dropped {
                id,
                reason: "NVD marks the CVE id Rejected".into(),
            });
            continue;
        }
        if let Some(None) = raw.cve5.get(&id) {
            dropped.push(Dropped {
                id,
                reason: "the CVE record's state is REJECTED".into(),
            });
            continue;
        }
        let origin = adv.provenance.range_origin.clone().unwrap_or_default();
        match origin.as_str() {
            "nvd-cpe" => {
                if let Some(Some(nvd)) = raw.nvd.get(&id) {
                    if take_ranges(&mut adv, nvd) {
                        log.push(format!("{id}: ranges from NVD CPE matches"));
                    }
                    adv.platforms = nvd.platforms.clone();
                }
            }
            "cna" => {
                if let Some(Some(cve5)) = raw.cve5.get(&id) {
                    if take_ranges(&mut adv, cve5) {
                        log.push(format!("{id}: ranges from the CVE 5 record"));
                    }
                }
            }
            "osv" => {
                if let Some(osv) = raw.osv.get(&id) {
                    if take_ranges(&mut adv, osv) {
                        log.push(format!("{id}: ranges from the OSV record"));
                    }
                }
            }
            _ => {}
        }
        // Ranges the curated table kept (vendor notes, a CNA record not in the inputs) say
        // where they came from.
        let note = adv.provenance.note.clone();
        let label = match (&origin[..], note.as_deref()) {
            ("", _) | ("none", _) => None,
            (o, Some(n)) => Some(format!("curated table ({o}): {n}")),
            (o, None) => Some(format!("curated table ({o})")),
        };
        if let Some(label) = label {
            adv.label_sources(&label);
        }
        if let Some(Some(nvd)) = raw.nvd.get(&id) {
            if !nvd.platforms.is_empty() {
                adv.platforms = nvd.platforms.clone();
            }
            // The curated table keeps no links; NVD's reference list is the record's.
            if adv.references.is_empty() {
                adv.references = nvd.references.clone();
            }
        }
        out.push(adv);
    }
    out
}

/// Step 3: the evidence file.
fn apply_evidence(
    advisories: Vec<Advisory>,
    evidence: &Evidence,
    dropped: &mut Vec<Dropped>,
    path: &Path,
) -> Result<Vec<Advisory>, BuildError> {
    let known: std::collections::BTreeSet<&str> =
        advisories.iter().map(|a| a.id.as_str()).collect();
    for fact in &evidence.fact {
        if !known.contains(fact.id.as_str()) && !dropped.iter().any(|d| d.id == fact.id) {
            return Err(input(
                path,
                format!("fact for {}, which no input record has", fact.id),
            ));
        }
        for c in &fact.components {
            if crate::relevance::taxonomy::spec(c).is_none() {
                return Err(input(
                    path,
                    format!(
                        "fact for {}: component {c:?} is not in the taxonomy",
                        fact.id
                    ),
                ));
            }
        }
    }
    let mut out = Vec::new();
    for mut adv in advisories {
        let product = adv
            .products
            .first()
            .map(|p| p.product.clone())
            .unwrap_or(Product::Qemu);
        let scheme = adv
            .products
            .first()
            .and_then(|p| p.ranges.ranges.first().map(|r| r.scheme))
            .unwrap_or(match product {
                Product::RustVmm(_) => VersionScheme::Semver,
                _ => VersionScheme::Upstream,
            });
        // The curated single component, in the taxonomy's spelling.
        let mut components: Vec<String> = adv
            .component
            .take()
            .and_then(|c| taxonomy_name(&product, &c))
            .into_iter()
            .collect();
        if let Product::RustVmm(_) = product {
            components = vec!["rust-vmm".into()];
        }
        let mut replaced = false;
        let mut drop = None;
        let id = adv.id.clone();
        for fact in evidence.facts_for(&id) {
            if !fact.components.is_empty() {
                if !replaced {
                    components.clear();
                    replaced = true;
                }
                components.extend(fact.components.iter().cloned());
            }
            adv.devices.extend(fact.devices.iter().cloned());
            adv.binaries.extend(fact.binaries.iter().copied());
            adv.hypervisors.extend(fact.hypervisors.iter().copied());
            adv.platforms.extend(fact.platforms.iter().copied());
            adv.fix_subjects.extend(fact.fix_subjects.iter().cloned());
            let entry = product_entry(&mut adv, &product);
            for interval in &fact.ranges {
                let mut events = vec![Event::Introduced(
                    interval.introduced.clone().unwrap_or_else(|| "0".into()),
                )];
                events.extend(interval.fixed.clone().map(Event::Fixed));
                events.extend(interval.last_affected.clone().map(Event::LastAffected));
                entry.ranges.ranges.push(Range {
                    scheme,
                    events,
                    source: Some(format!("evidence.toml: {}", fact.source)),
                });
            }
            for fix in &fact.fixes {
                entry.ranges.fixes.push(FixFact {
                    scheme,
                    version: fix.version.clone(),
                    kind: fix.kind,
                    source: format!("evidence.toml: {}", fact.source),
                });
            }
            if let Some(reason) = &fact.drop {
                drop = Some(format!("{reason} ({})", fact.source));
            }
        }
        if let Some(reason) = drop {
            dropped.push(Dropped {
                id: adv.id.clone(),
                reason,
            });
            continue;
        }
        if components.is_empty() {
            return Err(BuildError::Inconsistent {
                message: format!(
                    "{}: no component from the taxonomy (the curated table says {:?}); add a fact to {}",
                    adv.id,
                    adv.provenance.note.as_deref().unwrap_or(""),
                    path.display()
                ),
            });
        }
        for c in &components {
            if crate::relevance::taxonomy::spec(c).is_none() {
                return Err(BuildError::Inconsistent {
                    message: format!("{}: component {c:?} is not in the taxonomy", adv.id),
                });
            }
        }
        if adv.binaries.is_empty() {
            let mut implied: Vec<HypervisorKind> = components
                .iter()
                .flat_map(|c| binaries_of(&product, c))
                .collect();
            implied.dedup();
            adv.binaries = implied;
        }
        adv.component = components.first().cloned();
        adv.components = components;
        out.push(adv);
    }
    Ok(out)
}

fn product_entry<'a>(adv: &'a mut Advisory, product: &Product) -> &'a mut AffectedProduct {
    if !adv.products.iter().any(|p| &p.product == product) {
        adv.products.push(AffectedProduct {
            product: product.clone(),
            package: None,
            ranges: Ranges::default(),
        });
    }
    let index = adv
        .products
        .iter()
        .position(|p| &p.product == product)
        .unwrap_or(0);
    &mut adv.products[index]
}

/// Runs the whole build over the input folder `from`.
pub fn build(from: &Path) -> Result<Built, BuildError> {
    let curated_path = from.join("curated/hypervisor-advisories.json");
    let curated = parse_snapshot(&curated_path, &read(&curated_path)?)
        .map_err(|e| input(&curated_path, e.to_string()))?;
    let evidence_path = from.join("evidence.toml");
    let evidence_text =
        String::from_utf8(read(&evidence_path)?).map_err(|_| input(&evidence_path, "not UTF-8"))?;
    let evidence = Evidence::parse(&evidence_text).map_err(|m| input(&evidence_path, m))?;
    let raw = load_raw(from)?;
    let announcements = load_announcements(&from.join("qemu-stable"))?;
    let changelog = load_changelog(&from.join("debian/qemu.changelog.Debian.gz"))?;
    let mut dropped = Vec::new();
    let mut log = Vec::new();
    let advisories = apply_raw(curated, &raw, &mut dropped, &mut log);
    let mut advisories = apply_evidence(advisories, &evidence, &mut dropped, &evidence_path)?;
    let merges = debian::stable_merges(&changelog);
    derive::mainline_fixes(
        &mut advisories,
        &debian::upstream_releases(&changelog),
        &mut log,
    );
    derive::stable_fixes(
        &mut advisories,
        &merges,
        &announcements,
        &evidence.release,
        &mut log,
    );
    for adv in &mut advisories {
        adv.provenance.feed = "hvguard-snapshot".into();
        adv.normalize();
    }
    advisories.sort_by(|a, b| a.id.cmp(&b.id));
    dropped.sort_by(|a, b| a.id.cmp(&b.id));
    dropped.dedup();
    Ok(Built {
        advisories,
        dropped,
        log,
    })
}
