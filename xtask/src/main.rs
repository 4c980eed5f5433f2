//! `cargo xtask`: build tasks that need hvguard's clap definition.
//!
//! ```text
//! cargo xtask assets [--out DIR]     man pages and shell completions
//!                                    (default DIR: <target>/release/hvguard-assets)
//! cargo xtask deb [ARGS...]          assets, then `cargo deb -p hvguard ARGS...`
//! ```

mod assets;

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Vec<String>) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("assets") => {
            let out = match args.get(1).map(String::as_str) {
                Some("--out") => PathBuf::from(args.get(2).context("--out needs a folder")?),
                Some(other) => bail!("unexpected argument {other:?}"),
                None => target_dir().join(assets::ASSETS_IN_TARGET),
            };
            for file in assets::generate(&out)? {
                println!("{}", file.display());
            }
            Ok(())
        }
        Some("deb") => {
            assets::generate(&target_dir().join(assets::ASSETS_IN_TARGET))?;
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let status = Command::new(cargo)
                .args(["deb", "-p", "hvguard"])
                .args(&args[1..])
                .current_dir(workspace())
                .status()
                .context("cargo deb (install it with `cargo install cargo-deb`)")?;
            if !status.success() {
                bail!("cargo deb failed ({status})");
            }
            Ok(())
        }
        _ => bail!("usage: cargo xtask assets [--out DIR] | cargo xtask deb [CARGO-DEB ARGS...]"),
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// CARGO_TARGET_DIR when set (relative to the workspace), else `<workspace>/target`.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => workspace().join(dir),
        None => workspace().join("target"),
    }
}
