//! Network side of the advisory store: the feeds `db update` downloads, the HTTP client
//! that downloads them (timeouts, size caps, retries), and the webhook for new advisories.

mod error;
mod http;
mod mirror;
mod notify;
mod scratch;
mod sources;
mod update;

pub use error::{FetchError, UpdateError};
pub use http::{Downloaded, FetchConfig, HttpClient};
pub use mirror::{update_from_mirror, MirrorOptions, MirrorTaken};
pub use notify::{notify, redact_url, Alert, NotifyLimits, NOTIFY_SCHEMA};
pub use sources::{default_sources, select_sources, Source, SourceKind, NVD_API};
pub use update::{
    fetch_batches, update_from_sources, UpdateOptions, DEFAULT_UPDATE_DEADLINE, NVD_API_KEY_VAR,
};
