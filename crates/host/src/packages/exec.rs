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
    let mut child = Command::new(program)
        .args(args)
        .env_clear()
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|cause| ExecError::Spawn {
            program: name.clone(),
            cause,
        })?;
    let Some(stdout) = child.stdout.take() else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(ExecError::Io {
            program: name,
            cause: std::io::Error::other("stdout was not captured"),
        });
    };
    // The reader runs beside the deadline loop so that a chatty child cannot fill the pipe
    // and stall while we wait for it to exit.
    let reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let result = stdout.take(limit + 1).read_to_end(&mut buf);
        result.map(|_| buf)
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                // The reader is left to finish on its own: a grandchild still holding the
                // pipe open must not hold us past the deadline.
                drop(reader);
                return Err(ExecError::Timeout {
                    program: name,
                    seconds: timeout.as_secs().max(1),
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
    let bytes = match reader.join() {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(cause)) => {
            return Err(ExecError::Io {
                program: name,
                cause,
            })
        }
        Err(_) => {
            return Err(ExecError::Io {
                program: name,
                cause: std::io::Error::other("output reader thread failed"),
            })
        }
    };
    if bytes.len() as u64 > limit {
        return Err(ExecError::TooLarge {
            program: name,
            limit,
        });
    }
    if !status.success() {
        return Err(ExecError::Failed {
            program: name,
            status: status.to_string(),
        });
    }
    String::from_utf8(bytes).map_err(|_| ExecError::NotText { program: name })
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
