//! `hvguard harden` drop-in mode on real Kata configurations in a fake host root.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harden_common;

use harden_common::*;
use hvguard_core::{ConfigValue, HardeningPlan, HostRoot, KataRuntime};
use hvguard_kata::harden::{
    dropin_path, plan_changes, preview_dropin, render_dropin, supports_dropins, write_dropin,
    DropinStatus, HardenError,
};
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

const DROPIN: &str = "config.d/80-hvguard-hardening.toml";

#[test]
fn dry_run_writes_nothing() {
    let host = Host::new(
        "3.20.0-go-configuration-qemu.toml",
        "configuration-qemu.toml",
    );
    assert!(supports_dropins(KataRuntime::Go, Some("3.20.0")));
    let plan = qemu_plan(&host.main);
    let before = tree(host.dir.path());

    assert_eq!(
        preview_dropin(&host.root, &plan).unwrap(),
        DropinStatus::Create
    );
    let changes = plan_changes(&merged(&host), &plan);
    let text = render_dropin(&plan);

    assert_eq!(tree(host.dir.path()), before);
    // 3.20.0 already ships `cpu_features = "pmu=off"`: that setting changes nothing.
    let keys: Vec<&str> = changes.changed.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(
        keys,
        vec![
            "hypervisor.qemu.enable_annotations",
            "hypervisor.qemu.seccompsandbox",
            "runtime.disable_guest_seccomp"
        ],
        "{changes}"
    );
    assert!(!changes.diff.contains("cpu_features"), "{changes}");
    // The real 3.20.0 default has no seccompsandbox line at all and annotations that open
    // kernel_params: both show up in the diff.
    assert!(changes.diff.contains("+hypervisor.qemu.seccompsandbox = \"on,obsolete=deny,spawn=deny,resourcecontrol=deny\""), "{changes}");
    assert!(
        changes.diff.contains(
            "-runtime.disable_guest_seccomp = true\n+runtime.disable_guest_seccomp = false"
        ),
        "{changes}"
    );
    assert!(changes.diff.contains("-hypervisor.qemu.enable_annotations = [\"enable_iommu\", \"virtio_fs_extra_args\", \"kernel_params\"]"), "{changes}");
    assert!(text.contains("# qemu.seccomp-sandbox-off: QEMU runs without its seccomp sandbox\n"));
}

#[test]
fn write_creates_a_dropin_that_sets_every_key() {
    let host = Host::new(
        "3.20.0-go-configuration-qemu.toml",
        "configuration-qemu.toml",
    );
    let plan = qemu_plan(&host.main);
    let main_bytes = fs::read(host.real(&host.main)).unwrap();

    let out = write_dropin(&host.root, &plan, now()).unwrap();
    assert_eq!(out.status, DropinStatus::Create);
    assert!(out.created_dir);
    assert_eq!(out.backup, None);
    assert_eq!(out.path, Path::new("/").join(KATA_DIR).join(DROPIN));
    assert_eq!(dropin_path(&host.root, &host.main).unwrap(), out.path);

    let real = host.real(&out.path);
    let text = fs::read_to_string(&real).unwrap();
    assert_eq!(text, render_dropin(&plan));
    let doc = parse(&text);
    for s in &plan.settings {
        assert_eq!(lookup(&doc, &s.key).as_ref(), Some(&s.value), "{}", s.key);
    }
    for s in &plan.suggestions {
        assert_eq!(
            lookup(&doc, &s.key),
            None,
            "suggestion {} must not be applied",
            s.key
        );
    }
    assert_eq!(
        fs::metadata(&real).unwrap().permissions().mode() & 0o7777,
        0o644
    );
    assert_eq!(fs::read(host.real(&host.main)).unwrap(), main_bytes);

    // Only the drop-in (and its folder) appeared: no temporary file, no backup folder.
    let names: Vec<_> = tree(&host.kata_dir()).into_keys().collect();
    assert_eq!(
        names,
        vec![
            Path::new("config.d/").to_path_buf(),
            Path::new(DROPIN).to_path_buf(),
            Path::new("configuration-qemu.toml").to_path_buf(),
        ]
    );

    // Merged as Kata merges it, the hardened values are now in effect.
    let after = merged(&host);
    assert!(plan_changes(&after, &plan).is_empty());
    assert_eq!(
        after.values["runtime.disable_guest_seccomp"].value,
        ConfigValue::Bool(false)
    );
}

#[test]
fn second_write_changes_nothing_and_says_so() {
    let host = Host::new(
        "3.20.0-go-configuration-qemu.toml",
        "configuration-qemu.toml",
    );
    let plan = qemu_plan(&host.main);
    write_dropin(&host.root, &plan, now()).unwrap();
    let before = tree(host.dir.path());
    let mtime = fs::metadata(host.real(Path::new("/").join(KATA_DIR).join(DROPIN)))
        .unwrap()
        .modified()
        .unwrap();

    assert_eq!(
        preview_dropin(&host.root, &plan).unwrap(),
        DropinStatus::Unchanged
    );
    let again = write_dropin(&host.root, &plan, now()).unwrap();
    assert_eq!(again.status, DropinStatus::Unchanged);
    assert!(!again.created_dir);
    assert!(
        again.to_string().starts_with("nothing to change:"),
        "{again}"
    );
    assert_eq!(tree(host.dir.path()), before);
    let mtime2 = fs::metadata(host.real(&again.path))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(mtime, mtime2);
}

#[test]
fn a_changed_plan_backs_up_the_old_dropin_outside_config_d() {
    let host = Host::new(
        "3.20.0-go-configuration-qemu.toml",
        "configuration-qemu.toml",
    );
    let first = qemu_plan(&host.main);
    let mut second = first.clone();
    second.settings.push(set(
        "hypervisor.qemu.disable_block_device_use",
        ConfigValue::Bool(true),
        "kata.block-device-use-enabled",
        "containers can reach host block devices",
    ));
    write_dropin(&host.root, &first, now()).unwrap();
    let old = fs::read(host.real(Path::new("/").join(KATA_DIR).join(DROPIN))).unwrap();

    let out = write_dropin(&host.root, &second, now()).unwrap();
    assert_eq!(out.status, DropinStatus::Replace);
    let backup = out.backup.clone().unwrap();
    assert_eq!(
        backup,
        Path::new("/")
            .join(KATA_DIR)
            .join("hvguard-backups/80-hvguard-hardening.toml.bak-20261127T233000Z")
    );
    assert_eq!(fs::read(host.real(&backup)).unwrap(), old);
    assert_eq!(
        fs::read_to_string(host.real(&out.path)).unwrap(),
        render_dropin(&second)
    );
    assert!(
        out.to_string().contains("previous version saved as"),
        "{out}"
    );
    // Kata parses every entry of config.d/: the backup must not be one of them.
    let entries: Vec<_> = fs::read_dir(host.kata_dir().join("config.d"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, vec!["80-hvguard-hardening.toml"]);

    // Same second, another change: the backup name does not collide.
    let out = write_dropin(&host.root, &first, now()).unwrap();
    assert!(out
        .backup
        .unwrap()
        .to_string_lossy()
        .ends_with(".bak-20261127T233000Z-1"));
}

#[test]
fn operator_files_stay_byte_identical() {
    let host = Host::new(
        "3.20.0-go-configuration-qemu.toml",
        "configuration-qemu.toml",
    );
    let kata = host.kata_dir();
    fs::create_dir(kata.join("config.d")).unwrap();
    fs::write(
        kata.join("config.d/10-operator.toml"),
        "[runtime]\nenable_debug = true\n",
    )
    .unwrap();
    fs::write(
        kata.join("config.d/90-last-word.toml"),
        "[hypervisor.qemu]\ndefault_vcpus = 2\n",
    )
    .unwrap();
    fs::copy(
        fixture("3.20.0-go-configuration-fc.toml"),
        kata.join("configuration-fc.toml"),
    )
    .unwrap();
    let before = tree(&kata);

    let plan = qemu_plan(&host.main);
    let out = write_dropin(&host.root, &plan, now()).unwrap();
    assert!(!out.created_dir);
    let mut after = tree(&kata);
    assert!(after.remove(Path::new(DROPIN)).is_some());
    assert_eq!(after, before);
}

#[test]
fn a_symlinked_dropin_is_not_written_through() {
    let host = Host::new(
        "3.20.0-go-configuration-qemu.toml",
        "configuration-qemu.toml",
    );
    let kata = host.kata_dir();
    fs::create_dir(kata.join("config.d")).unwrap();
    fs::write(kata.join("operator-owned.toml"), "# mine\n").unwrap();
    symlink("../operator-owned.toml", kata.join(DROPIN)).unwrap();
    let before = tree(host.dir.path());

    let err = write_dropin(&host.root, &qemu_plan(&host.main), now()).unwrap_err();
    assert!(matches!(err, HardenError::Symlink { .. }), "{err}");
    assert!(
        err.to_string().contains("80-hvguard-hardening.toml"),
        "{err}"
    );
    assert!(preview_dropin(&host.root, &qemu_plan(&host.main)).is_err());
    assert_eq!(tree(host.dir.path()), before);
}

#[test]
fn a_symlinked_main_config_gets_its_dropin_beside_the_real_file() {
    let host = Host::new(
        "3.20.0-go-configuration-qemu.toml",
        "configuration-qemu.toml",
    );
    fs::create_dir_all(host.dir.path().join("etc/kata-containers")).unwrap();
    symlink(
        Path::new("/")
            .join(KATA_DIR)
            .join("configuration-qemu.toml"),
        host.dir
            .path()
            .join("etc/kata-containers/configuration.toml"),
    )
    .unwrap();
    let plan = HardeningPlan {
        config: "/etc/kata-containers/configuration.toml".into(),
        ..qemu_plan(&host.main)
    };
    let out = write_dropin(&host.root, &plan, now()).unwrap();
    assert_eq!(out.path, Path::new("/").join(KATA_DIR).join(DROPIN));
    assert!(!host
        .dir
        .path()
        .join("etc/kata-containers/config.d")
        .exists());
}

#[test]
fn unwritable_folder_is_a_clear_error_and_leaves_nothing() {
    // Tests run as root, for whom a 0555 folder is still writable. procfs refuses new entries
    // to root too, so a "host root" of /proc/self with its regular file `status` as the main
    // configuration gives a folder that really cannot be written.
    let root = HostRoot::new("/proc/self").unwrap();
    let plan = HardeningPlan {
        config: "/status".into(),
        ..qemu_plan(Path::new("/status"))
    };
    let err = write_dropin(&root, &plan, now()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("/config.d: create folder:"), "{msg}");
    assert!(!root.base().join("config.d").exists());
}

#[test]
fn config_d_that_is_not_a_folder_is_refused_untouched() {
    let host = Host::new(
        "3.20.0-go-configuration-qemu.toml",
        "configuration-qemu.toml",
    );
    fs::write(host.kata_dir().join("config.d"), "not a folder").unwrap();
    let before = tree(host.dir.path());
    let err = write_dropin(&host.root, &qemu_plan(&host.main), now()).unwrap_err();
    assert!(matches!(err, HardenError::NotADirectory { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("config.d: exists and is not a directory"),
        "{err}"
    );
    assert_eq!(tree(host.dir.path()), before);
}

#[test]
fn firecracker_and_runtime_rs_configs_take_their_own_keys() {
    let host = Host::new("3.20.0-go-configuration-fc.toml", "configuration-fc.toml");
    let plan = HardeningPlan {
        config: host.main.clone(),
        settings: vec![
            set(
                "hypervisor.firecracker.disable_guest_seccomp",
                ConfigValue::Bool(false),
                "kata.guest-seccomp-disabled",
                "guest seccomp off",
            ),
            set(
                "runtime.disable_guest_seccomp",
                ConfigValue::Bool(false),
                "kata.guest-seccomp-disabled",
                "guest seccomp off",
            ),
            set(
                "agent.kata.debug_console_enabled",
                ConfigValue::Bool(false),
                "kata.debug-console-enabled",
                "a root shell in the guest",
            ),
        ],
        suggestions: vec![],
    };
    let out = write_dropin(&host.root, &plan, now()).unwrap();
    let doc = parse(&fs::read_to_string(host.real(&out.path)).unwrap());
    assert_eq!(
        lookup(&doc, "agent.kata.debug_console_enabled"),
        Some(ConfigValue::Bool(false))
    );
    assert!(plan_changes(&merged(&host), &plan).is_empty());

    let rs = Host::new(
        "3.20.0-rs-configuration-qemu-runtime-rs.toml",
        "configuration-qemu-runtime-rs.toml",
    );
    assert!(supports_dropins(KataRuntime::Rs, Some("3.20.0")));
    let plan = HardeningPlan {
        config: rs.main.clone(),
        settings: vec![set(
            "hypervisor.qemu.seccomp_sandbox",
            ConfigValue::String("on,obsolete=deny,spawn=deny,resourcecontrol=deny".into()),
            "qemu.seccomp-sandbox-off",
            "runtime-rs spells it seccomp_sandbox",
        )],
        suggestions: vec![],
    };
    let before = merged(&rs);
    assert_eq!(plan_changes(&before, &plan).changed.len(), 1);
    write_dropin(&rs.root, &plan, now()).unwrap();
    assert!(plan_changes(&merged(&rs), &plan).is_empty());
}

#[test]
fn an_absolute_config_d_link_stays_inside_the_root() {
    let host = Host::new(
        "3.20.0-go-configuration-qemu.toml",
        "configuration-qemu.toml",
    );
    fs::create_dir_all(host.dir.path().join("etc/kata-dropins")).unwrap();
    symlink("/etc/kata-dropins", host.kata_dir().join("config.d")).unwrap();
    let out = write_dropin(&host.root, &qemu_plan(&host.main), now()).unwrap();
    assert_eq!(
        out.path,
        Path::new("/etc/kata-dropins/80-hvguard-hardening.toml")
    );
    assert!(host
        .dir
        .path()
        .join("etc/kata-dropins/80-hvguard-hardening.toml")
        .is_file());
    assert!(!Path::new("/etc/kata-dropins").exists());
}

#[test]
fn on_the_live_root_a_symlinked_main_config_is_followed_too() {
    // The live root is `/`; everything here stays inside a temporary folder.
    let host = Host::new(
        "3.20.0-go-configuration-qemu.toml",
        "configuration-qemu.toml",
    );
    let real_main = fs::canonicalize(host.real(&host.main)).unwrap();
    let link = fs::canonicalize(host.dir.path())
        .unwrap()
        .join("configuration.toml");
    symlink(&real_main, &link).unwrap();
    let plan = HardeningPlan {
        config: link.clone(),
        ..qemu_plan(&link)
    };
    let out = write_dropin(&HostRoot::live(), &plan, now()).unwrap();
    assert_eq!(out.path, real_main.parent().unwrap().join(DROPIN));
    assert!(out.path.is_file());
    assert!(!link.parent().unwrap().join("config.d").exists());
}
