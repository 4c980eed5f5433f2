//! Joins the facts that feeds add (KEV flags, EPSS scores, distro verdicts) onto advisories,
//! by CVE id: an advisory's own id or any of its aliases.

use std::collections::BTreeMap;

use crate::model::{Advisory, DistroAdvisory, DistroFix, EpssScore, KevEntry};

/// Fills `kev`, `epss` and `distro` of each advisory from the given facts. Existing values
/// are replaced for KEV and EPSS (a newer feed wins) and merged for distro verdicts.
/// Returns how many advisories received at least one fact.
pub fn apply_facts(
    advisories: &mut [Advisory],
    kev: &BTreeMap<String, KevEntry>,
    epss: &BTreeMap<String, EpssScore>,
    distro: &[DistroAdvisory],
) -> usize {
    let mut by_id: BTreeMap<&str, Vec<&DistroFix>> = BTreeMap::new();
    for fact in distro {
        by_id.entry(fact.id.as_str()).or_default().push(&fact.fix);
    }
    let mut touched = 0;
    for adv in advisories.iter_mut() {
        let ids: Vec<String> = std::iter::once(adv.id.clone())
            .chain(adv.aliases.iter().cloned())
            .collect();
        let mut changed = false;
        for id in &ids {
            if let Some(entry) = kev.get(id) {
                adv.kev = Some(entry.clone());
                changed = true;
            }
            if let Some(score) = epss.get(id) {
                adv.epss = Some(*score);
                changed = true;
            }
            if let Some(fixes) = by_id.get(id.as_str()) {
                adv.distro.extend(fixes.iter().map(|f| (*f).clone()));
                changed = true;
            }
        }
        if changed {
            adv.normalize();
            touched += 1;
        }
    }
    touched
}
