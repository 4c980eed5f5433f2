//! The benchmark gate, in the baseline format of Kata's CI metrics checker (`checkmetrics`,
//! `tests/metrics/cmd/checkmetrics` in kata-containers, removed from the tree in 2026): a TOML
//! list of `[[metric]]` tables, each bounding one statistic of one metric.
//!
//! ```toml
//! [[metric]]
//! name = "boot-ms-b"            # which values (see METRICS)
//! description = "boot to marker with the candidate build"
//! checktype = "median"          # median (hvguard's addition), mean, min, max, sd, cov
//! midval = 1500.0               # bounds: midval -minpercent/+maxpercent ...
//! minpercent = 50.0
//! maxpercent = 20.0
//! # ... or minval = 1000.0 / maxval = 1800.0
//! ```
//!
//! As in `checkmetrics`: the bounds are inclusive; a non-zero `minpercent + maxpercent` means
//! the percentage form; `type` (only `"json"`) and `checkvar` (a jq query) are accepted for
//! compatibility and ignored, since hvguard names its metrics directly. Unlike `checkmetrics`,
//! an unknown `checktype` or metric name, or a metric without bounds, is an error with its
//! line instead of a silent default.

use crate::bench::{BenchReport, BenchSide};
use crate::report::{median, RunResult};
use hvguard_core::policy_file::line_of;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use toml::Spanned;

/// Largest baseline file read.
pub const BASELINE_READ_LIMIT: u64 = 1 << 20;

/// The metric names a baseline may bound.
pub const METRICS: &[&str] = &[
    "boot-ms-a",
    "boot-ms-b",
    "first-output-ms-a",
    "first-output-ms-b",
    "peak-rss-kib-a",
    "peak-rss-kib-b",
    "ratio",
];

/// The statistic a metric's bounds apply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckType {
    Median,
    Mean,
    Min,
    Max,
    /// Standard deviation (of the population, as `checkmetrics` computes it).
    Sd,
    /// Coefficient of variation, in percent.
    Cov,
}

impl CheckType {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckType::Median => "median",
            CheckType::Mean => "mean",
            CheckType::Min => "min",
            CheckType::Max => "max",
            CheckType::Sd => "sd",
            CheckType::Cov => "cov",
        }
    }

    fn parse(s: &str) -> Option<CheckType> {
        Some(match s {
            "median" => CheckType::Median,
            "mean" => CheckType::Mean,
            "min" => CheckType::Min,
            "max" => CheckType::Max,
            "sd" => CheckType::Sd,
            "cov" => CheckType::Cov,
            _ => return None,
        })
    }

    /// The statistic of `values`; `None` when there are none.
    pub fn of(self, values: &[f64]) -> Option<f64> {
        if values.is_empty() {
            return None;
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        Some(match self {
            CheckType::Median => median(values)?,
            CheckType::Mean => mean,
            CheckType::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
            CheckType::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            CheckType::Sd => sd,
            CheckType::Cov => {
                if mean == 0.0 {
                    return None;
                }
                sd / mean * 100.0
            }
        })
    }
}

/// One `[[metric]]` of a baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricBound {
    pub name: String,
    pub description: Option<String>,
    pub checktype: CheckType,
    /// Inclusive bounds.
    pub min: f64,
    pub max: f64,
    /// 1-based line of the metric's `name`.
    pub line: usize,
}

/// A baseline file.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    pub path: PathBuf,
    pub metrics: Vec<MetricBound>,
}

/// Why a baseline could not be used.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("{}: {error}", .path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}:{line}: {message}", .path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// The outcome of one metric against its bounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricCheck {
    pub name: String,
    pub checktype: CheckType,
    /// The statistic measured; `None` when the bench recorded no value for it.
    pub value: Option<f64>,
    pub min: f64,
    pub max: f64,
    pub ok: bool,
    /// Line of the metric in the baseline file.
    pub line: usize,
}

/// The gate: every metric of the baseline, checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateResult {
    pub baseline: PathBuf,
    pub ok: bool,
    pub metrics: Vec<MetricCheck>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBaseline {
    #[serde(default)]
    metric: Vec<RawMetric>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetric {
    name: Spanned<String>,
    #[serde(default, rename = "type")]
    kind: Option<Spanned<String>>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    checkvar: Option<String>,
    #[serde(default)]
    checktype: Option<Spanned<String>>,
    #[serde(default)]
    minval: Option<f64>,
    #[serde(default)]
    maxval: Option<f64>,
    #[serde(default)]
    midval: Option<f64>,
    #[serde(default)]
    minpercent: Option<f64>,
    #[serde(default)]
    maxpercent: Option<f64>,
}

impl Baseline {
    /// Parses baseline text; `path` names the file in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Baseline, BaselineError> {
        let err = |line: usize, message: String| BaselineError::Syntax {
            path: path.to_path_buf(),
            line,
            message,
        };
        let raw: RawBaseline = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(0, |s| line_of(text, s.start));
            err(line, e.message().trim().to_owned())
        })?;
        if raw.metric.is_empty() {
            return Err(err(0, "no [[metric]] entries".into()));
        }
        let mut metrics = Vec::with_capacity(raw.metric.len());
        for m in raw.metric {
            let line = line_of(text, m.name.span().start);
            let name = m.name.into_inner();
            if !METRICS.contains(&name.as_str()) {
                return Err(err(
                    line,
                    format!(
                        "unknown metric {name:?}; hvguard bench measures {}",
                        METRICS.join(", ")
                    ),
                ));
            }
            if let Some(k) = &m.kind {
                if k.get_ref() != "json" {
                    return Err(err(
                        line_of(text, k.span().start),
                        format!("type {:?}: only \"json\" exists", k.get_ref()),
                    ));
                }
            }
            let checktype = match &m.checktype {
                None => CheckType::Mean,
                Some(c) => CheckType::parse(c.get_ref()).ok_or_else(|| {
                    err(
                        line_of(text, c.span().start),
                        format!(
                            "checktype {:?} is not median, mean, min, max, sd or cov",
                            c.get_ref()
                        ),
                    )
                })?,
            };
            let percent = m.minpercent.unwrap_or(0.0) + m.maxpercent.unwrap_or(0.0);
            let (min, max) = if percent != 0.0 {
                let mid = m.midval.ok_or_else(|| {
                    err(line, format!("{name}: minpercent/maxpercent need a midval"))
                })?;
                (
                    mid * (1.0 - m.minpercent.unwrap_or(0.0) / 100.0),
                    mid * (1.0 + m.maxpercent.unwrap_or(0.0) / 100.0),
                )
            } else {
                match (m.minval, m.maxval) {
                    (Some(lo), Some(hi)) => (lo, hi),
                    _ => {
                        return Err(err(
                            line,
                            format!(
                            "{name}: give minval and maxval, or midval with minpercent/maxpercent"
                        ),
                        ))
                    }
                }
            };
            if !(min.is_finite() && max.is_finite()) || min > max {
                return Err(err(
                    line,
                    format!("{name}: bounds {min} to {max} are empty"),
                ));
            }
            metrics.push(MetricBound {
                name,
                description: m.description,
                checktype,
                min,
                max,
                line,
            });
        }
        Ok(Baseline {
            path: path.to_path_buf(),
            metrics,
        })
    }

    /// Reads and parses a baseline file (bounded).
    pub fn load(path: &Path) -> Result<Baseline, BaselineError> {
        use std::io::Read;
        let io = |error| BaselineError::Io {
            path: path.to_path_buf(),
            error,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let mut text = String::new();
        file.take(BASELINE_READ_LIMIT + 1)
            .read_to_string(&mut text)
            .map_err(io)?;
        if text.len() as u64 > BASELINE_READ_LIMIT {
            return Err(BaselineError::Syntax {
                path: path.to_path_buf(),
                line: 0,
                message: format!("larger than {BASELINE_READ_LIMIT} bytes"),
            });
        }
        Baseline::parse(path, &text)
    }

    /// Checks every metric against `report`.
    pub fn check(&self, report: &BenchReport) -> GateResult {
        let metrics: Vec<MetricCheck> = self
            .metrics
            .iter()
            .map(|m| {
                let values = values_of(&m.name, report);
                let value = m.checktype.of(&values);
                MetricCheck {
                    name: m.name.clone(),
                    checktype: m.checktype,
                    value,
                    min: m.min,
                    max: m.max,
                    ok: value.is_some_and(|v| m.min <= v && v <= m.max),
                    line: m.line,
                }
            })
            .collect();
        GateResult {
            baseline: self.path.clone(),
            ok: metrics.iter().all(|m| m.ok),
            metrics,
        }
    }
}

fn values_of(name: &str, report: &BenchReport) -> Vec<f64> {
    let per_run = |side: &BenchSide, f: fn(&RunResult) -> Option<f64>| {
        side.runs.iter().filter(|r| r.ok).filter_map(f).collect()
    };
    let boot: fn(&RunResult) -> Option<f64> = |r| r.boot_ms;
    let first: fn(&RunResult) -> Option<f64> = |r| r.first_output_ms;
    let rss: fn(&RunResult) -> Option<f64> = |r| r.peak_rss_kib.map(|k| k as f64);
    match name {
        "boot-ms-a" => per_run(&report.a, boot),
        "boot-ms-b" => per_run(&report.b, boot),
        "first-output-ms-a" => per_run(&report.a, first),
        "first-output-ms-b" => per_run(&report.b, first),
        "peak-rss-kib-a" => per_run(&report.a, rss),
        "peak-rss-kib-b" => per_run(&report.b, rss),
        "ratio" => report.ratio.into_iter().collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const KATA_STYLE: &str = r#"
# values in the style of Kata's ci_worker/checkmetrics-json-qemu-kata-metric8.toml
[[metric]]
name = "boot-ms-b"
type = "json"
description = "boot to the marker, candidate"
checkvar = ".\"boot-times\".Results | .[] | .\"to-workload\".Result"
checktype = "median"
midval = 1000.0
minpercent = 40.0
maxpercent = 30.0

[[metric]]
name = "ratio"
minval = 0.5
maxval = 1.25
"#;

    #[test]
    fn percent_and_absolute_bounds() {
        let b = Baseline::parse(Path::new("b.toml"), KATA_STYLE).unwrap();
        assert_eq!(b.metrics.len(), 2);
        assert_eq!(b.metrics[0].checktype, CheckType::Median);
        assert!((b.metrics[0].min - 600.0).abs() < 1e-9);
        assert!((b.metrics[0].max - 1300.0).abs() < 1e-9);
        assert_eq!(b.metrics[0].line, 4);
        assert_eq!(b.metrics[1].checktype, CheckType::Mean, "Kata's default");
        assert_eq!((b.metrics[1].min, b.metrics[1].max), (0.5, 1.25));
    }

    #[test]
    fn statistics() {
        let v = [1.0, 2.0, 3.0, 10.0];
        assert_eq!(CheckType::Median.of(&v), Some(2.5));
        assert_eq!(CheckType::Mean.of(&v), Some(4.0));
        assert_eq!(CheckType::Min.of(&v), Some(1.0));
        assert_eq!(CheckType::Max.of(&v), Some(10.0));
        let sd = CheckType::Sd.of(&v).unwrap();
        assert!((sd - 3.5355).abs() < 1e-3, "{sd}");
        assert!((CheckType::Cov.of(&v).unwrap() - sd / 4.0 * 100.0).abs() < 1e-9);
        assert_eq!(CheckType::Median.of(&[]), None);
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            (
                "[[metric]]\nname = \"boot\"\nminval = 1.0\nmaxval = 2.0\n",
                2,
                "unknown metric",
            ),
            (
                "[[metric]]\nname = \"ratio\"\nchecktype = \"p99\"\nminval = 1.0\nmaxval = 2.0\n",
                3,
                "p99",
            ),
            ("[[metric]]\nname = \"ratio\"\n", 2, "minval"),
            (
                "[[metric]]\nname = \"ratio\"\nminpercent = 5.0\n",
                2,
                "midval",
            ),
            (
                "[[metric]]\nname = \"ratio\"\nminval = 3.0\nmaxval = 2.0\n",
                2,
                "empty",
            ),
            (
                "[[metric]]\nname = \"ratio\"\nmidval = 1\nbogus = 1\n",
                4,
                "bogus",
            ),
            (
                "[[metric]]\nname = \"ratio\"\ntype = \"csv\"\nminval = 1.0\nmaxval = 2.0\n",
                3,
                "csv",
            ),
            ("", 0, "no [[metric]]"),
        ];
        for (text, line, word) in cases {
            let e = Baseline::parse(Path::new("b.toml"), text)
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(&format!("b.toml:{line}:")), "{text:?}: {e}");
            assert!(e.contains(word), "{text:?}: {e}");
        }
    }
}
