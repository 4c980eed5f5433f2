//! One name per setting, whichever runtime's spelling a file uses.
//!
//! The Go runtime and runtime-rs read mostly the same keys. Where runtime-rs spells a setting
//! differently *with the same meaning and unit*, the runtime-rs key is mapped onto the Go key,
//! so rules look a setting up once. Pairs whose units differ (`dial_timeout` seconds vs
//! `dial_timeout_ms`, `cdh_api_timeout` vs `cdh_api_timeout_ms`,
//! `vhost_user_reconnect_timeout_sec` vs `reconnect_timeout_ms`) are deliberately *not*
//! aliased: a rule comparing numbers must know which unit it reads.

use hvguard_core::KEY_SPELLINGS;

/// The canonical dotted key for `key`, or `None` when `key` already is canonical. The
/// spellings come from [`hvguard_core::KEY_SPELLINGS`], the one table the rules read too.
pub fn canonical_key(key: &str) -> Option<String> {
    let (parent, leaf) = key.rsplit_once('.')?;
    KEY_SPELLINGS
        .iter()
        .filter(|s| s.runtime_rs != s.canonical)
        .find_map(|s| {
            let in_section = parent
                .strip_prefix(s.section)
                .is_some_and(|section| !section.is_empty());
            (leaf == s.runtime_rs && in_section).then(|| format!("{parent}.{}", s.canonical))
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
