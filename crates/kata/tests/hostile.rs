//! Hostile input: huge, deeply nested, binary. A clear error naming the file, never a panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hvguard_core::HostRoot;
use hvguard_kata::{discover, load_explicit, parse_config_str, DiscoveryEnv, KataError};
use std::io::Write;
use std::path::Path;

#[test]
fn a_50_mb_config_is_refused_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("configuration.toml");
    let mut f = std::fs::File::create(&path).unwrap();
    let line = format!("# {}\n", "x".repeat(1021));
    for _ in 0..(50 * 1024) {
        f.write_all(line.as_bytes()).unwrap();
    }
    drop(f);
    assert!(std::fs::metadata(&path).unwrap().len() >= 50 * 1024 * 1024);
    let err = load_explicit(std::slice::from_ref(&path)).unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with(&path.display().to_string()), "{msg}");
    assert!(msg.contains("larger than the 16777216-byte limit"), "{msg}");
    assert_eq!(err.path(), path);
}

#[test]
fn ten_thousand_nested_arrays_are_an_error() {
    let text = format!("a = {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    let err = parse_config_str(Path::new("/deep.toml"), &text).unwrap_err();
    assert!(err.to_string().starts_with("/deep.toml:1:"), "{err}");
}

#[test]
fn ten_thousand_nested_inline_tables_are_an_error() {
    let text = format!("a = {}{}\n", "{ b = ".repeat(10_000), "}".repeat(10_000));
    let err = parse_config_str(Path::new("/deep.toml"), &text).unwrap_err();
    assert!(err.to_string().starts_with("/deep.toml:1:"), "{err}");
}

#[test]
fn ten_thousand_deep_table_header_is_an_error() {
    let text = format!("[{}]\nx = 1\n", vec!["t"; 10_000].join("."));
    let err = parse_config_str(Path::new("/deep.toml"), &text).unwrap_err();
    assert!(err.to_string().starts_with("/deep.toml:1:"), "{err}");
}

#[test]
fn moderately_deep_nesting_past_our_limit_is_too_deep() {
    // Within the TOML parser's own limit but past ours: our error, with a position.
    let text = format!("[{}]\nx = 1\n", vec!["t"; 70].join("."));
    let err = parse_config_str(Path::new("/deep.toml"), &text).unwrap_err();
    assert!(
        matches!(
            err,
            KataError::TooDeep {
                limit: hvguard_kata::MAX_NESTING,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().starts_with("/deep.toml:1:"), "{err}");
}

#[test]
fn binary_garbage_is_not_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("configuration.toml");
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&path, &garbage).unwrap();
    let err = load_explicit(std::slice::from_ref(&path)).unwrap_err();
    assert!(
        err.to_string().starts_with(&path.display().to_string()),
        "{err}"
    );
}

#[test]
fn control_characters_in_valid_utf8_are_a_parse_error() {
    let err = parse_config_str(Path::new("/c.toml"), "a = 1\n\u{0}\u{1}\u{7f}[[[").unwrap_err();
    assert!(matches!(err, KataError::Parse { line: 2, .. }), "{err}");
}

#[test]
fn discovery_survives_garbage_in_every_place() {
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("etc/kata-containers");
    std::fs::create_dir_all(kc.join("config.d")).unwrap();
    std::fs::create_dir_all(dir.path().join("etc/containerd")).unwrap();
    std::fs::write(kc.join("configuration.toml"), [0xff, 0xfe, 0x00, 0x80]).unwrap();
    std::fs::write(
        dir.path().join("etc/containerd/config.toml"),
        "imports = [[[[",
    )
    .unwrap();
    std::os::unix::fs::symlink(
        "configuration-loop.toml",
        kc.join("configuration-loop.toml"),
    )
    .unwrap();
    let d = discover(
        &HostRoot::new(dir.path()).unwrap(),
        &DiscoveryEnv::default(),
    );
    assert!(d.configs.is_empty());
    assert_eq!(d.errors.len(), 2, "{:?}", d.errors);
    let w = d.warnings.join("\n");
    assert!(
        w.contains("configuration-loop.toml: too many levels of symbolic links"),
        "{w}"
    );
}
