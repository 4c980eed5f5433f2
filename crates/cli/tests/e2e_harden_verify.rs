//! `hvguard harden --verify`: the hardened configuration is booted (Debian's QEMU, the test
//! guest) before anything is written; a setting that stops the boot is named and nothing is
//! written.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;
#[path = "../../smoke/tests/support/guest.rs"]
mod guest;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// A Go-runtime configuration for `hypervisor`, with the test guest and weak settings harden
/// fixes: seccompsandbox empty, debug on, guest seccomp off.
fn weak_config(dir: &Path, hypervisor: &Path, g: &guest::Guest) -> std::path::PathBuf {
    let config = dir.join("configuration.toml");
    std::fs::write(
        &config,
        format!(
            "[hypervisor.qemu]\npath = \"{}\"\nkernel = \"{}\"\ninitrd = \"{}\"\nmachine_type = \"q35\"\n\
             seccompsandbox = \"\"\nenable_debug = true\ndefault_memory = 2048\n\n\
             [runtime]\ndisable_guest_seccomp = true\n",
            hypervisor.display(),
            g.kernel.display(),
            g.initrd.display()
        ),
    )
    .unwrap();
    // The test guest prints HVGUARD-SMOKE-OK (Kata's own guest would print the agent's
    // announce line, the default for a configuration's own assets).
    std::fs::write(
        dir.join("policy.toml"),
        "[smoke]\nmarker = \"HVGUARD-SMOKE-OK\"\naccel = \"tcg\"\n",
    )
    .unwrap();
    config
}

fn harden_verify(dir: &Path, config: &Path) -> std::process::Output {
    hvguard()
        .env("HVGUARD_POLICY", dir.join("policy.toml"))
        .args([
            "harden",
            "--kata-release",
            "3.20.0",
            "--write",
            "--verify",
            "--config",
        ])
        .arg(config)
        .output()
        .unwrap()
}

#[test]
fn a_hardened_configuration_that_boots_is_written() {
    let Some((qemu, g)) = guest::qemu_and_guest() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = weak_config(dir.path(), &qemu, &g);
    let out = harden_verify(dir.path(), &config);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("verify: the hardened configuration boots"),
        "{text}"
    );
    assert!(
        text.contains("not checked by a boot (they do not change how the VMM starts)")
            && text.contains("runtime.disable_guest_seccomp"),
        "{text}"
    );
    let dropin =
        std::fs::read_to_string(dir.path().join("config.d/80-hvguard-hardening.toml")).unwrap();
    assert!(
        dropin.contains("seccompsandbox = \"on,obsolete=deny,spawn=deny,resourcecontrol=deny\""),
        "{dropin}"
    );
}

#[test]
fn a_setting_that_stops_the_boot_is_named_and_nothing_is_written() {
    let Some((qemu, g)) = guest::qemu_and_guest() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Debian's QEMU as a build without libseccomp would behave: `-sandbox` is refused, every
    // other option goes to the real binary.
    let vmm = dir.path().join("qemu-without-seccomp");
    std::fs::write(
        &vmm,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do\n  if [ \"$a\" = -sandbox ]; then\n    \
             echo \"qemu-system-x86_64: -sandbox on: There is no option group 'sandbox'\" >&2; exit 1\n  fi\n\
             done\nexec {} \"$@\"\n",
            qemu.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&vmm, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = weak_config(dir.path(), &vmm, &g);
    let out = harden_verify(dir.path(), &config);
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}\n{err}");
    assert!(
        text.contains("not hardened: the hardened setting hypervisor.qemu.seccompsandbox = \"on,obsolete=deny,spawn=deny,resourcecontrol=deny\" (qemu.seccomp-sandbox-off) stops the guest from booting"),
        "{text}"
    );
    assert!(
        text.contains("There is no option group 'sandbox'"),
        "{text}"
    );
    assert!(
        !dir.path().join("config.d").exists(),
        "something was written"
    );
}

#[test]
fn verify_needs_the_live_host() {
    let root = materialise("kata-deploy");
    let out = hvguard()
        .args(["harden", "--verify", "--root"])
        .arg(root.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("only works on the live host"), "{text}");
}
