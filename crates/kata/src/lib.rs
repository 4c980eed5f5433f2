//! Kata Containers and containerd configuration: where the files are, what they say, and
//! where each setting was written.
//!
//! [`discover`] walks a host root the way each Kata runtime looks for its configuration;
//! [`load_explicit`] loads files named on the command line. Both merge `config.d/`
//! drop-ins and keep, for every key, the file, line and column that set it.

#![forbid(unsafe_code)]

pub mod aliases;
pub mod binaries;
pub mod containerd;
pub mod discover;
pub mod dropin;
pub mod error;
pub mod explicit;
pub mod files;
pub mod glob;
pub mod harden;
pub mod load;
pub mod merge;
pub mod position;
pub mod runtime;

pub use binaries::{kata_binary_kinds, kata_binary_paths};
pub use containerd::{
    load_containerd, narrow_runtimes, notes_for, ContainerdNote, ContainerdScan, FoundRuntime,
    Handler,
};
pub use discover::{discover, Discovery, DiscoveryEnv};
pub use error::KataError;
pub use explicit::{load_explicit, load_explicit_with_warnings};
pub use load::{parse_config_str, ParsedConfig, MAX_CONFIG_BYTES, MAX_NESTING};
pub use merge::{load_with_dropins, load_with_dropins_except, Loaded};
