//! The QEMU command line, laid out the way Kata's Go runtime lays it out.
//!
//! Sources (kata-containers `src/runtime/`): `virtcontainers/qemu.go` (`CreateVM`,
//! `buildDevices`, `kernelParameters`), `virtcontainers/qemu_amd64.go` (machine options, the
//! fixed kernel parameters, IOMMU), `virtcontainers/qemu_arch_base.go` (console, image, bridges,
//! vIOMMU device, memory and CPU topology) and `pkg/govmm/qemu/qemu.go` (`LaunchQemu`: the order
//! of the options and how each device is spelled). What is left out, and why, is listed in
//! `docs/smoke-and-bench.md`.
//!
//! Differences that come from booting a test rather than a sandbox:
//! - the console's chardev is `stdio` (Kata: a unix socket its shim reads); the guest sees the
//!   same virtio console or ISA serial port;
//! - with TCG, `accel=tcg` and `-cpu max` replace `accel=kvm` and `-cpu host` (`host` needs KVM);
//!   on `microvm` the guest is also told the TSC frequency (`tsc_early_khz`), which it would
//!   otherwise read from KVM's paravirtual clock and without which it hangs calibrating timers.

use crate::spec::{Accel, BootAsset, MachineType, SmokeSpec};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// `kernelParams` of `qemu_amd64.go`, in order.
pub const KATA_AMD64_KERNEL_PARAMS: &[&str] = &[
    "tsc=reliable",
    "no_timer_check",
    "rcupdate.rcu_expedited=1",
    "i8042.direct=1",
    "i8042.dumbkbd=1",
    "i8042.nopnp=1",
    "i8042.noaux=1",
    "noreplace-smp",
    "reboot=k",
    "cryptomgr.notests",
    "net.ifnames=0",
    "pci=lastbus=0",
];

/// Host facts the command line depends on (Kata reads them at sandbox creation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchEnv {
    /// `-name` value.
    pub name: String,
    /// CPUs Kata's "0 means the host's" `default_maxvcpus` resolves to.
    pub host_cpus: u32,
    /// MiB Kata's "0 means the host's" `default_maxmemory` resolves to.
    pub host_memory_mib: u64,
    /// True when the host is itself a VM and nesting checks are on: virtio devices become
    /// transitional (`disable-modern=true`), as Kata does.
    pub nested: bool,
    /// The host TSC frequency, told to a `microvm` guest under TCG.
    pub tsc_khz: Option<u64>,
    /// Size in bytes of the rootfs image (the NVDIMM's backing file), when booting one.
    pub image_size: Option<u64>,
}

/// A path inside a QEMU `key=value,...` option: a literal comma is written twice.
fn opt_path(prefix: &str, path: &std::path::Path) -> OsString {
    let mut bytes = prefix.as_bytes().to_vec();
    for &b in path.as_os_str().as_bytes() {
        bytes.push(b);
        if b == b',' {
            bytes.push(b',');
        }
    }
    OsStr::from_bytes(&bytes).to_os_string()
}

struct Args(Vec<OsString>);

impl Args {
    fn opt(&mut self, flag: &str, value: impl Into<OsString>) {
        self.0.push(flag.into());
        self.0.push(value.into());
    }
    fn flag(&mut self, flag: &str) {
        self.0.push(flag.into());
    }
}

/// The kernel command line Kata builds (`kernelParameters`), with `accel` adjustments.
pub fn kernel_cmdline(spec: &SmokeSpec, accel: Accel, env: &LaunchEnv) -> String {
    let mut params: Vec<String> = KATA_AMD64_KERNEL_PARAMS
        .iter()
        .map(|p| p.to_string())
        .collect();
    if spec.iommu {
        params.push("intel_iommu=on".into());
        params.push("iommu=pt".into());
    }
    let image = matches!(spec.boot, Some(BootAsset::Image(_)));
    if image {
        params.extend(root_params(spec));
    }
    if spec.legacy_serial {
        params.push("console=ttyS0".into());
    } else {
        params.push("console=hvc0".into());
        params.push("console=hvc1".into());
    }
    if spec.debug {
        params.push("debug".into());
        if image {
            params.push("systemd.show_status=true".into());
            params.push("systemd.log_level=debug".into());
        }
    } else {
        params.push("quiet".into());
        if image {
            params.push("systemd.show_status=false".into());
        }
    }
    params.push("panic=1".into());
    params.push(format!("nr_cpus={}", max_vcpus(spec, env)));
    params.push(format!(
        "selinux={}",
        if spec.disable_guest_selinux { 0 } else { 1 }
    ));
    if accel == Accel::Tcg && spec.machine == MachineType::Microvm {
        params.push(format!(
            "tsc_early_khz={}",
            env.tsc_khz.unwrap_or(FALLBACK_TSC_KHZ)
        ));
    }
    // The configuration's own parameters come last so that they win (the kernel honours the
    // last value of a repeated parameter).
    if !spec.kernel_params.is_empty() {
        params.push(spec.kernel_params.clone());
    }
    params.join(" ")
}

/// Told to a TCG `microvm` guest when the host's TSC frequency is unknown; any plausible
/// value boots, it only scales the guest's early delay loops.
pub const FALLBACK_TSC_KHZ: u64 = 2_000_000;

/// `GetKernelRootParams` for an image without dm-verity.
fn root_params(spec: &SmokeSpec) -> Vec<String> {
    let nvdimm = !spec.disable_image_nvdimm;
    let mut out = vec![if nvdimm {
        "root=/dev/pmem0p1".to_string()
    } else {
        "root=/dev/vda1".to_string()
    }];
    let flags = match (spec.rootfs_type.as_str(), nvdimm) {
        ("ext4", true) => "dax,data=ordered,errors=remount-ro ro",
        ("ext4", false) => "data=ordered,errors=remount-ro ro",
        (_, true) => "dax ro",
        (_, false) => "ro",
    };
    out.push(format!("rootflags={flags}"));
    out.push(format!("rootfstype={}", spec.rootfs_type));
    out
}

fn max_vcpus(spec: &SmokeSpec, env: &LaunchEnv) -> u32 {
    // Kata: 0, or at least the host's CPUs, means the host's CPUs.
    match spec.max_vcpus {
        Some(n) if n < env.host_cpus => n.max(spec.vcpus),
        _ => env.host_cpus.max(spec.vcpus),
    }
}

fn max_memory_mib(spec: &SmokeSpec, env: &LaunchEnv) -> u64 {
    match spec.max_memory_mib {
        Some(m) if m <= env.host_memory_mib => m,
        _ => env.host_memory_mib,
    }
}

/// The argument vector (without the program) for booting `spec` with `accel`.
pub fn qemu_argv(spec: &SmokeSpec, accel: Accel, env: &LaunchEnv) -> Vec<OsString> {
    let mut a = Args(Vec::with_capacity(64));
    let image = match &spec.boot {
        Some(BootAsset::Image(p)) => Some(p.as_path()),
        _ => None,
    };
    let nvdimm_image = image.is_some() && !spec.disable_image_nvdimm;

    a.opt("-name", format!("sandbox-{}", env.name));
    for dir in &spec.data_dirs {
        a.opt("-L", dir.as_os_str().to_os_string());
    }

    let mut machine = vec![spec.machine.as_str().to_string()];
    machine.push(format!("accel={}", accel.as_str()));
    if spec.iommu {
        // An IOMMU needs a split irqchip (qemu_amd64.go); QEMU accepts it under TCG too.
        machine.push("kernel_irqchip=split".into());
    }
    if nvdimm_image {
        machine.push("nvdimm=on".into());
    }
    let accelerators = spec.machine_accelerators.trim_start_matches(',');
    if !accelerators.is_empty() {
        machine.push(accelerators.to_string());
    }
    a.opt("-machine", machine.join(","));

    let model = match accel {
        Accel::Kvm => "host",
        Accel::Tcg => "max",
    };
    a.opt(
        "-cpu",
        if spec.cpu_features.is_empty() {
            model.to_string()
        } else {
            format!("{model},{}", spec.cpu_features)
        },
    );

    a.opt(
        "-m",
        format!(
            "{}M,slots={},maxmem={}M",
            spec.memory_mib,
            spec.memory_slots,
            max_memory_mib(spec, env)
        ),
    );

    // Devices, in CreateVM's order: bridges, console, image, vIOMMU, then the RNG.
    let pci_root = match spec.machine {
        MachineType::Q35 => Some("pcie.0"),
        MachineType::Pc => Some("pci.0"),
        MachineType::Microvm => None,
    };
    if let Some(bus) = pci_root {
        for i in 0..spec.bridges {
            a.opt(
                "-device",
                format!(
                    "pci-bridge,bus={bus},id=pci-bridge-{i},chassis_nr={},shpc=off,addr={:x},io-reserve=4k,mem-reserve=1m,pref64-reserve=1m",
                    i + 1,
                    2 + i
                ),
            );
        }
    }
    // Virtio devices sit on PCI except on microvm, which has virtio-mmio only.
    let pci = pci_root.is_some();
    let modern = if env.nested {
        ",disable-modern=true"
    } else {
        ",disable-modern=false"
    };
    if spec.legacy_serial {
        a.opt("-serial", "chardev:charconsole0");
    } else if pci {
        a.opt("-device", format!("virtio-serial-pci{modern},id=serial0"));
        a.opt(
            "-device",
            "virtconsole,chardev=charconsole0,id=console0".to_string(),
        );
    } else {
        a.opt("-device", "virtio-serial-device,id=serial0".to_string());
        a.opt(
            "-device",
            "virtconsole,chardev=charconsole0,id=console0".to_string(),
        );
    }
    a.opt("-chardev", "stdio,id=charconsole0,signal=off".to_string());
    if let Some(path) = image {
        if nvdimm_image {
            a.opt(
                "-device",
                "nvdimm,id=nv0,memdev=mem0,unarmed=on".to_string(),
            );
            let mut object = opt_path("memory-backend-file,id=mem0,mem-path=", path);
            object.push(format!(",size={},readonly=on", env.image_size.unwrap_or(0)));
            a.opt("-object", object);
        } else {
            let bus = if pci {
                "virtio-blk-pci"
            } else {
                "virtio-blk-device"
            };
            a.opt(
                "-device",
                format!("{bus},drive=image0,scsi=off,config-wce=off,share-rw=on"),
            );
            let mut drive = opt_path("id=image0,file=", path);
            drive.push(",aio=threads,format=raw,if=none,readonly=on");
            a.opt("-drive", drive);
        }
    }
    if spec.iommu {
        a.opt(
            "-device",
            "intel-iommu,intremap=on,device-iotlb=on,caching-mode=on".to_string(),
        );
    }
    a.opt(
        "-object",
        opt_path("rng-random,id=rng0,filename=", &spec.entropy_source),
    );
    a.opt(
        "-device",
        if pci {
            "virtio-rng-pci,rng=rng0".to_string()
        } else {
            "virtio-rng-device,rng=rng0".to_string()
        },
    );

    a.opt("-rtc", "base=utc,driftfix=slew,clock=host".to_string());
    a.opt("-global", "kvm-pit.lost_tick_policy=discard".to_string());
    for pflash in &spec.pflashes {
        a.opt("-pflash", pflash.as_os_str().to_os_string());
    }
    a.opt("-vga", "none".to_string());
    a.flag("-no-user-config");
    a.flag("-nodefaults");
    a.flag("-nographic");
    a.flag("--no-reboot");
    // The guest's RAM as a memory backend (govmm appendMemoryKnobs): a NUMA node on q35, the
    // machine's memory-backend on microvm (which has no NUMA).
    a.opt(
        "-object",
        format!("memory-backend-ram,id=dimm1,size={}M", spec.memory_mib),
    );
    if pci {
        a.opt("-numa", "node,memdev=dimm1".to_string());
    } else {
        a.opt("-machine", "memory-backend=dimm1".to_string());
    }
    a.opt("-kernel", spec.kernel.as_os_str().to_os_string());
    if let Some(BootAsset::Initrd(initrd)) = &spec.boot {
        a.opt("-initrd", initrd.as_os_str().to_os_string());
    }
    a.opt("-append", kernel_cmdline(spec, accel, env));
    if let Some(firmware) = &spec.firmware {
        a.opt("-bios", firmware.as_os_str().to_os_string());
    }
    if let Some(sandbox) = &spec.seccomp_sandbox {
        a.opt("-sandbox", sandbox.clone());
    }
    let max = max_vcpus(spec, env);
    a.opt(
        "-smp",
        format!(
            "{},cores=1,threads=1,sockets={max},maxcpus={max}",
            spec.vcpus
        ),
    );
    a.0
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::spec::SmokeOverrides;

    fn env() -> LaunchEnv {
        LaunchEnv {
            name: "hvguard-smoke".into(),
            host_cpus: 2,
            host_memory_mib: 24105,
            nested: true,
            tsc_khz: Some(2_596_124),
            image_size: Some(268_435_456),
        }
    }

    fn spec() -> SmokeSpec {
        SmokeSpec::standalone(&SmokeOverrides {
            kernel: Some("/cache/vmlinuz".into()),
            boot: Some(BootAsset::Initrd("/cache/initramfs.cpio.gz".into())),
            ..SmokeOverrides::default()
        })
        .unwrap()
    }

    fn joined(v: &[OsString]) -> String {
        v.iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn kata_defaults_under_kvm() {
        let mut s = spec();
        s.cpu_features = "pmu=off".into();
        s.seccomp_sandbox = Some(hvguard_core::hardening::QEMU_SECCOMP_SANDBOX.into());
        let line = joined(&qemu_argv(&s, Accel::Kvm, &env()));
        assert_eq!(
            line,
            "-name sandbox-hvguard-smoke -machine q35,accel=kvm -cpu host,pmu=off \
             -m 2048M,slots=10,maxmem=24105M \
             -device pci-bridge,bus=pcie.0,id=pci-bridge-0,chassis_nr=1,shpc=off,addr=2,io-reserve=4k,mem-reserve=1m,pref64-reserve=1m \
             -device virtio-serial-pci,disable-modern=true,id=serial0 \
             -device virtconsole,chardev=charconsole0,id=console0 \
             -chardev stdio,id=charconsole0,signal=off \
             -object rng-random,id=rng0,filename=/dev/urandom -device virtio-rng-pci,rng=rng0 \
             -rtc base=utc,driftfix=slew,clock=host -global kvm-pit.lost_tick_policy=discard \
             -vga none -no-user-config -nodefaults -nographic --no-reboot \
             -object memory-backend-ram,id=dimm1,size=2048M -numa node,memdev=dimm1 \
             -kernel /cache/vmlinuz -initrd /cache/initramfs.cpio.gz \
             -append tsc=reliable no_timer_check rcupdate.rcu_expedited=1 i8042.direct=1 i8042.dumbkbd=1 i8042.nopnp=1 i8042.noaux=1 noreplace-smp reboot=k cryptomgr.notests net.ifnames=0 pci=lastbus=0 console=hvc0 console=hvc1 quiet panic=1 nr_cpus=2 selinux=0 \
             -sandbox on,obsolete=deny,spawn=deny,resourcecontrol=deny \
             -smp 1,cores=1,threads=1,sockets=2,maxcpus=2"
        );
    }

    #[test]
    fn tcg_microvm_iommu_image_and_params() {
        let mut s = spec();
        s.machine = MachineType::Microvm;
        s.kernel_params = "hvguard.test=hang".into();
        let line = joined(&qemu_argv(&s, Accel::Tcg, &env()));
        assert!(line.contains("-machine microvm,accel=tcg "), "{line}");
        assert!(line.contains("-cpu max "), "{line}");
        assert!(
            line.contains("-device virtio-serial-device,id=serial0"),
            "{line}"
        );
        assert!(
            line.contains("-device virtio-rng-device,rng=rng0"),
            "{line}"
        );
        assert!(line.contains("-machine memory-backend=dimm1"), "{line}");
        assert!(!line.contains("pci-bridge"), "{line}");
        assert!(
            line.contains("selinux=0 tsc_early_khz=2596124 hvguard.test=hang"),
            "{line}"
        );

        let mut s = spec();
        s.iommu = true;
        s.legacy_serial = true;
        s.boot = Some(BootAsset::Image("/a,b/kata.img".into()));
        let line = joined(&qemu_argv(&s, Accel::Kvm, &env()));
        assert!(
            line.contains("-machine q35,accel=kvm,kernel_irqchip=split,nvdimm=on "),
            "{line}"
        );
        assert!(line.contains("-serial chardev:charconsole0"), "{line}");
        assert!(
            line.contains("-device intel-iommu,intremap=on,device-iotlb=on,caching-mode=on"),
            "{line}"
        );
        assert!(
            line.contains(
                "memory-backend-file,id=mem0,mem-path=/a,,b/kata.img,size=268435456,readonly=on"
            ),
            "{line}"
        );
        assert!(
            line.contains("intel_iommu=on iommu=pt root=/dev/pmem0p1 rootflags=dax,data=ordered,errors=remount-ro ro rootfstype=ext4 console=ttyS0 quiet systemd.show_status=false"),
            "{line}"
        );
        assert!(!line.contains("-initrd"), "{line}");
    }

    #[test]
    fn explicit_limits_are_kept_below_the_host() {
        let mut s = spec();
        s.vcpus = 1;
        s.max_vcpus = Some(1);
        s.max_memory_mib = Some(4096);
        let line = joined(&qemu_argv(&s, Accel::Kvm, &env()));
        assert!(
            line.contains("-smp 1,cores=1,threads=1,sockets=1,maxcpus=1"),
            "{line}"
        );
        assert!(line.contains("maxmem=4096M"), "{line}");
        s.max_memory_mib = Some(1 << 30);
        let line = joined(&qemu_argv(&s, Accel::Kvm, &env()));
        assert!(line.contains("maxmem=24105M"), "{line}");
    }
}
