//! Where the store lives when `--db` is not given.

use std::path::{Path, PathBuf};

use super::StoreError;

/// The system-wide store, used when running as root.
pub const SYSTEM_STORE: &str = "/var/lib/hvguard/advisories.db";

/// The store path: `explicit` when given, else [`SYSTEM_STORE`] for root, else
/// `$XDG_DATA_HOME/hvguard/advisories.db` or `~/.local/share/hvguard/advisories.db`.
pub fn store_path(explicit: Option<&Path>) -> Result<PathBuf, StoreError> {
    if let Some(path) = explicit {
        return Ok(path.to_path_buf());
    }
    let is_root = rustix::process::geteuid().is_root();
    store_path_for(
        is_root,
        std::env::var_os("XDG_DATA_HOME").map(PathBuf::from),
        std::env::var_os("HOME").map(PathBuf::from),
    )
}

/// [`store_path`]'s decision with its inputs made explicit, so it can be tested.
pub fn store_path_for(
    is_root: bool,
    xdg_data_home: Option<PathBuf>,
    home: Option<PathBuf>,
) -> Result<PathBuf, StoreError> {
    if is_root {
        return Ok(PathBuf::from(SYSTEM_STORE));
    }
    // The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
    if let Some(xdg) = xdg_data_home.filter(|p| p.is_absolute()) {
        return Ok(xdg.join("hvguard").join("advisories.db"));
    }
    match home.filter(|p| p.is_absolute()) {
        Some(home) => Ok(home
            .join(".local")
            .join("share")
            .join("hvguard")
            .join("advisories.db")),
        None => Err(StoreError::NoLocation),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_uses_the_system_store() {
        let p = store_path_for(true, Some("/x".into()), Some("/home/a".into()));
        assert_eq!(p.ok(), Some(PathBuf::from(SYSTEM_STORE)));
    }

    #[test]
    fn users_use_xdg_then_home() {
        assert_eq!(
            store_path_for(false, Some("/data".into()), Some("/home/a".into())).ok(),
            Some(PathBuf::from("/data/hvguard/advisories.db"))
        );
        assert_eq!(
            store_path_for(false, Some("relative".into()), Some("/home/a".into())).ok(),
            Some(PathBuf::from("/home/a/.local/share/hvguard/advisories.db"))
        );
        assert!(matches!(
            store_path_for(false, None, None),
            Err(StoreError::NoLocation)
        ));
    }

    #[test]
    fn explicit_path_wins() {
        let p = store_path(Some(Path::new("/tmp/x.db")));
        assert_eq!(p.ok(), Some(PathBuf::from("/tmp/x.db")));
    }
}
