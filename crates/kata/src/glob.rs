//! Go's `filepath.Match` and `filepath.Glob`, as containerd applies them to `imports`.
//!
//! Pattern syntax (Go, non-Windows): `*` is any run of characters other than `/`, `?` one
//! such character, `[...]` a class (`^` negates, `a-z` ranges, `\` escapes), `\x` the
//! character `x`. A malformed pattern (an unclosed class, a class range missing an end, a
//! class item starting with `-` or `]`, a trailing `\`) is an error for the whole pattern,
//! even where a match would have failed earlier, and Go's `Glob` then returns that error:
//! containerd does not start. Matches are listed directory by directory in byte order of the
//! names, each joined to its folder with `filepath.Join`.

use crate::containerd::paths::{go_join, host_path_of, split_last};
use crate::files::list_dir;
use hvguard_core::HostRoot;

/// The pattern is malformed (Go's `filepath.ErrBadPattern`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadPattern;

impl std::fmt::Display for BadPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("syntax error in pattern")
    }
}

/// True when `s` holds a character that makes `filepath.Glob` match rather than look up.
pub fn has_magic(s: &str) -> bool {
    s.contains(['*', '?', '[', '\\'])
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(char),
    Star,
    One,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// One parsed path component pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    tokens: Vec<Token>,
}

impl Pattern {
    /// Parses `text`, refusing what Go refuses.
    pub fn parse(text: &str) -> Result<Pattern, BadPattern> {
        let mut tokens = Vec::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            tokens.push(match c {
                '*' => Token::Star,
                '?' => Token::One,
                '\\' => Token::Literal(chars.next().ok_or(BadPattern)?),
                '[' => class(&mut chars)?,
                c => Token::Literal(c),
            });
        }
        Ok(Pattern { tokens })
    }

    /// Whether all of `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        let text: Vec<char> = name.chars().collect();
        // reach[i]: the tokens so far can end right before text[i].
        let mut reach = vec![false; text.len() + 1];
        reach[0] = true;
        for token in &self.tokens {
            let mut next = vec![false; text.len() + 1];
            if *token == Token::Star {
                for i in 0..=text.len() {
                    next[i] = reach[i] || (i > 0 && next[i - 1] && text[i - 1] != '/');
                }
            } else {
                for i in 0..text.len() {
                    next[i + 1] = reach[i] && accepts(token, text[i]);
                }
            }
            reach = next;
        }
        reach[text.len()]
    }
}

fn accepts(token: &Token, c: char) -> bool {
    match token {
        Token::Literal(l) => *l == c,
        Token::One => c != '/',
        Token::Class { negated, ranges } => {
            ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != *negated
        }
        Token::Star => true,
    }
}

/// A class after its `[`: items until a `]` that follows at least one item.
fn class(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<Token, BadPattern> {
    let negated = chars.next_if_eq(&'^').is_some();
    let mut ranges = Vec::new();
    loop {
        if !ranges.is_empty() && chars.next_if_eq(&']').is_some() {
            return Ok(Token::Class { negated, ranges });
        }
        let lo = class_char(chars)?;
        let hi = if chars.next_if_eq(&'-').is_some() {
            class_char(chars)?
        } else {
            lo
        };
        // Go also requires something (at least the closing bracket) after every item.
        if chars.peek().is_none() {
            return Err(BadPattern);
        }
        ranges.push((lo, hi));
    }
}

fn class_char(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<char, BadPattern> {
    match chars.next() {
        None | Some('-' | ']') => Err(BadPattern),
        Some('\\') => chars.next().ok_or(BadPattern),
        Some(c) => Ok(c),
    }
}

/// Go's `filepath.Glob(pattern)` for a path as containerd names it, looking at the host
/// under `root` (a relative pattern is relative to `/`, the daemon's working directory under
/// systemd). Results keep the pattern's form: relative in, relative out.
pub fn glob(root: &HostRoot, pattern: &str) -> Result<Vec<String>, BadPattern> {
    let components: Vec<&str> = pattern.split('/').collect();
    for part in &components {
        Pattern::parse(part)?;
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
    let wanted = Pattern::parse(file)?;
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

    fn m(p: &str, s: &str) -> bool {
        Pattern::parse(p).unwrap().matches(s)
    }

    #[test]
    fn stars_questions_classes_and_escapes() {
        assert!(m("*.toml", "kata-deploy.toml"));
        assert!(m("*.toml", ".hidden.toml"), "Go's * matches a leading dot");
        assert!(!m("*.toml", "kata-deploy.toml.bak"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("[0-9]0-*.toml", "10-x.toml"));
        assert!(m("[^0-9]*", "x1"));
        assert!(!m("[^0-9]*", "1x"));
        assert!(m("[!]", "!"), "`!` is an ordinary character in Go");
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "x"));
        assert!(m("*", ""));
        assert!(m("**a", "bba"));
        assert!(!m("a*", "a/b"));
    }

    #[test]
    fn malformed_patterns_are_errors() {
        for bad in [
            "[", "[a", "[]", "[]a]", "[-a]", "[a-]", "a\\", "[a-\\", "x[^]",
        ] {
            assert_eq!(Pattern::parse(bad), Err(BadPattern), "{bad}");
        }
        for good in ["[a-c]", "[\\]]", "[^a]", "a\\b"] {
            assert!(Pattern::parse(good).is_ok(), "{good}");
        }
    }

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
