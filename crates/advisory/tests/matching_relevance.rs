//! Relevance and severity: the real kata-deploy configurations decide which QEMU devices a
//! guest can reach; unreachable components are lowered one level with the reason, KEV
//! raises one level, an accepted risk is info until its acceptance expires.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use hvguard_advisory::matching::match_snapshot;
use hvguard_advisory::policy::Policy;
use hvguard_advisory::relevance::{taxonomy, Reach, ReachModel};
use hvguard_advisory::{shipped_snapshot, Advisory, KevEntry, Product};
use hvguard_core::{ConfigValue, Finding, HostRoot, KataConfig, Severity, Snapshot};

const QEMU: &str = "/opt/kata/bin/qemu-system-x86_64";

fn hosts(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/hosts")
        .join(name)
}

fn today() -> jiff::civil::Date {
    jiff::civil::date(2026, 11, 27)
}

/// The real Kata 3.20.0 configurations kata-deploy installs.
fn kata_deploy_configs() -> Vec<KataConfig> {
    let root = HostRoot::new(hosts("kata-deploy")).unwrap();
    let found = hvguard_kata::discover(&root, &hvguard_kata::DiscoveryEnv::default());
    assert!(found.configs.iter().any(|c| c
        .values
        .get("hypervisor.qemu.machine_type")
        .is_some_and(|v| v.value.as_str() == Some("q35"))));
    found.configs
}

fn set_qemu(configs: &mut [KataConfig], key: &str, value: &str) {
    for c in configs {
        let full = format!("hypervisor.qemu.{key}");
        if let Some(v) = c.values.get_mut(&full) {
            v.value = ConfigValue::String(value.into());
        } else if c.values.keys().any(|k| k.starts_with("hypervisor.qemu.")) {
            let template = c.values.values().next().unwrap().clone();
            c.values.insert(
                full,
                hvguard_core::SourcedValue {
                    value: ConfigValue::String(value.into()),
                    ..template
                },
            );
        }
    }
}

/// The kata-static host (static QEMU, no package) with the kata-deploy configurations, its
/// QEMU version set to `version` so that older advisories apply.
fn snapshot(configs: Vec<KataConfig>, version: &str) -> Snapshot {
    let root = HostRoot::new(hosts("kata-static")).unwrap();
    let mut snap = hvguard_host::collect(&root, &hvguard_host::CollectOptions::default());
    for h in &mut snap.hypervisors {
        if h.path == Path::new(QEMU) {
            h.version = Some(version.into());
        }
    }
    snap.kata = configs;
    snap
}

/// An advisory naming only `components`.
fn tagged(components: &[&str]) -> Advisory {
    let mut a = Advisory::new("TEST-1");
    a.components = components.iter().map(|c| (*c).to_owned()).collect();
    a
}

fn advisory(id: &str) -> Advisory {
    shipped_snapshot()
        .unwrap()
        .into_iter()
        .find(|a| a.id == id)
        .unwrap()
}

fn finding_for(snap: &Snapshot, adv: &Advisory, policy: &Policy) -> Finding {
    let outcome = match_snapshot(snap, std::slice::from_ref(adv), policy, today());
    outcome
        .findings
        .into_iter()
        .find(|f| f.location.as_ref().unwrap().path == Path::new(QEMU))
        .unwrap_or_else(|| panic!("no finding for {}", adv.id))
}

#[test]
fn floppy_cve_depends_on_the_machine_type() {
    // CVE-2021-3507: fdc DMA info leak, CVSS 6.1, affects QEMU up to 6.0.0.
    let adv = advisory("CVE-2021-3507");
    assert_eq!(adv.component.as_deref(), Some("floppy"));
    let q35 = finding_for(
        &snapshot(kata_deploy_configs(), "6.0.0"),
        &adv,
        &Policy::default(),
    );
    assert_eq!(q35.severity, Severity::Low);
    let relevance = &q35.advisory.as_ref().unwrap().relevance;
    assert!(
        relevance
            .starts_with("not-reachable: the floppy controller exists only on machine type pc")
            && relevance.contains("uses q35"),
        "{relevance}"
    );
    let mut pc_configs = kata_deploy_configs();
    set_qemu(&mut pc_configs, "machine_type", "pc");
    let pc = finding_for(&snapshot(pc_configs, "6.0.0"), &adv, &Policy::default());
    assert_eq!(pc.severity, Severity::Medium);
    assert!(pc
        .advisory
        .as_ref()
        .unwrap()
        .relevance
        .starts_with("reachable"));
}

#[test]
fn sdhci_is_lowered_virtio_net_is_not() {
    let snap = snapshot(kata_deploy_configs(), "5.0.0");
    // CVE-2021-3409: SDHCI, CVSS 5.7, VM escape class: medium -> low.
    let sdhci = finding_for(&snap, &advisory("CVE-2021-3409"), &Policy::default());
    assert_eq!(sdhci.severity, Severity::Low);
    assert!(sdhci.message.contains("lowered"), "{}", sdhci.message);
    // CVE-2021-3748: virtio-net use-after-free, CVSS 7.5, VM escape: high, reachable.
    let net = finding_for(&snap, &advisory("CVE-2021-3748"), &Policy::default());
    assert_eq!(net.severity, Severity::High);
    let relevance = &net.advisory.as_ref().unwrap().relevance;
    assert!(
        relevance.starts_with("reachable, VM-escape path"),
        "{relevance}"
    );
}

#[test]
fn no_kata_config_means_unknown_and_not_lowered() {
    let snap = snapshot(Vec::new(), "5.0.0");
    let f = finding_for(&snap, &advisory("CVE-2021-3409"), &Policy::default());
    assert_eq!(f.severity, Severity::Medium);
    let relevance = &f.advisory.as_ref().unwrap().relevance;
    assert!(
        relevance.starts_with("unknown (not lowered): no Kata configuration"),
        "{relevance}"
    );
}

#[test]
fn shared_fs_decides_9p_and_virtiofsd() {
    let model = ReachModel::from_snapshot(&snapshot(kata_deploy_configs(), "5.0.0"));
    let nine_p = model.assess(&Product::Qemu, &[], &tagged(&["9p"]));
    assert_eq!(nine_p.reach, Reach::NotReachable);
    assert!(
        nine_p.reason.contains("shared_fs = virtio-fs"),
        "{}",
        nine_p.reason
    );
    let mut configs = kata_deploy_configs();
    set_qemu(&mut configs, "shared_fs", "virtio-9p");
    let model = ReachModel::from_snapshot(&snapshot(configs, "5.0.0"));
    assert_eq!(
        model.assess(&Product::Qemu, &[], &tagged(&["9p"])).reach,
        Reach::Reachable
    );
    assert_eq!(
        model
            .assess(&Product::Qemu, &[], &tagged(&["qemu-img"]))
            .reach,
        Reach::NotReachable
    );
    assert_eq!(
        model.assess(&Product::Qemu, &[], &tagged(&["other"])).reach,
        Reach::Unknown
    );
}

#[test]
fn every_shipped_component_is_in_the_taxonomy() {
    for adv in shipped_snapshot().unwrap() {
        assert!(!adv.components.is_empty(), "{} names no component", adv.id);
        for c in &adv.components {
            assert!(
                taxonomy::spec(c).is_some(),
                "{}: component {c} is not in the taxonomy",
                adv.id
            );
        }
        assert_eq!(
            adv.component.as_deref(),
            adv.components.first().map(String::as_str)
        );
    }
}

#[test]
fn kev_raises_one_level() {
    let snap = snapshot(kata_deploy_configs(), "5.0.0");
    let mut adv = advisory("CVE-2021-3748");
    adv.kev = Some(KevEntry {
        cve: adv.id.clone(),
        date_added: None,
        ransomware: None,
    });
    let f = finding_for(&snap, &adv, &Policy::default());
    assert_eq!(f.severity, Severity::Critical);
    assert!(f.advisory.as_ref().unwrap().kev);
    assert!(f.message.contains("CISA KEV"), "{}", f.message);
}

#[test]
fn accepted_until_expiry_then_back() {
    let snap = snapshot(kata_deploy_configs(), "5.0.0");
    let adv = advisory("CVE-2021-3748");
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures_matching/policy.toml");
    let policy = Policy::load(&path).unwrap();
    let accepted = match_snapshot(
        &snap,
        std::slice::from_ref(&adv),
        &policy,
        jiff::civil::date(2027, 1, 31),
    );
    let f = &accepted.findings[0];
    assert_eq!(f.severity, Severity::Info);
    assert!(
        f.message
            .starts_with("Accepted risk: virtio-net guests are isolated"),
        "{}",
        f.message
    );
    let expired = match_snapshot(
        &snap,
        std::slice::from_ref(&adv),
        &policy,
        jiff::civil::date(2027, 2, 1),
    );
    let f = &expired.findings[0];
    assert_eq!(f.severity, Severity::High);
    assert!(
        f.message.contains("acceptance expired on 2027-01-31"),
        "{}",
        f.message
    );
    // The decision itself is unchanged by the policy.
    assert_eq!(accepted.decisions, expired.decisions);
}

#[test]
fn a_qemu_guest_agent_cve_is_lowered_even_without_a_kata_config() {
    // No Kata configuration at all: device reachability is unknown, but qemu-ga is never
    // part of the host's qemu-system binary.
    let model = ReachModel::default();
    let relevance = model.assess(&Product::Qemu, &[], &tagged(&["guest-agent"]));
    assert_eq!(relevance.reach, Reach::NotReachable, "{}", relevance.reason);
    let virtio = model.assess(&Product::Qemu, &[], &tagged(&["virtio-net"]));
    assert_eq!(virtio.reach, Reach::Unknown, "{}", virtio.reason);
}

fn rendered(rel: &str) -> KataConfig {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/kata/rendered")
        .join(rel);
    hvguard_kata::load_explicit(&[path])
        .unwrap()
        .into_iter()
        .next()
        .unwrap()
}

fn model(configs: Vec<KataConfig>) -> ReachModel {
    ReachModel::from_snapshot(&snapshot(configs, "8.2.0"))
}

/// runtime-rs names Cloud Hypervisor's table `[hypervisor.cloud-hypervisor]`: its
/// advisories are judged there instead of staying "unknown (not lowered)".
#[test]
fn cloud_hypervisor_advisories_are_judged_on_runtime_rs_configs() {
    let config = rendered("3.20.0/runtime-rs/configuration-cloud-hypervisor.toml");
    assert!(config
        .values
        .keys()
        .any(|k| k.starts_with("hypervisor.cloud-hypervisor.")));
    let clh =
        model(vec![config]).assess(&Product::CloudHypervisor, &[], &advisory("CVE-2026-27211"));
    assert_eq!(clh.reach, Reach::Reachable, "{}", clh.reason);
}

/// Kata advisories about one hypervisor (CVE-2026-24834: Cloud Hypervisor's pmem) are not
/// reachable from QEMU-only configurations.
#[test]
fn kata_advisories_are_scoped_to_their_hypervisor() {
    let adv = advisory("CVE-2026-24834");
    assert_eq!(
        adv.hypervisors,
        vec![hvguard_core::HypervisorKind::CloudHypervisor]
    );
    let qemu_only = model(vec![rendered("3.20.0/runtime-go/configuration-qemu.toml")]);
    let r = qemu_only.assess(&Product::Kata, &[], &adv);
    assert_eq!(r.reach, Reach::NotReachable, "{}", r.reason);
    assert!(r.reason.contains("cloud-hypervisor"), "{}", r.reason);
    let with_clh = model(vec![
        rendered("3.20.0/runtime-go/configuration-qemu.toml"),
        rendered("3.20.0/runtime-go/configuration-clh.toml"),
    ]);
    assert_eq!(
        with_clh.assess(&Product::Kata, &[], &adv).reach,
        Reach::Reachable
    );
}

/// Kata's device model: the virtio-serial console is always there (CVE-2024-3446 names it);
/// an unset block_device_driver is virtio-scsi on the Go runtime; SR-IOV emulation and the
/// ACPI ERST device are never attached; pvpanic follows guest_memory_dump_path.
#[test]
fn kata_device_model() {
    let q35 = model(kata_deploy_configs());
    let serial = q35.assess(&Product::Qemu, &[], &advisory("CVE-2024-3446"));
    assert_eq!(serial.reach, Reach::Reachable, "{}", serial.reason);
    assert!(serial.reason.contains("virtio-serial"), "{}", serial.reason);
    for id in ["CVE-2024-26327", "CVE-2022-4172"] {
        let r = q35.assess(&Product::Qemu, &[], &advisory(id));
        assert_eq!(r.reach, Reach::NotReachable, "{id}: {}", r.reason);
    }
    // The Go runtime's default block driver is virtio-scsi: scsi-disk is reachable when the
    // key is not set at all.
    let mut unset = kata_deploy_configs();
    for c in &mut unset {
        c.values.retain(|k, _| !k.ends_with(".block_device_driver"));
    }
    let scsi = model(unset).assess(&Product::Qemu, &[], &advisory("CVE-2023-42467"));
    assert_eq!(scsi.reach, Reach::Reachable, "{}", scsi.reason);
    assert!(
        scsi.reason.contains("Go runtime's default is virtio-scsi"),
        "{}",
        scsi.reason
    );
    let mut blk = kata_deploy_configs();
    set_qemu(&mut blk, "block_device_driver", "virtio-blk");
    let not_scsi = model(blk).assess(&Product::Qemu, &[], &advisory("CVE-2023-42467"));
    assert_eq!(not_scsi.reach, Reach::NotReachable, "{}", not_scsi.reason);
    let pvpanic = tagged(&["pvpanic"]);
    assert_eq!(
        q35.assess(&Product::Qemu, &[], &pvpanic).reach,
        Reach::NotReachable
    );
    let mut dump = kata_deploy_configs();
    set_qemu(&mut dump, "guest_memory_dump_path", "/var/crash/kata");
    assert_eq!(
        model(dump).assess(&Product::Qemu, &[], &pvpanic).reach,
        Reach::Reachable
    );
    // One reachable component is enough; all must be unreachable to lower.
    let mixed = tagged(&["usb", "virtio-net"]);
    assert_eq!(
        q35.assess(&Product::Qemu, &[], &mixed).reach,
        Reach::Reachable
    );
    let none = tagged(&["usb", "vga"]);
    assert_eq!(
        q35.assess(&Product::Qemu, &[], &none).reach,
        Reach::NotReachable
    );
}
