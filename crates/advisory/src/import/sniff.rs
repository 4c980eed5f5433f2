//! The shape of a JSON document's start: which keys sit at which depth and what kind of
//! value each has. Feed detection reads this instead of searching for key names anywhere,
//! so a JSON Schema that *describes* the KEV catalogue (its `properties` name
//! `catalogVersion` and `vulnerabilities` one level down) is not taken for the catalogue.
//!
//! The scanner reads a prefix (the first 64 KiB of a file), so documents may end early; it
//! never allocates more than a bounded number of keys.

/// What a value starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `{`
    Object,
    /// `[`
    Array,
    /// `"...`
    String,
    /// A number, `true`, `false` or `null`.
    Scalar,
}

/// One key of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// Nesting depth of the object holding the key (1 for the top-level object; an object
    /// inside a top-level array is at depth 2).
    pub depth: u16,
    /// The key as written (escapes kept).
    pub name: String,
    /// The kind of its value.
    pub kind: Kind,
    /// The first 80 bytes of a string value.
    pub text: String,
}

/// The top-level container and its keys, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// `Object` or `Array`.
    pub top: Kind,
    /// Keys at depth 1 to 3, at most [`MAX_KEYS`].
    pub keys: Vec<Key>,
}

/// Keys recorded at most.
pub const MAX_KEYS: usize = 4096;

impl Shape {
    /// The top-level key `name`.
    pub fn top_key(&self, name: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.depth == 1 && k.name == name)
    }

    /// The first key at `depth`.
    pub fn first_at(&self, depth: u16) -> Option<&Key> {
        self.keys.iter().find(|k| k.depth == depth)
    }

    /// True when some key at `depth` is called `name`.
    pub fn has_at(&self, depth: u16, name: &str) -> bool {
        self.keys.iter().any(|k| k.depth == depth && k.name == name)
    }
}

/// Reads a JSON string starting after its opening quote; returns the raw content (escapes
/// kept) and the index after the closing quote, or `None` when the input ends first.
fn string(bytes: &[u8], mut i: usize) -> Option<(String, usize)> {
    let start = i;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => {
                let text = String::from_utf8_lossy(&bytes[start..i]).into_owned();
                return Some((text, i + 1));
            }
            _ => i += 1,
        }
    }
    None
}

fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && bytes[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// The shape of the JSON document starting in `head`; `None` when it does not start with
/// an object or an array.
pub fn shape(head: &[u8]) -> Option<Shape> {
    let mut i = skip_ws(head, 0);
    let top = match head.get(i)? {
        b'{' => Kind::Object,
        b'[' => Kind::Array,
        _ => return None,
    };
    let mut out = Shape {
        top,
        keys: Vec::new(),
    };
    // The container stack: true for an object, whose next string is a key.
    let mut stack: Vec<bool> = Vec::new();
    let mut expect_key = false;
    while i < head.len() && out.keys.len() < MAX_KEYS {
        match head[i] {
            b'{' => {
                stack.push(true);
                expect_key = true;
                i += 1;
            }
            b'[' => {
                stack.push(false);
                expect_key = false;
                i += 1;
            }
            b'}' | b']' => {
                stack.pop();
                expect_key = false;
                i += 1;
            }
            b',' => {
                expect_key = stack.last().copied().unwrap_or(false);
                i += 1;
            }
            b'"' => {
                let Some((name, next)) = string(head, i + 1) else {
                    break;
                };
                i = next;
                if !expect_key {
                    continue;
                }
                expect_key = false;
                let colon = skip_ws(head, i);
                if head.get(colon) != Some(&b':') {
                    continue;
                }
                let value = skip_ws(head, colon + 1);
                let kind = match head.get(value) {
                    Some(b'{') => Kind::Object,
                    Some(b'[') => Kind::Array,
                    Some(b'"') => Kind::String,
                    Some(_) => Kind::Scalar,
                    None => break,
                };
                let depth = u16::try_from(stack.len()).unwrap_or(u16::MAX);
                let text = if kind == Kind::String {
                    string(head, value + 1)
                        .map(|(t, _)| t.chars().take(80).collect())
                        .unwrap_or_default()
                } else {
                    String::new()
                };
                if depth <= 3 {
                    out.keys.push(Key {
                        depth,
                        name,
                        kind,
                        text,
                    });
                }
                i = value;
            }
            _ => i += 1,
        }
    }
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn depths_kinds_and_truncation() {
        let s = shape(br#" {"catalogVersion": "2025.08.25", "count": 3, "vulnerabilities": [{"cveID": "CVE-1"}], "x": {"y": {"z": 1}}"#).unwrap();
        assert_eq!(s.top, Kind::Object);
        let k = s.top_key("catalogVersion").unwrap();
        assert_eq!((k.kind, k.text.as_str()), (Kind::String, "2025.08.25"));
        assert_eq!(s.top_key("vulnerabilities").unwrap().kind, Kind::Array);
        assert!(s.has_at(3, "cveID"));
        assert!(s.has_at(2, "y"));
        assert!(s.has_at(3, "z"));
        // A schema describing the catalogue has those names one level down only.
        let schema = shape(br#"{"$schema": "x", "properties": {"catalogVersion": {"type": "string"}, "vulnerabilities": {"type": "array"}}}"#).unwrap();
        assert!(schema.top_key("catalogVersion").is_none());
        assert!(schema.has_at(2, "catalogVersion"));
        assert!(shape(b"  plain text").is_none());
        assert!(shape(br#"{"a": "unterminated"#).is_some());
    }
}
