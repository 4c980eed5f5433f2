//! Ordering laws for every version scheme, and the known vectors the matcher relies on.

use std::cmp::Ordering;

use hvguard_advisory::version::{DpkgVersion, RpmVersion, UpstreamVersion};
use proptest::prelude::*;

fn dpkg(s: &str) -> DpkgVersion {
    DpkgVersion::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

fn rpm(s: &str) -> RpmVersion {
    RpmVersion::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn known_dpkg_vectors() {
    assert!(dpkg("1:7.2+dfsg-7+deb12u18") > dpkg("1:7.2+dfsg-7+deb12u2"));
    assert!(dpkg("1.0~rc1") < dpkg("1.0"));
    assert!(dpkg("1:1.0") > dpkg("9.9-9"));
    assert!(dpkg("2.0-1") < dpkg("2.0-1+b1"));
    assert!(dpkg("1:7.2+dfsg-7+deb12u18") > dpkg("1:7.2+dfsg-7+deb12u17~bpo"));
}

#[test]
fn known_rpm_vectors() {
    assert!(rpm("1.0~rc1") < rpm("1.0"));
    assert!(rpm("1.0^git1") > rpm("1.0"));
    assert!(rpm("8.2.0-11.el9_4") < rpm("8.2.0-11.el9_4.1"));
    assert!(rpm("2:1.0") > rpm("1:9.9"));
}

/// Version-like pieces: digits, letters and the separators each scheme treats specially.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{1,3}",
        "[a-z]{1,3}",
        Just(".".to_string()),
        Just("+".to_string()),
        Just("~".to_string()),
    ]
}

fn dpkg_text() -> impl Strategy<Value = String> {
    (
        proptest::option::of(0u8..3),
        "[0-9]{1,3}",
        proptest::collection::vec(piece(), 0..5),
        proptest::option::of(proptest::collection::vec(piece(), 1..4)),
    )
        .prop_map(|(epoch, head, tail, rev)| {
            let mut s = String::new();
            if let Some(e) = epoch {
                s.push_str(&format!("{e}:"));
            }
            s.push_str(&head);
            s.extend(tail);
            if let Some(r) = rev {
                s.push('-');
                s.push('0');
                s.extend(r);
            }
            s
        })
}

fn rpm_text() -> impl Strategy<Value = String> {
    let rpm_piece = prop_oneof![
        "[0-9]{1,3}",
        "[a-z]{1,3}",
        Just(".".to_string()),
        Just("_".to_string()),
        Just("~".to_string()),
        Just("^".to_string()),
    ];
    (
        proptest::option::of(0u8..3),
        proptest::collection::vec(rpm_piece.clone(), 1..6),
        proptest::option::of(proptest::collection::vec(rpm_piece, 1..4)),
    )
        .prop_map(|(epoch, body, rel)| {
            let mut s = String::new();
            if let Some(e) = epoch {
                s.push_str(&format!("{e}:"));
            }
            s.push('1');
            s.extend(body);
            if let Some(r) = rel {
                s.push('-');
                s.push('1');
                s.extend(r);
            }
            s
        })
}

fn upstream_text() -> impl Strategy<Value = String> {
    (
        proptest::bool::ANY,
        proptest::collection::vec(0u32..30, 1..4),
        proptest::option::of(prop_oneof!["rc[0-9]", "alpha[0-9]?", "[0-9]{1,2}"]),
    )
        .prop_map(|(v, nums, suffix)| {
            let mut s = if v { "v".to_string() } else { String::new() };
            s.push_str(
                &nums
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join("."),
            );
            if let Some(x) = suffix {
                s.push('-');
                s.push_str(&x);
            }
            s
        })
}

fn check_laws<T: Ord + std::fmt::Debug>(a: &T, b: &T, c: &T) -> Result<(), TestCaseError> {
    prop_assert_eq!(a.cmp(a), Ordering::Equal);
    prop_assert_eq!(a.cmp(b), b.cmp(a).reverse());
    prop_assert_eq!(a == b, a.cmp(b) == Ordering::Equal);
    if a <= b && b <= c {
        prop_assert!(a <= c, "transitivity: {:?} <= {:?} <= {:?}", a, b, c);
    }
    if a >= b && b >= c {
        prop_assert!(a >= c, "transitivity: {:?} >= {:?} >= {:?}", a, b, c);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn dpkg_is_a_total_order(a in dpkg_text(), b in dpkg_text(), c in dpkg_text()) {
        check_laws(&dpkg(&a), &dpkg(&b), &dpkg(&c))?;
    }

    #[test]
    fn rpm_is_a_total_order(a in rpm_text(), b in rpm_text(), c in rpm_text()) {
        check_laws(&rpm(&a), &rpm(&b), &rpm(&c))?;
    }

    #[test]
    fn upstream_is_a_total_order(a in upstream_text(), b in upstream_text(), c in upstream_text()) {
        let p = |s: &str| UpstreamVersion::parse(s).unwrap_or_else(|e| panic!("{e}"));
        check_laws(&p(&a), &p(&b), &p(&c))?;
    }

    #[test]
    fn dpkg_tilde_sorts_before_the_base(a in dpkg_text(), t in "[a-z0-9]{0,4}") {
        let base = dpkg(&a);
        // A `~` suffix on the last part (revision if any, else upstream) sorts before it.
        let tilde = dpkg(&format!("{a}~{t}"));
        prop_assert!(tilde < base, "{} !< {}", tilde, base);
    }

    #[test]
    fn dpkg_epoch_dominates(a in dpkg_text(), b in dpkg_text()) {
        let strip = |s: &str| s.split_once(':').map_or(s.to_string(), |(_, r)| r.to_string());
        let low = dpkg(&format!("1:{}", strip(&a)));
        let high = dpkg(&format!("2:{}", strip(&b)));
        prop_assert!(low < high);
    }

    #[test]
    fn dpkg_security_update_suffix_orders_numerically(n in 1u32..500, m in 1u32..500) {
        let a = dpkg(&format!("1:7.2+dfsg-7+deb12u{n}"));
        let b = dpkg(&format!("1:7.2+dfsg-7+deb12u{m}"));
        prop_assert_eq!(a.cmp(&b), n.cmp(&m));
        prop_assert!(dpkg("1:7.2+dfsg-7") < a);
    }

    #[test]
    fn dpkg_binnmu_sorts_after_its_revision(a in dpkg_text(), n in 1u32..20) {
        let base = if a.contains('-') { a.clone() } else { format!("{a}-1") };
        let binnmu = dpkg(&format!("{base}+b{n}"));
        prop_assert!(binnmu > dpkg(&base));
    }

    #[test]
    fn rpm_tilde_before_caret_after(v in "[1-9][0-9]{0,2}(\\.[0-9]{1,3}){0,2}", t in "[a-z0-9]{1,4}") {
        let base = rpm(&v);
        let tilde = rpm(&format!("{v}~{t}"));
        let caret = rpm(&format!("{v}^{t}"));
        let next = rpm(&format!("{v}.1"));
        prop_assert!(tilde < base);
        prop_assert!(caret > base);
        prop_assert!(caret < next);
    }

    #[test]
    fn upstream_prerelease_before_release(nums in proptest::collection::vec(0u32..50, 1..4), n in 0u32..9) {
        let v = nums.iter().map(u32::to_string).collect::<Vec<_>>().join(".");
        let p = |s: &str| UpstreamVersion::parse(s).unwrap_or_else(|e| panic!("{e}"));
        let (rc, with_v, padded, plain) = (p(&format!("{v}-rc{n}")), p(&format!("v{v}")), p(&format!("{v}.0")), p(&v));
        prop_assert!(rc < plain);
        prop_assert!(with_v == plain);
        prop_assert!(padded == plain);
    }
}
