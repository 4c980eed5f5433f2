//! The terminal summary on the kata-static + kata-deploy fixture: one block per hypervisor with
//! its record and installed binaries (open advisories named), then each configuration's verdict.

mod common;

use hvguard_compare::render::text;

#[test]
fn summary_snapshot() {
    let snapshot = common::fixture_snapshot();
    let advisories = common::shipped();
    let comparison = common::comparison(&snapshot, &advisories, None);
    let summary = text::render(&comparison);
    // Every hypervisor has its block, and the host part lists every configuration.
    for h in &comparison.hypervisors {
        assert!(
            summary.contains(&format!("\n{} [{}]\n", h.name, h.kind)),
            "{} missing:\n{summary}",
            h.kind
        );
    }
    for config in &comparison.host.configs {
        assert!(
            summary.contains(&format!("  {} (", config.path.display())),
            "{} missing",
            config.path.display()
        );
    }
    insta::assert_snapshot!("summary_kata_static_3_20", summary);
}
