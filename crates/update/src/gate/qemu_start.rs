//! The QEMU start probe: a real but small gate. It starts the build the way a VM start
//! begins — `-machine none -accel tcg -S` with the build's own module folder — talks QMP to
//! it until the accelerator is up, asks its version, and quits it. It proves the binary
//! runs, finds its modules and reports the expected version; it boots no guest, and every
//! stage detail says so (`qemu-start`, not `smoke`).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{BootGate, BootMeasurement, BootTarget};

/// The probe's settings.
#[derive(Debug, Clone)]
pub struct QemuStartGate {
    /// Starts per measurement; the median is kept.
    pub runs: usize,
    /// Deadline for one start.
    pub timeout: Duration,
}

impl Default for QemuStartGate {
    fn default() -> Self {
        QemuStartGate {
            runs: 3,
            timeout: Duration::from_secs(20),
        }
    }
}

/// What one start showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartReport {
    /// Milliseconds from spawn to the answer of the last QMP command.
    pub ms: u64,
    /// `7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)` from QMP `query-version`.
    pub version: String,
}

/// Kills the child when dropped, so that no QEMU outlives the probe.
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

fn version_of(reply: &serde_json::Value) -> Option<String> {
    let ret = reply.get("return")?;
    let q = ret.get("qemu")?;
    let part = |k: &str| q.get(k).and_then(serde_json::Value::as_u64);
    let package = ret
        .get("package")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("")
        .trim();
    let base = format!("{}.{}.{}", part("major")?, part("minor")?, part("micro")?);
    Some(if package.is_empty() {
        base
    } else {
        format!("{base} ({package})")
    })
}

/// Starts `binary` once and returns how long it took and the version it reported.
pub fn start_once(
    binary: &Path,
    module_dir: Option<&Path>,
    timeout: Duration,
) -> Result<StartReport, String> {
    let mut command = Command::new(binary);
    command
        .args([
            "-machine",
            "none",
            "-accel",
            "tcg",
            "-nodefaults",
            "-display",
            "none",
            "-S",
            "-qmp",
            "stdio",
        ])
        .env_clear()
        .env("LC_ALL", "C")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(dir) = module_dir {
        command.env("QEMU_MODULE_DIR", dir);
    }
    let started = Instant::now();
    let child = spawn_retrying_busy(&mut command)
        .map_err(|e| format!("{}: could not start: {e}", binary.display()))?;
    let mut child = Reaper(child);
    let (Some(mut stdin), Some(stdout), Some(stderr)) = (
        child.0.stdin.take(),
        child.0.stdout.take(),
        child.0.stderr.take(),
    ) else {
        return Err("pipes to the VMM were not set up".into());
    };
    let (lines_tx, lines) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout.take(1 << 20)).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.take(64 << 10).read_to_string(&mut text);
        text
    });
    let deadline = started + timeout;
    let next_reply = |what: &str| -> Result<serde_json::Value, String> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) else {
                        continue;
                    };
                    if value.get("event").is_some() {
                        continue;
                    }
                    return Ok(value);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(format!("no QMP {what} within {} s", timeout.as_secs()))
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(format!("the VMM exited before the QMP {what}"))
                }
            }
        }
    };
    let result = (|| {
        next_reply("greeting")?;
        for command in ["qmp_capabilities", "query-status"] {
            writeln!(stdin, "{{\"execute\":\"{command}\"}}")
                .map_err(|e| format!("writing to QMP: {e}"))?;
            let reply = next_reply(command)?;
            if let Some(err) = reply.get("error") {
                return Err(format!("QMP {command} failed: {err}"));
            }
        }
        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        writeln!(stdin, "{{\"execute\":\"query-version\"}}")
            .map_err(|e| format!("writing to QMP: {e}"))?;
        let version = version_of(&next_reply("query-version")?)
            .ok_or_else(|| "QMP query-version gave no version".to_owned())?;
        let _ = writeln!(stdin, "{{\"execute\":\"quit\"}}");
        Ok(StartReport { ms, version })
    })();
    drop(stdin);
    let exit_deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < exit_deadline {
        if let Ok(Some(_)) = child.0.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(child);
    match result {
        Ok(report) => Ok(report),
        Err(reason) => {
            let stderr = err_reader.join().unwrap_or_default();
            let tail: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
            let tail = tail[tail.len().saturating_sub(3)..].join(" | ");
            Err(if tail.is_empty() {
                reason
            } else {
                format!("{reason}: {tail}")
            })
        }
    }
}

impl BootGate for QemuStartGate {
    fn name(&self) -> &str {
        "qemu-start"
    }

    fn boot(&self, target: &BootTarget) -> Result<BootMeasurement, String> {
        let mut times = Vec::new();
        let mut version = String::new();
        for _ in 0..self.runs.max(1) {
            let report = start_once(&target.binary, target.module_dir.as_deref(), self.timeout)?;
            times.push(report.ms);
            version = report.version;
        }
        times.sort_unstable();
        let median_ms = times[times.len() / 2];
        Ok(BootMeasurement {
            median_ms,
            detail: format!(
                "{} starts of {} with accel tcg, no guest booted; it reports QEMU {version}",
                times.len(),
                target.binary.display()
            ),
            accel: Some("tcg".into()),
            version: Some(version),
        })
    }
}

/// Spawns `command`, retrying briefly on `ETXTBSY`: a staged binary hvguard has just written
/// can still be open for writing in a child another thread forked before its exec (the
/// descriptor is close-on-exec, but only closes at that exec).
fn spawn_retrying_busy(command: &mut Command) -> std::io::Result<std::process::Child> {
    let mut attempts = 0;
    loop {
        match command.spawn() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && attempts < 20 => {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(25));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const QEMU: &str = "/usr/bin/qemu-system-x86_64";

    fn have_qemu() -> bool {
        if Path::new(QEMU).exists() {
            return true;
        }
        assert!(
            std::env::var_os("CI").is_none(),
            "CI: {QEMU} is missing (install qemu-system-x86)"
        );
        eprintln!("SKIPPED: {QEMU} is not installed");
        false
    }

    #[test]
    fn debian_qemu_starts_and_reports_its_version() {
        if !have_qemu() {
            return;
        }
        let report = start_once(Path::new(QEMU), None, Duration::from_secs(20)).unwrap();
        assert!(report.version.starts_with("7.") || report.version.contains('.'));
        let gate = QemuStartGate::default();
        let m = gate.boot(&BootTarget::new("installed", QEMU)).unwrap();
        assert!(m.detail.contains("no guest booted"), "{}", m.detail);
    }

    #[test]
    fn a_copy_without_its_modules_fails_with_qemus_reason() {
        if !have_qemu() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("qemu-system-x86_64");
        std::fs::copy(QEMU, &copy).unwrap();
        let err = start_once(&copy, Some(dir.path()), Duration::from_secs(20)).unwrap_err();
        assert!(err.contains("tcg-accel-ops"), "{err}");
        let err = start_once(Path::new("/bin/true"), None, Duration::from_secs(5)).unwrap_err();
        assert!(err.contains("exited before"), "{err}");
    }
}
