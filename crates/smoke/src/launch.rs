//! One boot under supervision: spawn the VMM, watch its console for the marker, stop it, and
//! make sure nothing it started outlives the run.
//!
//! - The VMM gets a process group of its own; on success, timeout, error or panic (a drop
//!   guard) the whole group is killed with `SIGKILL`, so helpers QEMU spawned go with it.
//! - It is started through util-linux's `setpriv --pdeathsig KILL` (present on every Debian,
//!   `util-linux` is essential), so the kernel kills it if hvguard itself dies, even by
//!   `SIGKILL`. hvguard forbids unsafe code, which rules out setting `PR_SET_PDEATHSIG` in a
//!   `pre_exec` hook; `setpriv` sets it and then executes the VMM in the same process.
//! - stdout is the guest console (QEMU's `stdio` chardev); it and stderr are read by two
//!   threads into bounded buffers, so a flooding console costs time, never memory.

use crate::console::{ConsoleWatch, TailBuffer};
use crate::report::{ExitInfo, FailureReason, RunResult};
use crate::SmokeError;
use std::ffi::OsString;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// util-linux's `setpriv`, used to set the parent-death signal before executing the VMM.
pub const SETPRIV: &str = "/usr/bin/setpriv";

/// `PATH` the VMM runs with (its environment is otherwise cleared).
const VMM_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

/// How often the supervisor checks whether the VMM exited and samples its memory.
const TICK: Duration = Duration::from_millis(20);

/// Bytes of the VMM's stderr kept for a failure report.
pub const STDERR_TAIL_BYTES: usize = 4096;

/// Console read size.
const CHUNK: usize = 8192;

/// How long to wait for the reader threads once the VMM's group is dead: longer means a
/// process outside the group (one that called setsid) holds the pipes open.
const READER_GRACE: Duration = Duration::from_secs(1);

/// One supervised VMM process.
#[derive(Debug, Clone)]
pub struct LaunchSpec {
    /// The program to run (already checked by [`crate::trust::trusted_executable`]).
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// `QEMU_MODULE_DIR`, when set.
    pub module_dir: Option<PathBuf>,
    /// Console text that means success.
    pub marker: String,
    pub timeout: Duration,
    /// `setpriv` to start the program through, or `None` to start it directly.
    pub supervisor: Option<PathBuf>,
}

/// The outcome of [`launch`]: the run, and what else the caller may want to know.
#[derive(Debug, Clone)]
pub struct Launched {
    pub run: RunResult,
    /// The VMM's pid (also its process group id).
    pub pid: u32,
    /// The last bytes of its stderr.
    pub stderr_tail: String,
    /// Set when a process outside the VMM's group kept its console or stderr open.
    pub leaked_pipe: bool,
    /// Processes of the VMM's group still alive after `SIGKILL` (stuck in the kernel);
    /// empty in every normal case.
    pub survivors: Vec<u32>,
}

/// `setpriv` when it is present and safe to run, else `None`.
pub fn default_supervisor() -> Option<PathBuf> {
    crate::trust::trusted_executable(Path::new(SETPRIV)).ok()
}

enum Event {
    Console(Instant, Vec<u8>),
    ConsoleClosed,
}

/// Kills the whole process group when dropped (the VMM and anything it spawned).
struct GroupGuard {
    pgid: Option<rustix::process::Pid>,
}

impl GroupGuard {
    fn kill(&self) {
        if let Some(pgid) = self.pgid {
            // ESRCH (nothing left) is the normal case after a clean exit.
            let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

fn exit_info(status: ExitStatus, stopped_by_hvguard: bool) -> ExitInfo {
    ExitInfo {
        code: status.code(),
        signal: status.signal(),
        stopped_by_hvguard: stopped_by_hvguard && status.signal().is_some(),
    }
}

/// How long teardown waits for killed members of the VMM's group to be gone.
const GROUP_GRACE: Duration = Duration::from_secs(2);

/// Processes of process group `pgid` that are still alive (zombies waiting to be reaped by
/// their new parent are dead and not listed), from `/proc/<pid>/stat`.
pub fn live_group_members(pgid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(file) = std::fs::File::open(entry.path().join("stat")) else {
            continue;
        };
        let mut text = String::new();
        if file.take(4096).read_to_string(&mut text).is_err() {
            continue;
        }
        if let Some((state, pgrp)) = parse_stat_state_pgrp(&text) {
            if pgrp == pgid && state != 'Z' && state != 'X' {
                out.push(pid);
            }
        }
    }
    out.sort_unstable();
    out
}

/// `(state, pgrp)` of a `/proc/<pid>/stat` line; the command name may hold spaces and
/// parentheses, so fields are counted after its last `)`.
fn parse_stat_state_pgrp(stat: &str) -> Option<(char, u32)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, pgrp))
}

/// Waits (bounded) until no live process of group `pgid` is left; returns the survivors.
fn wait_group_gone(pgid: u32) -> Vec<u32> {
    let until = Instant::now() + GROUP_GRACE;
    let group = i32::try_from(pgid)
        .ok()
        .and_then(rustix::process::Pid::from_raw);
    loop {
        // The common case: the group no longer exists at all (not even zombies).
        let exists = group.is_some_and(|g| rustix::process::test_kill_process_group(g).is_ok());
        if !exists {
            return Vec::new();
        }
        let left = live_group_members(pgid);
        if left.is_empty() || Instant::now() >= until {
            return left;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// `VmHWM` (peak resident set) of `pid` in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let file = std::fs::File::open(format!("/proc/{pid}/status")).ok()?;
    let mut text = String::new();
    file.take(64 << 10).read_to_string(&mut text).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// Runs one VMM process to the marker, its exit, or the deadline, and stops it.
///
/// Errors only when the process cannot be started; every way a started VMM fails is a
/// [`RunResult`] with a [`FailureReason`].
pub fn launch(spec: &LaunchSpec) -> Result<Launched, SmokeError> {
    let mut cmd = match &spec.supervisor {
        Some(setpriv) => {
            let mut c = Command::new(setpriv);
            c.args(["--pdeathsig", "KILL", "--"]).arg(&spec.program);
            c
        }
        None => Command::new(&spec.program),
    };
    cmd.args(&spec.args)
        .env_clear()
        .env("PATH", VMM_PATH)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    if let Some(dir) = &spec.module_dir {
        cmd.env("QEMU_MODULE_DIR", dir);
    }

    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|error| SmokeError::Spawn {
        path: spec.program.clone(),
        error,
    })?;
    let pid = child.id();
    let mut guard = GroupGuard {
        pgid: i32::try_from(pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw),
    };

    let (tx, rx) = mpsc::sync_channel::<Event>(64);
    let (done_tx, done_rx) = mpsc::channel::<Option<TailBuffer>>();
    if let Some(mut out) = child.stdout.take() {
        let done = done_tx.clone();
        thread::spawn(move || {
            let mut buf = vec![0u8; CHUNK];
            loop {
                match out.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx
                            .send(Event::Console(Instant::now(), buf[..n].to_vec()))
                            .is_err()
                        {
                            break;
                        }
                    }
                }
            }
            let _ = tx.send(Event::ConsoleClosed);
            let _ = done.send(None);
        });
    }
    if let Some(mut err) = child.stderr.take() {
        let done = done_tx.clone();
        thread::spawn(move || {
            let mut tail = TailBuffer::new(STDERR_TAIL_BYTES);
            let mut buf = vec![0u8; CHUNK];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                tail.push(&buf[..n]);
            }
            let _ = done.send(Some(tail));
        });
    }
    drop(done_tx);

    let deadline = start + spec.timeout;
    let mut watch = ConsoleWatch::new(&spec.marker);
    let mut first_output: Option<Instant> = None;
    let mut marker_at: Option<Instant> = None;
    let mut exited: Option<ExitStatus> = None;
    let mut console_open = true;
    let mut peak = None;
    let mut next_sample = start;

    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        if console_open {
            match rx.recv_timeout(TICK.min(deadline - now)) {
                Ok(Event::Console(t, chunk)) => {
                    first_output.get_or_insert(t);
                    if watch.feed(&chunk) {
                        marker_at = Some(t);
                        break;
                    }
                }
                Ok(Event::ConsoleClosed) | Err(RecvTimeoutError::Disconnected) => {
                    console_open = false;
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
        } else {
            thread::sleep(Duration::from_millis(2).min(deadline - now));
        }
        if Instant::now() >= next_sample {
            peak = peak_rss_kib(pid).or(peak);
            next_sample = Instant::now() + TICK;
        }
        if let Ok(Some(status)) = child.try_wait() {
            exited = Some(status);
            break;
        }
    }
    if marker_at.is_none() {
        // What the VMM printed just before exiting (or before the deadline) may still be in
        // the pipe or the channel. After an exit the pipe reaches end-of-file once the reader
        // has drained it, so wait for that (bounded: a grandchild may hold the pipe open);
        // at the deadline take only what is already there.
        let until = if exited.is_some() {
            Instant::now() + READER_GRACE
        } else {
            Instant::now()
        };
        while console_open {
            let event = match rx.try_recv() {
                Ok(event) => event,
                Err(mpsc::TryRecvError::Disconnected) => break,
                Err(mpsc::TryRecvError::Empty) => {
                    match rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
                        Ok(event) => event,
                        Err(_) => break,
                    }
                }
            };
            match event {
                Event::Console(t, chunk) => {
                    first_output.get_or_insert(t);
                    if watch.feed(&chunk) && marker_at.is_none() {
                        marker_at = Some(t);
                    }
                }
                Event::ConsoleClosed => console_open = false,
            }
        }
    }
    if exited.is_none() {
        peak = peak_rss_kib(pid).or(peak);
    }
    let timed_out = marker_at.is_none() && exited.is_none();

    // Stop the VMM and everything in its group, then reap it.
    guard.kill();
    let status = match exited {
        Some(s) => Ok(s),
        None => child.wait(),
    };
    let exit = status.ok().map(|s| exit_info(s, exited.is_none()));
    let survivors = wait_group_gone(pid);
    if survivors.is_empty() {
        // The group is gone and its id may be reused: the guard must not signal it again.
        guard.pgid = None;
    }
    drop(rx);
    let (stderr_tail, leaked_pipe) = collect_readers(&done_rx);

    let ms = |t: Instant| millis(t.duration_since(start));
    let exit_text = exit
        .as_ref()
        .map_or_else(|| "status unknown".to_string(), ExitInfo::to_string);
    let reason = if marker_at.is_some() {
        None
    } else if timed_out {
        Some(FailureReason::Timeout {
            after_ms: millis(spec.timeout),
            console_bytes: watch.total_bytes(),
            console_tail: watch.tail_text(),
        })
    } else if watch.total_bytes() == 0 {
        Some(FailureReason::VmmExitedEarly {
            exit: exit_text,
            stderr_tail: stderr_tail.clone(),
        })
    } else {
        Some(FailureReason::MarkerMissing {
            exit: exit_text,
            console_tail: watch.tail_text(),
            stderr_tail: stderr_tail.clone(),
        })
    };
    Ok(Launched {
        run: RunResult {
            ok: marker_at.is_some(),
            boot_ms: marker_at.map(ms),
            first_output_ms: first_output.map(ms),
            peak_rss_kib: peak,
            exit,
            reason,
            pid: Some(pid),
        },
        pid,
        stderr_tail,
        leaked_pipe,
        survivors,
    })
}

/// Waits (bounded) for both reader threads; returns the stderr tail and whether one of them
/// is still blocked on a pipe some process outside the group holds open.
fn collect_readers(done: &mpsc::Receiver<Option<TailBuffer>>) -> (String, bool) {
    let until = Instant::now() + READER_GRACE;
    let mut stderr = String::new();
    let mut finished = 0;
    while finished < 2 {
        let left = until.saturating_duration_since(Instant::now());
        match done.recv_timeout(left) {
            Ok(Some(tail)) => {
                stderr = tail.text();
                finished += 1;
            }
            Ok(None) => finished += 1,
            Err(RecvTimeoutError::Disconnected) => return (stderr, false),
            Err(RecvTimeoutError::Timeout) => return (stderr, true),
        }
    }
    (stderr, false)
}

/// True when `child` has not been reaped and is still running (for tests of the guard).
#[cfg(test)]
fn running(child: &mut std::process::Child) -> bool {
    matches!(child.try_wait(), Ok(None))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn spec(program: &str, args: &[&str], marker: &str, timeout_ms: u64) -> LaunchSpec {
        LaunchSpec {
            program: PathBuf::from(program),
            args: args.iter().map(OsString::from).collect(),
            module_dir: None,
            marker: marker.into(),
            timeout: Duration::from_millis(timeout_ms),
            supervisor: default_supervisor(),
        }
    }

    #[test]
    fn marker_on_stdout_is_success() {
        let l = launch(&spec("/bin/echo", &["boot", "OK-MARK"], "OK-MARK", 5000)).unwrap();
        assert!(l.run.ok, "{:?}", l.run);
        assert!(l.run.boot_ms.unwrap() >= l.run.first_output_ms.unwrap());
        assert!(l.run.reason.is_none());
    }

    #[test]
    fn quiet_exit_is_an_early_exit_and_stderr_is_kept() {
        let l = launch(&spec(
            "/bin/sh",
            &["-c", "echo broken >&2; exit 3"],
            "X",
            5000,
        ))
        .unwrap();
        assert!(!l.run.ok);
        match l.run.reason.unwrap() {
            FailureReason::VmmExitedEarly { exit, stderr_tail } => {
                assert_eq!(exit, "exit code 3");
                assert_eq!(stderr_tail.trim(), "broken");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn output_without_marker_is_marker_missing() {
        let l = launch(&spec(
            "/bin/echo",
            &["kernel panic"],
            "HVGUARD-SMOKE-OK",
            5000,
        ))
        .unwrap();
        assert!(matches!(
            l.run.reason,
            Some(FailureReason::MarkerMissing { .. })
        ));
    }

    #[test]
    fn timeout_kills_the_group_including_grandchildren() {
        let l = launch(&spec(
            "/bin/sh",
            &["-c", "sleep 30 & echo started; wait"],
            "never",
            300,
        ))
        .unwrap();
        assert!(
            matches!(l.run.reason, Some(FailureReason::Timeout { .. })),
            "{:?}",
            l.run
        );
        let exit = l.run.exit.unwrap();
        assert!(exit.stopped_by_hvguard, "{exit:?}");
        assert!(!l.leaked_pipe);
        assert!(l.survivors.is_empty());
        // No process of the group is left.
        assert_eq!(live_group_members(l.pid), Vec::<u32>::new());
    }

    #[test]
    fn stat_fields_after_the_command_name() {
        assert_eq!(
            parse_stat_state_pgrp("42 (qemu (x) y) S 1 42 42 0 -1"),
            Some(('S', 42))
        );
        assert_eq!(parse_stat_state_pgrp("garbage"), None);
        let me = std::process::id();
        let pgrp = rustix::process::getpgrp().as_raw_nonzero().get() as u32;
        assert!(live_group_members(pgrp).contains(&me));
    }

    #[test]
    fn guard_kills_on_drop() {
        let mut child = Command::new("/bin/sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        assert!(running(&mut child));
        drop(GroupGuard {
            pgid: rustix::process::Pid::from_raw(child.id() as i32),
        });
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(9));
    }

    #[test]
    fn unstartable_program_is_an_error() {
        let e = launch(&spec("/nonexistent/qemu", &[], "X", 100)).map(|_| ());
        // Through setpriv the exec failure is setpriv's exit; directly it is a spawn error.
        match e {
            Err(SmokeError::Spawn { .. }) => {}
            Ok(()) => assert!(default_supervisor().is_some()),
            Err(other) => panic!("{other}"),
        }
    }
}
