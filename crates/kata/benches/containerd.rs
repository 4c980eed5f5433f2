//! containerd: reading the configuration under every release family, and reading
//! containerd's version from its binary.
//!
//! `cargo bench -p hvguard-kata --bench containerd`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hvguard_core::HostRoot;
use hvguard_kata::containerd::{load_containerd, CONTAINERD_CONFIG};
use std::path::Path;

fn main() {
    divan::main();
}

/// The kata-deploy fixture host: a main file and kata-deploy's snippet with four handlers.
#[divan::bench]
fn kata_deploy_host_every_family(bencher: divan::Bencher) {
    let root = HostRoot::new(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/hosts/kata-deploy"),
    )
    .unwrap();
    bencher.bench(|| {
        load_containerd(&root, divan::black_box(Path::new(CONTAINERD_CONFIG)))
            .runtimes
            .len()
    });
}

/// A main file importing a glob of 16 files, each defining two handlers.
#[divan::bench]
fn sixteen_imports_every_family(bencher: divan::Bencher) {
    let dir = tempfile::tempdir().unwrap();
    let etc = dir.path().join("etc/containerd");
    std::fs::create_dir_all(etc.join("conf.d")).unwrap();
    std::fs::write(
        etc.join("config.toml"),
        "version = 2\nimports = [\"/etc/containerd/conf.d/*.toml\"]\n\
         [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n\
         runtime_type = \"io.containerd.runc.v2\"\n",
    )
    .unwrap();
    for i in 0..16 {
        std::fs::write(
            etc.join(format!("conf.d/{i:02}-kata.toml")),
            format!(
                "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata-{i}]\n\
                 runtime_type = \"io.containerd.kata-qemu.v2\"\n\
                 pod_annotations = [\"io.katacontainers.config.hypervisor.default_vcpus\"]\n\
                 [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata-{i}.options]\n\
                 ConfigPath = \"/opt/kata/share/defaults/kata-containers/configuration-{i}.toml\"\n\
                 [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata]\n\
                 runtime_type = \"io.containerd.kata.v2\"\n\
                 pod_annotations = [\"io.katacontainers.config.hypervisor.kernel_params_{i}\"]\n"
            ),
        )
        .unwrap();
    }
    let root = HostRoot::new(dir.path()).unwrap();
    bencher.bench(|| {
        load_containerd(&root, divan::black_box(Path::new(CONTAINERD_CONFIG)))
            .runtimes
            .len()
    });
}

/// The version of the live `/usr/bin/containerd` (Debian 12: 48 MB, the version string
/// 3.9 MB into `.rodata`), as `hvguard collect` reads it. Skipped without containerd.
#[divan::bench]
fn version_of_the_live_binary(bencher: divan::Bencher) {
    let path = Path::new("/usr/bin/containerd");
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    bencher.bench(|| {
        let mut file = std::fs::File::open(path).unwrap();
        hvguard_host::containerd::version_in_file(&mut file, meta.len()).unwrap()
    });
}
