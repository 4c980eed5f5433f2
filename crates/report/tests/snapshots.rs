//! Snapshot tests of every format on a realistic report (`generated_at` is fixed).
//! Update with `INSTA_UPDATE=always cargo test -p hvguard-report` and review the diff.

mod common;

use hvguard_report::{render_json, render_sarif, render_text, TextStyle};

#[test]
fn text_without_colour() {
    let text = render_text(
        &common::sample_report(),
        TextStyle {
            colour: false,
            verbose: false,
        },
    );
    insta::assert_snapshot!(text);
}

#[test]
fn text_with_colour() {
    let text = render_text(
        &common::sample_report(),
        TextStyle {
            colour: true,
            verbose: false,
        },
    );
    // The escape byte is shown as a visible mark so the snapshot can be read.
    insta::assert_snapshot!(text.replace('\u{1b}', "␛"));
}

#[test]
fn json_report() {
    insta::assert_snapshot!(render_json(&common::sample_report()));
}

#[test]
fn sarif_log() {
    let sarif = render_sarif(
        &common::sample_report(),
        &common::catalogue(),
        common::DOCS_BASE,
    );
    insta::assert_snapshot!(sarif);
}

#[test]
fn empty_report_text() {
    let text = render_text(
        &common::empty_report(),
        TextStyle {
            colour: false,
            verbose: false,
        },
    );
    insta::assert_snapshot!(text);
}
