//! Man pages (clap_mangen) and shell completions (clap_complete), built from the clap
//! definition the `hvguard` binary parses with, so they cannot drift from it.

use anyhow::{Context, Result};
use clap_complete::Shell;
use std::path::{Path, PathBuf};

/// Where the .deb's assets are looked for: cargo-deb maps `target/release/...` in
/// `[package.metadata.deb] assets` to the real target folder (CARGO_TARGET_DIR included).
pub const ASSETS_IN_TARGET: &str = "release/hvguard-assets";

/// The shells completions are built for, and the file name each one's loader expects.
pub const SHELLS: [(Shell, &str); 3] = [
    (Shell::Bash, "hvguard.bash"),
    (Shell::Zsh, "_hvguard"),
    (Shell::Fish, "hvguard.fish"),
];

/// Writes `out/man/*.1.gz` (one page for hvguard and one per subcommand,
/// `hvguard-db-update.1.gz` for `hvguard db update`; compressed as Debian policy wants, since
/// cargo-deb leaves built assets as they are) and `out/completions/*`. Returns every file
/// written.
pub fn generate(out: &Path) -> Result<Vec<PathBuf>> {
    let man = out.join("man");
    let completions = out.join("completions");
    for dir in [&man, &completions] {
        // Stale pages of removed subcommands must not be packaged.
        if dir.exists() {
            std::fs::remove_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
        }
        std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
    }
    clap_mangen::generate_to(hvguard::command(), &man)
        .with_context(|| format!("man pages into {}", man.display()))?;
    gzip_pages(&man)?;
    for (shell, name) in SHELLS {
        let written =
            clap_complete::generate_to(shell, &mut hvguard::command(), "hvguard", &completions)
                .with_context(|| format!("{shell} completion into {}", completions.display()))?;
        anyhow::ensure!(
            written.file_name().is_some_and(|n| n == name),
            "{shell} completion written as {}, expected {name}",
            written.display()
        );
    }
    let mut files = Vec::new();
    for dir in [&man, &completions] {
        for entry in std::fs::read_dir(dir).with_context(|| format!("{}", dir.display()))? {
            files.push(entry?.path());
        }
    }
    files.sort();
    Ok(files)
}

/// Replaces every `*.1` in `dir` by a `*.1.gz` with no name or time in its header, so the
/// package is the same for the same sources.
fn gzip_pages(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("{}", dir.display()))? {
        let page = entry?.path();
        if page.extension().is_none_or(|e| e != "1") {
            continue;
        }
        let roff = std::fs::read(&page).with_context(|| format!("{}", page.display()))?;
        let mut gz = page.clone().into_os_string();
        gz.push(".gz");
        let file = std::fs::File::create(&gz).with_context(|| format!("{}", page.display()))?;
        let mut encoder = flate2::GzBuilder::new()
            .mtime(0)
            .write(file, flate2::Compression::best());
        std::io::Write::write_all(&mut encoder, &roff)
            .and_then(|()| encoder.finish().map(drop))
            .with_context(|| format!("{}.gz", page.display()))?;
        std::fs::remove_file(&page).with_context(|| format!("{}", page.display()))?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::process::Command;

    fn names(files: &[PathBuf]) -> Vec<String> {
        files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn man_pages_and_completions_cover_every_command() {
        let dir = tempfile::tempdir().unwrap();
        let files = generate(dir.path()).unwrap();
        let names = names(&files);
        for page in [
            "hvguard.1.gz",
            "hvguard-scan.1.gz",
            "hvguard-db.1.gz",
            "hvguard-db-update.1.gz",
            "hvguard-explain.1.gz",
            "_hvguard",
            "hvguard.bash",
            "hvguard.fish",
        ] {
            assert!(
                names.contains(&page.to_string()),
                "{page} missing from {names:?}"
            );
        }
        assert!(
            !names.iter().any(|n| n.ends_with(".1")),
            "uncompressed page left"
        );
        let gz = std::fs::File::open(dir.path().join("man/hvguard-scan.1.gz")).unwrap();
        let mut scan = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(gz), &mut scan).unwrap();
        assert!(
            scan.starts_with(".ie \\n(.g .ds Aq"),
            "roff: {}",
            &scan[..80]
        );
        assert!(scan.contains("textfile\\-dir") && scan.contains("nfd\\-file"));
        for (_, name) in SHELLS {
            let text = std::fs::read_to_string(dir.path().join("completions").join(name)).unwrap();
            assert!(text.contains("textfile-dir"), "{name}");
        }
        // A second run replaces, it does not accumulate.
        assert_eq!(generate(dir.path()).unwrap().len(), files.len());
    }

    /// The pages format without warnings (man-db and groff are part of every Debian system)
    /// and the completions load in their shells where those are installed.
    #[test]
    fn pages_render_and_completions_parse() {
        let dir = tempfile::tempdir().unwrap();
        generate(dir.path()).unwrap();
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        let have = |tool: &str| {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .is_ok_and(|o| o.status.success());
            if !found {
                assert!(!ci, "{tool} is missing (.ci/run installs it)");
                eprintln!("\n*** SKIPPED: {tool} not installed; its check did not run ***\n");
            }
            found
        };
        if have("man") {
            let out = Command::new("man")
                .args(["--warnings", "-E", "UTF-8", "-l"])
                .arg(dir.path().join("man/hvguard-scan.1.gz"))
                .env("MANPAGER", "cat")
                .env("MANWIDTH", "80")
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success() && stderr.trim().is_empty(), "{stderr}");
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.contains("--textfile-dir"), "{text}");
        }
        let completions = dir.path().join("completions");
        for (shell, file, args) in [
            ("bash", "hvguard.bash", vec!["-n"]),
            ("zsh", "_hvguard", vec!["-n"]),
            ("fish", "hvguard.fish", vec!["--no-execute"]),
        ] {
            if !have(shell) {
                continue;
            }
            let out = Command::new(shell)
                .args(&args)
                .arg(completions.join(file))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{shell} rejects {file}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
