//! Rollback artifacts: the `.deb` files of the versions installed *before* an update, saved
//! with their SHA-256 under `rollback/<transaction>/` with a `manifest.json`, so that the
//! old versions can be reinstalled even when the archive no longer offers them.

use std::path::{Path, PathBuf};

use crate::apt::{find_deb, Apt, APT_ARCHIVES};
use crate::journal::ArtifactRecord;
use crate::state::{private_dir, sha256_file, write_atomic};
use crate::UpdateError;

/// The manifest file in each artifact folder.
pub const MANIFEST: &str = "manifest.json";
/// A manifest is a short list; anything larger is not one hvguard wrote.
const MANIFEST_LIMIT: u64 = 1 << 20;

/// Saves the `.deb` of every `(package, version)` into `dir`: from apt's cache when it has
/// the file, else downloaded with `apt-get download`. Returns the records, hashed.
pub fn save(
    apt: &Apt,
    dir: &Path,
    installed: &[(String, String)],
) -> Result<Vec<ArtifactRecord>, UpdateError> {
    private_dir(dir)?;
    let mut missing = Vec::new();
    for (package, version) in installed {
        match find_deb(Path::new(APT_ARCHIVES), package, version) {
            Ok(cached) => {
                let name = cached.file_name().map(PathBuf::from).unwrap_or_default();
                let target = dir.join(name);
                let bytes = std::fs::read(&cached)
                    .map_err(|e| UpdateError::io(&cached, "reading apt's cached package", e))?;
                write_atomic(&target, &bytes)?;
            }
            Err(_) => missing.push((package.clone(), version.clone())),
        }
    }
    apt.download(dir, &missing)?;
    let mut records = Vec::new();
    for (package, version) in installed {
        let path = find_deb(dir, package, version)?;
        let deb = apt.deb_fields(&path)?;
        if &deb.package != package || &deb.version != version {
            return Err(UpdateError::Artifact {
                path,
                reason: format!(
                    "holds {} {} where {package} {version} was expected",
                    deb.package, deb.version
                ),
            });
        }
        let size = std::fs::metadata(&path)
            .map_err(|e| UpdateError::io(&path, "reading the artifact's size", e))?
            .len();
        records.push(ArtifactRecord {
            package: deb.package,
            version: deb.version,
            arch: deb.arch,
            sha256: sha256_file(&path)?,
            size,
            path,
        });
    }
    let json = serde_json::to_vec_pretty(&records).map_err(|e| UpdateError::Artifact {
        path: dir.join(MANIFEST),
        reason: e.to_string(),
    })?;
    write_atomic(&dir.join(MANIFEST), &json)?;
    Ok(records)
}

/// Reads an artifact folder's manifest.
pub fn load(dir: &Path) -> Result<Vec<ArtifactRecord>, UpdateError> {
    use std::io::Read;
    let path = dir.join(MANIFEST);
    let file = std::fs::File::open(&path)
        .map_err(|e| UpdateError::io(&path, "opening the artifact manifest", e))?;
    let mut bytes = Vec::new();
    file.take(MANIFEST_LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| UpdateError::io(&path, "reading the artifact manifest", e))?;
    if bytes.len() as u64 > MANIFEST_LIMIT {
        return Err(UpdateError::Artifact {
            path,
            reason: "manifest larger than 1 MiB".into(),
        });
    }
    serde_json::from_slice(&bytes).map_err(|e| UpdateError::Artifact {
        path,
        reason: format!("not an artifact manifest: {e}"),
    })
}

/// Checks that every artifact is still there with the digest it was saved with.
pub fn verify(records: &[ArtifactRecord]) -> Result<(), UpdateError> {
    if records.is_empty() {
        return Err(UpdateError::Input(
            "no rollback artifacts were saved".into(),
        ));
    }
    for r in records {
        if !r.path.is_file() {
            return Err(UpdateError::Artifact {
                path: r.path.clone(),
                reason: "the saved package is missing".into(),
            });
        }
        let digest = sha256_file(&r.path)?;
        if digest != r.sha256 {
            return Err(UpdateError::Artifact {
                path: r.path.clone(),
                reason: format!(
                    "sha256 {digest} differs from the {} recorded when it was saved",
                    r.sha256
                ),
            });
        }
    }
    Ok(())
}

/// Removes the oldest artifact folders so that at most `keep` remain; folders named in
/// `protect` are never removed. Returns the folders removed.
pub fn prune(root: &Path, keep: usize, protect: &[PathBuf]) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    // Folder names start with the transaction's UTC timestamp: name order is age order.
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join(MANIFEST).is_file())
        .collect();
    dirs.sort();
    let mut removed = Vec::new();
    let excess = dirs.len().saturating_sub(keep);
    for dir in dirs.into_iter().take(excess) {
        if protect.contains(&dir) {
            continue;
        }
        if std::fs::remove_dir_all(&dir).is_ok() {
            removed.push(dir);
        }
    }
    removed
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn tampered_and_missing_artifacts_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.deb");
        std::fs::write(&file, b"package bytes").unwrap();
        let record = ArtifactRecord {
            package: "a".into(),
            version: "1".into(),
            arch: "amd64".into(),
            path: file.clone(),
            sha256: sha256_file(&file).unwrap(),
            size: 13,
        };
        verify(std::slice::from_ref(&record)).unwrap();
        std::fs::write(&file, b"evil bytes").unwrap();
        let e = verify(std::slice::from_ref(&record))
            .unwrap_err()
            .to_string();
        assert!(e.contains("a.deb") && e.contains("differs"), "{e}");
        std::fs::remove_file(&file).unwrap();
        let e = verify(&[record]).unwrap_err().to_string();
        assert!(e.contains("missing"), "{e}");
        assert!(verify(&[]).is_err());
    }

    #[test]
    fn pruning_keeps_the_newest_and_the_protected() {
        let dir = tempfile::tempdir().unwrap();
        let mut all = Vec::new();
        for name in [
            "20260101T000000Z-1",
            "20260102T000000Z-1",
            "20260103T000000Z-1",
            "20260104T000000Z-1",
        ] {
            let d = dir.path().join(name);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join(MANIFEST), b"[]").unwrap();
            all.push(d);
        }
        let removed = prune(dir.path(), 2, &[all[0].clone()]);
        assert_eq!(removed, vec![all[1].clone()]);
        assert!(all[0].exists() && all[2].exists() && all[3].exists());
        assert!(load(&all[3]).unwrap().is_empty());
    }
}
