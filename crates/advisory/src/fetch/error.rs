//! Download errors: each names the URL (never a header, so an API key cannot leak into a
//! log) or the local file involved. Messages carry their cause's text; no variant exposes it
//! again as a `source()`, so a printed chain says each thing once.

use std::path::PathBuf;

use crate::store::StoreError;
use crate::ImportError;

/// Why a download or a webhook post failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The server answered with an error status (after retries for 5xx and 429).
    #[error("{url}: HTTP {status} after {attempts} attempt(s)")]
    Status {
        /// The URL.
        url: String,
        /// The last status code.
        status: u16,
        /// Requests made.
        attempts: u32,
    },
    /// No answer: DNS, connection refused, TLS, reset (after retries).
    #[error("{url}: network error after {attempts} attempt(s): {message}")]
    Network {
        /// The URL.
        url: String,
        /// The last cause.
        message: String,
        /// Requests made.
        attempts: u32,
    },
    /// The server was too slow (after retries).
    #[error("{url}: timed out after {attempts} attempt(s): {message}")]
    Timeout {
        /// The URL.
        url: String,
        /// Which phase timed out.
        message: String,
        /// Requests made.
        attempts: u32,
    },
    /// The body is larger than the cap for downloads.
    #[error("{url}: response larger than the {limit}-byte limit")]
    TooLarge {
        /// The URL.
        url: String,
        /// The cap.
        limit: u64,
    },
    /// The connection closed before the announced body length arrived.
    #[error("{url}: truncated response ({got} of {expected} bytes)")]
    Truncated {
        /// The URL.
        url: String,
        /// Content-Length.
        expected: u64,
        /// Bytes received.
        got: u64,
    },
    /// The URL is not an http(s) URL.
    #[error("{url}: not an http:// or https:// URL")]
    BadUrl {
        /// What was given.
        url: String,
    },
    /// A downloaded page does not have the shape its API promises.
    #[error("{url}: unexpected response: {message}")]
    BadResponse {
        /// The URL.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// Writing the download to disk failed.
    #[error("{}: {cause}", .path.display())]
    Io {
        /// The local file.
        path: PathBuf,
        /// The cause.
        cause: std::io::Error,
    },
    /// The webhook did not accept the post within the time budget.
    #[error("{url}: gave up after {attempts} attempt(s) within the {budget_ms} ms budget: {last}")]
    Budget {
        /// The URL.
        url: String,
        /// Requests made.
        attempts: u32,
        /// The budget.
        budget_ms: u128,
        /// The last failure.
        last: String,
    },
}

impl FetchError {
    /// The same error with every mention of `url` shown as `shown` (a redacted URL).
    pub fn redacted(self, url: &str, shown: &str) -> FetchError {
        let hide = |text: String| text.replace(url, shown);
        match self {
            FetchError::Status {
                status, attempts, ..
            } => FetchError::Status {
                url: shown.to_owned(),
                status,
                attempts,
            },
            FetchError::Network {
                message, attempts, ..
            } => FetchError::Network {
                url: shown.to_owned(),
                message: hide(message),
                attempts,
            },
            FetchError::Timeout {
                message, attempts, ..
            } => FetchError::Timeout {
                url: shown.to_owned(),
                message: hide(message),
                attempts,
            },
            FetchError::TooLarge { limit, .. } => FetchError::TooLarge {
                url: shown.to_owned(),
                limit,
            },
            FetchError::Truncated { expected, got, .. } => FetchError::Truncated {
                url: shown.to_owned(),
                expected,
                got,
            },
            FetchError::BadUrl { .. } => FetchError::BadUrl {
                url: shown.to_owned(),
            },
            FetchError::BadResponse { message, .. } => FetchError::BadResponse {
                url: shown.to_owned(),
                message: hide(message),
            },
            FetchError::Budget {
                attempts,
                budget_ms,
                last,
                ..
            } => FetchError::Budget {
                url: shown.to_owned(),
                attempts,
                budget_ms,
                last: hide(last),
            },
            io @ FetchError::Io { .. } => io,
        }
    }

    /// True for failures that another attempt may not repeat (5xx, 429, network, timeout).
    pub fn is_transient(&self) -> bool {
        match self {
            FetchError::Status { status, .. } => *status >= 500 || *status == 429,
            FetchError::Network { .. } | FetchError::Timeout { .. } => true,
            FetchError::Truncated { .. } => true,
            _ => false,
        }
    }
}

/// Why `db update` failed; in every case the previous store is kept.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// A download failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// A downloaded file is not a valid feed.
    #[error("{url}: {cause}")]
    BadFeed {
        /// Where it came from.
        url: String,
        /// The importer's error (naming the downloaded copy).
        cause: ImportError,
    },
    /// Writing the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A store export from a mirror (`db update --source URL`) was refused or could not be
    /// taken.
    /// (Boxed: it is much larger than the other variants.)
    #[error(transparent)]
    Export(Box<crate::store::export::ExportError>),
    /// A `--source` that is neither a known name nor a URL.
    #[error("unknown source {name:?}: use one of {known} or an http(s):// URL")]
    UnknownSource {
        /// What was given.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
    /// The whole update ran out of time (`--deadline`); nothing was written.
    #[error("the update did not finish within its {seconds} s deadline (--deadline): {during}")]
    Deadline {
        /// The deadline.
        seconds: u64,
        /// What was happening when it passed (the last failure, naming its URL).
        during: String,
    },
    /// The scratch folder for downloads could not be made.
    #[error("{}: {cause}", .path.display())]
    Io {
        /// The folder.
        path: PathBuf,
        /// The cause.
        cause: std::io::Error,
    },
}

impl From<crate::store::export::ExportError> for UpdateError {
    fn from(e: crate::store::export::ExportError) -> Self {
        UpdateError::Export(Box::new(e))
    }
}
