//! Go's `filepath.Match` and `filepath.Glob`, as containerd applies them to `imports`.
//!
//! The pattern syntax is [`hvguard_core::glob`]'s Go dialect. A malformed pattern is an error
//! for the whole pattern, even where a match would have failed earlier, and Go's `Glob` then
//! returns that error: containerd does not start. Matches are listed directory by directory
//! in byte order of the names, each joined to its folder with `filepath.Join`.

use crate::containerd::paths::{go_join, host_path_of, split_last};
use crate::files::list_dir;
use hvguard_core::glob::{Dialect, Pattern, PatternError};
use hvguard_core::HostRoot;

/// The pattern is malformed (Go's `filepath.ErrBadPattern`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadPattern;

impl std::fmt::Display for BadPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("syntax error in pattern")
    }
}

impl From<PatternError> for BadPattern {
    fn from(_: PatternError) -> Self {
        BadPattern
    }
}

/// True when `s` holds a character that makes `filepath.Glob` match rather than look up.
pub fn has_magic(s: &str) -> bool {
    s.contains(['*', '?', '[', '\\'])
}

/// One path component pattern, as Go's `filepath.Match` reads it.
fn component(text: &str) -> Result<Pattern, BadPattern> {
    Ok(Pattern::parse(text, Dialect::Go)?)
}

/// Go's `filepath.Glob(pattern)` for a path as containerd names it, looking at the host
/// under `root` (a relative pattern is relative to `/`, the daemon's working directory under
/// systemd). Results keep the pattern's form: relative in, relative out.
pub fn glob(root: &HostRoot, pattern: &str) -> Result<Vec<String>, BadPattern> {
    let components: Vec<&str> = pattern.split('/').collect();
    for part in &components {
        component(part)?;
    }
    if !has_magic(pattern) {
        let exists = root.symlink_metadata(host_path_of(pattern)).is_ok();
        return Ok(if exists {
            vec![pattern.to_string()]
        } else {
            Vec::new()
        });
    }
    let (dir, file) = split_last(pattern);
    let dir = match dir {
        "" => ".",
        "/" => "/",
        d => &d[..d.len() - 1],
    };
    let dirs = if has_magic(dir) {
        if dir == pattern {
            return Err(BadPattern);
        }
        glob(root, dir)?
    } else {
        vec![dir.to_string()]
    };
    let wanted = component(file)?;
    let mut out = Vec::new();
    for d in dirs {
        let host = host_path_of(&d);
        if !root.metadata(&host).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        // Import paths are TOML strings, so a name that is not UTF-8 can only be reached by
        // a glob; containerd would read it, but hvguard's loader names files by their text.
        // It is left out here and the containerd scan's file list shows what was read.
        let names = list_dir(root, &host).unwrap_or_default();
        out.extend(
            names
                .iter()
                .filter_map(|n| n.to_str())
                .filter(|n| wanted.matches(n))
                .map(|n| go_join(&d, n)),
        );
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn globs_under_a_root_keep_the_pattern_form() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc/containerd/conf.d")).unwrap();
        for n in ["b.toml", "a.toml", "c.txt"] {
            std::fs::write(dir.path().join("etc/containerd/conf.d").join(n), "").unwrap();
        }
        let root = HostRoot::new(dir.path()).unwrap();
        assert_eq!(
            glob(&root, "/etc/containerd/conf.d/*.toml").unwrap(),
            [
                "/etc/containerd/conf.d/a.toml",
                "/etc/containerd/conf.d/b.toml"
            ]
        );
        assert_eq!(
            glob(&root, "etc/*/conf.d/a.*").unwrap(),
            ["etc/containerd/conf.d/a.toml"]
        );
        assert!(glob(&root, "/etc/*/nothing*.toml").unwrap().is_empty());
        assert_eq!(
            glob(&root, "/etc/containerd/conf.d/a.toml").unwrap(),
            ["/etc/containerd/conf.d/a.toml"]
        );
        assert_eq!(glob(&root, "/etc/[/x*"), Err(BadPattern));
    }
}
