//! Which Kata releases read `config.d/` drop-ins.
//!
//! Facts, checked in the Kata sources and release records:
//! - Go runtime: drop-in support is kata-containers PR #4109 ("Drop in cfg files support",
//!   issue #4108), listed in the "Kata Containers 2.5.0-rc0" release PR #4591 (2022-07-05), so
//!   every release from 2.5.0 on reads `config.d/` (`src/runtime/pkg/katautils/config.go`,
//!   `decodeDropIns`). 2.4.x and older ignore the folder silently.
//! - runtime-rs: PR #4772 ("Drop-in cfg files support in runtime-rs", issue #4771, 2022-07/08)
//!   landed on the runtime-rs development line before runtime-rs first shipped in 3.0.0
//!   (`src/libs/kata-types/src/config/drop_in.rs`). There is no runtime-rs before 3.0.0.
//! - Both read every entry of `config.d/` in file-name order, whatever its suffix, and both
//!   fail the whole configuration when one entry is not valid TOML (documented in
//!   `src/runtime/README.md`, "Drop-in configuration file fragments").

use hvguard_core::version::UpstreamVersion;
use hvguard_core::KataRuntime;

/// True when `runtime` at `kata_release` (e.g. `"3.20.0"`, `"v2.5.1"`) reads `config.d/`.
///
/// An unknown or unparseable release gives `false`: a drop-in that Kata silently ignores would
/// look like hardening without being any, so callers fall back to the full hardened copy (or
/// ask for the release) unless support is certain. A pre-release of the first supporting
/// version (`2.5.0-alpha1`) is also `false`, since alphas predate the feature's merge.
pub fn supports_dropins(runtime: KataRuntime, kata_release: Option<&str>) -> bool {
    // Kata releases are `major.minor.patch`: a longer dotted number is not one of them.
    let Some(version) = kata_release
        .and_then(|text| UpstreamVersion::parse(text).ok())
        .filter(|v| v.release().len() <= 3)
    else {
        return false;
    };
    let first = match runtime {
        KataRuntime::Go => "2.5.0",
        KataRuntime::Rs => "3.0.0",
    };
    UpstreamVersion::parse(first).is_ok_and(|first| version >= first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use KataRuntime::{Go, Rs};

    #[test]
    fn go_reads_dropins_from_2_5_0() {
        assert!(!supports_dropins(Go, Some("2.0.0")));
        assert!(!supports_dropins(Go, Some("2.4.3")));
        assert!(!supports_dropins(Go, Some("2.5.0-alpha1")));
        assert!(supports_dropins(Go, Some("2.5.0")));
        assert!(supports_dropins(Go, Some("v3.2.0")));
        assert!(supports_dropins(Go, Some("3.20.0")));
        assert!(supports_dropins(Go, Some("4.1.0")));
    }

    #[test]
    fn runtime_rs_reads_dropins_from_its_first_release() {
        assert!(!supports_dropins(Rs, Some("2.5.2")));
        assert!(!supports_dropins(Rs, Some("3.0.0-rc0")));
        assert!(supports_dropins(Rs, Some("3.0.0")));
        assert!(supports_dropins(Rs, Some("3.20.0")));
    }

    #[test]
    fn unknown_release_is_not_assumed() {
        assert!(!supports_dropins(Go, None));
        assert!(!supports_dropins(Go, Some("")));
        assert!(!supports_dropins(Go, Some("main")));
        assert!(!supports_dropins(Rs, Some("3.x")));
        assert!(!supports_dropins(Go, Some("3.2.0.1")));
    }
}
