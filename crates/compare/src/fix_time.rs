//! Days from an advisory's publication to its first fixed release.
//!
//! The first fixed release is the earliest release day among every version the data says
//! carries the fix (a range's `fixed`, a stable-branch, mainline or bound fix). It is known
//! only when **every** such version has a release day in the facts file: with one undated
//! version the earliest could be that one, so the advisory is left out rather than
//! guessed (QEMU mainline releases have no dates in the file, so most QEMU advisories are).
//! A fix released before the advisory was published counts as 0 days.

use jiff::civil::Date;

use hvguard_advisory::{Advisory, Event, Product};

use crate::facts::Facts;

/// The days from publication to the first fixed release of `product`, when the data has both.
pub fn days_to_fix(facts: &Facts, advisory: &Advisory, product: &Product) -> Option<i64> {
    let published = advisory.published?;
    let ranges = advisory.ranges_for(product);
    let mut versions: Vec<&str> = ranges
        .ranges
        .iter()
        .flat_map(|r| r.events.iter())
        .filter_map(|e| match e {
            Event::Fixed(v) => Some(v.as_str()),
            _ => None,
        })
        .chain(ranges.fixes.iter().map(|f| f.version.as_str()))
        .collect();
    versions.sort_unstable();
    versions.dedup();
    if versions.is_empty() {
        return None;
    }
    let name = product.name();
    let mut first: Option<Date> = None;
    for version in versions {
        let day = facts.release_date(&name, version.trim_start_matches('v'))?;
        first = Some(first.map_or(day, |f| f.min(day)));
    }
    let days = (first? - published).get_days();
    Some(i64::from(days.max(0)))
}

/// The median of `values` (the mean of the two middle ones for an even count).
pub fn median(values: &mut [i64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid] as f64
    } else {
        (values[mid - 1] + values[mid]) as f64 / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&mut [5, 1, 3]), Some(3.0));
        assert_eq!(median(&mut [4, 1, 3, 10]), Some(3.5));
        assert_eq!(median(&mut []), None);
    }
}
