//! Kata configurations built in memory, for the unit tests of code that reads them.

use hvguard_core::{ConfigValue, KataConfig, KataRuntime, SourcedValue};
use std::path::PathBuf;

/// Where [`config`] says its values were read.
pub const CONFIG_PATH: &str = "/etc/kata-containers/configuration.toml";

/// A Go-runtime configuration read from [`CONFIG_PATH`] alone, holding `pairs` (full dotted
/// keys, `hypervisor.qemu.path`), each on its own line from line 10 on, in the order given.
pub fn config(pairs: &[(&str, ConfigValue)]) -> KataConfig {
    let values = pairs
        .iter()
        .zip(10..)
        .map(|((key, value), line)| {
            let sourced = SourcedValue {
                value: value.clone(),
                path: PathBuf::from(CONFIG_PATH),
                line,
                column: 1,
            };
            (key.to_string(), sourced)
        })
        .collect();
    KataConfig {
        runtime: KataRuntime::Go,
        main: PathBuf::from(CONFIG_PATH),
        dropins: Vec::new(),
        runtime_classes: Vec::new(),
        files: Vec::new(),
        values,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_sit_on_consecutive_lines_of_the_main_file() {
        let c = config(&[
            ("hypervisor.qemu.path", ConfigValue::String("/q".into())),
            ("runtime.enable_debug", ConfigValue::Bool(true)),
        ]);
        let lines: Vec<(&str, u32)> = c.values.iter().map(|(k, v)| (k.as_str(), v.line)).collect();
        assert_eq!(
            lines,
            [("hypervisor.qemu.path", 10), ("runtime.enable_debug", 11)]
        );
        assert!(c.values.values().all(|v| v.path == c.main && v.column == 1));
        assert_eq!(c.runtime, KataRuntime::Go);
    }
}
