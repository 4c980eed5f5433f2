//! The products an advisory can name, and the mappings from feed vocabularies
//! (CPE vendor:product, package names, crate names) onto them.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What an advisory affects.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Product {
    /// QEMU (upstream or a distro's `qemu` source package).
    Qemu,
    /// AWS Firecracker.
    Firecracker,
    /// Cloud Hypervisor.
    CloudHypervisor,
    /// Kata Containers (runtime, agent, guest image, shim).
    Kata,
    /// virtiofsd (the Rust daemon; QEMU's old C one is QEMU).
    Virtiofsd,
    /// Huawei StratoVirt.
    StratoVirt,
    /// A rust-vmm crate, named (`vm-memory`, `kvm-ioctls`, ...).
    RustVmm(String),
    /// Anything else, as the feed named it (`crates.io/foo`, `cpe:vendor:product`).
    Other(String),
}

/// rust-vmm crates that Firecracker, Cloud Hypervisor and Dragonball build on.
const RUST_VMM_CRATES: &[&str] = &[
    "acpi_tables",
    "event-manager",
    "kvm-bindings",
    "kvm-ioctls",
    "linux-loader",
    "seccompiler",
    "vfio-bindings",
    "vfio-ioctls",
    "vhost",
    "vhost-user-backend",
    "virtio-bindings",
    "virtio-queue",
    "virtio-vsock",
    "vm-allocator",
    "vm-fdt",
    "vm-memory",
    "vm-superio",
    "vmm-sys-util",
];

impl Product {
    /// The product's stable name (`qemu`, `cloud-hypervisor`, `rust-vmm:vm-memory`).
    pub fn name(&self) -> String {
        match self {
            Product::Qemu => "qemu".into(),
            Product::Firecracker => "firecracker".into(),
            Product::CloudHypervisor => "cloud-hypervisor".into(),
            Product::Kata => "kata-containers".into(),
            Product::Virtiofsd => "virtiofsd".into(),
            Product::StratoVirt => "stratovirt".into(),
            Product::RustVmm(c) => format!("rust-vmm:{c}"),
            Product::Other(o) => format!("other:{o}"),
        }
    }

    /// `text` as this product's releases order: QEMU names the development tree after a
    /// release `x.y.50` and its release candidates `x.y.90`, `x.y.91`, ... although they
    /// lead to the *next* release, so `8.2.90` is `9.0.0-rc0` and `8.2.50` is `9.0.0-dev`
    /// (`dev` sorts before `rc`). Other products' numbers are already ordered.
    pub fn canonical_version<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if *self != Product::Qemu {
            return Cow::Borrowed(text);
        }
        qemu_canonical(text).map_or(Cow::Borrowed(text), Cow::Owned)
    }

    /// Maps a package, source-package or project name onto a product. Binary packages of
    /// QEMU (`qemu-system-x86`, `qemu-kvm`, `qemu-utils`) are QEMU.
    pub fn from_package_name(name: &str) -> Option<Product> {
        let n = name.trim().to_ascii_lowercase();
        let product = match n.as_str() {
            "qemu" | "qemu-kvm" | "qemu-kvm-ma" | "qemu-kvm-rhev" => Product::Qemu,
            "firecracker" => Product::Firecracker,
            "cloud-hypervisor" | "cloud_hypervisor" | "cloudhypervisor" => Product::CloudHypervisor,
            "kata-containers" | "kata containers" | "kata-runtime" | "kata-agent" => Product::Kata,
            "virtiofsd" => Product::Virtiofsd,
            "stratovirt" => Product::StratoVirt,
            other if other.starts_with("qemu-") => Product::Qemu,
            other if RUST_VMM_CRATES.contains(&other) => Product::RustVmm(other.to_owned()),
            _ => return None,
        };
        Some(product)
    }

    /// Maps a crates.io crate name: rust-vmm crates by name, the VMMs by their crate names.
    pub fn from_crate_name(name: &str) -> Product {
        match name {
            "firecracker" => Product::Firecracker,
            "cloud-hypervisor" => Product::CloudHypervisor,
            "virtiofsd" => Product::Virtiofsd,
            _ if RUST_VMM_CRATES.contains(&name) => Product::RustVmm(name.to_owned()),
            _ => Product::Other(format!("crates.io/{name}")),
        }
    }

    /// Maps a CPE 2.3 vendor and product, as NVD writes them. The pairs were read from the
    /// real NVD records (`qemu:qemu`, `amazon:firecracker`, `katacontainers:runtime`,
    /// `katacontainers:kata-containers`, `vm-memory_project:vm-memory`).
    pub fn from_cpe(vendor: &str, product: &str) -> Option<Product> {
        let mapped = match (vendor, product) {
            ("qemu", "qemu") => Product::Qemu,
            ("amazon", "firecracker") | ("firecracker-microvm", "firecracker") => {
                Product::Firecracker
            }
            (_, "cloud_hypervisor") | (_, "cloud-hypervisor") => Product::CloudHypervisor,
            ("katacontainers", _) => Product::Kata,
            (_, "virtiofsd") => Product::Virtiofsd,
            (_, "stratovirt") => Product::StratoVirt,
            (v, p) if v == format!("{p}_project") && RUST_VMM_CRATES.contains(&p) => {
                Product::RustVmm(p.to_owned())
            }
            _ => return None,
        };
        Some(mapped)
    }
}

/// The QEMU release after `major.minor`. Yearly x.0/x.1/x.2 since 4.0; before that 3.0 and
/// 3.1 led to 4.0, 2.12 to 3.0, 1.7 to 2.0 and 0.15 to 1.0 (QEMU's release history,
/// https://wiki.qemu.org/ChangeLog).
fn next_qemu_release(major: u64, minor: u64) -> (u64, u64) {
    match (major, minor) {
        (0, 15) | (1, 7) | (2, 12) | (3, 1) => (major + 1, 0),
        (m, n) if m >= 4 && n >= 2 => (m + 1, 0),
        (m, n) => (m, n + 1),
    }
}

fn qemu_canonical(text: &str) -> Option<String> {
    let body = text.trim().trim_start_matches(['v', 'V']);
    let mut parts = body.split('.');
    let major = parts.next()?.parse::<u64>().ok()?;
    let minor = parts.next()?.parse::<u64>().ok()?;
    let micro = parts.next()?.parse::<u64>().ok()?;
    if parts.next().is_some() {
        return None;
    }
    let (next_major, next_minor) = next_qemu_release(major, minor);
    match micro {
        90.. => Some(format!("{next_major}.{next_minor}.0-rc{}", micro - 90)),
        50..=89 => Some(format!("{next_major}.{next_minor}.0-dev")),
        _ => None,
    }
}

impl fmt::Display for Product {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// A product name that is empty or malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown product name {0:?}")]
pub struct ProductParseError(pub String);

impl FromStr for Product {
    type Err = ProductParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(c) = s.strip_prefix("rust-vmm:") {
            if !c.is_empty() {
                return Ok(Product::RustVmm(c.to_owned()));
            }
        }
        if let Some(o) = s.strip_prefix("other:") {
            if !o.is_empty() {
                return Ok(Product::Other(o.to_owned()));
            }
        }
        match s {
            "qemu" => Ok(Product::Qemu),
            "firecracker" => Ok(Product::Firecracker),
            "cloud-hypervisor" => Ok(Product::CloudHypervisor),
            "kata-containers" => Ok(Product::Kata),
            "virtiofsd" => Ok(Product::Virtiofsd),
            "stratovirt" => Ok(Product::StratoVirt),
            _ => Err(ProductParseError(s.to_owned())),
        }
    }
}

impl Serialize for Product {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for Product {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in [
            Product::Qemu,
            Product::Firecracker,
            Product::CloudHypervisor,
            Product::Kata,
            Product::Virtiofsd,
            Product::StratoVirt,
            Product::RustVmm("vm-memory".into()),
            Product::Other("crates.io/foo".into()),
        ] {
            assert_eq!(p.name().parse::<Product>(), Ok(p.clone()));
        }
        assert!("".parse::<Product>().is_err());
        assert!("rust-vmm:".parse::<Product>().is_err());
    }

    #[test]
    fn qemu_development_and_release_candidate_numbers() {
        let c = |t: &str| Product::Qemu.canonical_version(t).into_owned();
        assert_eq!(c("8.2.90"), "9.0.0-rc0");
        assert_eq!(c("8.2.93"), "9.0.0-rc3");
        assert_eq!(c("9.0.90"), "9.1.0-rc0");
        assert_eq!(c("6.1.50"), "6.2.0-dev");
        assert_eq!(c("5.2.50"), "6.0.0-dev");
        assert_eq!(c("3.1.90"), "4.0.0-rc0");
        assert_eq!(c("2.12.90"), "3.0.0-rc0");
        assert_eq!(c("3.0.50"), "3.1.0-dev");
        assert_eq!(c("7.2.22"), "7.2.22");
        assert_eq!(c("8.2.0-rc1"), "8.2.0-rc1");
        assert_eq!(Product::Firecracker.canonical_version("1.0.90"), "1.0.90");
        let order = |a: &str, b: &str| {
            let up = |t: &str| crate::Version::parse(crate::VersionScheme::Upstream, &c(t));
            match (up(a), up(b)) {
                (Ok(a), Ok(b)) => a.compare(&b),
                _ => None,
            }
        };
        use std::cmp::Ordering::{Greater, Less};
        assert_eq!(order("8.2.90", "8.2.10"), Some(Greater));
        assert_eq!(order("8.2.90", "9.0.0"), Some(Less));
        assert_eq!(order("8.2.50", "8.2.90"), Some(Less));
    }

    #[test]
    fn package_and_cpe_mappings() {
        assert_eq!(
            Product::from_package_name("qemu-system-x86"),
            Some(Product::Qemu)
        );
        assert_eq!(Product::from_package_name("QEMU"), Some(Product::Qemu));
        assert_eq!(Product::from_package_name("prototypejs"), None);
        assert_eq!(Product::from_cpe("qemu", "qemu"), Some(Product::Qemu));
        assert_eq!(
            Product::from_cpe("amazon", "firecracker"),
            Some(Product::Firecracker)
        );
        assert_eq!(
            Product::from_cpe("katacontainers", "runtime"),
            Some(Product::Kata)
        );
        assert_eq!(
            Product::from_cpe("vm-memory_project", "vm-memory"),
            Some(Product::RustVmm("vm-memory".into()))
        );
        assert_eq!(Product::from_cpe("redhat", "enterprise_linux"), None);
        assert_eq!(
            Product::from_crate_name("kvm-ioctls"),
            Product::RustVmm("kvm-ioctls".into())
        );
    }
}
