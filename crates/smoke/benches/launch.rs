//! hvguard's own overhead around one boot: spawning the VMM (through `setpriv`, as every smoke
//! run does), watching its console for the marker, and tearing its process group down.
//!
//! The "VMM" is `/bin/echo` printing the marker, so what is measured is hvguard's supervision
//! plus the cost of executing two tiny programs (`setpriv`, then `echo`): an upper bound on the
//! overhead a real boot pays on top of the hypervisor's own time. Budget: under 5 ms median.
//!
//! Run: `cargo bench -p hvguard-smoke --bench launch`

// Bench helpers: a launch that cannot start should stop the run with its cause.
#![allow(clippy::expect_used)]

use hvguard_smoke::launch::{default_supervisor, launch, LaunchSpec};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

fn main() {
    divan::main();
}

fn spec(supervised: bool) -> LaunchSpec {
    LaunchSpec {
        program: PathBuf::from("/bin/echo"),
        args: vec![OsString::from("HVGUARD-SMOKE-OK")],
        module_dir: None,
        marker: "HVGUARD-SMOKE-OK".into(),
        timeout: Duration::from_secs(10),
        supervisor: if supervised {
            default_supervisor()
        } else {
            None
        },
    }
}

/// Spawn through setpriv + console watch + teardown (what `hvguard smoke` does per boot).
#[divan::bench(sample_count = 200)]
fn supervised_boot_overhead() {
    let spec = spec(true);
    let launched = launch(divan::black_box(&spec)).expect("launch");
    assert!(launched.run.ok);
}

/// The same without setpriv: the share of the parent-death-signal wrapper.
#[divan::bench(sample_count = 200)]
fn direct_boot_overhead() {
    let spec = spec(false);
    let launched = launch(divan::black_box(&spec)).expect("launch");
    assert!(launched.run.ok);
}
