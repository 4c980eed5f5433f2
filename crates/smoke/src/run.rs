//! [`run_smoke`]: check the inputs, pick the accelerator, boot `runs` times, report.

use crate::host::{host_cpus, host_memory_mib, host_tsc_khz, tcg_fallback_note, AccelPlan};
use crate::launch::{default_supervisor, launch, LaunchSpec};
use crate::qemu_args::{qemu_argv, LaunchEnv};
use crate::report::{median, FailureReason, HypervisorInfo, RunResult, SmokeReport, SMOKE_SCHEMA};
use crate::spec::{Accel, BootAsset, MachineType, SmokeSpec};
use crate::trust::{trusted_dir, trusted_executable};
use crate::SmokeError;
use hvguard_core::HypervisorKind;
use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longest KVM trial when `accel=auto` has no facts to decide from.
pub const KVM_TRIAL: Duration = Duration::from_secs(10);

/// How long `<hypervisor> --version` may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(5);

/// A spec whose files were checked and whose command lines are ready.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub spec: SmokeSpec,
    /// The hypervisor's canonical path (the one executed).
    pub program: PathBuf,
    pub module_dir: Option<PathBuf>,
    pub version: Option<String>,
    supervisor: Option<PathBuf>,
    env: LaunchEnv,
}

fn must_exist(what: &'static str, path: &Path) -> Result<std::fs::Metadata, SmokeError> {
    std::fs::metadata(path).map_err(|error| SmokeError::MissingFile {
        what,
        path: path.to_path_buf(),
        error,
    })
}

impl Prepared {
    /// Validates `spec` and every file it names; refuses untrusted executables.
    pub fn new(spec: &SmokeSpec) -> Result<Prepared, SmokeError> {
        spec.validate()?;
        if spec.kind != HypervisorKind::Qemu {
            return Err(SmokeError::Unsupported {
                what: format!("{} ({})", spec.kind.as_str(), spec.hypervisor.display()),
            });
        }
        let program = trusted_executable(&spec.hypervisor)?;
        let module_dir = spec.module_dir.as_deref().map(trusted_dir).transpose()?;
        for dir in &spec.data_dirs {
            must_exist("QEMU data directory", dir)?;
        }
        must_exist("kernel", &spec.kernel)?;
        let image_size = match &spec.boot {
            Some(BootAsset::Initrd(p)) => {
                must_exist("initrd", p)?;
                None
            }
            Some(BootAsset::Image(p)) => Some(must_exist("image", p)?.len()),
            None => None,
        };
        if let Some(f) = &spec.firmware {
            must_exist("firmware", f)?;
        }
        for p in &spec.pflashes {
            must_exist("pflash", p)?;
        }
        let tsc_khz = (spec.machine == MachineType::Microvm)
            .then(host_tsc_khz)
            .flatten();
        let env = LaunchEnv {
            name: "hvguard-smoke".into(),
            host_cpus: host_cpus(),
            host_memory_mib: host_memory_mib(),
            nested: spec.host.is_virtual_machine() && !spec.disable_nesting_checks,
            tsc_khz,
            image_size,
        };
        let version = qemu_version(&program, module_dir.as_deref());
        Ok(Prepared {
            spec: spec.clone(),
            program,
            module_dir,
            version,
            supervisor: default_supervisor(),
            env,
        })
    }

    /// The VMM's argument vector for `accel`.
    pub fn argv(&self, accel: Accel) -> Vec<OsString> {
        qemu_argv(&self.spec, accel, &self.env)
    }

    /// Lines for the report about how the VMM is supervised.
    pub fn notes(&self) -> Vec<String> {
        match &self.supervisor {
            Some(_) => Vec::new(),
            None => vec![format!(
                "{} is missing: the VMM is not killed by the kernel if hvguard itself is killed",
                crate::launch::SETPRIV
            )],
        }
    }

    /// One boot with `accel`, within `timeout` (the spec's, unless shorter for a KVM trial).
    pub fn boot(&self, accel: Accel, timeout: Duration) -> Result<RunResult, SmokeError> {
        let launched = launch(&LaunchSpec {
            program: self.program.clone(),
            args: self.argv(accel),
            module_dir: self.module_dir.clone(),
            marker: self.spec.marker.clone(),
            timeout,
            supervisor: self.supervisor.clone(),
        })?;
        let mut run = launched.run;
        // QEMU's own words when KVM fails ("failed to initialize kvm", an MSR it cannot set,
        // "Could not access KVM kernel module") make the failure a KVM one.
        if accel == Accel::Kvm {
            if let Some(FailureReason::VmmExitedEarly { stderr_tail, .. }) = &run.reason {
                if stderr_tail.to_ascii_lowercase().contains("kvm") {
                    let detail = stderr_tail
                        .lines()
                        .map(str::trim)
                        .rfind(|l| !l.is_empty())
                        .unwrap_or("")
                        .to_string();
                    run.reason = Some(FailureReason::KvmUnusable {
                        detail: format!("the VMM exited: {detail}"),
                    });
                }
            }
        }
        Ok(run)
    }

    /// Picks the accelerator: from the facts, or by a bounded KVM trial. Returns the choice,
    /// notes for the report, and a run to report when KVM was required and cannot work.
    pub fn resolve_accel(&self) -> Result<AccelDecision, SmokeError> {
        match self.spec.host.plan(self.spec.accel) {
            AccelPlan::Use {
                accel: Accel::Kvm,
                note,
            } => Ok(match kvm_device_problem() {
                None => AccelDecision::new(Accel::Kvm, note),
                Some(why) if self.spec.accel == crate::spec::AccelChoice::Auto => {
                    AccelDecision::new(Accel::Tcg, Some(tcg_fallback_note(&why)))
                }
                Some(why) => AccelDecision::refused(why),
            }),
            AccelPlan::Use { accel, note } => Ok(AccelDecision::new(accel, note)),
            AccelPlan::Refuse { reason } => Ok(AccelDecision::refused(reason)),
            AccelPlan::TryKvmThenTcg => {
                if let Some(why) = kvm_device_problem() {
                    return Ok(AccelDecision::new(
                        Accel::Tcg,
                        Some(tcg_fallback_note(&why)),
                    ));
                }
                let trial_timeout = self.spec.timeout.min(KVM_TRIAL);
                let trial = self.boot(Accel::Kvm, trial_timeout)?;
                let why = match &trial.reason {
                    None => {
                        let mut d = AccelDecision::new(
                            Accel::Kvm,
                            Some("no host facts given: a KVM trial boot worked".into()),
                        );
                        d.first_run = Some(trial);
                        return Ok(d);
                    }
                    Some(FailureReason::KvmUnusable { detail }) => detail.clone(),
                    Some(FailureReason::Timeout {
                        console_bytes: 0, ..
                    }) => format!(
                        "a KVM trial boot printed nothing in {} s",
                        trial_timeout.as_secs_f64()
                    ),
                    Some(_) => {
                        // The guest ran under KVM and failed on its own: that is the result.
                        let mut d = AccelDecision::new(Accel::Kvm, None);
                        d.first_run = Some(trial);
                        return Ok(d);
                    }
                };
                Ok(AccelDecision::new(
                    Accel::Tcg,
                    Some(tcg_fallback_note(&why)),
                ))
            }
        }
    }
}

/// The accelerator to use, and what to say about it.
#[derive(Debug, Clone)]
pub struct AccelDecision {
    pub accel: Accel,
    pub notes: Vec<String>,
    /// Set when KVM was required and cannot work: the run to report (nothing was started).
    pub refused: Option<RunResult>,
    /// A trial boot that already counts as the first run.
    pub first_run: Option<RunResult>,
}

impl AccelDecision {
    fn new(accel: Accel, note: Option<String>) -> AccelDecision {
        AccelDecision {
            accel,
            notes: note.into_iter().collect(),
            refused: None,
            first_run: None,
        }
    }

    fn refused(reason: String) -> AccelDecision {
        AccelDecision {
            accel: Accel::Kvm,
            notes: Vec::new(),
            refused: Some(RunResult {
                ok: false,
                boot_ms: None,
                first_output_ms: None,
                peak_rss_kib: None,
                exit: None,
                reason: Some(FailureReason::KvmUnusable { detail: reason }),
                pid: None,
            }),
            first_run: None,
        }
    }
}

/// Why `/dev/kvm` cannot be opened for reading and writing, if it cannot.
fn kvm_device_problem() -> Option<String> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .err()
        .map(|e| format!("/dev/kvm: {e}"))
}

/// `QEMU emulator version 7.2.22 (Debian ...)` from `<program> --version` gives `7.2.22`.
pub fn parse_qemu_version(text: &str) -> Option<String> {
    let rest = text.split("QEMU emulator version ").nth(1)?;
    let version: String = rest
        .chars()
        .take_while(|c| !c.is_whitespace())
        .take(64)
        .collect();
    (!version.is_empty()).then_some(version)
}

/// Runs `<program> --version` (bounded in time and output) and parses the QEMU version.
pub fn qemu_version(program: &Path, module_dir: Option<&Path>) -> Option<String> {
    let mut cmd = Command::new(program);
    cmd.arg("--version")
        .env_clear()
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(dir) = module_dir {
        cmd.env("QEMU_MODULE_DIR", dir);
    }
    let mut child = cmd.spawn().ok()?;
    let mut out = child.stdout.take()?;
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = (&mut out).take(4096).read_to_end(&mut text);
        text
    });
    let deadline = Instant::now() + VERSION_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    let text = reader.join().ok()?;
    parse_qemu_version(&String::from_utf8_lossy(&text))
}

/// Boots `spec` `spec.runs` times and reports.
///
/// `Err` means the test could not be attempted (bad input, missing or untrusted files, a VMM
/// kind not supported yet). A boot that fails is `Ok` with `ok: false` and a named reason in
/// the failing run; runs stop at the first failure.
pub fn run_smoke(spec: &SmokeSpec) -> Result<SmokeReport, SmokeError> {
    let prepared = Prepared::new(spec)?;
    let decision = prepared.resolve_accel()?;
    let mut notes = decision.notes.clone();
    notes.extend(prepared.notes());
    let mut runs = Vec::new();
    if let Some(refused) = decision.refused {
        runs.push(refused);
    } else {
        if let Some(first) = decision.first_run {
            runs.push(first);
        }
        while runs.len() < spec.runs as usize && runs.iter().all(|r| r.ok) {
            runs.push(prepared.boot(decision.accel, spec.timeout)?);
        }
    }
    Ok(report(&prepared, decision.accel, runs, notes))
}

fn report(
    prepared: &Prepared,
    accel: Accel,
    runs: Vec<RunResult>,
    notes: Vec<String>,
) -> SmokeReport {
    let boots: Vec<f64> = runs.iter().filter_map(|r| r.boot_ms).collect();
    SmokeReport {
        schema: SMOKE_SCHEMA.to_string(),
        ok: !runs.is_empty() && runs.iter().all(|r| r.ok),
        accel,
        hypervisor: HypervisorInfo {
            path: prepared.spec.hypervisor.clone(),
            version: prepared.version.clone(),
        },
        config: prepared.spec.config.clone(),
        marker: prepared.spec.marker.clone(),
        median_boot_ms: median(&boots),
        notes,
        argv: prepared
            .argv(accel)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        runs,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn version_from_the_banner() {
        assert_eq!(
            parse_qemu_version(
                "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright"
            )
            .as_deref(),
            Some("7.2.22")
        );
        assert_eq!(parse_qemu_version("true (GNU coreutils) 9.1\n"), None);
    }
}
