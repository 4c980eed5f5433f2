//! A small blocking HTTP client for feeds: timeouts, a byte cap streamed to disk, retries
//! with exponential backoff for transient failures, and errors that name the URL.

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::FetchError;

/// Limits and retry policy.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// Time to establish a connection.
    pub connect_timeout: Duration,
    /// Time for one whole request, body included.
    pub request_timeout: Duration,
    /// The longest silence accepted: for the response to start, and between two reads of
    /// it. A server that accepts the connection and never answers fails after this, not
    /// after the whole `request_timeout`.
    pub stall_timeout: Duration,
    /// Redirects followed (0: a 3xx answer is returned as it is).
    pub max_redirects: u32,
    /// The largest body accepted.
    pub max_bytes: u64,
    /// Extra attempts after the first for transient failures.
    pub retries: u32,
    /// The wait before the first retry; doubled for each further one.
    pub backoff: Duration,
    /// Honour `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` from the environment.
    pub use_env_proxy: bool,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(15),
            // The Debian tracker JSON is tens of MB; allow for a slow link.
            request_timeout: Duration::from_secs(600),
            // NVD's API can think for a minute before answering a 2000-result page.
            stall_timeout: Duration::from_secs(90),
            max_redirects: 10,
            max_bytes: 512 << 20,
            retries: 3,
            backoff: Duration::from_secs(2),
            use_env_proxy: true,
        }
    }
}

/// What a download wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// Bytes written.
    pub size: u64,
    /// Their SHA-256, lowercase hex.
    pub sha256: String,
}

/// The HTTP client.
#[derive(Debug)]
pub struct HttpClient {
    agent: ureq::Agent,
    config: FetchConfig,
}

impl HttpClient {
    /// A client with the given limits.
    pub fn new(config: FetchConfig) -> Self {
        let mut builder = ureq::Agent::config_builder()
            .timeout_connect(Some(config.connect_timeout))
            .timeout_global(Some(config.request_timeout))
            .timeout_recv_response(Some(config.stall_timeout))
            .timeout_per_read(Some(config.stall_timeout))
            .max_redirects(config.max_redirects)
            .http_status_as_error(false)
            .user_agent(concat!("hvguard/", env!("CARGO_PKG_VERSION")));
        if !config.use_env_proxy {
            builder = builder.proxy(None);
        }
        Self {
            agent: builder.build().into(),
            config,
        }
    }

    /// The limits in force.
    pub fn config(&self) -> &FetchConfig {
        &self.config
    }

    /// Downloads `url` into `dest` (replaced), retrying transient failures. On failure
    /// `dest` is removed.
    pub fn download(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        dest: &Path,
    ) -> Result<Downloaded, FetchError> {
        self.download_until(url, headers, dest, None)
    }

    /// [`HttpClient::download`] that gives up at `deadline`: each attempt is cut to the time
    /// left, and no attempt or retry wait starts after it (the last failure is returned).
    pub fn download_until(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        dest: &Path,
        deadline: Option<Instant>,
    ) -> Result<Downloaded, FetchError> {
        check_url(url)?;
        let stop = deadline.map(|at| Stop { at, budget: None });
        let result = self.with_retries(url, stop, |attempt, left| {
            self.download_once(url, headers, dest, attempt, left)
        });
        if result.is_err() {
            // Best effort: a partial download must not be mistaken for a feed.
            let _ = std::fs::remove_file(dest);
        }
        result
    }

    /// Posts a JSON body, retrying transient failures until `budget` is spent. Only a 2xx
    /// answer is a success; the body of the answer is never read.
    pub fn post_json(&self, url: &str, body: &[u8], budget: Duration) -> Result<(), FetchError> {
        check_url(url)?;
        let stop = Stop {
            at: Instant::now() + budget,
            budget: Some(budget),
        };
        self.with_retries(url, Some(stop), |attempt, left| {
            let response = self
                .agent
                .post(url)
                .header("Content-Type", "application/json")
                .config()
                .timeout_global(Some(self.attempt_time(left)))
                .build()
                .send(body)
                .map_err(|e| classify(url, e, attempt))?;
            let status = response.status().as_u16();
            if (200..300).contains(&status) {
                Ok(())
            } else {
                Err(FetchError::Status {
                    url: url.to_owned(),
                    status,
                    attempts: attempt,
                })
            }
        })
    }

    /// The time one attempt may take: the request timeout, cut to what is left.
    fn attempt_time(&self, left: Option<Duration>) -> Duration {
        match left {
            Some(left) => self.config.request_timeout.min(left),
            None => self.config.request_timeout,
        }
        .max(Duration::from_millis(1))
    }

    fn with_retries<T>(
        &self,
        url: &str,
        stop: Option<Stop>,
        mut once: impl FnMut(u32, Option<Duration>) -> Result<T, FetchError>,
    ) -> Result<T, FetchError> {
        let mut attempt = 1;
        loop {
            let left = stop.map(|s| s.at.saturating_duration_since(Instant::now()));
            match once(attempt, left) {
                Ok(v) => return Ok(v),
                Err(e) if e.is_transient() && attempt <= self.config.retries => {
                    let wait = self
                        .config
                        .backoff
                        .saturating_mul(1 << (attempt - 1).min(10));
                    if let Some(stop) = stop {
                        if Instant::now() + wait >= stop.at {
                            return Err(stop.expired(url, attempt, e));
                        }
                    }
                    std::thread::sleep(wait);
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn download_once(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        dest: &Path,
        attempt: u32,
        left: Option<Duration>,
    ) -> Result<Downloaded, FetchError> {
        let mut request = self.agent.get(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut response = request
            .config()
            .timeout_global(Some(self.attempt_time(left)))
            .build()
            .call()
            .map_err(|e| classify(url, e, attempt))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(FetchError::Status {
                url: url.to_owned(),
                status,
                attempts: attempt,
            });
        }
        let limit = self.config.max_bytes;
        let announced = response.body().content_length();
        if announced.is_some_and(|n| n > limit) {
            return Err(FetchError::TooLarge {
                url: url.to_owned(),
                limit,
            });
        }
        let io = |cause| FetchError::Io {
            path: dest.to_path_buf(),
            cause,
        };
        let mut file = std::fs::File::create(dest).map_err(io)?;
        let mut reader = response.body_mut().as_reader().take(limit + 1);
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(classify_read(url, e, announced, size, attempt)),
            };
            size += n as u64;
            if size > limit {
                return Err(FetchError::TooLarge {
                    url: url.to_owned(),
                    limit,
                });
            }
            hasher.update(&buf[..n]);
            file.write_all(&buf[..n]).map_err(io)?;
        }
        if let Some(expected) = announced.filter(|&n| n != size) {
            return Err(FetchError::Truncated {
                url: url.to_owned(),
                expected,
                got: size,
            });
        }
        file.sync_all().map_err(io)?;
        Ok(Downloaded {
            size,
            sha256: hex(&hasher.finalize()),
        })
    }
}

/// When retrying must stop.
#[derive(Debug, Clone, Copy)]
struct Stop {
    at: Instant,
    /// A webhook's budget: running out of it is [`FetchError::Budget`]. Without one (an
    /// update's deadline) the last failure is returned as it is.
    budget: Option<Duration>,
}

impl Stop {
    fn expired(self, url: &str, attempts: u32, last: FetchError) -> FetchError {
        match self.budget {
            Some(budget) => {
                // The last failure names the same URL: say it once.
                let last = last.to_string();
                let last = last
                    .strip_prefix(url)
                    .and_then(|rest| rest.strip_prefix(": "))
                    .unwrap_or(&last)
                    .to_owned();
                FetchError::Budget {
                    url: url.to_owned(),
                    attempts,
                    budget_ms: budget.as_millis(),
                    last,
                }
            }
            None => last,
        }
    }
}

fn check_url(url: &str) -> Result<(), FetchError> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(())
    } else {
        Err(FetchError::BadUrl {
            url: url.to_owned(),
        })
    }
}

fn classify(url: &str, e: ureq::Error, attempts: u32) -> FetchError {
    match e {
        ureq::Error::Timeout(t) => FetchError::Timeout {
            url: url.to_owned(),
            message: t.to_string(),
            attempts,
        },
        ureq::Error::BodyExceedsLimit(limit) => FetchError::TooLarge {
            url: url.to_owned(),
            limit,
        },
        ureq::Error::BadUri(_) => FetchError::BadUrl {
            url: url.to_owned(),
        },
        other => FetchError::Network {
            url: url.to_owned(),
            message: other.to_string(),
            attempts,
        },
    }
}

/// ureq reports body problems through `io::Error`; a timeout or an early close says more
/// than "I/O error".
fn classify_read(
    url: &str,
    e: std::io::Error,
    announced: Option<u64>,
    got: u64,
    attempts: u32,
) -> FetchError {
    let text = e.to_string();
    if e.kind() == std::io::ErrorKind::TimedOut || text.contains("timeout") {
        return FetchError::Timeout {
            url: url.to_owned(),
            message: text,
            attempts,
        };
    }
    match announced {
        Some(expected) if e.kind() == std::io::ErrorKind::UnexpectedEof || got < expected => {
            FetchError::Truncated {
                url: url.to_owned(),
                expected,
                got,
            }
        }
        _ => FetchError::Network {
            url: url.to_owned(),
            message: text,
            attempts,
        },
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
