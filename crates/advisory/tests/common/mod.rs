//! Shared helpers for the integration tests.

use std::path::PathBuf;

/// `tests/fixtures/advisories/<rel>` at the workspace root.
pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/advisories")
        .join(rel)
}
