//! `hvguard smoke`: boot the hypervisor with a Kata configuration's settings and wait for the
//! guest to reach userspace (docs/smoke-and-bench.md).
//!
//! Settings, highest precedence first: the flags, the policy's `[smoke]` table, the Kata
//! configuration (`--config`, `[smoke] config`, or the one the Go runtime would read), Kata's
//! defaults. Exit codes: 0 booted, 1 did not boot, 2 usage or input error.

use super::Outcome;
use crate::output;
use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use hvguard_core::{HostRoot, HypervisorKind, KataConfig};
use hvguard_smoke::{
    run_smoke, AccelChoice, BootAsset, HostVirt, RunResult, SmokeOverrides, SmokePolicy,
    SmokeReport, SmokeSpec,
};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Output format of `smoke` and `bench`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SmokeFormat {
    Text,
    Json,
}

/// The boot settings shared by `smoke` and `bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct SmokeFlags {
    /// The hypervisor binary (default: the configuration's `path`, else Kata's
    /// /usr/bin/qemu-system-x86_64).
    #[arg(long, value_name = "PATH")]
    pub hypervisor: Option<PathBuf>,
    /// The Kata configuration whose settings to boot with (default: the one Kata's Go runtime
    /// reads on this host).
    #[arg(long, value_name = "KATA_TOML")]
    pub config: Option<PathBuf>,
    /// The guest kernel (default: the configuration's `kernel`).
    #[arg(long, value_name = "PATH")]
    pub kernel: Option<PathBuf>,
    /// An initrd to boot (replaces the configuration's image or initrd).
    #[arg(long, value_name = "PATH", conflicts_with = "image")]
    pub initrd: Option<PathBuf>,
    /// A rootfs image to boot (replaces the configuration's image or initrd).
    #[arg(long, value_name = "PATH")]
    pub image: Option<PathBuf>,
    /// Console text that means the guest reached userspace (default: HVGUARD-SMOKE-OK, or
    /// Kata's agent announce line when booting the configuration's own guest).
    #[arg(long, value_name = "TEXT")]
    pub marker: Option<String>,
    /// Accelerator: auto picks KVM when this host can run a standard guest under it, else TCG.
    #[arg(long, value_enum)]
    pub accel: Option<AccelArg>,
    /// Seconds one boot may take (default 60).
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub timeout: Option<Duration>,
    /// Boots to make (default 1 for smoke, 5 per side for bench).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub runs: Option<u32>,
    /// QEMU_MODULE_DIR for a QEMU build outside its install prefix.
    #[arg(long, value_name = "DIR")]
    pub module_dir: Option<PathBuf>,
    /// QEMU data folder (`-L`: firmware, option ROMs) for such a build; repeatable.
    #[arg(long = "data-dir", value_name = "DIR")]
    pub data_dirs: Vec<PathBuf>,
    /// Policy file whose [smoke] table gives defaults (default: /etc/hvguard/policy.toml when
    /// it exists).
    #[arg(
        long,
        value_name = "FILE",
        env = "HVGUARD_POLICY",
        hide_env_values = true
    )]
    pub policy: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = SmokeFormat::Text)]
    pub format: SmokeFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AccelArg {
    Auto,
    Kvm,
    Tcg,
}

impl From<AccelArg> for AccelChoice {
    fn from(a: AccelArg) -> AccelChoice {
        match a {
            AccelArg::Auto => AccelChoice::Auto,
            AccelArg::Kvm => AccelChoice::Kvm,
            AccelArg::Tcg => AccelChoice::Tcg,
        }
    }
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if secs > 0.0 && secs <= hvguard_smoke::spec::MAX_TIMEOUT.as_secs_f64() {
        Ok(Duration::from_secs_f64(secs))
    } else {
        Err(format!(
            "{s} s: give more than 0 and at most {} seconds",
            hvguard_smoke::spec::MAX_TIMEOUT.as_secs()
        ))
    }
}

/// `hvguard smoke`.
#[derive(Debug, clap::Args)]
pub struct SmokeArgs {
    #[command(flatten)]
    pub flags: SmokeFlags,
}

impl SmokeFlags {
    fn overrides(&self) -> SmokeOverrides {
        SmokeOverrides {
            hypervisor: self.hypervisor.clone(),
            module_dir: self.module_dir.clone(),
            data_dirs: (!self.data_dirs.is_empty()).then(|| self.data_dirs.clone()),
            kernel: self.kernel.clone(),
            boot: match (&self.initrd, &self.image) {
                (Some(i), _) => Some(BootAsset::Initrd(i.clone())),
                (None, Some(i)) => Some(BootAsset::Image(i.clone())),
                (None, None) => None,
            },
            marker: self.marker.clone(),
            accel: self.accel.map(AccelChoice::from),
            timeout: self.timeout,
            runs: self.runs,
        }
    }
}

/// The spec the flags, the policy and the Kata configuration give, with this host's facts.
pub fn resolve_spec(flags: &SmokeFlags) -> Result<SmokeSpec> {
    let policy = SmokePolicy::resolve(flags.policy.as_deref())?;
    let overrides = flags.overrides().or(policy.overrides.clone());
    let config = match flags.config.as_ref().or(policy.config.as_ref()) {
        Some(path) => Some(load_config(path)?),
        None => discovered_config()?,
    };
    let mut spec = match &config {
        Some(c) => SmokeSpec::from_kata(c, &overrides)?,
        None => SmokeSpec::standalone(&overrides)
            .context("no Kata configuration found on this host (give --config)")?,
    };
    if let Some(path) = &flags.hypervisor {
        // A binary named like another VMM is that VMM, whatever the configuration says.
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        match hvguard_host::hypervisors::kind::kind_from_file_name(name) {
            Some(kind) if kind != HypervisorKind::Qemu => {
                return Err(hvguard_smoke::SmokeError::Unsupported {
                    what: format!("{} ({})", kind.as_str(), path.display()),
                }
                .into())
            }
            _ => {}
        }
    }
    let root = HostRoot::live();
    spec.host = HostVirt::from_facts(
        &hvguard_host::kvm::probe_kvm(&root),
        &hvguard_host::cpu::probe_cpu(&root),
    );
    Ok(spec)
}

pub(crate) fn load_config(path: &Path) -> Result<KataConfig> {
    let (configs, warnings) = hvguard_kata::load_explicit_with_warnings(&[path.to_path_buf()])?;
    crate::pipeline::warn(&warnings);
    configs
        .into_iter()
        .next()
        .with_context(|| format!("{}: no configuration loaded", path.display()))
}

/// The configuration Kata's Go runtime would read here (`KATA_CONF_FILE`, then its default
/// paths); else the only one found; `None` when there is none.
fn discovered_config() -> Result<Option<KataConfig>> {
    let root = HostRoot::live();
    let env = hvguard_kata::DiscoveryEnv {
        kata_conf_file: std::env::var_os("KATA_CONF_FILE").map(PathBuf::from),
    };
    let discovery = hvguard_kata::discover(&root, &env);
    crate::pipeline::warn(&discovery.warnings);
    config_in_use(discovery.configs)
}

/// Of the configurations discovery found (`hvguard_kata::discover`, as `pipeline::collect`
/// runs it), the one the Go runtime reads (`KATA_CONF_FILE`, then its default paths); else
/// the only one; `None` when there is none; an error when several are left to choose from.
pub(crate) fn config_in_use(mut configs: Vec<KataConfig>) -> Result<Option<KataConfig>> {
    let wanted = std::env::var_os("KATA_CONF_FILE")
        .map(PathBuf::from)
        .into_iter()
        .chain(
            hvguard_kata::discover::GO_DEFAULTS
                .iter()
                .map(PathBuf::from),
        );
    for path in wanted {
        let Ok(real) = std::fs::canonicalize(&path) else {
            continue;
        };
        if let Some(i) = configs
            .iter()
            .position(|c| c.main == real || c.main == path)
        {
            return Ok(Some(configs.swap_remove(i)));
        }
    }
    match configs.len() {
        0 => Ok(None),
        1 => Ok(configs.pop()),
        _ => bail!(
            "several Kata configurations and none at the Go runtime's default paths ({}): give --config (or `config` in the policy's [smoke] table)",
            configs
                .iter()
                .map(|c| c.main.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

pub fn run(args: SmokeArgs) -> Result<Outcome> {
    let spec = resolve_spec(&args.flags)?;
    let report = run_smoke(&spec)?;
    let text = match args.flags.format {
        SmokeFormat::Json => report.to_json() + "\n",
        SmokeFormat::Text => render_text(&report),
    };
    output::print(&text)?;
    Ok(if report.ok {
        Outcome::Clean
    } else {
        Outcome::Findings
    })
}

/// `1234 ms`, or `-` when unknown.
pub(crate) fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.0} ms"))
}

pub(crate) fn mib(kib: Option<f64>) -> String {
    kib.map_or_else(|| "-".to_string(), |k| format!("{:.0} MiB", k / 1024.0))
}

pub(crate) fn run_line(out: &mut String, label: &str, run: &RunResult) {
    if run.ok {
        let _ = writeln!(
            out,
            "  {label:<7} ok      boot {:<9} first output {:<9} peak RSS {}",
            ms(run.boot_ms),
            ms(run.first_output_ms),
            mib(run.peak_rss_kib.map(|k| k as f64)),
        );
    } else {
        let reason = run
            .reason
            .as_ref()
            .map_or_else(|| "failed".to_string(), ToString::to_string);
        let _ = writeln!(out, "  {label:<7} FAILED  {reason}");
        let tail = match &run.reason {
            Some(hvguard_smoke::FailureReason::VmmExitedEarly { stderr_tail, .. }) => {
                Some(("stderr", stderr_tail))
            }
            Some(hvguard_smoke::FailureReason::MarkerMissing { console_tail, .. })
            | Some(hvguard_smoke::FailureReason::Timeout { console_tail, .. }) => {
                Some(("console", console_tail))
            }
            _ => None,
        };
        if let Some((what, text)) = tail {
            let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            for line in &lines[lines.len().saturating_sub(5)..] {
                let _ = writeln!(out, "          {what} | {line}");
            }
        }
    }
}

fn render_text(report: &SmokeReport) -> String {
    let mut out = String::new();
    let ok_runs = report.runs.iter().filter(|r| r.ok).count();
    if report.ok {
        let _ = writeln!(
            out,
            "hvguard smoke: OK, the guest reached userspace in {ok_runs}/{} runs with {} (median {})",
            report.runs.len(),
            report.accel.as_str().to_uppercase(),
            ms(report.median_boot_ms)
        );
    } else {
        let _ = writeln!(
            out,
            "hvguard smoke: FAILED, the guest did not reach userspace ({ok_runs}/{} runs booted, {})",
            report.runs.len(),
            report.accel.as_str().to_uppercase()
        );
    }
    let version = report
        .hypervisor
        .version
        .as_deref()
        .map_or_else(|| "version unknown".to_string(), |v| format!("QEMU {v}"));
    let _ = writeln!(
        out,
        "  hypervisor {} ({version})",
        report.hypervisor.path.display()
    );
    if let Some(config) = &report.config {
        let _ = writeln!(out, "  config     {}", config.display());
    }
    let _ = writeln!(out, "  marker     {}", report.marker);
    for note in &report.notes {
        let _ = writeln!(out, "  note       {note}");
    }
    for (i, run) in report.runs.iter().enumerate() {
        run_line(&mut out, &format!("run {}", i + 1), run);
    }
    out
}
