//! One name per setting, whichever runtime's spelling a file uses.
//!
//! The Go runtime and runtime-rs read mostly the same keys. Where runtime-rs spells a setting
//! differently *with the same meaning and unit*, the runtime-rs key is mapped onto the Go key,
//! so rules look a setting up once. Pairs whose units differ (`dial_timeout` seconds vs
//! `dial_timeout_ms`, `cdh_api_timeout` vs `cdh_api_timeout_ms`,
//! `vhost_user_reconnect_timeout_sec` vs `reconnect_timeout_ms`) are deliberately *not*
//! aliased: a rule comparing numbers must know which unit it reads.

/// `(section prefix, runtime-rs leaf, canonical leaf)`.
///
/// Verified against the rendered runtime-rs configurations of Kata 3.20.0 and main and
/// `src/libs/kata-types/src/config/hypervisor/mod.rs` (`SecurityInfo::seccomp_sandbox`).
pub const ALIASES: &[(&str, &str, &str)] = &[("hypervisor.", "seccomp_sandbox", "seccompsandbox")];

/// The canonical dotted key for `key`, or `None` when `key` already is canonical.
pub fn canonical_key(key: &str) -> Option<String> {
    let (parent, leaf) = key.rsplit_once('.')?;
    ALIASES.iter().find_map(|(prefix, alias, canonical)| {
        let in_section = parent
            .strip_prefix(prefix)
            .is_some_and(|section| !section.is_empty());
        (leaf == *alias && in_section).then(|| format!("{parent}.{canonical}"))
    })
}

/// True when `key` is spelled the way only runtime-rs spells it.
pub fn is_runtime_rs_spelling(key: &str) -> bool {
    canonical_key(key).is_some()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn runtime_rs_seccomp_maps_to_go_spelling() {
        assert_eq!(
            canonical_key("hypervisor.qemu.seccomp_sandbox").as_deref(),
            Some("hypervisor.qemu.seccompsandbox")
        );
    }

    #[test]
    fn canonical_and_unrelated_keys_stay() {
        assert_eq!(canonical_key("hypervisor.qemu.seccompsandbox"), None);
        assert_eq!(canonical_key("runtime.seccomp_sandbox"), None);
        assert_eq!(canonical_key("seccomp_sandbox"), None);
        assert_eq!(canonical_key("hypervisor.seccomp_sandbox"), None);
    }
}
