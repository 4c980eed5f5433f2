//! The path patterns of Kata's `valid_*_paths` lists.
//!
//! The Go runtime checks an annotation value with `filepath.Glob` (so `*`, `?` and classes stop
//! at `/`, and classes negate with `^`); runtime-rs uses the `glob` crate's default options
//! (wildcards also match `/`, classes negate with `!`). Both are modelled here; an invalid pattern
//! matches nothing in either runtime.

/// How a runtime matches: whether wildcards stop at the path separator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// Go `filepath.Match`.
    Go,
    /// runtime-rs `glob::Pattern::matches` with default options.
    Rs,
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

/// A parsed pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Glob {
    tokens: Vec<Token>,
}

/// Why a pattern cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GlobError {
    UnclosedClass,
    TrailingEscape,
}

impl std::fmt::Display for GlobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GlobError::UnclosedClass => f.write_str("unclosed character class"),
            GlobError::TrailingEscape => f.write_str("pattern ends with a backslash"),
        }
    }
}

impl Glob {
    pub fn parse(pattern: &str) -> Result<Glob, GlobError> {
        let mut tokens = Vec::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' => {
                    // `**` means the same as `*` for a match against one path.
                    if tokens.last() != Some(&Token::Star) {
                        tokens.push(Token::Star);
                    }
                }
                '?' => tokens.push(Token::One),
                '\\' => tokens.push(Token::Literal(
                    chars.next().ok_or(GlobError::TrailingEscape)?,
                )),
                '[' => tokens.push(parse_class(&mut chars)?),
                c => tokens.push(Token::Literal(c)),
            }
        }
        Ok(Glob { tokens })
    }

    /// Whether `path` matches the whole pattern.
    pub fn matches(&self, path: &str, dialect: Dialect) -> bool {
        let text: Vec<char> = path.chars().collect();
        // reach[i]: the pattern consumed so far can end right before text[i].
        let mut reach = vec![false; text.len() + 1];
        reach[0] = true;
        for token in &self.tokens {
            let mut next = vec![false; text.len() + 1];
            match token {
                Token::Star => {
                    for i in 0..=text.len() {
                        if reach[i] || (i > 0 && next[i - 1] && crosses(text[i - 1], dialect)) {
                            next[i] = true;
                        }
                    }
                }
                single => {
                    for i in 0..text.len() {
                        if reach[i] && single_matches(single, text[i], dialect) {
                            next[i + 1] = true;
                        }
                    }
                }
            }
            reach = next;
        }
        reach[text.len()]
    }

    /// True when the pattern can match exactly one path: no wildcard, and every class holds
    /// exactly one character. Anything else admits files other than the one configured.
    pub fn is_single_path(&self) -> bool {
        self.tokens.iter().all(|t| match t {
            Token::Literal(_) => true,
            Token::Class {
                negated: false,
                ranges,
            } => ranges.len() == 1 && ranges[0].0 == ranges[0].1,
            _ => false,
        })
    }
}

fn crosses(c: char, dialect: Dialect) -> bool {
    c != '/' || dialect == Dialect::Rs
}

fn single_matches(token: &Token, c: char, dialect: Dialect) -> bool {
    match token {
        Token::Literal(l) => *l == c,
        Token::One => crosses(c, dialect),
        Token::Class { negated, ranges } => {
            if !crosses(c, dialect) {
                return false;
            }
            let inside = ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi);
            inside != *negated
        }
        Token::Star => true,
    }
}

fn parse_class(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<Token, GlobError> {
    let negated = matches!(chars.peek(), Some('^') | Some('!'));
    if negated {
        chars.next();
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let c = chars.next().ok_or(GlobError::UnclosedClass)?;
        if c == ']' && !first {
            break;
        }
        first = false;
        let lo = if c == '\\' {
            chars.next().ok_or(GlobError::TrailingEscape)?
        } else {
            c
        };
        let mut hi = lo;
        if chars.peek() == Some(&'-') {
            let mut ahead = chars.clone();
            ahead.next();
            if let Some(&end) = ahead.peek() {
                if end != ']' {
                    chars.next();
                    let end = chars.next().ok_or(GlobError::UnclosedClass)?;
                    hi = if end == '\\' {
                        chars.next().ok_or(GlobError::TrailingEscape)?
                    } else {
                        end
                    };
                }
            }
        }
        ranges.push((lo, hi));
    }
    Ok(Token::Class { negated, ranges })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str, d: Dialect) -> bool {
        Glob::parse(p).unwrap().matches(s, d)
    }

    #[test]
    fn literal_and_wildcards() {
        assert!(m("/opt/kata/bin/qemu", "/opt/kata/bin/qemu", Dialect::Go));
        assert!(!m("/opt/kata/bin/qemu", "/opt/kata/bin/qemu2", Dialect::Go));
        assert!(m("/usr/bin/*", "/usr/bin/qemu-system-x86_64", Dialect::Go));
        assert!(m("/bin/*ls*", "/bin/ls", Dialect::Go));
        assert!(m("/bin/l?", "/bin/ls", Dialect::Go));
        assert!(m("*", "", Dialect::Go));
    }

    #[test]
    fn separator_depends_on_the_runtime() {
        assert!(!m("/usr/*", "/usr/bin/qemu", Dialect::Go));
        assert!(m("/usr/*", "/usr/bin/qemu", Dialect::Rs));
        assert!(!m("/usr?bin", "/usr/bin", Dialect::Go));
        assert!(m("/usr?bin", "/usr/bin", Dialect::Rs));
    }

    #[test]
    fn classes() {
        assert!(m("/bin/q[a-z]", "/bin/qe", Dialect::Go));
        assert!(!m("/bin/q[^a-z]", "/bin/qe", Dialect::Go));
        assert!(!m("/bin/q[!a-z]", "/bin/qe", Dialect::Rs));
        assert!(m("/bin/q[]]", "/bin/q]", Dialect::Go));
        assert!(m("/bin/q\\*", "/bin/q*", Dialect::Go));
        assert!(!m("/bin/q\\*", "/bin/qx", Dialect::Go));
        assert_eq!(Glob::parse("/bin/[ab"), Err(GlobError::UnclosedClass));
        assert_eq!(Glob::parse("/bin/a\\"), Err(GlobError::TrailingEscape));
    }

    #[test]
    fn single_path_patterns() {
        for exact in [
            "/opt/kata/bin/qemu",
            "/opt/kata/bin/firecracke[r]",
            "/a\\*b",
        ] {
            assert!(Glob::parse(exact).unwrap().is_single_path(), "{exact}");
        }
        for wide in ["*", "/usr/bin/*", "/bin/qemu?", "/bin/q[ab]", "/bin/q[^a]"] {
            assert!(!Glob::parse(wide).unwrap().is_single_path(), "{wide}");
        }
    }
}
