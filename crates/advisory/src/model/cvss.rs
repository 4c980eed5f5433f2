//! CVSS vectors and scores (v3.x and v4.0), parsed and scored with the `cvss` crate.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One CVSS vector with its score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvssScore {
    /// The vector as published (`CVSS:3.1/AV:N/...`).
    pub vector: String,
    /// The base score computed from the vector; `None` when the vector does not parse.
    pub score: Option<f64>,
    /// The score the feed published next to the vector, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_score: Option<f64>,
}

impl CvssScore {
    /// A CVSS 3.0/3.1 vector: the base score is computed from it.
    pub fn v3(vector: &str, published_score: Option<f64>) -> Self {
        let score = cvss::v3::Vector::from_str(vector.trim())
            .ok()
            .map(|v| v.base_score().value());
        Self {
            vector: vector.trim().to_owned(),
            score,
            published_score,
        }
    }

    /// A CVSS 4.0 vector: the score is computed from it.
    pub fn v4(vector: &str, published_score: Option<f64>) -> Self {
        let score = cvss::v4::Vector::from_str(vector.trim())
            .ok()
            .map(|v| v.score().value());
        Self {
            vector: vector.trim().to_owned(),
            score,
            published_score,
        }
    }

    /// The computed score, or the published one when the vector could not be scored.
    pub fn best_score(&self) -> Option<f64> {
        self.score.or(self.published_score)
    }
}

/// The CVSS data known for an advisory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cvss {
    /// CVSS 3.x.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v3: Option<CvssScore>,
    /// CVSS 4.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v4: Option<CvssScore>,
}

impl Cvss {
    /// The score severity bands use: CVSS 3 where present (most feeds and RULES.md's bands
    /// are calibrated on it), else CVSS 4.
    pub fn score(&self) -> Option<f64> {
        self.v3
            .as_ref()
            .and_then(CvssScore::best_score)
            .or_else(|| self.v4.as_ref().and_then(CvssScore::best_score))
    }

    /// True when no vector is known.
    pub fn is_empty(&self) -> bool {
        self.v3.is_none() && self.v4.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_score_is_computed_from_the_vector() {
        let s = CvssScore::v3("CVSS:3.1/AV:A/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:H", Some(1.0));
        assert_eq!(s.score, Some(5.7));
        assert_eq!(s.best_score(), Some(5.7));
        let bad = CvssScore::v3("CVSS:3.1/AV:Q", Some(4.2));
        assert_eq!(bad.score, None);
        assert_eq!(bad.best_score(), Some(4.2));
    }

    #[test]
    fn v4_score_is_computed() {
        let s = CvssScore::v4(
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
            None,
        );
        assert_eq!(s.score, Some(9.3));
        let c = Cvss {
            v3: None,
            v4: Some(s),
        };
        assert_eq!(c.score(), Some(9.3));
        assert!(Cvss::default().score().is_none());
    }
}
