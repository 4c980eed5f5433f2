//! Test-only helpers shared by hvguard's crates (a dev-dependency, never shipped).
//!
//! A test that needs something from the machine (Debian's QEMU, a tool on `PATH`) checks it
//! with [`prerequisite`] or [`require!`]. Under CI (`CI=true`) a missing prerequisite fails
//! the test and names what is missing, so that a green CI run means every test really ran.
//! Elsewhere the test is skipped with a banner written straight to the process's stderr:
//! libtest captures `eprintln!` of passing tests, so a skip reported that way would look
//! exactly like a pass.

#![forbid(unsafe_code)]

use std::io::Write;
use std::path::Path;

/// What to do about a missing prerequisite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// Fail the test (CI).
    Fail,
    /// Skip it, visibly (a developer's machine).
    Skip,
}

impl Missing {
    /// [`Missing::Fail`] when the `CI` variable says this is a CI run (`true` or `1`, any
    /// case), else [`Missing::Skip`].
    pub fn from_env() -> Missing {
        Missing::from_ci_value(std::env::var("CI").ok().as_deref())
    }

    /// The decision for a given value of `CI` (`None`: unset).
    pub fn from_ci_value(ci: Option<&str>) -> Missing {
        match ci.map(str::trim) {
            Some(v) if v.eq_ignore_ascii_case("true") || v == "1" => Missing::Fail,
            _ => Missing::Skip,
        }
    }
}

/// True when the prerequisite `what` is `present`. When it is not: under CI this panics
/// (the test fails, naming `what` and `how_to_get_it`); otherwise it prints a visible
/// `SKIPPED` banner and returns false, and the caller returns from the test.
#[track_caller]
pub fn prerequisite(what: &str, present: bool, how_to_get_it: &str) -> bool {
    prerequisite_when(Missing::from_env(), what, present, how_to_get_it)
}

/// [`prerequisite`] with the CI decision made by the caller.
#[track_caller]
pub fn prerequisite_when(missing: Missing, what: &str, present: bool, how_to_get_it: &str) -> bool {
    if present {
        return true;
    }
    let test = std::thread::current()
        .name()
        .unwrap_or("this test")
        .to_owned();
    match missing {
        Missing::Fail => panic!(
            "{test}: missing prerequisite: {what} ({how_to_get_it}); with CI=true a missing \
             prerequisite fails the test instead of skipping it"
        ),
        Missing::Skip => {
            // Straight to fd 2, past libtest's capture of `eprintln!`.
            let banner = format!(
                "\n*** SKIPPED {test}: missing prerequisite: {what} ({how_to_get_it}); \
                 this test did not run (with CI=true it fails) ***\n"
            );
            let _ = std::io::stderr().lock().write_all(banner.as_bytes());
            false
        }
    }
}

/// Returns from the calling test (skip) or fails it (CI) when `$present` is false.
///
/// ```
/// # fn demo() {
/// hvguard_testkit::require!(
///     hvguard_testkit::file_exists("/usr/bin/qemu-system-x86_64"),
///     "Debian's qemu-system-x86",
///     "apt-get install qemu-system-x86; .ci/run installs it"
/// );
/// # }
/// ```
#[macro_export]
macro_rules! require {
    ($present:expr, $what:expr, $how:expr $(,)?) => {
        if !$crate::prerequisite($what, $present, $how) {
            return;
        }
    };
}

/// True when `path` is an existing regular file (symlinks followed).
pub fn file_exists(path: impl AsRef<Path>) -> bool {
    path.as_ref().is_file()
}

/// True when the Debian package `name` is installed (dpkg keeps its file list).
pub fn debian_package_installed(name: &str) -> bool {
    Path::new("/var/lib/dpkg/info")
        .join(format!("{name}.list"))
        .is_file()
        || Path::new("/var/lib/dpkg/info")
            .join(format!("{name}:amd64.list"))
            .is_file()
}

/// True when an executable called `tool` is on `PATH`.
pub fn tool_on_path(tool: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        std::fs::metadata(dir.join(tool))
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_values_that_mean_a_ci_run() {
        for v in ["true", "TRUE", "True", "1", " true\n"] {
            assert_eq!(Missing::from_ci_value(Some(v)), Missing::Fail, "{v:?}");
        }
        for v in [None, Some(""), Some("false"), Some("0"), Some("yes-please")] {
            assert_eq!(Missing::from_ci_value(v), Missing::Skip, "{v:?}");
        }
    }

    #[test]
    fn a_present_prerequisite_passes_whatever_ci_says() {
        assert!(prerequisite(
            "the root directory",
            Path::new("/").is_dir(),
            "-"
        ));
    }

    #[test]
    fn a_missing_prerequisite_fails_under_ci_and_skips_elsewhere() {
        let failed = std::panic::catch_unwind(|| {
            prerequisite_when(Missing::Fail, "a tool nobody has", false, "install it")
        });
        let message = failed
            .err()
            .and_then(|p| p.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        assert!(
            message.contains("missing prerequisite: a tool nobody has (install it)"),
            "{message:?}"
        );
        assert!(!prerequisite_when(
            Missing::Skip,
            "a tool nobody has",
            false,
            "install it"
        ));
    }

    #[test]
    fn tools_on_path() {
        assert!(tool_on_path("sh"));
        assert!(!tool_on_path("hvguard-no-such-tool-anywhere"));
    }
}
