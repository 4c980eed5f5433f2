//! Static Kata releases side by side: each `kata-static` tarball is unpacked to
//! `/opt/kata-releases/<version>/` and `/opt/kata` becomes a symlink to the active one,
//! switched with one `rename(2)` so that a shim starting a VM sees either the old or the new
//! release, never half of one. The first switch migrates a plain `/opt/kata` directory into
//! the release store (marked, so that rolling back to it restores the plain directory).

pub mod transaction;

use std::path::{Path, PathBuf};
use std::time::Duration;

use hvguard_host::packages::exec::{run_tool, Tool};

use crate::state::{private_dir, sha256_file};
use crate::UpdateError;

const TAR: &str = "/usr/bin/tar";
/// Written into a release folder that was a plain `/opt/kata` before the first switch.
pub const MIGRATED_MARKER: &str = ".hvguard-migrated-from-plain-dir";

/// Where the static Kata install lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KataLayout {
    /// `/opt/kata`: a symlink after the first switch.
    pub kata_dir: PathBuf,
}

impl Default for KataLayout {
    fn default() -> Self {
        KataLayout {
            kata_dir: PathBuf::from("/opt/kata"),
        }
    }
}

/// What `/opt/kata` is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Current {
    /// Nothing there.
    Missing,
    /// A plain directory (as the tarball and kata-deploy leave it), with its release.
    PlainDir { version: Option<String> },
    /// A symlink into the release store.
    Link {
        target: PathBuf,
        version: Option<String>,
    },
}

impl KataLayout {
    pub fn new(kata_dir: impl Into<PathBuf>) -> Self {
        KataLayout {
            kata_dir: kata_dir.into(),
        }
    }

    fn parent(&self) -> &Path {
        self.kata_dir.parent().unwrap_or(Path::new("/"))
    }

    fn name(&self) -> String {
        self.kata_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "kata".into())
    }

    /// `/opt/kata-releases`.
    pub fn releases(&self) -> PathBuf {
        self.parent().join(format!("{}-releases", self.name()))
    }

    /// `/opt/kata-releases/<version>`.
    pub fn release(&self, version: &str) -> PathBuf {
        self.releases().join(version)
    }

    /// What the symlink stores: relative, so the tree can be mounted elsewhere.
    fn link_text(&self, version: &str) -> PathBuf {
        PathBuf::from(format!("{}-releases", self.name())).join(version)
    }

    /// What `/opt/kata` is now.
    pub fn current(&self) -> Result<Current, UpdateError> {
        let meta = match std::fs::symlink_metadata(&self.kata_dir) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Current::Missing),
            Err(e) => {
                return Err(UpdateError::io(
                    &self.kata_dir,
                    "reading the Kata install",
                    e,
                ))
            }
        };
        let version = read_version(&self.kata_dir);
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&self.kata_dir)
                .map_err(|e| UpdateError::io(&self.kata_dir, "reading the Kata symlink", e))?;
            Ok(Current::Link { target, version })
        } else if meta.is_dir() {
            Ok(Current::PlainDir { version })
        } else {
            Err(UpdateError::Input(format!(
                "{}: neither a directory nor a symlink",
                self.kata_dir.display()
            )))
        }
    }

    /// Releases present in the store, sorted.
    pub fn releases_present(&self) -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_dir(self.releases())
            .map(|entries| {
                entries
                    .flatten()
                    .filter(|e| e.path().is_dir())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }
}

/// The release named by `<dir>/VERSION` (first line, `v` prefix dropped), when it is one.
pub fn read_version(dir: &Path) -> Option<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(dir.join("VERSION"))
        .ok()?
        .take(4096)
        .read_to_string(&mut text)
        .ok()?;
    let line = text.lines().next()?.trim();
    let v = line.strip_prefix('v').unwrap_or(line);
    let ok = v.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+' | b'~'));
    ok.then(|| v.to_owned())
}

/// Checks a tarball's SHA-256 against the operator's `expected` (hex, any case).
pub fn check_digest(tarball: &Path, expected: &str) -> Result<String, UpdateError> {
    let expected = expected.trim().to_ascii_lowercase();
    if expected.len() != 64 || !expected.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(UpdateError::Input(format!(
            "--sha256 {expected:?} is not 64 hex digits"
        )));
    }
    let actual = sha256_file(tarball)?;
    if actual != expected {
        return Err(UpdateError::Input(format!(
            "{}: sha256 is {actual}, not the expected {expected}; refusing the tarball",
            tarball.display()
        )));
    }
    Ok(actual)
}

/// Unpacks a `kata-static` tarball into the release store; returns the release and its
/// folder. The tarball must hold `opt/kata/VERSION` (Kata's layout).
pub fn unpack(layout: &KataLayout, tarball: &Path) -> Result<(String, PathBuf), UpdateError> {
    let releases = layout.releases();
    private_dir(&releases)?;
    let scratch = releases.join(format!(".unpack-{}", std::process::id()));
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch)
            .map_err(|e| UpdateError::io(&scratch, "clearing an old unpack folder", e))?;
    }
    private_dir(&scratch)?;
    let result = (|| {
        let args: Vec<String> = vec![
            "-x".into(),
            "-f".into(),
            tarball.display().to_string(),
            "-C".into(),
            scratch.display().to_string(),
            "--no-same-owner".into(),
        ];
        let out = run_tool(&Tool {
            program: Path::new(TAR),
            args: &args,
            env: &[],
            cwd: None,
            timeout: Duration::from_secs(600),
            limit: 1 << 20,
            keep_stderr: true,
            log: None,
        })?;
        if !out.status.success() {
            return Err(UpdateError::Tool {
                command: format!("tar -x -f {}", tarball.display()),
                detail: out.tail(3),
            });
        }
        let tree = scratch.join("opt/kata");
        let version = read_version(&tree).ok_or_else(|| {
            UpdateError::Input(format!(
                "{}: not a kata-static tarball (no opt/kata/VERSION naming a release)",
                tarball.display()
            ))
        })?;
        let target = layout.release(&version);
        if target.exists() {
            return Err(UpdateError::Input(format!(
                "{}: release {version} is already unpacked there",
                target.display()
            )));
        }
        std::fs::rename(&tree, &target)
            .map_err(|e| UpdateError::io(&target, "moving the unpacked release into place", e))?;
        Ok((version, target))
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

/// What a switch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switched {
    /// The release active before, if known.
    pub previous: Option<String>,
    /// The plain directory that was moved into the store by this switch.
    pub migrated: Option<PathBuf>,
}

/// Points `/opt/kata` at release `version` atomically (a new symlink renamed over the old
/// one). A plain directory is first moved into the store as its own release.
pub fn switch(layout: &KataLayout, version: &str) -> Result<Switched, UpdateError> {
    let target = layout.release(version);
    if read_version(&target).as_deref() != Some(version) {
        return Err(UpdateError::Input(format!(
            "{}: release {version} is not in the store",
            target.display()
        )));
    }
    let mut out = Switched {
        previous: None,
        migrated: None,
    };
    match layout.current()? {
        Current::PlainDir { version: old } => {
            let name = old
                .clone()
                .unwrap_or_else(|| format!("unknown-{}", jiff::Timestamp::now().as_second()));
            let dest = layout.release(&name);
            if dest.exists() {
                return Err(UpdateError::Input(format!(
                    "{}: cannot migrate {} there, it exists",
                    dest.display(),
                    layout.kata_dir.display()
                )));
            }
            private_dir(&layout.releases())?;
            std::fs::rename(&layout.kata_dir, &dest).map_err(|e| {
                UpdateError::io(
                    &layout.kata_dir,
                    "moving the plain Kata directory into the release store",
                    e,
                )
            })?;
            let _ = std::fs::write(dest.join(MIGRATED_MARKER), b"");
            out.previous = old;
            out.migrated = Some(dest);
        }
        Current::Link { version: old, .. } => out.previous = old,
        Current::Missing => {}
    }
    let temp = layout
        .parent()
        .join(format!(".{}.switch-{}", layout.name(), std::process::id()));
    let _ = std::fs::remove_file(&temp);
    std::os::unix::fs::symlink(layout.link_text(version), &temp)
        .map_err(|e| UpdateError::io(&temp, "creating the new Kata symlink", e))?;
    std::fs::rename(&temp, &layout.kata_dir).map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        UpdateError::io(&layout.kata_dir, "switching the Kata symlink", e)
    })?;
    Ok(out)
}

/// Switches back to `version`; when that release was a migrated plain directory, restores
/// the plain directory exactly (the migration is undone).
pub fn switch_back(layout: &KataLayout, version: &str) -> Result<(), UpdateError> {
    let target = layout.release(version);
    if !target.join(MIGRATED_MARKER).exists() {
        switch(layout, version)?;
        return Ok(());
    }
    // Undo the migration: the symlink goes, the directory comes back under its old name.
    if let Current::Link { .. } = layout.current()? {
        std::fs::remove_file(&layout.kata_dir)
            .map_err(|e| UpdateError::io(&layout.kata_dir, "removing the Kata symlink", e))?;
    }
    std::fs::rename(&target, &layout.kata_dir).map_err(|e| {
        UpdateError::io(
            &target,
            "moving the release back to a plain Kata directory",
            e,
        )
    })?;
    let _ = std::fs::remove_file(layout.kata_dir.join(MIGRATED_MARKER));
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn release_tree(dir: &Path, version: &str) {
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::write(dir.join("VERSION"), format!("{version}\n")).unwrap();
        std::fs::write(dir.join("bin/marker"), version).unwrap();
    }

    fn tarball(work: &Path, version: &str) -> PathBuf {
        let src = work.join(format!("src-{version}"));
        release_tree(&src.join("opt/kata"), version);
        let file = work.join(format!("kata-static-{version}-amd64.tar.xz"));
        let status = std::process::Command::new(TAR)
            .args(["-c", "-J", "-f"])
            .arg(&file)
            .arg("-C")
            .arg(&src)
            .arg("./opt")
            .status()
            .unwrap();
        assert!(status.success());
        file
    }

    #[test]
    fn migrate_switch_and_revert_a_plain_directory() {
        let work = tempfile::tempdir().unwrap();
        let opt = work.path().join("opt");
        let layout = KataLayout::new(opt.join("kata"));
        release_tree(&layout.kata_dir, "3.20.0");
        assert_eq!(
            layout.current().unwrap(),
            Current::PlainDir {
                version: Some("3.20.0".into())
            }
        );
        let file = tarball(work.path(), "3.21.0");
        let digest = sha256_file(&file).unwrap();
        assert!(check_digest(&file, &"0".repeat(64)).is_err());
        assert!(check_digest(&file, "xyz").is_err());
        check_digest(&file, &digest.to_uppercase()).unwrap();
        let (version, dir) = unpack(&layout, &file).unwrap();
        assert_eq!(version, "3.21.0");
        assert!(dir.join("bin/marker").exists());
        assert!(
            unpack(&layout, &file).is_err(),
            "a second unpack is refused"
        );

        let s = switch(&layout, "3.21.0").unwrap();
        assert_eq!(s.previous.as_deref(), Some("3.20.0"));
        assert!(s.migrated.is_some());
        assert_eq!(read_version(&layout.kata_dir).as_deref(), Some("3.21.0"));
        assert_eq!(
            std::fs::read_link(&layout.kata_dir).unwrap(),
            PathBuf::from("kata-releases/3.21.0")
        );
        assert_eq!(layout.releases_present(), vec!["3.20.0", "3.21.0"]);

        switch_back(&layout, "3.20.0").unwrap();
        let meta = std::fs::symlink_metadata(&layout.kata_dir).unwrap();
        assert!(meta.is_dir(), "the plain directory is back");
        assert_eq!(read_version(&layout.kata_dir).as_deref(), Some("3.20.0"));
        assert!(!layout.kata_dir.join(MIGRATED_MARKER).exists());
        // And forward again, then back between two store releases.
        switch(&layout, "3.21.0").unwrap();
        assert!(switch(&layout, "9.9.9").is_err());
    }

    #[test]
    fn a_tarball_without_kata_layout_is_refused() {
        let work = tempfile::tempdir().unwrap();
        let src = work.path().join("src");
        std::fs::create_dir_all(src.join("etc")).unwrap();
        std::fs::write(src.join("etc/x"), "x").unwrap();
        let file = work.path().join("bad.tar");
        assert!(std::process::Command::new(TAR)
            .args(["-c", "-f"])
            .arg(&file)
            .arg("-C")
            .arg(&src)
            .arg("etc")
            .status()
            .unwrap()
            .success());
        let layout = KataLayout::new(work.path().join("opt/kata"));
        let e = unpack(&layout, &file).unwrap_err().to_string();
        assert!(e.contains("not a kata-static tarball"), "{e}");
        assert!(layout.releases_present().is_empty());
    }
}
