//! Every containerd merge fixture set (`tests/data/containerd-merge/`), read by hvguard under
//! every containerd family, against the set's `expect.toml`. The 1.x expectations are checked
//! against Debian's real containerd by `containerd_live.rs`; the 2.x ones cite the sources.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod containerd_cases;

use containerd_cases::{cases, MAIN};
use hvguard_core::{ContainerdSemantics, HostRoot};
use hvguard_kata::containerd::KATA_RUNTIME_TYPE_PREFIX;
use hvguard_kata::load_containerd;
use std::collections::BTreeMap;
use std::path::Path;

#[test]
fn every_fixture_set_merges_as_each_containerd_family_does() {
    let mut failures = Vec::new();
    for case in cases() {
        let dir = tempfile::tempdir().unwrap();
        case.materialise(dir.path(), "");
        let root = HostRoot::new(dir.path()).unwrap();
        let scan = load_containerd(&root, Path::new(MAIN));
        assert!(scan.errors.is_empty(), "{}: {:?}", case.name, scan.errors);
        for family in ContainerdSemantics::ALL {
            let want = case.expected_for(family);
            let at = format!("{} under {}", case.name, family.id());
            if scan.starts(family) != want.starts {
                failures.push(format!(
                    "{at}: starts = {}, expected {} ({:?})",
                    scan.starts(family),
                    want.starts,
                    scan.warnings()
                ));
            }
            let got = scan.handlers[&family].as_ref();
            if want.builtin {
                if let Some(got) = got {
                    failures.push(format!("{at}: expected no runtimes table, got {got:?}"));
                }
                continue;
            }
            if got != Some(&want.runtimes) {
                failures.push(format!("{at}:\n   got {got:?}\n  want {:?}", want.runtimes));
            }
            // The snapshot's Kata entries are the Kata handlers of that reading.
            let kata: BTreeMap<&str, (&str, &[String])> = scan
                .runtimes_for(family)
                .iter()
                .map(|r| {
                    let e = &r.entry;
                    (
                        e.name.as_str(),
                        (e.runtime_type.as_str(), e.pod_annotations.as_slice()),
                    )
                })
                .collect();
            let want_kata: BTreeMap<&str, (&str, &[String])> = want
                .runtimes
                .iter()
                .filter(|(_, h)| h.runtime_type.starts_with(KATA_RUNTIME_TYPE_PREFIX))
                .map(|(n, h)| {
                    (
                        n.as_str(),
                        (h.runtime_type.as_str(), h.pod_annotations.as_slice()),
                    )
                })
                .collect();
            if kata != want_kata {
                failures.push(format!("{at}: Kata entries {kata:?}, want {want_kata:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn a_narrowing_import_is_reported_where_it_is_written() {
    // The reported bug: the later, narrower list is the one in effect (2.x), and a finding
    // points at the import that wrote it, while the entry stays at the main file's table.
    let case = cases()
        .into_iter()
        .find(|c| c.name == "later-import-narrows-pod-annotations")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    case.materialise(dir.path(), "");
    let scan = load_containerd(&HostRoot::new(dir.path()).unwrap(), Path::new(MAIN));
    assert_eq!(scan.runtimes.len(), 1, "{:?}", scan.runtimes);
    let kata = &scan.runtimes[0].entry;
    assert_eq!(
        kata.readings,
        [
            ContainerdSemantics::V2_0_0,
            ContainerdSemantics::V2_0_2,
            ContainerdSemantics::V2_3
        ]
    );
    assert_eq!(kata.path, Path::new(MAIN));
    assert_eq!(kata.line, 4);
    assert_eq!(
        kata.pod_annotations_path.as_deref(),
        Some(Path::new("/etc/containerd/conf.d/50-annotations.toml"))
    );
    assert_eq!(kata.pod_annotations_line, Some(2));
    assert_eq!(
        kata.pod_annotations,
        ["io.katacontainers.config.hypervisor.default_vcpus"]
    );
    // 1.x: the import replaced the CRI table; the warning says what was dropped.
    let warnings = scan.warnings();
    assert!(
        warnings.iter().any(|w| w
            == "containerd 1.x: /etc/containerd/conf.d/50-annotations.toml sets [plugins.\"io.containerd.grpc.v1.cri\"], which replaces the whole table /etc/containerd/config.toml set: what it set for runtime kata is discarded"),
        "{warnings:#?}"
    );
    assert!(
        warnings.contains(&"containerd 1.x: runtime kata (/etc/containerd/conf.d/50-annotations.toml) has no runtime_type once the files are merged, so it names no shim".to_string()),
        "{warnings:#?}"
    );
}

#[test]
fn breadth_first_order_and_paths_loaded_twice() {
    let load = |name: &str| {
        let case = cases().into_iter().find(|c| c.name == name).unwrap();
        let dir = tempfile::tempdir().unwrap();
        case.materialise(dir.path(), "");
        load_containerd(&HostRoot::new(dir.path()).unwrap(), Path::new(MAIN))
    };
    let scan = load("breadth-first-order");
    for family in ContainerdSemantics::ALL {
        assert_eq!(
            scan.load_order[&family],
            [
                MAIN,
                "/etc/containerd/a.toml",
                "/etc/containerd/b.toml",
                "/etc/containerd/c.toml"
            ]
        );
    }
    let scan = load("same-file-two-spellings");
    assert_eq!(
        scan.load_order[&ContainerdSemantics::V1CwdGlobs],
        [
            MAIN,
            "/etc/containerd/a.toml",
            "/etc/containerd/b.toml",
            "etc/containerd/a.toml"
        ]
    );
    assert_eq!(scan.load_order[&ContainerdSemantics::V1].len(), 3);
    // Read once, however many names and families reach it.
    assert_eq!(scan.files.len(), 3);
    let scan = load("import-cycle");
    assert_eq!(
        scan.load_order[&ContainerdSemantics::V2_3],
        [MAIN, "/etc/containerd/a.toml", "/etc/containerd/b.toml"]
    );
}
