//! Issue 11, item 4: what Kata really runs with once hvguard's drop-in is written, in Kata's
//! own order. A later drop-in that sets a hardened key back is named, with its line.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harden_common;

use harden_common::*;
use hvguard_core::ConfigValue;
use hvguard_kata::harden::{effective_with_dropin, write_dropin};
use std::fs;

#[test]
fn item4_a_later_dropin_that_undoes_a_hardened_key_is_named() {
    let host = Host::new(
        "3.20.0-go-configuration-qemu.toml",
        "configuration-qemu.toml",
    );
    let dropins = host.kata_dir().join("config.d");
    fs::create_dir(&dropins).unwrap();
    // Before hvguard's 80-: overridden by it, harmless.
    fs::write(
        dropins.join("10-early.toml"),
        "[runtime]\ndisable_guest_seccomp = true\n",
    )
    .unwrap();
    // After it: undoes two hardened keys (one in runtime-rs spelling).
    fs::write(
        dropins.join("90-operator.toml"),
        "# mine\n[hypervisor.qemu]\nseccomp_sandbox = \"\"\n[runtime]\ndisable_guest_seccomp = true\n",
    )
    .unwrap();
    let plan = qemu_plan(&host.main);
    let effective = effective_with_dropin(&host.root, &host.main, &plan).unwrap();
    assert!(!effective.is_hardened());
    let undone: Vec<(&str, &str, u32)> = effective
        .undone
        .iter()
        .map(|u| (u.key.as_str(), u.path.to_str().unwrap(), u.line))
        .collect();
    let operator = format!("/{KATA_DIR}/config.d/90-operator.toml");
    assert_eq!(
        undone,
        vec![
            ("hypervisor.qemu.seccompsandbox", operator.as_str(), 3),
            ("runtime.disable_guest_seccomp", operator.as_str(), 5),
        ]
    );
    assert_eq!(effective.undone[1].value, ConfigValue::Bool(true));
    assert_eq!(effective.undone[1].planned, ConfigValue::Bool(false));
    // Writing the drop-in does not change that verdict: the result still is not hardened.
    write_dropin(&host.root, &plan, now()).unwrap();
    let again = effective_with_dropin(&host.root, &host.main, &plan).unwrap();
    assert_eq!(again.undone, effective.undone);

    // Without the operator's file, everything hvguard sets holds, the early file included.
    fs::remove_file(dropins.join("90-operator.toml")).unwrap();
    let effective = effective_with_dropin(&host.root, &host.main, &plan).unwrap();
    assert!(effective.is_hardened(), "{:?}", effective.undone);
    let held = &effective.values["runtime.disable_guest_seccomp"];
    assert_eq!(held.value, ConfigValue::Bool(false));
    assert!(held.path.ends_with("config.d/80-hvguard-hardening.toml"));
}
