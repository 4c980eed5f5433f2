//! The `[update]` table of the policy file: how `hvguard update` may change this host.
//!
//! ```toml
//! [update]
//! sla_days = { critical = 2, high = 7, medium = 30, low = 90 }
//! window = { days = ["sat", "sun"], start = "02:00", end = "05:00" }   # local time
//! hold = ["qemu-system-x86"]          # packages never touched
//! max_boot_ms = 3000                  # smoke gate: the candidate's median boot time
//! max_boot_regression_percent = 20    # smoke gate: candidate vs installed
//! auto_rollback = true
//! keep_rollback_artifacts = 3
//! ```
//!
//! Every key is optional; a missing table means the defaults. Values are checked here, with
//! the line of the offending key, so that a typo is found when the file is read and never
//! half-way through an update.

use jiff::civil::{Time, Weekday};
use serde::Deserialize;
use toml::Spanned;

use super::line_of;
use crate::Advisory;
use hvguard_core::Severity;

/// Days allowed to fix an advisory of each severity, counted from its publication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaDays {
    /// Critical advisories (default 2).
    pub critical: u32,
    /// High (default 7).
    pub high: u32,
    /// Medium (default 30).
    pub medium: u32,
    /// Low and info (default 90).
    pub low: u32,
}

impl Default for SlaDays {
    fn default() -> Self {
        SlaDays {
            critical: 2,
            high: 7,
            medium: 30,
            low: 90,
        }
    }
}

impl SlaDays {
    /// The days allowed for `severity` (info counts as low).
    pub fn for_severity(&self, severity: Severity) -> u32 {
        match severity {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low | Severity::Info => self.low,
        }
    }
}

/// When updates may run, in local time: on `days`, from `start` until `end` (an `end` at or
/// before `start` runs past midnight into the next day).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceWindow {
    /// The days the window opens on; every day when empty.
    pub days: Vec<Weekday>,
    /// Opening time.
    pub start: Time,
    /// Closing time.
    pub end: Time,
}

impl MaintenanceWindow {
    /// True when the local date-time `now` is inside the window.
    pub fn contains(&self, now: jiff::civil::DateTime) -> bool {
        let time = now.time();
        let opens_on = |day: Weekday| self.days.is_empty() || self.days.contains(&day);
        if self.start < self.end {
            return opens_on(now.weekday()) && time >= self.start && time < self.end;
        }
        // Past midnight: the evening part belongs to today's window, the morning part to
        // the window that opened yesterday.
        (time >= self.start && opens_on(now.weekday()))
            || (time < self.end && opens_on(now.weekday().wrapping_sub(1)))
    }

    /// `sat,sun 02:00-05:00`, for messages.
    pub fn describe(&self) -> String {
        let days = if self.days.is_empty() {
            "every day".to_owned()
        } else {
            self.days
                .iter()
                .map(|d| weekday_name(*d))
                .collect::<Vec<_>>()
                .join(",")
        };
        format!(
            "{days} {}-{} local time",
            self.start.strftime("%H:%M"),
            self.end.strftime("%H:%M")
        )
    }
}

fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Monday => "mon",
        Weekday::Tuesday => "tue",
        Weekday::Wednesday => "wed",
        Weekday::Thursday => "thu",
        Weekday::Friday => "fri",
        Weekday::Saturday => "sat",
        Weekday::Sunday => "sun",
    }
}

/// The `[update]` table, with defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdatePolicy {
    /// SLA per severity.
    pub sla_days: SlaDays,
    /// The maintenance window; `None`: any time.
    pub window: Option<MaintenanceWindow>,
    /// Package names `update` never installs, downgrades or removes.
    pub hold: Vec<String>,
    /// The smoke gate's ceiling for the candidate's median boot time.
    pub max_boot_ms: Option<u64>,
    /// The smoke gate's ceiling for how much slower than the installed binary the
    /// candidate may boot, in percent.
    pub max_boot_regression_percent: Option<u32>,
    /// Reinstall the saved versions when installing or verifying fails.
    pub auto_rollback: bool,
    /// How many transactions' rollback artifacts to keep.
    pub keep_rollback_artifacts: u32,
    /// 1-based line of the `[update]` table, when the file has one.
    pub line: Option<usize>,
}

impl Default for UpdatePolicy {
    fn default() -> Self {
        UpdatePolicy {
            sla_days: SlaDays::default(),
            window: None,
            hold: Vec::new(),
            max_boot_ms: None,
            max_boot_regression_percent: None,
            auto_rollback: true,
            keep_rollback_artifacts: 3,
            line: None,
        }
    }
}

impl UpdatePolicy {
    /// True when `package` is on the hold list.
    pub fn holds(&self, package: &str) -> bool {
        self.hold.iter().any(|h| h == package)
    }

    /// The SLA due date of `advisory` rated `severity`: its publication plus the days the
    /// policy allows; `None` when the advisory has no publication date.
    pub fn due(&self, advisory: &Advisory, severity: Severity) -> Option<jiff::civil::Date> {
        let published = advisory.published?;
        let days = i64::from(self.sla_days.for_severity(severity));
        published.checked_add(jiff::Span::new().days(days)).ok()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUpdate {
    #[serde(default)]
    sla_days: Option<Spanned<RawSla>>,
    #[serde(default)]
    window: Option<Spanned<RawWindow>>,
    #[serde(default)]
    hold: Vec<Spanned<String>>,
    #[serde(default)]
    max_boot_ms: Option<Spanned<i64>>,
    #[serde(default)]
    max_boot_regression_percent: Option<Spanned<i64>>,
    #[serde(default)]
    auto_rollback: Option<bool>,
    #[serde(default)]
    keep_rollback_artifacts: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSla {
    critical: Option<Spanned<i64>>,
    high: Option<Spanned<i64>>,
    medium: Option<Spanned<i64>>,
    low: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    #[serde(default)]
    days: Vec<Spanned<String>>,
    start: Spanned<String>,
    end: Spanned<String>,
}

/// A value error: the 1-based line and the message.
pub(super) type ValueError = (usize, String);

fn number_in(
    text: &str,
    value: &Spanned<i64>,
    key: &str,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, ValueError> {
    let n = *value.get_ref();
    if range.contains(&n) {
        Ok(n)
    } else {
        Err((
            line_of(text, value.span().start),
            format!(
                "`{key}` = {n} is out of range ({}..={})",
                range.start(),
                range.end()
            ),
        ))
    }
}

fn parse_weekday(text: &str, value: &Spanned<String>) -> Result<Weekday, ValueError> {
    let day = match value.get_ref().trim().to_ascii_lowercase().as_str() {
        "mon" | "monday" => Weekday::Monday,
        "tue" | "tuesday" => Weekday::Tuesday,
        "wed" | "wednesday" => Weekday::Wednesday,
        "thu" | "thursday" => Weekday::Thursday,
        "fri" | "friday" => Weekday::Friday,
        "sat" | "saturday" => Weekday::Saturday,
        "sun" | "sunday" => Weekday::Sunday,
        other => {
            return Err((
                line_of(text, value.span().start),
                format!("`window.days`: {other:?} is not a day (mon, tue, ..., sun)"),
            ))
        }
    };
    Ok(day)
}

fn parse_time(text: &str, value: &Spanned<String>, key: &str) -> Result<Time, ValueError> {
    let raw = value.get_ref().trim();
    let parsed = match raw.split_once(':') {
        Some((h, m)) if h.len() <= 2 && m.len() == 2 => match (h.parse::<i8>(), m.parse::<i8>()) {
            (Ok(h), Ok(m)) => Time::new(h, m, 0, 0).ok(),
            _ => None,
        },
        _ => None,
    };
    parsed.ok_or_else(|| {
        (
            line_of(text, value.span().start),
            format!("`window.{key}` {raw:?} is not a time of day (HH:MM, 00:00 to 23:59)"),
        )
    })
}

impl RawUpdate {
    /// Checks every value; `table_line` is the line of the `[update]` header.
    pub(super) fn validate(
        self,
        text: &str,
        table_line: usize,
    ) -> Result<UpdatePolicy, ValueError> {
        let mut policy = UpdatePolicy {
            line: Some(table_line),
            ..UpdatePolicy::default()
        };
        if let Some(sla) = self.sla_days {
            let sla = sla.into_inner();
            let days = |v: &Option<Spanned<i64>>, key: &str, default: u32| match v {
                Some(v) => number_in(text, v, &format!("sla_days.{key}"), 0..=3650)
                    .map(|n| u32::try_from(n).unwrap_or(default)),
                None => Ok(default),
            };
            let d = SlaDays::default();
            policy.sla_days = SlaDays {
                critical: days(&sla.critical, "critical", d.critical)?,
                high: days(&sla.high, "high", d.high)?,
                medium: days(&sla.medium, "medium", d.medium)?,
                low: days(&sla.low, "low", d.low)?,
            };
        }
        if let Some(window) = self.window {
            let window_line = line_of(text, window.span().start);
            let raw = window.into_inner();
            let mut days = Vec::new();
            for day in &raw.days {
                let day = parse_weekday(text, day)?;
                if !days.contains(&day) {
                    days.push(day);
                }
            }
            days.sort_by_key(|d| d.to_monday_one_offset());
            let start = parse_time(text, &raw.start, "start")?;
            let end = parse_time(text, &raw.end, "end")?;
            if start == end {
                return Err((
                    window_line,
                    "`window` opens and closes at the same time: it would never be open".into(),
                ));
            }
            policy.window = Some(MaintenanceWindow { days, start, end });
        }
        for name in self.hold {
            let line = line_of(text, name.span().start);
            let name = name.into_inner();
            let valid = !name.is_empty()
                && name.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.')
                });
            if !valid {
                return Err((
                    line,
                    format!("`hold`: {name:?} is not a package name (a-z, 0-9, + - .)"),
                ));
            }
            if !policy.hold.contains(&name) {
                policy.hold.push(name);
            }
        }
        if let Some(ms) = &self.max_boot_ms {
            policy.max_boot_ms = Some(number_in(text, ms, "max_boot_ms", 1..=3_600_000)? as u64);
        }
        if let Some(p) = &self.max_boot_regression_percent {
            let n = number_in(text, p, "max_boot_regression_percent", 0..=10_000)?;
            policy.max_boot_regression_percent = u32::try_from(n).ok();
        }
        if let Some(auto) = self.auto_rollback {
            policy.auto_rollback = auto;
        }
        if let Some(keep) = &self.keep_rollback_artifacts {
            let n = number_in(text, keep, "keep_rollback_artifacts", 1..=100)?;
            policy.keep_rollback_artifacts = u32::try_from(n).unwrap_or(3);
        }
        Ok(policy)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::super::Policy;
    use super::*;
    use std::path::Path;

    fn parse(text: &str) -> Result<UpdatePolicy, String> {
        Policy::parse(Path::new("/etc/hvguard/policy.toml"), text)
            .map(|p| p.update)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_without_a_table() {
        let p = parse("").unwrap();
        assert_eq!(p, UpdatePolicy::default());
        assert_eq!(p.sla_days.for_severity(Severity::Critical), 2);
        assert_eq!(p.sla_days.for_severity(Severity::Info), 90);
        assert!(p.auto_rollback);
        assert_eq!(p.keep_rollback_artifacts, 3);
    }

    #[test]
    fn a_full_table() {
        let text = r#"
[[accept]]
id = "CVE-2021-3929"
reason = "r"
expires = "2027-01-31"

[update]
sla_days = { critical = 1, high = 5 }
window = { days = ["Sat", "sunday", "sat"], start = "22:30", end = "04:00" }
hold = ["qemu-block-extra"]
max_boot_ms = 2500
max_boot_regression_percent = 25
auto_rollback = false
keep_rollback_artifacts = 5
"#;
        let p = parse(text).unwrap();
        assert_eq!(p.line, Some(7));
        assert_eq!(p.sla_days.critical, 1);
        assert_eq!(p.sla_days.high, 5);
        assert_eq!(p.sla_days.medium, 30);
        let w = p.window.clone().unwrap();
        assert_eq!(w.days, vec![Weekday::Saturday, Weekday::Sunday]);
        assert_eq!(w.describe(), "sat,sun 22:30-04:00 local time");
        assert!(p.holds("qemu-block-extra") && !p.holds("qemu-system-x86"));
        assert_eq!(p.max_boot_ms, Some(2500));
        assert_eq!(p.max_boot_regression_percent, Some(25));
        assert!(!p.auto_rollback);
        assert_eq!(p.keep_rollback_artifacts, 5);
    }

    #[test]
    fn windows_past_midnight_belong_to_the_day_they_opened() {
        let w = MaintenanceWindow {
            days: vec![Weekday::Saturday],
            start: Time::new(22, 0, 0, 0).unwrap(),
            end: Time::new(4, 0, 0, 0).unwrap(),
        };
        // 2026-11-28 is a Saturday.
        let at = |s: &str| s.parse::<jiff::civil::DateTime>().unwrap();
        assert!(w.contains(at("2026-11-28T23:00")));
        assert!(w.contains(at("2026-11-29T03:59")));
        assert!(!w.contains(at("2026-11-29T04:00")));
        assert!(!w.contains(at("2026-11-28T03:00")));
        assert!(!w.contains(at("2026-11-29T23:00")));
        let day = MaintenanceWindow {
            days: Vec::new(),
            start: Time::new(2, 0, 0, 0).unwrap(),
            end: Time::new(5, 0, 0, 0).unwrap(),
        };
        assert!(day.contains(at("2026-11-25T02:00")));
        assert!(!day.contains(at("2026-11-25T05:00")));
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("[update]\nmax_boot_ms = 0\n", ":2:", "max_boot_ms"),
            ("[update]\nsla_days = { critical = -1 }\n", ":2:", "sla_days.critical"),
            (
                "[update]\nwindow = { days = [\"caturday\"], start = \"01:00\", end = \"02:00\" }\n",
                ":2:",
                "caturday",
            ),
            (
                "[update]\n\nwindow = { start = \"25:00\", end = \"02:00\" }\n",
                ":3:",
                "25:00",
            ),
            (
                "[update]\nwindow = { start = \"02:00\", end = \"02:00\" }\n",
                ":2:",
                "never be open",
            ),
            ("[update]\nhold = [\"Bad Name\"]\n", ":2:", "not a package name"),
            ("[update]\nkeep_rollback_artifacts = 0\n", ":2:", "keep_rollback"),
            ("[update]\nauto_rollback = \"yes\"\n", ":2:", ""),
            ("[update]\nmax_boot = 3\n", ":2:", "max_boot"),
        ];
        for (text, line, needle) in cases {
            let e = parse(text).unwrap_err();
            assert!(
                e.starts_with(&format!("/etc/hvguard/policy.toml{line}")),
                "{text:?}: {e}"
            );
            assert!(e.contains(needle), "{text:?}: {e}");
        }
    }
}
