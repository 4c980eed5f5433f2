//! The `[smoke]` table of the policy file (`/etc/hvguard/policy.toml`): defaults for every
//! `hvguard smoke` flag, so that `hvguard update` can boot-test a candidate without flags.
//!
//! ```toml
//! [smoke]
//! kernel = "/var/cache/hvguard/test-guest/vmlinuz"
//! initrd = "/var/cache/hvguard/test-guest/initramfs.cpio.gz"   # or image = "..."
//! marker = "HVGUARD-SMOKE-OK"
//! timeout_s = 60
//! accel = "auto"          # auto | kvm | tcg
//! runs = 3
//! config = "/etc/kata-containers/configuration.toml"   # optional
//! hypervisor = "/usr/bin/qemu-system-x86_64"           # optional
//! ```
//!
//! The file is read by [`hvguard_core::policy_file`]; the `[[accept]]` table beside it belongs to
//! `hvguard-advisory`. Errors name the file and line.

use crate::spec::{marker_problem, AccelChoice, BootAsset, SmokeOverrides, MAX_RUNS, MAX_TIMEOUT};
use hvguard_core::policy_file::{line_of, resolve_policy_text, PolicyFileError};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// Why the `[smoke]` table could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SmokePolicyError {
    #[error(transparent)]
    File(#[from] PolicyFileError),
    #[error("{}:{line}: {message}", .path.display())]
    Syntax {
        path: PathBuf,
        /// 1-based; 0 when the parser could not tell.
        line: usize,
        message: String,
    },
}

/// The `[smoke]` defaults of one policy file (all unset when the file or table is absent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SmokePolicy {
    /// The file read, if any.
    pub path: Option<PathBuf>,
    /// The Kata configuration to boot (`config`).
    pub config: Option<PathBuf>,
    /// Every other setting, as overrides beneath the command-line flags.
    pub overrides: SmokeOverrides,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    smoke: Option<RawSmoke>,
    /// Accepted advisory risks: parsed by `hvguard-advisory`.
    #[serde(default)]
    #[allow(dead_code)]
    accept: Option<serde::de::IgnoredAny>,
    /// `[update]`, `[nfd]`, `[history]`: parsed by `hvguard-advisory`'s policy reader.
    #[serde(default)]
    #[allow(dead_code)]
    update: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    #[allow(dead_code)]
    nfd: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    #[allow(dead_code)]
    history: Option<serde::de::IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSmoke {
    hypervisor: Option<Spanned<String>>,
    module_dir: Option<Spanned<String>>,
    config: Option<Spanned<String>>,
    kernel: Option<Spanned<String>>,
    initrd: Option<Spanned<String>>,
    image: Option<Spanned<String>>,
    marker: Option<Spanned<String>>,
    timeout_s: Option<Spanned<toml::Value>>,
    accel: Option<Spanned<String>>,
    runs: Option<Spanned<i64>>,
}

impl SmokePolicy {
    /// Parses policy text; `path` names the file in errors.
    pub fn parse(path: &Path, text: &str) -> Result<SmokePolicy, SmokePolicyError> {
        let err = |line: usize, message: String| SmokePolicyError::Syntax {
            path: path.to_path_buf(),
            line,
            message,
        };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(0, |s| line_of(text, s.start));
            err(line, e.message().trim().to_owned())
        })?;
        let mut policy = SmokePolicy {
            path: Some(path.to_path_buf()),
            ..SmokePolicy::default()
        };
        let Some(raw) = raw.smoke else {
            return Ok(policy);
        };
        let line = |span: std::ops::Range<usize>| line_of(text, span.start);
        let abs =
            |key: &str, v: Option<Spanned<String>>| -> Result<Option<PathBuf>, SmokePolicyError> {
                let Some(v) = v else { return Ok(None) };
                let p = PathBuf::from(v.get_ref().trim());
                if !p.is_absolute() {
                    return Err(err(
                        line(v.span()),
                        format!("[smoke] {key} = {:?} must be an absolute path", v.get_ref()),
                    ));
                }
                Ok(Some(p))
            };
        let o = &mut policy.overrides;
        if let (Some(i), Some(_)) = (&raw.initrd, &raw.image) {
            return Err(err(
                line(i.span()),
                "[smoke] sets both initrd and image; Kata boots one".into(),
            ));
        }
        o.hypervisor = abs("hypervisor", raw.hypervisor)?;
        o.module_dir = abs("module_dir", raw.module_dir)?;
        o.kernel = abs("kernel", raw.kernel)?;
        o.boot = match (abs("initrd", raw.initrd)?, abs("image", raw.image)?) {
            (Some(i), _) => Some(BootAsset::Initrd(i)),
            (None, Some(i)) => Some(BootAsset::Image(i)),
            (None, None) => None,
        };
        policy.config = abs("config", raw.config)?;
        if let Some(m) = raw.marker {
            if let Some(why) = marker_problem(m.get_ref()) {
                return Err(err(line(m.span()), format!("[smoke] marker: {why}")));
            }
            o.marker = Some(m.into_inner());
        }
        if let Some(a) = raw.accel {
            o.accel = Some(
                a.get_ref()
                    .parse::<AccelChoice>()
                    .map_err(|e| err(line(a.span()), format!("[smoke] {e}")))?,
            );
        }
        if let Some(r) = raw.runs {
            let n = *r.get_ref();
            if !(1..=i64::from(MAX_RUNS)).contains(&n) {
                return Err(err(
                    line(r.span()),
                    format!("[smoke] runs = {n}: must be 1 to {MAX_RUNS}"),
                ));
            }
            o.runs = Some(n as u32);
        }
        if let Some(t) = raw.timeout_s {
            let secs = match t.get_ref() {
                toml::Value::Integer(i) => *i as f64,
                toml::Value::Float(f) => *f,
                _ => -1.0,
            };
            if !(secs > 0.0 && secs <= MAX_TIMEOUT.as_secs_f64()) {
                return Err(err(
                    line(t.span()),
                    format!(
                        "[smoke] timeout_s must be a number of seconds, more than 0 and at most {}",
                        MAX_TIMEOUT.as_secs()
                    ),
                ));
            }
            o.timeout = Some(Duration::from_secs_f64(secs));
        }
        Ok(policy)
    }

    /// Loads `--policy FILE` when given (a missing file is an error), else the default policy
    /// file when it exists.
    pub fn resolve(explicit: Option<&Path>) -> Result<SmokePolicy, SmokePolicyError> {
        match resolve_policy_text(explicit)? {
            Some((path, text)) => SmokePolicy::parse(&path, &text),
            None => Ok(SmokePolicy::default()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const PATH: &str = "/etc/hvguard/policy.toml";

    fn parse(text: &str) -> Result<SmokePolicy, SmokePolicyError> {
        SmokePolicy::parse(Path::new(PATH), text)
    }

    #[test]
    fn reads_every_key_beside_accepted_risks() {
        let p = parse(
            r#"
[[accept]]
id = "CVE-2021-3929"
reason = "r"
expires = "2027-01-31"

[smoke]
kernel = "/var/cache/hvguard/test-guest/vmlinuz"
initrd = "/var/cache/hvguard/test-guest/initramfs.cpio.gz"
marker = "HVGUARD-SMOKE-OK"
timeout_s = 45
accel = "tcg"
runs = 3
config = "/etc/kata-containers/configuration.toml"
"#,
        )
        .unwrap();
        let o = &p.overrides;
        assert_eq!(o.runs, Some(3));
        assert_eq!(o.accel, Some(AccelChoice::Tcg));
        assert_eq!(o.timeout, Some(Duration::from_secs(45)));
        assert!(matches!(o.boot, Some(BootAsset::Initrd(_))));
        assert_eq!(
            p.config.as_deref(),
            Some(Path::new("/etc/kata-containers/configuration.toml"))
        );
        assert_eq!(parse("").unwrap().overrides, SmokeOverrides::default());
        assert_eq!(
            parse("[smoke]\ntimeout_s = 1.5\n")
                .unwrap()
                .overrides
                .timeout,
            Some(Duration::from_millis(1500))
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        let cases = [
            ("[smoke]\nruns = 0\n", 2, "runs"),
            ("[smoke]\naccel = \"xen\"\n", 2, "xen"),
            ("[smoke]\n\nkernel = \"vmlinuz\"\n", 3, "absolute"),
            ("[smoke]\ntimeout_s = \"60\"\n", 2, "timeout_s"),
            ("[smoke]\ntimeout_s = 0\n", 2, "timeout_s"),
            ("[smoke]\nmarker = \"\"\n", 2, "marker"),
            ("[smoke]\nkernels = \"/k\"\n", 2, "kernels"),
            ("[smoke]\ninitrd = \"/i\"\nimage = \"/m\"\n", 2, "both"),
            ("[smok]\n", 1, "smok"),
            ("[smoke]\nruns = \n", 2, ""),
        ];
        for (text, line, word) in cases {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.starts_with(&format!("{PATH}:{line}:")), "{text:?}: {e}");
            assert!(e.contains(word), "{text:?}: {e}");
        }
    }

    #[test]
    fn missing_explicit_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("policy.toml");
        let e = SmokePolicy::resolve(Some(&missing)).unwrap_err();
        assert!(e.to_string().contains("policy.toml"), "{e}");
        std::fs::write(&missing, "[smoke]\nruns = 2\n").unwrap();
        let p = SmokePolicy::resolve(Some(&missing)).unwrap();
        assert_eq!(p.overrides.runs, Some(2));
        assert_eq!(p.path.as_deref(), Some(missing.as_path()));
    }
}
