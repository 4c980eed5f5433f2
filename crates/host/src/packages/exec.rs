//! Running a fixed system tool on the live host: absolute path, fixed argv, no shell,
//! bounded output, and a deadline after which the child is killed.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Why a tool run gave no usable output.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("{program}: could not start: {cause}")]
    Spawn {
        program: String,
        cause: std::io::Error,
    },
    #[error("{program}: no answer within {seconds} s, killed")]
    Timeout { program: String, seconds: u64 },
    #[error("{program}: output larger than {limit} bytes")]
    TooLarge { program: String, limit: u64 },
    #[error("{program}: exited with {status}")]
    Failed { program: String, status: String },
    #[error("{program}: output is not UTF-8 text")]
    NotText { program: String },
    #[error("{program}: {cause}")]
    Io {
        program: String,
        cause: std::io::Error,
    },
}

/// Runs `program` (an absolute path) with `args`, returning its stdout.
///
/// stdin is closed and stderr discarded so that the child can neither wait for input nor
/// block on a full pipe nobody reads.
pub fn run_bounded(
    program: &Path,
    args: &[&str],
    timeout: Duration,
    limit: u64,
) -> Result<String, ExecError> {
    let name = program.display().to_string();
    let out = run_tool(&Tool {
        program,
        args: &args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>(),
        env: &[],
        cwd: None,
        timeout,
        limit,
        keep_stderr: false,
        log: None,
    })?;
    if !out.status.success() {
        return Err(ExecError::Failed {
            program: name,
            status: out.status.to_string(),
        });
    }
    String::from_utf8(out.stdout).map_err(|_| ExecError::NotText { program: name })
}

/// A fixed system tool to run: absolute path, argv, an environment made only of `LC_ALL=C`,
/// a `PATH` of the system folders and `env`.
#[derive(Debug, Clone, Copy)]
pub struct Tool<'a> {
    pub program: &'a Path,
    pub args: &'a [String],
    /// Variables set on top of `LC_ALL=C` and the system `PATH`.
    pub env: &'a [(&'a str, &'a str)],
    /// The working folder (`apt-get download` writes there).
    pub cwd: Option<&'a Path>,
    pub timeout: Duration,
    /// The most bytes kept of stdout, and of stderr.
    pub limit: u64,
    /// Capture stderr (for error messages) instead of discarding it.
    pub keep_stderr: bool,
    /// Append stdout and stderr to this file instead of pipes: the child then outlives us
    /// undisturbed (no SIGPIPE if we die), which an install must; the log's tail is returned
    /// as `stderr`.
    pub log: Option<&'a Path>,
}

/// What a tool run produced; a non-zero exit is for the caller to judge.
#[derive(Debug, Clone)]
pub struct ToolOutput {
    pub status: std::process::ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl ToolOutput {
    /// The last non-empty lines of stderr (else stdout), joined for a one-line message.
    pub fn tail(&self, lines: usize) -> String {
        let text = if self.stderr.iter().any(|b| !b.is_ascii_whitespace()) {
            String::from_utf8_lossy(&self.stderr)
        } else {
            String::from_utf8_lossy(&self.stdout)
        };
        let kept: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        kept[kept.len().saturating_sub(lines)..].join(" | ")
    }
}

/// The `PATH` tools run with: dpkg and its maintainer scripts need the sbin folders.
const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn reader<R: Read + Send + 'static>(
    stream: Option<R>,
    limit: u64,
) -> thread::JoinHandle<std::io::Result<Vec<u8>>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(stream) = stream {
            // Keep reading past the limit (discarding) so that the child never blocks on a
            // full pipe; only the first `limit + 1` bytes are kept.
            let mut stream = stream;
            let mut chunk = [0u8; 8192];
            loop {
                let n = stream.read(&mut chunk)?;
                if n == 0 {
                    break;
                }
                let room = (limit + 1).saturating_sub(buf.len() as u64) as usize;
                buf.extend_from_slice(&chunk[..n.min(room)]);
            }
        }
        Ok(buf)
    })
}

/// The last `limit` bytes of a log file (empty when unreadable).
fn log_tail(path: &Path, limit: u64) -> Vec<u8> {
    use std::io::{Seek, SeekFrom};
    let Ok(mut file) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(limit)));
    let mut buf = Vec::new();
    let _ = file.take(limit).read_to_end(&mut buf);
    buf
}

/// Runs `tool`, returning its exit status and bounded output, killing it at the deadline.
pub fn run_tool(tool: &Tool<'_>) -> Result<ToolOutput, ExecError> {
    let name = tool.program.display().to_string();
    let mut command = Command::new(tool.program);
    command
        .args(tool.args)
        .env_clear()
        .env("LC_ALL", "C")
        .env("PATH", SYSTEM_PATH)
        .stdin(Stdio::null());
    let io_err = |source| ExecError::Io {
        program: name.clone(),
        cause: source,
    };
    match tool.log {
        Some(log) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .map_err(io_err)?;
            command
                .stdout(Stdio::from(file.try_clone().map_err(io_err)?))
                .stderr(Stdio::from(file));
        }
        None => {
            command.stdout(Stdio::piped()).stderr(if tool.keep_stderr {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        }
    }
    for (key, value) in tool.env {
        command.env(key, value);
    }
    if let Some(cwd) = tool.cwd {
        command.current_dir(cwd);
    }
    let mut child = command.spawn().map_err(|source| ExecError::Spawn {
        program: name.clone(),
        cause: source,
    })?;
    // The readers run beside the deadline loop so that a chatty child cannot fill a pipe
    // and stall while we wait for it to exit.
    let out_reader = reader(child.stdout.take(), tool.limit);
    let err_reader = reader(child.stderr.take(), tool.limit);
    let deadline = Instant::now() + tool.timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                // The readers are left to finish on their own: a grandchild still holding a
                // pipe open must not hold us past the deadline.
                return Err(ExecError::Timeout {
                    program: name,
                    seconds: tool.timeout.as_secs().max(1),
                });
            }
            Ok(None) => thread::sleep(Duration::from_millis(5)),
            Err(cause) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ExecError::Io {
                    program: name,
                    cause,
                });
            }
        }
    };
    let join = |handle: thread::JoinHandle<std::io::Result<Vec<u8>>>| match handle.join() {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(source)) => Err(ExecError::Io {
            program: name.clone(),
            cause: source,
        }),
        Err(_) => Err(ExecError::Io {
            program: name.clone(),
            cause: std::io::Error::other("output reader thread failed"),
        }),
    };
    let stdout = join(out_reader)?;
    let mut stderr = join(err_reader)?;
    if let Some(log) = tool.log {
        stderr = log_tail(log, tool.limit.min(64 << 10));
    }
    if stdout.len() as u64 > tool.limit || stderr.len() as u64 > tool.limit {
        return Err(ExecError::TooLarge {
            program: name,
            limit: tool.limit,
        });
    }
    Ok(ToolOutput {
        status,
        stdout,
        stderr,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn captures_stdout() {
        let out = run_bounded(
            Path::new("/bin/echo"),
            &["a", "b"],
            Duration::from_secs(5),
            1024,
        )
        .unwrap();
        assert_eq!(out, "a b\n");
    }

    #[test]
    fn a_logged_run_writes_the_file_and_returns_its_tail() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("apt.log");
        let args = vec!["hello".to_owned()];
        let out = run_tool(&Tool {
            program: Path::new("/bin/echo"),
            args: &args,
            env: &[],
            cwd: None,
            timeout: Duration::from_secs(5),
            limit: 1024,
            keep_stderr: true,
            log: Some(&log),
        })
        .unwrap();
        assert!(out.status.success());
        assert!(out.stdout.is_empty());
        assert_eq!(out.tail(1), "hello");
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "hello\n");
    }

    #[test]
    fn kills_after_the_deadline() {
        let started = Instant::now();
        let err = run_bounded(
            Path::new("/bin/sleep"),
            &["30"],
            Duration::from_millis(200),
            1024,
        )
        .unwrap_err();
        assert!(matches!(err, ExecError::Timeout { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(20));
    }

    #[test]
    fn refuses_oversized_output_and_failures() {
        let err = run_bounded(
            Path::new("/bin/echo"),
            &["0123456789"],
            Duration::from_secs(5),
            4,
        )
        .unwrap_err();
        assert!(matches!(err, ExecError::TooLarge { .. }), "{err}");
        let err = run_bounded(Path::new("/bin/false"), &[], Duration::from_secs(5), 4).unwrap_err();
        assert!(matches!(err, ExecError::Failed { .. }), "{err}");
        let err = run_bounded(
            Path::new("/nonexistent/rpm"),
            &[],
            Duration::from_secs(5),
            4,
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("/nonexistent/rpm"), "{err}");
    }
}
