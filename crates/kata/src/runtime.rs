//! Which Kata runtime reads a file, when nothing else says so.
//!
//! Evidence, strongest first: a `runtime-rs` folder in the path; a runtime-rs file name
//! (`*-runtime-rs.toml`, `configuration-rs-*.toml`, `configuration-dragonball.toml`, since
//! Dragonball is built into runtime-rs only); runtime-rs-only keys (`[runtime] name`,
//! `hypervisor_name`, `agent_name`, a `[hypervisor.dragonball]` section, or a runtime-rs
//! spelling such as `seccomp_sandbox`). Anything else is the Go runtime, the default shim.

use crate::load::ParsedConfig;
use hvguard_core::KataRuntime;
use std::path::Path;

/// Keys only runtime-rs reads.
const RS_ONLY_KEYS: &[&str] = &[
    "runtime.name",
    "runtime.hypervisor_name",
    "runtime.agent_name",
];

/// Guesses the runtime from where the file is and what it says.
pub fn guess_runtime(path: &Path, parsed: &ParsedConfig) -> KataRuntime {
    if path_says_runtime_rs(path)
        || parsed.runtime_rs_spelling
        || RS_ONLY_KEYS.iter().any(|k| parsed.values.contains_key(*k))
        || parsed
            .values
            .keys()
            .any(|k| k.starts_with("hypervisor.dragonball."))
    {
        KataRuntime::Rs
    } else {
        KataRuntime::Go
    }
}

/// True when the path alone marks a runtime-rs configuration.
pub fn path_says_runtime_rs(path: &Path) -> bool {
    if path.components().any(|c| c.as_os_str() == "runtime-rs") {
        return true;
    }
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    name.ends_with("-runtime-rs.toml")
        || name.starts_with("configuration-rs-")
        || name == "configuration-dragonball.toml"
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::load::parse_config_str;

    fn guess(path: &str, text: &str) -> KataRuntime {
        let p = Path::new(path);
        guess_runtime(p, &parse_config_str(p, text).unwrap())
    }

    #[test]
    fn folder_and_names_mark_runtime_rs() {
        assert_eq!(
            guess("/etc/kata-containers/runtime-rs/configuration.toml", ""),
            KataRuntime::Rs
        );
        assert_eq!(
            guess("/x/configuration-qemu-runtime-rs.toml", ""),
            KataRuntime::Rs
        );
        assert_eq!(guess("/x/configuration-rs-fc.toml", ""), KataRuntime::Rs);
        assert_eq!(
            guess("/x/configuration-dragonball.toml", ""),
            KataRuntime::Rs
        );
        assert_eq!(guess("/x/configuration-qemu.toml", ""), KataRuntime::Go);
    }

    #[test]
    fn keys_mark_runtime_rs() {
        assert_eq!(
            guess("/x/c.toml", "[runtime]\nname = \"virt_container\"\n"),
            KataRuntime::Rs
        );
        assert_eq!(
            guess("/x/c.toml", "[hypervisor.qemu]\nseccomp_sandbox = \"\"\n"),
            KataRuntime::Rs
        );
        assert_eq!(
            guess("/x/c.toml", "[hypervisor.qemu]\nseccompsandbox = \"\"\n"),
            KataRuntime::Go
        );
    }
}
