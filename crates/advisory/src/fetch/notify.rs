//! `advisories --notify URL`: posts the newly seen advisories to a webhook, with retries
//! inside a short total budget so that a dead endpoint never holds up the report.

use std::time::Duration;

use serde::Serialize;

use super::{FetchConfig, FetchError, HttpClient};

/// The payload's schema name.
pub const NOTIFY_SCHEMA: &str = "hvguard.advisory-alert/v1";

/// The JSON body posted to the webhook.
#[derive(Debug, Clone, Serialize)]
pub struct Alert<T: Serialize> {
    /// [`NOTIFY_SCHEMA`].
    pub schema: &'static str,
    /// When the alert was made (RFC 3339).
    pub generated_at: String,
    /// The host's name, when known.
    pub host: Option<String>,
    /// The new findings.
    pub new: Vec<T>,
}

/// Limits for a webhook post.
#[derive(Debug, Clone, Copy)]
pub struct NotifyLimits {
    /// Time for one attempt.
    pub attempt_timeout: Duration,
    /// Time for all attempts and waits together.
    pub budget: Duration,
    /// Wait before the first retry, doubled after each.
    pub backoff: Duration,
    /// Honour proxy variables from the environment.
    pub use_env_proxy: bool,
}

impl Default for NotifyLimits {
    fn default() -> Self {
        Self {
            attempt_timeout: Duration::from_secs(5),
            budget: Duration::from_secs(15),
            backoff: Duration::from_millis(500),
            use_env_proxy: true,
        }
    }
}

/// Posts `alert` as JSON to `url`.
pub fn notify<T: Serialize>(
    url: &str,
    alert: &Alert<T>,
    limits: NotifyLimits,
) -> Result<(), FetchError> {
    let body = serde_json::to_vec(alert).map_err(|e| FetchError::BadResponse {
        url: url.to_owned(),
        message: format!("could not encode the alert: {e}"),
    })?;
    let client = HttpClient::new(FetchConfig {
        connect_timeout: limits.attempt_timeout,
        request_timeout: limits.attempt_timeout,
        max_bytes: 1 << 20,
        retries: 8,
        backoff: limits.backoff,
        use_env_proxy: limits.use_env_proxy,
    });
    client.post_json(url, &body, limits.budget)
}
