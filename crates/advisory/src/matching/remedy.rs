//! What an operator can do about a vulnerable (or undecidable) advisory: for a distro
//! package, what the distro offers ("upgrade qemu-system-x86 to 1:7.2+dfsg-7+deb12u19", or
//! "no fixed package in bookworm yet; fixed upstream in 9.1.0"), never only an upstream
//! version; for a static binary, the upstream release or the Kata release that bundles it.

use hvguard_core::PackageRef;

use super::decide::Prepared;
use super::distro::Distro;
use super::{Decision, DecisionSource};
use crate::{Advisory, DistroStatus, Product};

fn component(advisory: &Advisory) -> String {
    let list: Vec<&str> = advisory.component_list().collect();
    if list.is_empty() {
        "the affected component".into()
    } else {
        list.join("/")
    }
}

/// The remediation for `decision` (vulnerable or unknown) of `prepared`.
pub fn text(
    advisory: &Advisory,
    decision: &Decision,
    prepared: &Prepared<'_>,
    distro: &Distro<'_>,
) -> String {
    match prepared.target.package {
        Some(package) => packaged(
            advisory,
            decision,
            package,
            distro,
            &prepared.target.product,
        ),
        None => upstream(advisory, decision, prepared),
    }
}

/// The upstream release known to carry the fix: a mainline fix (or bound), else the highest
/// `fixed` bound of the ranges.
fn known_upstream_fix(advisory: &Advisory, product: &Product) -> Option<String> {
    let ranges = advisory.ranges_for(product);
    if let Some(f) = ranges
        .fixes
        .iter()
        .find(|f| f.kind != crate::FixKind::Branch)
    {
        return Some(f.version.clone());
    }
    let scheme = crate::VersionScheme::Upstream;
    ranges
        .ranges
        .iter()
        .flat_map(|r| r.events.iter())
        .filter_map(|e| match e {
            crate::Event::Fixed(v) => crate::Version::parse(scheme, v).ok().map(|p| (p, v)),
            _ => None,
        })
        .max_by(|(a, _), (b, _)| a.compare(b).unwrap_or(std::cmp::Ordering::Equal))
        .map(|(_, v)| v.clone())
}

fn packaged(
    advisory: &Advisory,
    decision: &Decision,
    package: &PackageRef,
    distro: &Distro<'_>,
    product: &Product,
) -> String {
    let upstream_fix = known_upstream_fix(advisory, product);
    let fixed_upstream = |fallback: &str| match &decision.fixed_in {
        Some(v) => format!("fixed upstream in {v}"),
        None => match &upstream_fix {
            Some(v) => format!("fixed upstream in {v}"),
            None => fallback.to_owned(),
        },
    };
    match &decision.source {
        DecisionSource::DistroTracker {
            distro: name,
            release,
            package: source,
            status,
            fixed_version,
        } => match (status, fixed_version) {
            (DistroStatus::Fixed, Some(v)) => format!(
                "Upgrade {} to {v} or later: {name} {release} ships the fix in {source} {v}.",
                package.name
            ),
            (DistroStatus::Unimportant, _) => format!(
                "{name} rates {} unimportant for {source} in {release} and plans no fix: limit exposure of {} (upgrade outside {release} if it matters).",
                advisory.id,
                component(advisory)
            ),
            (DistroStatus::EndOfLife, _) => format!(
                "{release} is out of {name} security support for {source}: move to a supported release, or limit exposure of {}.",
                component(advisory)
            ),
            _ => format!(
                "No fixed {source} package in {release} yet; follow the {name} tracker for {} and limit exposure of {} meanwhile.",
                advisory.id,
                component(advisory)
            ),
        },
        // The changelog of the version the package manager offers names the fix
        // (`hvguard update status` read it): that upgrade is one command away.
        DecisionSource::Changelog { package: of, version, .. } if decision.fixed_in.is_some() => {
            format!(
                "Upgrade the packages built from {} to {version} or later: the package manager already offers it (its {of} changelog names {} as fixed). Run `hvguard update status`, then `hvguard update apply`.",
                package.source, advisory.id
            )
        }
        DecisionSource::Changelog { package: of, version, .. } => format!(
            "No fixed {} package in {} yet: the {of} changelog reopened {} in {version}; {}. Limit exposure of {} until {} ships a fix.",
            package.source,
            distro.release(),
            advisory.id,
            fixed_upstream("no upstream fix is known"),
            component(advisory),
            distro.release()
        ),
        _ => format!(
            "No fixed {} package for {} is known: neither {} tracker data in the store nor the package changelog names one; {}. Upgrade {} once {} ships that fix (`hvguard db update` imports the {} tracker, which says when), and limit exposure of {} meanwhile.",
            package.source,
            distro.release(),
            distro.name(),
            fixed_upstream("no upstream fix is known either"),
            package.name,
            distro.release(),
            distro.name(),
            component(advisory)
        ),
    }
}

fn upstream(advisory: &Advisory, decision: &Decision, prepared: &Prepared<'_>) -> String {
    let target = &prepared.target;
    let product = &decision.product;
    let kata_bundle = target.path.starts_with("/opt/kata");
    match (&decision.fixed_in, target.product == Product::Kata) {
        (Some(v), true) => format!("Upgrade Kata Containers to {v} or later."),
        (Some(v), false) if kata_bundle => format!(
            "Upgrade to a Kata Containers release that bundles {product} {v} or later."
        ),
        (Some(v), false) => format!("Upgrade {product} to {v} or later."),
        (None, _) => format!(
            "No fixed {product} release is known for {}: upgrade to the newest release and limit exposure of {} meanwhile.",
            advisory.id,
            component(advisory)
        ),
    }
}
