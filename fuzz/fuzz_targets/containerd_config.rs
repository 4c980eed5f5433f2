//! Feeds arbitrary text, written as `etc/containerd/config.toml` under a scratch host root, to
//! containerd's configuration loader (it reads through a `HostRoot`, there is no pure parser).
//! Imports in the input can only reach that scratch root. It may report errors, never panic.
#![no_main]

use hvguard_core::HostRoot;
use hvguard_kata::containerd::{load_containerd, CONTAINERD_CONFIG};
use libfuzzer_sys::fuzz_target;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn scratch() -> &'static Option<(HostRoot, PathBuf)> {
    static ROOT: OnceLock<Option<(HostRoot, PathBuf)>> = OnceLock::new();
    ROOT.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("hvguard-fuzz-containerd-{}", std::process::id()));
        let etc = dir.join("etc/containerd");
        std::fs::create_dir_all(&etc).ok()?;
        let root = HostRoot::new(&dir).ok()?;
        Some((root, etc.join("config.toml")))
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((root, file)) = scratch() else {
        return;
    };
    if std::fs::write(file, data).is_err() {
        return;
    }
    let scan = load_containerd(root, Path::new(CONTAINERD_CONFIG));
    for e in &scan.errors {
        let _ = e.to_string();
    }
});
