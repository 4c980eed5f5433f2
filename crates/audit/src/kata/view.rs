//! A read-only view of one merged Kata configuration: sections, both runtimes' key spellings,
//! and the location and evidence a finding cites.

use super::toml_text::value_to_toml;
use hvguard_core::{ConfigValue, KataConfig, KataRuntime, Location, SourcedValue, KEY_SPELLINGS};
use std::collections::BTreeSet;

/// A key found in the merged values, with the dotted spelling an operator would look for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Found<'a> {
    /// The dotted key as stored (the spelling that was written, or the loader's canonical one).
    pub key: &'a str,
    pub value: &'a SourcedValue,
}

impl<'a> Found<'a> {
    pub fn as_str(&self) -> Option<&'a str> {
        self.value.value.as_str()
    }

    pub fn as_bool(&self) -> Option<bool> {
        self.value.value.as_bool()
    }

    pub fn as_integer(&self) -> Option<i64> {
        self.value.value.as_integer()
    }

    /// The array's string elements; `None` when the value is not an array.
    pub fn strings(&self) -> Option<Vec<&'a str>> {
        self.value
            .value
            .as_array()
            .map(|items| items.iter().filter_map(ConfigValue::as_str).collect())
    }
}

/// One Kata configuration as the rules read it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConfigView<'a> {
    pub config: &'a KataConfig,
}

impl<'a> ConfigView<'a> {
    pub fn new(config: &'a KataConfig) -> Self {
        ConfigView { config }
    }

    pub fn runtime(&self) -> KataRuntime {
        self.config.runtime
    }

    /// Every `[hypervisor.<name>]` present after the merge, sorted.
    pub fn hypervisor_sections(&self) -> Vec<&'a str> {
        let names: BTreeSet<&str> = self
            .config
            .values
            .keys()
            .filter_map(|k| k.strip_prefix("hypervisor."))
            .filter_map(|rest| rest.split_once('.').map(|(name, _)| name))
            .collect();
        names.into_iter().collect()
    }

    /// Every `[agent.<name>]` present, sorted.
    pub fn agent_sections(&self) -> Vec<&'a str> {
        let names: BTreeSet<&str> = self
            .config
            .values
            .keys()
            .filter_map(|k| k.strip_prefix("agent."))
            .filter_map(|rest| rest.split_once('.').map(|(name, _)| name))
            .collect();
        names.into_iter().collect()
    }

    /// Looks `name` up in `section` (`hypervisor.qemu`, `runtime`), trying every spelling.
    pub fn get(&self, section: &str, name: &str) -> Option<Found<'a>> {
        spellings(name).into_iter().find_map(|spelling| {
            let key = format!("{section}.{spelling}");
            self.config
                .values
                .get_key_value(&key)
                .map(|(key, value)| Found { key, value })
        })
    }

    /// The dotted key this runtime reads for `name`: what a finding names when the key is
    /// missing, and what a hardening drop-in must set.
    pub fn spelling(&self, section: &str, name: &str) -> String {
        let leaf = match self.runtime() {
            KataRuntime::Go => name,
            KataRuntime::Rs => KEY_SPELLINGS
                .iter()
                .find(|s| s.canonical == name)
                .map_or(name, |s| s.runtime_rs),
        };
        format!("{section}.{leaf}")
    }

    /// The key a finding names for a value that was found: the loader may have normalised a
    /// runtime-rs spelling to the Go one, so runtime-rs configs are shown in their own spelling.
    pub fn written_key(&self, section: &str, name: &str, found: &Found<'_>) -> String {
        match self.runtime() {
            KataRuntime::Go => found.key.to_string(),
            KataRuntime::Rs => {
                let go_key = format!("{section}.{name}");
                if found.key == go_key {
                    self.spelling(section, name)
                } else {
                    found.key.to_string()
                }
            }
        }
    }

    /// True when `key` uses an alias spelling (`dbg_monitor_socket`): a fix must then set that
    /// same key, since runtime-rs rejects a table holding both an alias and its field.
    pub fn is_alias_key(&self, key: &str) -> bool {
        let leaf = key.rsplit('.').next().unwrap_or(key);
        KEY_SPELLINGS.iter().any(|s| s.aliases.contains(&leaf))
    }

    /// Where a found value was set.
    pub fn location(&self, key: &str, found: &Found<'_>) -> Location {
        Location {
            path: found.value.path.clone(),
            line: Some(found.value.line),
            key: Some(key.to_string()),
        }
    }

    /// Where a missing key would go: the main file, no line.
    pub fn missing_location(&self, key: &str) -> Location {
        Location {
            path: self.config.main.clone(),
            line: None,
            key: Some(key.to_string()),
        }
    }
}

/// Every spelling of `name`, the canonical (Go) one first.
fn spellings(name: &str) -> Vec<&str> {
    let mut out = vec![name];
    for s in KEY_SPELLINGS.iter().filter(|s| s.canonical == name) {
        if s.runtime_rs != name {
            out.push(s.runtime_rs);
        }
        out.extend(s.aliases.iter().copied());
    }
    out
}

/// `leaf = value` as TOML, for a finding's evidence.
pub(crate) fn evidence(key: &str, value: &ConfigValue) -> String {
    let leaf = key.rsplit('.').next().unwrap_or(key);
    format!("{leaf} = {}", value_to_toml(value))
}

/// Evidence for a key that is not set.
pub(crate) fn evidence_missing(key: &str, default: &str) -> String {
    let leaf = key.rsplit('.').next().unwrap_or(key);
    format!("{leaf}: not set (default: {default})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    fn config(runtime: KataRuntime, keys: &[(&str, ConfigValue)]) -> KataConfig {
        let values: BTreeMap<String, SourcedValue> = keys
            .iter()
            .enumerate()
            .map(|(i, (k, v))| {
                let line = u32::try_from(i).unwrap_or(0) + 1;
                let sv = SourcedValue {
                    value: v.clone(),
                    path: PathBuf::from("/etc/kata/c.toml"),
                    line,
                    column: 1,
                };
                (k.to_string(), sv)
            })
            .collect();
        KataConfig {
            runtime,
            main: PathBuf::from("/etc/kata/c.toml"),
            dropins: vec![],
            runtime_classes: vec![],
            files: vec![],
            values,
        }
    }

    #[test]
    fn finds_both_spellings_and_names_the_runtime_one() {
        let rs = config(
            KataRuntime::Rs,
            &[(
                "hypervisor.qemu.seccomp_sandbox",
                ConfigValue::String(String::new()),
            )],
        );
        let view = ConfigView::new(&rs);
        let found = view.get("hypervisor.qemu", "seccompsandbox").unwrap();
        assert_eq!(found.key, "hypervisor.qemu.seccomp_sandbox");
        assert_eq!(
            view.spelling("hypervisor.qemu", "seccompsandbox"),
            "hypervisor.qemu.seccomp_sandbox"
        );

        // The loader may hand runtime-rs values over under the Go spelling.
        let normalised = config(
            KataRuntime::Rs,
            &[(
                "hypervisor.qemu.seccompsandbox",
                ConfigValue::String(String::new()),
            )],
        );
        let view = ConfigView::new(&normalised);
        let found = view.get("hypervisor.qemu", "seccompsandbox").unwrap();
        assert_eq!(
            view.written_key("hypervisor.qemu", "seccompsandbox", &found),
            "hypervisor.qemu.seccomp_sandbox"
        );
    }

    #[test]
    fn lists_sections_including_runtime_rs_factory_subtables() {
        let c = config(
            KataRuntime::Rs,
            &[
                (
                    "hypervisor.dragonball.factory.enable_template",
                    ConfigValue::Bool(false),
                ),
                (
                    "hypervisor.dragonball.path",
                    ConfigValue::String(String::new()),
                ),
                ("hypervisor.qemu.path", ConfigValue::String("/q".into())),
                ("agent.kata.enable_debug", ConfigValue::Bool(true)),
            ],
        );
        let view = ConfigView::new(&c);
        assert_eq!(view.hypervisor_sections(), vec!["dragonball", "qemu"]);
        assert_eq!(view.agent_sections(), vec!["kata"]);
    }

    #[test]
    fn evidence_is_toml() {
        assert_eq!(
            evidence(
                "hypervisor.qemu.seccompsandbox",
                &ConfigValue::String(String::new())
            ),
            "seccompsandbox = \"\""
        );
        assert_eq!(
            evidence_missing("hypervisor.qemu.rootless", "false"),
            "rootless: not set (default: false)"
        );
    }
}
