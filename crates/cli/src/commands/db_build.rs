//! `hvguard db build --from DIR --out FILE [--check]`: regenerates the shipped
//! `hvguard.advisories/v1` snapshot from the raw inputs and the reviewed evidence file
//! (docs/advisory-data-build.md).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::Outcome;
use crate::output::note;

/// Arguments of `db build`.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// The input folder (in the repository: crates/advisory/data/build).
    #[arg(long, value_name = "DIR")]
    pub from: PathBuf,
    /// The snapshot to write (in the repository: crates/advisory/data/hypervisor-advisories.json).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Do not write: exit 1 when FILE differs from what the inputs build.
    #[arg(long)]
    pub check: bool,
    /// Print every derived fact on stderr.
    #[arg(long)]
    pub verbose: bool,
}

/// Runs `hvguard db build`.
pub fn run(args: BuildArgs) -> Result<Outcome> {
    let built = hvguard_advisory::build::build(&args.from)?;
    let text = built.to_json()?;
    if args.verbose {
        for line in &built.log {
            note(line);
        }
    }
    for d in &built.dropped {
        note(&format!("dropped {}: {}", d.id, d.reason));
    }
    note(&format!(
        "built {} advisories ({} dropped, {} derived facts) from {}",
        built.advisories.len(),
        built.dropped.len(),
        built.log.len(),
        args.from.display()
    ));
    let current = std::fs::read(&args.out).ok();
    if args.check {
        return match current {
            Some(bytes) if bytes == text.as_bytes() => {
                note(&format!("{} is up to date", args.out.display()));
                Ok(Outcome::Clean)
            }
            Some(bytes) => {
                let old = String::from_utf8_lossy(&bytes);
                let line = old
                    .lines()
                    .zip(text.lines())
                    .position(|(a, b)| a != b)
                    .unwrap_or_else(|| old.lines().count().min(text.lines().count()))
                    + 1;
                note(&format!(
                    "{} differs from the build at line {line}: run `hvguard db build` without --check",
                    args.out.display()
                ));
                Ok(Outcome::Findings)
            }
            None => {
                note(&format!("{} does not exist", args.out.display()));
                Ok(Outcome::Findings)
            }
        };
    }
    if current.as_deref() == Some(text.as_bytes()) {
        note(&format!("{} is up to date", args.out.display()));
        return Ok(Outcome::Clean);
    }
    write_replacing(&args.out, text.as_bytes())?;
    note(&format!("wrote {}", args.out.display()));
    Ok(Outcome::Clean)
}

/// Writes `bytes` to `target` through a temporary file in the same folder and a rename; a
/// file it replaces is kept as `<target>.bak`.
fn write_replacing(target: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .with_context(|| format!("{}: not a file path", target.display()))?
        .to_string_lossy()
        .into_owned();
    let temp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        if target.exists() {
            std::fs::copy(target, dir.join(format!("{name}.bak")))?;
        }
        std::fs::rename(&temp, target)?;
        if let Ok(d) = std::fs::File::open(&dir) {
            // Best effort: some file systems refuse to fsync a folder; the rename is done.
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        // Best effort: the temporary file may not exist.
        let _ = std::fs::remove_file(&temp);
    }
    result.with_context(|| format!("{}: writing the snapshot", target.display()))
}
