//! What the Kata configurations on the host ask of it: the context that raises or lowers the
//! severity of host facts (VFIO needs an IOMMU; confidential guests use SEV-SNP/TDX).

use hvguard_core::{ConfigValue, KataConfig, SourcedValue};
use std::fmt;
use std::path::PathBuf;

/// One configuration value that turns a feature on, with where it was set.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Enabler {
    pub key: String,
    pub value: String,
    pub path: PathBuf,
    pub line: u32,
}

impl Enabler {
    fn new(key: &str, value: &SourcedValue) -> Enabler {
        Enabler {
            key: key.to_string(),
            value: show(&value.value),
            path: value.path.clone(),
            line: value.line,
        }
    }
}

impl fmt::Display for Enabler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{} sets {} = {}",
            self.path.display(),
            self.line,
            self.key,
            self.value
        )
    }
}

fn show(value: &ConfigValue) -> String {
    match value {
        ConfigValue::String(s) => format!("{s:?}"),
        ConfigValue::Bool(b) => b.to_string(),
        ConfigValue::Integer(i) => i.to_string(),
        ConfigValue::Float(x) => x.to_string(),
        ConfigValue::Array(items) => {
            let inner: Vec<String> = items.iter().map(show).collect();
            format!("[{}]", inner.join(", "))
        }
    }
}

/// The `<option>` of a `hypervisor.<name>.<option>` key, for any hypervisor section.
fn hypervisor_option(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("hypervisor.")?;
    let (section, option) = rest.split_once('.')?;
    if section.is_empty() || option.contains('.') {
        return None;
    }
    Some(option)
}

/// Every value in every config that enables VFIO passthrough, in config then key order.
pub(super) fn vfio_enablers(configs: &[KataConfig]) -> Vec<Enabler> {
    let mut found = Vec::new();
    for config in configs {
        for (key, value) in &config.values {
            if hypervisor_option(key).is_some_and(|o| hvguard_core::enables_vfio(o, &value.value)) {
                found.push(Enabler::new(key, value));
            }
        }
    }
    found
}

/// Every `hypervisor.*.confidential_guest = true`, in config then key order.
pub(super) fn confidential_guests(configs: &[KataConfig]) -> Vec<Enabler> {
    let mut found = Vec::new();
    for config in configs {
        for (key, value) in &config.values {
            if hypervisor_option(key) == Some("confidential_guest")
                && value.value.as_bool() == Some(true)
            {
                found.push(Enabler::new(key, value));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use hvguard_testkit::kata::config;

    fn s(v: &str) -> ConfigValue {
        ConfigValue::String(v.to_string())
    }

    #[test]
    fn port_types_other_than_no_port_enable_vfio() {
        for (key, value, expected) in [
            ("hypervisor.qemu.hot_plug_vfio", s("root-port"), true),
            ("hypervisor.clh.cold_plug_vfio", s("bridge-port"), true),
            ("hypervisor.qemu.cold_plug_vfio", s("no-port"), false),
            ("hypervisor.qemu.hot_plug_vfio", s(""), false),
            (
                "hypervisor.qemu.hotplug_vfio_on_root_bus",
                ConfigValue::Bool(true),
                true,
            ),
            (
                "hypervisor.qemu.hotplug_vfio_on_root_bus",
                ConfigValue::Bool(false),
                false,
            ),
            // Only hypervisor sections count, and only the option itself.
            ("runtime.hot_plug_vfio", s("root-port"), false),
            ("hypervisor.qemu.hot_plug_vfio_extra", s("root-port"), false),
        ] {
            let found = vfio_enablers(&[config(&[(key, value)])]);
            assert_eq!(!found.is_empty(), expected, "{key}");
        }
    }

    #[test]
    fn enabler_names_file_line_and_value() {
        let found = vfio_enablers(&[config(&[(
            "hypervisor.qemu.cold_plug_vfio",
            s("root-port"),
        )])]);
        assert_eq!(
            found[0].to_string(),
            "/etc/kata-containers/configuration.toml:10 sets hypervisor.qemu.cold_plug_vfio = \"root-port\""
        );
    }

    #[test]
    fn confidential_guest_must_be_true_in_a_hypervisor_section() {
        let on = config(&[(
            "hypervisor.qemu.confidential_guest",
            ConfigValue::Bool(true),
        )]);
        let off = config(&[(
            "hypervisor.qemu.confidential_guest",
            ConfigValue::Bool(false),
        )]);
        let elsewhere = config(&[("runtime.confidential_guest", ConfigValue::Bool(true))]);
        assert_eq!(confidential_guests(&[on]).len(), 1);
        assert!(confidential_guests(&[off, elsewhere]).is_empty());
    }
}
