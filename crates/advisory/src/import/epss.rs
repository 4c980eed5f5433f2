//! EPSS scores (FIRST's `epss_scores-YYYY-MM-DD.csv[.gz]`): an optional
//! `#model_version:...,score_date:...` comment line, the header `cve,epss,percentile`, then
//! one line per CVE.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::GzDecoder;

use super::read::{open_bounded, DUMP_LIMIT};
use crate::model::EpssScore;
use crate::ImportError;

/// EPSS scores by CVE id, with the model line when present.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EpssScores {
    /// The comment line without `#` (`model_version:v2025.03.14,score_date:...`).
    pub model: Option<String>,
    /// Scores by CVE id.
    pub scores: BTreeMap<String, EpssScore>,
}

/// Longest line accepted; a real line is ~40 bytes, so anything longer is not EPSS.
const MAX_LINE: u64 = 4096;

fn csv_error(path: &Path, line: usize, message: impl Into<String>) -> ImportError {
    ImportError::Csv {
        path: path.to_path_buf(),
        line,
        message: message.into(),
    }
}

fn probability(
    path: &Path,
    line: usize,
    field: &str,
    text: Option<&str>,
) -> Result<f64, ImportError> {
    let text = text.ok_or_else(|| csv_error(path, line, format!("missing {field}")))?;
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| csv_error(path, line, format!("{field} {text:?} is not a number")))?;
    if !(0.0..=1.0).contains(&value) {
        return Err(csv_error(
            path,
            line,
            format!("{field} {value} outside 0..1"),
        ));
    }
    Ok(value)
}

/// Parses EPSS CSV from a reader (already decompressed).
pub fn parse_epss(path: &Path, reader: impl Read) -> Result<EpssScores, ImportError> {
    let mut reader = BufReader::new(reader);
    let mut out = EpssScores::default();
    let mut line = String::new();
    let mut number = 0usize;
    let mut seen_header = false;
    loop {
        line.clear();
        let read = (&mut reader)
            .take(MAX_LINE + 1)
            .read_line(&mut line)
            .map_err(|e| csv_error(path, number + 1, e.to_string()))?;
        if read == 0 {
            break;
        }
        number += 1;
        if read as u64 > MAX_LINE {
            return Err(csv_error(path, number, "line too long for an EPSS file"));
        }
        let text = line.trim_end_matches(['\n', '\r']);
        if !seen_header {
            if number == 1 {
                if let Some(model) = text.strip_prefix('#') {
                    out.model = Some(model.to_owned());
                    continue;
                }
            }
            if text.trim() != "cve,epss,percentile" {
                return Err(csv_error(
                    path,
                    number,
                    "expected the header `cve,epss,percentile`",
                ));
            }
            seen_header = true;
            continue;
        }
        if text.is_empty() {
            continue;
        }
        let mut fields = text.split(',');
        let cve = fields.next().unwrap_or("").trim();
        if !cve.starts_with("CVE-") {
            return Err(csv_error(path, number, format!("{cve:?} is not a CVE id")));
        }
        let epss = probability(path, number, "epss", fields.next())?;
        let percentile = probability(path, number, "percentile", fields.next())?;
        if fields.next().is_some() {
            return Err(csv_error(path, number, "more than three fields"));
        }
        out.scores
            .insert(cve.to_owned(), EpssScore { epss, percentile });
    }
    if !seen_header {
        return Err(csv_error(
            path,
            number.max(1),
            "no `cve,epss,percentile` header",
        ));
    }
    Ok(out)
}

/// Reads an EPSS CSV file, gzip-compressed or plain (detected by the gzip magic bytes);
/// decompressed data is capped too.
pub fn import_epss(path: &Path) -> Result<EpssScores, ImportError> {
    let file = open_bounded(path, DUMP_LIMIT)?;
    let mut reader = BufReader::new(file);
    let head = reader.fill_buf().map_err(|e| ImportError::io(path, e))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        parse_epss(path, GzDecoder::new(reader).take(DUMP_LIMIT))
    } else {
        parse_epss(path, reader.take(DUMP_LIMIT))
    }
}
