//! A binary judged by the upstream data: ranges, exactly named versions, and where fixes
//! landed (model/range.rs says what each means).

use super::decide::Prepared;
use super::distro::Distro;
use super::{Decision, DecisionSource, DecisionStatus};
use crate::model::describe_ranges;
use crate::{Advisory, Affected};

/// Decides from the upstream data with the target's upstream version.
pub fn by_upstream(
    advisory: &Advisory,
    prepared: &Prepared<'_>,
    distro: &Distro<'_>,
    mut d: Decision,
) -> Decision {
    let target = &prepared.target;
    let silent = prepared.package.as_ref().map(|facts| {
        let p = facts.package;
        let mut why = format!(
            "{} data silent for {} in {}",
            distro.id.unwrap_or("distro"),
            p.source,
            distro.release()
        );
        match (&facts.installed_error, facts.changelog_of) {
            (Some(e), _) => why.push_str(&format!(", installed version unusable: {e}")),
            (None, Some(of)) => why.push_str(&format!(", changelog of {of} names no fix")),
            (None, None) => why.push_str(", no changelog"),
        }
        why
    });
    let prefix = match &silent {
        Some(why) => format!("judged by upstream range: {why}; "),
        None => String::new(),
    };
    let Some(version_text) = target.version else {
        d.evidence = format!(
            "{prefix}{} version unknown (found from {}): cannot judge",
            target.product, target.version_from
        );
        return d;
    };
    let ranges = advisory.ranges_for(&target.product);
    if ranges.is_empty() {
        d.evidence = format!(
            "{prefix}the advisory gives no affected range for {} (unknown: never 'all versions', never 'not affected')",
            target.product
        );
        return d;
    }
    let shown = match prepared.canonical.as_deref() {
        Some(c) if c != version_text => format!("{version_text} (QEMU numbering for {c})"),
        _ => version_text.to_owned(),
    };
    // The lenient reading first; SemVer only when it decides what the lenient one cannot
    // (ranges written in the SemVer scheme), so an unknown keeps the first reason.
    let mut assessment: Option<crate::Assessment> = None;
    for version in [prepared.upstream.as_ref(), prepared.semver.as_ref()]
        .into_iter()
        .flatten()
    {
        let a = ranges.assess(version);
        if a.affected != Affected::Unknown {
            assessment = Some(a);
            break;
        }
        assessment.get_or_insert(a);
    }
    let all = describe_ranges(&ranges);
    let Some(a) = assessment else {
        d.evidence = format!(
            "{prefix}{} {shown} does not parse as a version: cannot be placed in the upstream data {all}",
            target.product
        );
        return d;
    };
    d.fixed_in = a.fixed_in.clone();
    let head = format!(
        "{prefix}{} {shown} (from {})",
        target.product, target.version_from
    );
    match a.affected {
        Affected::Yes => {
            d.status = DecisionStatus::Vulnerable;
            d.source = DecisionSource::UpstreamRange {
                events: a.range.clone().unwrap_or_else(|| all.clone()),
                version_from: target.version_from.clone(),
            };
            d.evidence = format!("{head}: {}", a.reason);
        }
        Affected::No => {
            d.status = DecisionStatus::NotAffected;
            d.source = DecisionSource::UpstreamRange {
                events: a.range.clone().unwrap_or_else(|| all.clone()),
                version_from: target.version_from.clone(),
            };
            d.evidence = format!("{head}: {}", a.reason);
        }
        Affected::Unknown => {
            d.source = DecisionSource::None;
            d.evidence = format!(
                "{head} cannot be placed in the upstream data {all}: {}",
                a.reason
            );
        }
    }
    d
}
