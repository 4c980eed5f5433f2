//! Why a boot test could not be attempted (exit code 2 in the CLI). A boot that was attempted
//! and failed is not an error: it is a [`crate::SmokeReport`] with `ok: false`.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SmokeError {
    /// A VMM kind `smoke` cannot boot yet (Firecracker, Cloud Hypervisor, ...).
    #[error("{what}: not supported yet; hvguard smoke boots QEMU only")]
    Unsupported { what: String },
    /// No guest kernel anywhere: configuration, flags or policy.
    #[error("no guest kernel: {} (give --kernel, or `kernel` in the policy's [smoke] table)", match .config { Some(c) => format!("{} sets no `kernel`", c.display()), None => "no Kata configuration names one".to_string() })]
    NoKernel { config: Option<PathBuf> },
    /// A configuration value of the wrong type or out of range.
    #[error("{}:{line}: {message}", .path.display())]
    Config {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// A combination of settings that cannot be booted.
    #[error("{message}")]
    InvalidSpec { message: String },
    /// A file the boot needs is missing or unreadable.
    #[error("{what} {}: {error}", .path.display())]
    MissingFile {
        what: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    /// A binary or module folder others could have changed.
    #[error("{}: refusing to execute: {why}", .path.display())]
    Untrusted { path: PathBuf, why: String },
    /// The VMM could not be started at all.
    #[error("{}: cannot start: {error}", .path.display())]
    Spawn {
        path: PathBuf,
        error: std::io::Error,
    },
    /// Any other I/O failure, with the path it concerns.
    #[error("{}: {error}", .path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}
