//! `advisories --notify URL`: posts the advisories the webhook has not accepted yet, with
//! retries inside a short total budget so that a dead endpoint never holds up the report.
//!
//! The endpoint is not trusted: only a 2xx status counts (its body is never read),
//! redirects are not followed (a webhook answers for itself; a 3xx is a failure, not a hop
//! to wherever it points), every attempt and the whole post are time-bounded, and the URL
//! is shown redacted (webhook URLs often carry their token in the path).

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
        Self::within(Duration::from_secs(15))
    }
}

impl NotifyLimits {
    /// Limits for a post that must be over within `budget`: 5 s per attempt (less when the
    /// budget is shorter), retries from 0.5 s.
    pub fn within(budget: Duration) -> Self {
        Self {
            attempt_timeout: Duration::from_secs(5).min(budget),
            budget,
            backoff: Duration::from_millis(500),
            use_env_proxy: true,
        }
    }
}

/// `url` with what may be a secret left out: user and password, path, query and fragment
/// (`https://hooks.example.com/services/T0/B0/token` shows as `https://hooks.example.com/…`).
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<not a URL>".to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if authority_end < rest.len() && rest.len() > authority_end + 1 {
        format!("{scheme}://{host}/\u{2026}")
    } else {
        format!("{scheme}://{host}/")
    }
}

/// Posts `alert` as JSON to `url`.
pub fn notify<T: Serialize>(
    url: &str,
    alert: &Alert<T>,
    limits: NotifyLimits,
) -> Result<(), FetchError> {
    let shown = redact_url(url);
    let body = serde_json::to_vec(alert).map_err(|e| FetchError::BadResponse {
        url: shown.clone(),
        message: format!("could not encode the alert: {e}"),
    })?;
    let client = HttpClient::new(FetchConfig {
        connect_timeout: limits.attempt_timeout,
        request_timeout: limits.attempt_timeout,
        stall_timeout: limits.attempt_timeout,
        max_redirects: 0,
        max_bytes: 1 << 20,
        retries: 8,
        backoff: limits.backoff,
        use_env_proxy: limits.use_env_proxy,
    });
    client
        .post_json(url, &body, limits.budget)
        .map_err(|e| e.redacted(url, &shown))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_keep_only_scheme_and_host() {
        assert_eq!(
            redact_url("https://hooks.slack.com/services/T000/B000/XXXXSECRET"),
            "https://hooks.slack.com/\u{2026}"
        );
        assert_eq!(
            redact_url("http://user:pass@127.0.0.1:8080/hook?token=s3cret"),
            "http://127.0.0.1:8080/\u{2026}"
        );
        assert_eq!(
            redact_url("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080/"
        );
        assert_eq!(
            redact_url("http://127.0.0.1:8080/"),
            "http://127.0.0.1:8080/"
        );
        assert_eq!(redact_url("not a url"), "<not a URL>");
    }
}
