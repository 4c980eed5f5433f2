//! The crate's one error type: every variant names the file it is about.

use std::path::PathBuf;

/// Why the facts file or a previous document could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// The facts file is not what this build reads.
    #[error("{path}: {message}")]
    Facts {
        /// The file (`<shipped>/hypervisors.toml` for the embedded copy).
        path: PathBuf,
        /// What is wrong, with the line when the TOML parser gives one.
        message: String,
    },
    /// A `--previous` document that is not one `hypervisors compare --format markdown` wrote.
    #[error("{path}: {message}")]
    Previous {
        /// The document.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}
