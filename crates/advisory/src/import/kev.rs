//! The CISA Known Exploited Vulnerabilities catalog (`known_exploited_vulnerabilities.json`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::read::{json_from_file, RECORD_LIMIT};
use crate::model::{parse_date, KevEntry};
use crate::ImportError;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Catalog {
    catalog_version: String,
    count: Option<usize>,
    vulnerabilities: Vec<Item>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Item {
    #[serde(rename = "cveID")]
    cve_id: String,
    date_added: Option<String>,
    known_ransomware_campaign_use: Option<String>,
}

/// The catalog: its version and the entries by CVE id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KevCatalog {
    /// `catalogVersion` (`2025.08.25`).
    pub version: String,
    /// Entries by CVE id.
    pub entries: BTreeMap<String, KevEntry>,
}

/// Parses a KEV catalog from bytes.
pub fn parse_kev(path: &Path, bytes: &[u8]) -> Result<KevCatalog, ImportError> {
    convert(path, super::read::json_from_slice(path, bytes)?)
}

/// Reads the KEV catalog file.
pub fn import_kev(path: &Path) -> Result<KevCatalog, ImportError> {
    convert(path, json_from_file(path, RECORD_LIMIT)?)
}

fn convert(path: &Path, catalog: Catalog) -> Result<KevCatalog, ImportError> {
    if let Some(count) = catalog.count {
        if count != catalog.vulnerabilities.len() {
            return Err(ImportError::format(
                path,
                format!(
                    "catalog says count {count} but lists {}",
                    catalog.vulnerabilities.len()
                ),
            ));
        }
    }
    let mut entries = BTreeMap::new();
    for item in catalog.vulnerabilities {
        let date_added = item
            .date_added
            .as_deref()
            .map(parse_date)
            .transpose()
            .map_err(|m| ImportError::format(path, format!("{}: {m}", item.cve_id)))?;
        entries.insert(
            item.cve_id.clone(),
            KevEntry {
                cve: item.cve_id,
                date_added,
                ransomware: item.known_ransomware_campaign_use,
            },
        );
    }
    Ok(KevCatalog {
        version: catalog.catalog_version,
        entries,
    })
}
