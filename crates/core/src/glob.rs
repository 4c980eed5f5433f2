//! Path patterns in the two dialects a Kata host is configured with.
//!
//! - [`Dialect::Go`]: Go's `path/filepath.Match` (non-Windows), which containerd applies to
//!   `imports` and `pod_annotations` and the Kata Go runtime (through `filepath.Glob`) to its
//!   `valid_*_paths` lists. `*` is any run of characters other than `/`, `?` one such
//!   character, `[...]` a class (`^` negates, `a-z` ranges, `\` escapes), `\x` the character
//!   `x`. A class item or range end that is an unescaped `-` or `]`, an unclosed class and a
//!   trailing `\` make the whole pattern malformed, even where a match would have failed
//!   before reaching them, as Go validates the rest of the pattern before answering.
//!   Matched against a whole path, no wildcard or class meets a `/`, which is how
//!   `filepath.Glob` (one component at a time) behaves.
//! - [`Dialect::GlobCrate`]: runtime-rs, whose `kata_types::config::validate_path_pattern`
//!   matches with the `glob` crate's `Pattern::new(p)` and `Pattern::matches` (default options):
//!   wildcards and classes also match `/`, classes negate with `!`, `\` is an ordinary
//!   character, and `**` must be a whole path component. These patterns are parsed and matched
//!   by that same crate (0.3, as Kata's `Cargo.lock` pins), so no corner is modelled by hand.
//!
//! What a malformed pattern means is the caller's to say: containerd refuses to start over a
//! bad import glob, while a bad allow-list entry simply matches nothing.

/// How a pattern is written and matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Go's `path/filepath.Match`.
    Go,
    /// The `glob` crate's `Pattern::matches` with default options (runtime-rs).
    GlobCrate,
}

/// Why a pattern cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("unclosed character class")]
    UnclosedClass,
    #[error("pattern ends with a backslash")]
    TrailingEscape,
    /// Go only: a class item or range end that is an unescaped `-` or `]`.
    #[error("a character class item or range end is an unescaped '-' or ']'")]
    BadClassItem,
    /// The `glob` crate refused the pattern (its own message and character position).
    #[error("{msg} (at character {pos})")]
    GlobCrate { pos: usize, msg: &'static str },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// `*`
    Star,
    /// `?`
    One,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// A parsed pattern, matched in the dialect it was written in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    inner: Inner,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Inner {
    Go(Vec<Token>),
    GlobCrate {
        pattern: glob::Pattern,
        single_path: bool,
    },
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

impl Pattern {
    /// Parses `text` as `dialect` writes patterns.
    pub fn parse(text: &str, dialect: Dialect) -> Result<Pattern, PatternError> {
        let inner = match dialect {
            Dialect::Go => Inner::Go(go_tokens(text)?),
            Dialect::GlobCrate => Inner::GlobCrate {
                pattern: glob::Pattern::new(text).map_err(|e| PatternError::GlobCrate {
                    pos: e.pos,
                    msg: e.msg,
                })?,
                single_path: glob_crate_single_path(text),
            },
        };
        Ok(Pattern { inner })
    }

    /// The dialect the pattern was parsed in.
    pub fn dialect(&self) -> Dialect {
        match self.inner {
            Inner::Go(_) => Dialect::Go,
            Inner::GlobCrate { .. } => Dialect::GlobCrate,
        }
    }

    /// Whether all of `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        match &self.inner {
            Inner::Go(tokens) => go_matches(tokens, text),
            Inner::GlobCrate { pattern, .. } => pattern.matches(text),
        }
    }

    /// True when the pattern can match exactly one path: no wildcard, and every class holds
    /// exactly one character. Anything else admits paths other than the one written.
    pub fn is_single_path(&self) -> bool {
        match &self.inner {
            Inner::Go(tokens) => tokens.iter().all(|t| match t {
                Token::Literal(_) => true,
                Token::Class {
                    negated: false,
                    ranges,
                } => ranges.len() == 1 && ranges[0].0 == ranges[0].1,
                _ => false,
            }),
            Inner::GlobCrate { single_path, .. } => *single_path,
        }
    }
}

/// Go's pattern, token by token.
fn go_tokens(text: &str) -> Result<Vec<Token>, PatternError> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let token = match c {
            // `**` matches what `*` matches against one path.
            '*' if tokens.last() == Some(&Token::Star) => continue,
            '*' => Token::Star,
            '?' => Token::One,
            '\\' => Token::Literal(chars.next().ok_or(PatternError::TrailingEscape)?),
            '[' => class(&mut chars)?,
            c => Token::Literal(c),
        };
        tokens.push(token);
    }
    Ok(tokens)
}

/// Whether all of `text` matches Go's `tokens`; no wildcard or class meets a `/`.
fn go_matches(tokens: &[Token], text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    // reach[i]: the tokens so far can end right before text[i].
    let mut reach = vec![false; text.len() + 1];
    reach[0] = true;
    for token in tokens {
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

/// Whether a Go token that matches one character matches `c`.
fn accepts(token: &Token, c: char) -> bool {
    match token {
        Token::Literal(l) => *l == c,
        Token::One => c != '/',
        Token::Class { negated, ranges } => {
            c != '/' && ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != *negated
        }
        Token::Star => true,
    }
}

/// For a pattern the `glob` crate accepted: no `*` or `?`, and every class is `[c]` with one
/// character other than `!` (which would open a negated class), so one path matches.
fn glob_crate_single_path(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' | '?' => return false,
            '[' if chars.get(i + 2) == Some(&']') && chars.get(i + 1) != Some(&'!') => i += 3,
            '[' => return false,
            _ => i += 1,
        }
    }
    true
}

/// A Go class after its `[`: items until a `]` that follows at least one item.
fn class(chars: &mut Chars<'_>) -> Result<Token, PatternError> {
    let negated = chars.next_if_eq(&'^').is_some();
    let mut ranges = Vec::new();
    loop {
        if !ranges.is_empty() && chars.next_if_eq(&']').is_some() {
            return Ok(Token::Class { negated, ranges });
        }
        let lo = class_char(chars)?;
        // Go reads every `-` after an item as a range.
        let hi = if chars.next_if_eq(&'-').is_some() {
            class_char(chars)?
        } else {
            lo
        };
        ranges.push((lo, hi));
    }
}

/// One character of a Go class, unescaped.
fn class_char(chars: &mut Chars<'_>) -> Result<char, PatternError> {
    match chars.next() {
        None => Err(PatternError::UnclosedClass),
        Some('-' | ']') => Err(PatternError::BadClassItem),
        Some('\\') => chars.next().ok_or(PatternError::TrailingEscape),
        Some(c) => Ok(c),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str, d: Dialect) -> bool {
        Pattern::parse(p, d).unwrap().matches(s)
    }

    fn go(p: &str, s: &str) -> bool {
        m(p, s, Dialect::Go)
    }

    #[test]
    fn go_stars_questions_classes_and_escapes() {
        assert!(go("*.toml", "kata-deploy.toml"));
        assert!(go("*.toml", ".hidden.toml"), "Go's * matches a leading dot");
        assert!(!go("*.toml", "kata-deploy.toml.bak"));
        assert!(go("a?c", "abc"));
        assert!(!go("a?c", "ac"));
        assert!(go("[0-9]0-*.toml", "10-x.toml"));
        assert!(go("[^0-9]*", "x1"));
        assert!(!go("[^0-9]*", "1x"));
        assert!(go("[!]", "!"), "`!` is an ordinary character in Go");
        assert!(go("\\*", "*"));
        assert!(!go("\\*", "x"));
        assert!(go("*", ""));
        assert!(go("**a", "bba"));
        assert!(!go("a*", "a/b"));
    }

    #[test]
    fn go_malformed_patterns_are_errors() {
        for bad in [
            "[", "[a", "[]", "[]a]", "[-a]", "[a-]", "a\\", "[a-\\", "x[^]", "[]]",
        ] {
            assert!(Pattern::parse(bad, Dialect::Go).is_err(), "{bad}");
        }
        for good in ["[a-c]", "[\\]]", "[^a]", "a\\b"] {
            assert!(Pattern::parse(good, Dialect::Go).is_ok(), "{good}");
        }
    }

    #[test]
    fn literal_paths_and_wildcards() {
        assert!(go("/opt/kata/bin/qemu", "/opt/kata/bin/qemu"));
        assert!(!go("/opt/kata/bin/qemu", "/opt/kata/bin/qemu2"));
        assert!(go("/usr/bin/*", "/usr/bin/qemu-system-x86_64"));
        assert!(go("/bin/*ls*", "/bin/ls"));
        assert!(go("/bin/l?", "/bin/ls"));
    }

    #[test]
    fn the_separator_depends_on_the_dialect() {
        assert!(!go("/usr/*", "/usr/bin/qemu"));
        assert!(m("/usr/*", "/usr/bin/qemu", Dialect::GlobCrate));
        assert!(!go("/usr?bin", "/usr/bin"));
        assert!(m("/usr?bin", "/usr/bin", Dialect::GlobCrate));
        assert!(!go("/usr[^a]bin", "/usr/bin"));
        assert!(m("/usr[!a]bin", "/usr/bin", Dialect::GlobCrate));
    }

    #[test]
    fn classes() {
        assert!(go("/bin/q[a-z]", "/bin/qe"));
        assert!(!go("/bin/q[^a-z]", "/bin/qe"));
        assert!(!m("/bin/q[!a-z]", "/bin/qe", Dialect::GlobCrate));
        assert!(m("/bin/q[]]", "/bin/q]", Dialect::GlobCrate));
        assert!(m("/bin/q[a-]", "/bin/q-", Dialect::GlobCrate));
        assert!(go("/bin/q\\*", "/bin/q*"));
        assert!(!go("/bin/q\\*", "/bin/qx"));
        assert_eq!(
            Pattern::parse("/bin/[ab", Dialect::Go),
            Err(PatternError::UnclosedClass)
        );
        assert_eq!(
            Pattern::parse("/bin/a\\", Dialect::Go),
            Err(PatternError::TrailingEscape)
        );
        assert!(matches!(
            Pattern::parse("/bin/[ab", Dialect::GlobCrate),
            Err(PatternError::GlobCrate { .. })
        ));
        assert_eq!(
            Pattern::parse("/bin/q[]]", Dialect::Go),
            Err(PatternError::BadClassItem)
        );
    }

    /// The corners where the glob crate differs from Go, as runtime-rs meets them.
    #[test]
    fn the_glob_crate_reads_backslash_caret_and_double_star_its_own_way() {
        let rs = |p: &str, s: &str| m(p, s, Dialect::GlobCrate);
        // `\` is an ordinary character, not an escape.
        assert!(rs("/bin/a\\", "/bin/a\\"));
        assert!(rs("/bin/q\\*", "/bin/q\\x"));
        assert!(!rs("/bin/q\\*", "/bin/q*"));
        // `^` opens no negation: it is a class member.
        assert!(rs("/bin/q[^a]", "/bin/q^"));
        assert!(!rs("/bin/q[^a]", "/bin/qe"));
        // `**` is recursive when it is a whole component, and refused inside one.
        assert!(rs("/opt/**/qemu", "/opt/kata/bin/qemu"));
        assert!(matches!(
            Pattern::parse("/opt/a**", Dialect::GlobCrate),
            Err(PatternError::GlobCrate { .. })
        ));
    }

    #[test]
    fn single_paths_in_the_glob_crate_dialect() {
        let single = |p: &str| {
            Pattern::parse(p, Dialect::GlobCrate)
                .unwrap()
                .is_single_path()
        };
        assert!(single("/opt/kata/bin/qemu"));
        assert!(single("/opt/kata/bin/firecracke[r]"));
        assert!(single("/bin/q[]]"));
        assert!(!single("/usr/bin/*"));
        assert!(!single("/bin/qemu?"));
        assert!(!single("/bin/q[ab]"));
        assert!(!single("/bin/q[!a]"));
        assert!(!single("/opt/**/qemu"));
    }

    #[test]
    fn single_path_patterns() {
        for exact in [
            "/opt/kata/bin/qemu",
            "/opt/kata/bin/firecracke[r]",
            "/a\\*b",
        ] {
            assert!(
                Pattern::parse(exact, Dialect::Go).unwrap().is_single_path(),
                "{exact}"
            );
        }
        for wide in ["*", "/usr/bin/*", "/bin/qemu?", "/bin/q[ab]", "/bin/q[^a]"] {
            assert!(
                !Pattern::parse(wide, Dialect::Go).unwrap().is_single_path(),
                "{wide}"
            );
        }
    }
}
