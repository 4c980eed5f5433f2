//! The small part of shell globbing containerd `imports` use (Go's `filepath.Glob`):
//! `*`, `?` and `[...]` classes, in any path component, never crossing a `/`.

use crate::files::list_dir;
use hvguard_core::HostRoot;
use std::path::{Component, Path, PathBuf};

/// True when `s` holds a glob metacharacter.
pub fn has_magic(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Matches one path component against one pattern component.
pub fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_from(&p, &n)
}

fn match_from(p: &[char], n: &[char]) -> bool {
    // Iterative with one backtrack point for `*`: linear in practice, no recursion depth.
    let (mut pi, mut ni) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
                continue;
            }
            Some('?') => {
                pi += 1;
                ni += 1;
                continue;
            }
            Some('[') => {
                if let Some((ok, len)) = class(&p[pi..], n[ni]) {
                    if ok {
                        pi += len;
                        ni += 1;
                        continue;
                    }
                } else if n[ni] == '[' {
                    pi += 1;
                    ni += 1;
                    continue;
                }
            }
            Some(c) if *c == n[ni] => {
                pi += 1;
                ni += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Evaluates a `[...]` class at the start of `p` against `c`: (matched, pattern length).
fn class(p: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(p.get(1), Some('^' | '!'));
    if negate {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    while let Some(&ch) = p.get(i) {
        if ch == ']' && !first {
            return Some((hit != negate, i + 1));
        }
        first = false;
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|e| *e != ']') {
            let hi = p[i + 2];
            hit |= ch <= c && c <= hi;
            i += 3;
        } else {
            hit |= ch == c;
            i += 1;
        }
    }
    None
}

/// Expands an absolute host-path pattern under `root`, sorted like `filepath.Glob`.
pub fn expand(root: &HostRoot, pattern: &Path) -> Vec<PathBuf> {
    let mut current = vec![PathBuf::from("/")];
    for comp in pattern.components() {
        let Component::Normal(part) = comp else {
            if matches!(comp, Component::ParentDir) {
                current.iter_mut().for_each(|p| p.push(".."));
            }
            continue;
        };
        let pattern = part.to_string_lossy();
        let mut next = Vec::new();
        for dir in &current {
            if has_magic(&pattern) {
                // Go's Glob matches names as bytes; a name that is not UTF-8 is matched on
                // its lossy text (an invalid byte stands for one character, as in Go) and
                // kept by its real bytes.
                let names = list_dir(root, dir).unwrap_or_default();
                next.extend(
                    names
                        .into_iter()
                        .filter(|n| matches(&pattern, &n.to_string_lossy()))
                        .map(|n| dir.join(n)),
                );
            } else {
                next.push(dir.join(part));
            }
        }
        current = next;
    }
    current.retain(|p| root.exists(p));
    current.sort();
    current
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn stars_questions_and_classes() {
        assert!(matches("*.toml", "kata-deploy.toml"));
        assert!(!matches("*.toml", "kata-deploy.toml.bak"));
        assert!(matches("a?c", "abc"));
        assert!(!matches("a?c", "ac"));
        assert!(matches("[0-9]0-*.toml", "10-x.toml"));
        assert!(!matches("[!0-9]*", "1x"));
        assert!(matches("*", ""));
        assert!(matches("**a", "bba"));
    }

    #[test]
    fn expands_under_a_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc/containerd/conf.d")).unwrap();
        for n in ["b.toml", "a.toml", "c.txt"] {
            std::fs::write(dir.path().join("etc/containerd/conf.d").join(n), "").unwrap();
        }
        let root = HostRoot::new(dir.path()).unwrap();
        let got = expand(&root, Path::new("/etc/containerd/conf.d/*.toml"));
        assert_eq!(
            got,
            vec![
                PathBuf::from("/etc/containerd/conf.d/a.toml"),
                PathBuf::from("/etc/containerd/conf.d/b.toml")
            ]
        );
        assert!(expand(&root, Path::new("/etc/*/nothing*.toml")).is_empty());
    }
}
