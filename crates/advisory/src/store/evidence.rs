//! Package-changelog evidence: CVEs that the changelog of a *newer* package version (the one
//! the package manager would install) says it fixed. `hvguard update status` records them;
//! every later `scan` joins them onto the advisories as distro facts, so that a CVE named
//! only in the candidate's changelog is known before the candidate is installed.
//!
//! The table is created on first use (`CREATE TABLE IF NOT EXISTS`): older stores gain it
//! without a schema bump, and an older hvguard reading a newer store simply ignores it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rusqlite::{params, Connection};

use super::{Store, StoreError};
use crate::model::{Advisory, AffectedProduct, ChangelogSource, DistroFix, DistroStatus, Product};

const CREATE: &str = "
CREATE TABLE IF NOT EXISTS package_changelog_evidence (
    cve TEXT NOT NULL,
    distro TEXT NOT NULL,
    release TEXT NOT NULL,
    source_package TEXT NOT NULL,
    fixed_version TEXT NOT NULL,
    read_from_package TEXT NOT NULL,
    read_from_version TEXT NOT NULL,
    line INTEGER NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (cve, distro, release, source_package)
);
";

/// One CVE a package changelog entry names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct ChangelogEvidence {
    /// The CVE id.
    pub cve: String,
    /// `debian`.
    pub distro: String,
    /// The release codename (`bookworm`).
    pub release: String,
    /// The source package (`qemu`).
    pub source_package: String,
    /// The version of the changelog entry naming the CVE: the first version with the fix.
    pub fixed_version: String,
    /// The binary package whose changelog was read.
    pub read_from_package: String,
    /// That package's version.
    pub read_from_version: String,
    /// The entry header's line in the decompressed changelog.
    pub line: u32,
}

impl ChangelogEvidence {
    fn fact(&self) -> DistroFix {
        DistroFix {
            distro: self.distro.clone(),
            release: self.release.clone(),
            package: self.source_package.clone(),
            status: DistroStatus::Fixed,
            fixed_version: Some(self.fixed_version.clone()),
            urgency: None,
            changelog: Some(ChangelogSource {
                package: self.read_from_package.clone(),
                package_version: self.read_from_version.clone(),
                line: self.line,
            }),
        }
    }
}

fn has_table(conn: &Connection, path: &Path) -> Result<bool, StoreError> {
    conn.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'package_changelog_evidence'",
        [],
        |row| row.get::<_, i64>(0),
    )
    .map(|n| n > 0)
    .map_err(|e| StoreError::sqlite(path, "looking for the changelog evidence table", e))
}

impl Store {
    /// Records `evidence` (one transaction, under the store's update lock so that a
    /// concurrent `db update` cannot drop it); a row for the same (CVE, distro, release,
    /// source package) is replaced by the newer reading. Returns the rows written.
    pub fn record_changelog_evidence(
        &mut self,
        evidence: &[ChangelogEvidence],
        now: &str,
    ) -> Result<usize, StoreError> {
        self.write_locked(super::journal_lock_wait(), |tx, path| {
            tx.execute_batch(CREATE).map_err(|e| {
                StoreError::sqlite(path, "creating the changelog evidence table", e)
            })?;
            let mut written = 0;
            let mut put = tx
                .prepare(
                    "INSERT OR REPLACE INTO package_changelog_evidence
                     (cve, distro, release, source_package, fixed_version, read_from_package,
                      read_from_version, line, recorded_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .map_err(|e| StoreError::sqlite(path, "recording changelog evidence", e))?;
            for e in evidence {
                written += put
                    .execute(params![
                        e.cve,
                        e.distro,
                        e.release,
                        e.source_package,
                        e.fixed_version,
                        e.read_from_package,
                        e.read_from_version,
                        e.line,
                        now
                    ])
                    .map_err(|err| StoreError::sqlite(path, "recording changelog evidence", err))?;
            }
            Ok(written)
        })
    }

    /// Every recorded piece of evidence, sorted; empty for a store that has none.
    pub fn changelog_evidence(&self) -> Result<Vec<ChangelogEvidence>, StoreError> {
        let path = &self.path;
        if !has_table(&self.conn, path)? {
            return Ok(Vec::new());
        }
        let sql_err = |e| StoreError::sqlite(path, "reading changelog evidence", e);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT cve, distro, release, source_package, fixed_version, read_from_package,
                        read_from_version, line
                 FROM package_changelog_evidence ORDER BY cve, source_package",
            )
            .map_err(sql_err)?;
        let rows = stmt
            .query_map([], |row| {
                Ok(ChangelogEvidence {
                    cve: row.get(0)?,
                    distro: row.get(1)?,
                    release: row.get(2)?,
                    source_package: row.get(3)?,
                    fixed_version: row.get(4)?,
                    read_from_package: row.get(5)?,
                    read_from_version: row.get(6)?,
                    line: u32::try_from(row.get::<_, i64>(7)?).unwrap_or(0),
                })
            })
            .map_err(sql_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sql_err)?;
        Ok(rows)
    }
}

/// Joins `evidence` onto `advisories`: a distro fact on every advisory known by the CVE, and
/// a minimal advisory (no CVSS, no range: rated medium, marked as coming from a changelog)
/// for a CVE no record knows, so that the matcher can judge it. Returns how many advisories
/// were added.
pub fn apply_changelog_evidence(
    advisories: &mut Vec<Advisory>,
    evidence: &[ChangelogEvidence],
) -> usize {
    let mut by_cve: BTreeMap<&str, Vec<&ChangelogEvidence>> = BTreeMap::new();
    for e in evidence {
        by_cve.entry(e.cve.as_str()).or_default().push(e);
    }
    let mut known: BTreeSet<&str> = BTreeSet::new();
    for adv in advisories.iter_mut() {
        let ids: Vec<String> = std::iter::once(adv.id.clone())
            .chain(adv.aliases.iter().cloned())
            .collect();
        let mut changed = false;
        for id in &ids {
            if let Some((cve, list)) = by_cve.get_key_value(id.as_str()) {
                known.insert(cve);
                adv.distro.extend(list.iter().map(|e| e.fact()));
                changed = true;
            }
        }
        if changed {
            adv.normalize();
        }
    }
    let mut added = 0;
    for (cve, list) in &by_cve {
        if known.contains(cve) {
            continue;
        }
        let Some(first) = list.first() else { continue };
        let Some(product) = Product::from_package_name(&first.source_package) else {
            continue;
        };
        let mut adv = Advisory::new(*cve);
        adv.summary = Some(format!(
            "Named as fixed in the {} changelog of {} {} (entry {}); no advisory record for it is in the store yet.",
            first.distro, first.read_from_package, first.read_from_version, first.fixed_version
        ));
        adv.products.push(AffectedProduct {
            product,
            package: Some(first.source_package.clone()),
            ranges: Default::default(),
        });
        adv.distro.extend(list.iter().map(|e| e.fact()));
        adv.provenance.feed = "package-changelog".into();
        adv.normalize();
        advisories.push(adv);
        added += 1;
    }
    advisories.sort_by(|a, b| a.id.cmp(&b.id));
    added
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn evidence(cve: &str) -> ChangelogEvidence {
        ChangelogEvidence {
            cve: cve.into(),
            distro: "debian".into(),
            release: "bookworm".into(),
            source_package: "qemu".into(),
            fixed_version: "1:7.2+dfsg-7+deb12u18".into(),
            read_from_package: "qemu-system-x86".into(),
            read_from_version: "1:7.2+dfsg-7+deb12u18+b3".into(),
            line: 1,
        }
    }

    #[test]
    fn recorded_evidence_survives_reopening_and_joins_advisories() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("advisories.db");
        let mut store = Store::open_or_create(&path).unwrap();
        assert!(store.changelog_evidence().unwrap().is_empty());
        let rows = [evidence("CVE-2025-11234"), evidence("CVE-2099-0001")];
        assert_eq!(
            store
                .record_changelog_evidence(&rows, "2026-11-29T00:00:00Z")
                .unwrap(),
            2
        );
        drop(store);
        let store = Store::open_readonly(&path).unwrap();
        let read = store.changelog_evidence().unwrap();
        assert_eq!(read, rows.to_vec());

        let mut advisories = vec![Advisory::new("CVE-2025-11234")];
        assert_eq!(apply_changelog_evidence(&mut advisories, &read), 1);
        assert_eq!(advisories.len(), 2);
        assert_eq!(advisories[0].distro.len(), 1);
        assert_eq!(
            advisories[0].distro[0].changelog.as_ref().unwrap().package,
            "qemu-system-x86"
        );
        let minted = &advisories[1];
        assert_eq!(minted.id, "CVE-2099-0001");
        assert_eq!(minted.provenance.feed, "package-changelog");
        assert_eq!(minted.products[0].product, Product::Qemu);
    }
}
