//! One TOML file in, dotted keys with positions out.
//!
//! Tables flatten into dotted keys (`[hypervisor.qemu]` + `path` -> `hypervisor.qemu.path`).
//! Inline tables flatten the same way, so `qemu = { path = "x" }` and a `[qemu]` table read
//! alike. Arrays of tables (`[[x]]`) flatten with the element index as a key segment
//! (`x.0.name`); Kata's own files have none. An inline table *inside an array* has no dotted
//! form and is kept as its TOML text. Datetimes are kept as their TOML text. Every key keeps
//! the file, line and column of the key itself (not of the value), so a finding points at
//! the line an operator edits.

use crate::aliases::{canonical_key, is_runtime_rs_spelling};
use crate::error::KataError;
use crate::position::LineIndex;
use hvguard_core::{ConfigValue, SourcedValue};
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml_edit::{Document, Item, Key, Table, Value};

/// Largest configuration file read (real ones are under 40 KiB).
pub const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;

/// Deepest table/array nesting accepted (real ones are 3 deep).
pub const MAX_NESTING: usize = 64;

/// One file's values, before drop-ins are merged.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedConfig {
    /// The file as the host sees it.
    pub path: PathBuf,
    /// Canonical dotted key -> value and where it is written.
    pub values: BTreeMap<String, SourcedValue>,
    /// The file uses at least one key only runtime-rs spells that way.
    pub runtime_rs_spelling: bool,
}

/// Parses TOML text that came from `path` (used in positions and errors only).
pub fn parse_config_str(path: &Path, text: &str) -> Result<ParsedConfig, KataError> {
    let index = LineIndex::new(text);
    let doc = parse_document(path, text, &index)?;
    let mut flat = Flattener {
        path,
        index: &index,
        values: BTreeMap::new(),
        runtime_rs_spelling: false,
    };
    flat.table("", doc.as_table(), 0)?;
    Ok(ParsedConfig {
        path: path.to_path_buf(),
        values: flat.values,
        runtime_rs_spelling: flat.runtime_rs_spelling,
    })
}

/// Parses TOML keeping spans, turning a syntax error into `path:line:col: message`.
pub(crate) fn parse_document<'t>(
    path: &Path,
    text: &'t str,
    index: &LineIndex<'_>,
) -> Result<Document<&'t str>, KataError> {
    Document::parse(text).map_err(|e| {
        let (line, column) = index.locate(e.span().map_or(0, |s| s.start));
        KataError::Parse {
            path: path.to_path_buf(),
            line,
            column,
            message: e.message().trim().to_string(),
        }
    })
}

/// Appends one key segment, quoting it when it would otherwise read as several.
pub(crate) fn push_segment(prefix: &str, segment: &str) -> String {
    let bare = !segment.is_empty()
        && segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let seg = if bare {
        segment.to_string()
    } else {
        format!("\"{}\"", segment.replace('\\', "\\\\").replace('"', "\\\""))
    };
    if prefix.is_empty() {
        seg
    } else {
        format!("{prefix}.{seg}")
    }
}

/// A TOML value as a [`ConfigValue`]; `Err` holds where nesting passed [`MAX_NESTING`].
pub(crate) fn to_config_value(
    v: &Value,
    depth: usize,
) -> Result<ConfigValue, Option<Range<usize>>> {
    if depth > MAX_NESTING {
        return Err(v.span());
    }
    Ok(match v {
        Value::String(s) => ConfigValue::String(s.value().clone()),
        Value::Integer(i) => ConfigValue::Integer(*i.value()),
        Value::Float(f) => ConfigValue::Float(*f.value()),
        Value::Boolean(b) => ConfigValue::Bool(*b.value()),
        Value::Datetime(d) => ConfigValue::String(d.value().to_string()),
        Value::Array(a) => ConfigValue::Array(
            a.iter()
                .map(|e| to_config_value(e, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Value::InlineTable(t) => ConfigValue::String(t.to_string().trim().to_string()),
    })
}

struct Flattener<'a> {
    path: &'a Path,
    index: &'a LineIndex<'a>,
    values: BTreeMap<String, SourcedValue>,
    runtime_rs_spelling: bool,
}

impl Flattener<'_> {
    fn too_deep(&self, span: Option<Range<usize>>) -> KataError {
        let (line, column) = self.index.locate(span.map_or(0, |s| s.start));
        KataError::TooDeep {
            path: self.path.to_path_buf(),
            line,
            column,
            limit: MAX_NESTING,
        }
    }

    fn table(&mut self, prefix: &str, table: &Table, depth: usize) -> Result<(), KataError> {
        if depth > MAX_NESTING {
            return Err(self.too_deep(table.span()));
        }
        for (name, item) in table.iter() {
            let key = table.key(name);
            let dotted = push_segment(prefix, name);
            self.item(&dotted, key, item, depth + 1)?;
        }
        Ok(())
    }

    fn item(
        &mut self,
        dotted: &str,
        key: Option<&Key>,
        item: &Item,
        depth: usize,
    ) -> Result<(), KataError> {
        match item {
            Item::None => Ok(()),
            Item::Table(t) => self.table(dotted, t, depth),
            Item::ArrayOfTables(a) => {
                for (i, t) in a.iter().enumerate() {
                    self.table(&push_segment(dotted, &i.to_string()), t, depth + 1)?;
                }
                Ok(())
            }
            Item::Value(Value::InlineTable(t)) => {
                if depth > MAX_NESTING {
                    return Err(self.too_deep(t.span()));
                }
                for (name, _) in t.iter() {
                    if let Some((k, it)) = t.get_key_value(name) {
                        self.item(&push_segment(dotted, name), Some(k), it, depth + 1)?;
                    }
                }
                Ok(())
            }
            Item::Value(v) => {
                let value = self.value(v, depth)?;
                let span = key.and_then(Key::span).or_else(|| v.span());
                self.insert(dotted, value, span);
                Ok(())
            }
        }
    }

    fn value(&self, v: &Value, depth: usize) -> Result<ConfigValue, KataError> {
        to_config_value(v, depth).map_err(|span| self.too_deep(span))
    }

    fn insert(&mut self, dotted: &str, value: ConfigValue, span: Option<Range<usize>>) {
        let (line, column) = span.map_or((0, 0), |s| self.index.locate(s.start));
        let key = if is_runtime_rs_spelling(dotted) {
            self.runtime_rs_spelling = true;
            canonical_key(dotted).unwrap_or_else(|| dotted.to_string())
        } else {
            dotted.to_string()
        };
        let sourced = SourcedValue {
            value,
            path: self.path.to_path_buf(),
            line,
            column,
        };
        // Both spellings in one file: the one written later wins, as a reader would expect.
        match self.values.get(&key) {
            Some(old) if (old.line, old.column) > (line, column) => {}
            _ => {
                self.values.insert(key, sourced);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ParsedConfig, KataError> {
        parse_config_str(Path::new("/etc/kata-containers/t.toml"), text)
    }

    #[test]
    fn tables_flatten_with_key_positions() {
        let cfg =
            parse("# c\n[hypervisor.qemu]\npath = \"/usr/bin/qemu\"\n  enable_debug = true\n")
                .unwrap();
        let path = &cfg.values["hypervisor.qemu.path"];
        assert_eq!((path.line, path.column), (3, 1));
        assert_eq!(path.value.as_str(), Some("/usr/bin/qemu"));
        let dbg = &cfg.values["hypervisor.qemu.enable_debug"];
        assert_eq!((dbg.line, dbg.column), (4, 3));
        assert_eq!(dbg.value.as_bool(), Some(true));
    }

    #[test]
    fn values_of_every_scalar_kind_and_arrays() {
        let cfg = parse(
            "[a]\ni = -3\nf = 1.5\ns = 'x'\nd = 1979-05-27\narr = [\"a\", [1, 2]]\nit = [{ x = 1 }]\n",
        )
        .unwrap();
        assert_eq!(cfg.values["a.i"].value, ConfigValue::Integer(-3));
        assert_eq!(cfg.values["a.f"].value, ConfigValue::Float(1.5));
        assert_eq!(cfg.values["a.d"].value.as_str(), Some("1979-05-27"));
        assert_eq!(
            cfg.values["a.arr"].value,
            ConfigValue::Array(vec![
                ConfigValue::String("a".into()),
                ConfigValue::Array(vec![ConfigValue::Integer(1), ConfigValue::Integer(2)])
            ])
        );
        assert_eq!(
            cfg.values["a.it"].value,
            ConfigValue::Array(vec![ConfigValue::String("{ x = 1 }".into())])
        );
    }

    #[test]
    fn inline_tables_dotted_keys_and_arrays_of_tables_flatten() {
        let cfg = parse("q = { path = \"p\", x.y = 2 }\n[[t]]\nn = 1\n[[t]]\nn = 2\n").unwrap();
        assert_eq!(cfg.values["q.path"].value.as_str(), Some("p"));
        assert_eq!(cfg.values["q.x.y"].value, ConfigValue::Integer(2));
        assert_eq!(cfg.values["t.0.n"].value, ConfigValue::Integer(1));
        assert_eq!(cfg.values["t.1.n"].line, 5);
    }

    #[test]
    fn runtime_rs_spelling_is_canonicalised_but_keeps_its_line() {
        let cfg = parse("[hypervisor.qemu]\n\nseccomp_sandbox = \"on\"\n").unwrap();
        assert!(cfg.runtime_rs_spelling);
        let v = &cfg.values["hypervisor.qemu.seccompsandbox"];
        assert_eq!((v.line, v.value.as_str()), (3, Some("on")));
        assert!(!cfg.values.contains_key("hypervisor.qemu.seccomp_sandbox"));
    }

    #[test]
    fn both_spellings_later_one_wins() {
        let cfg =
            parse("[hypervisor.qemu]\nseccomp_sandbox = \"a\"\nseccompsandbox = \"b\"\n").unwrap();
        assert_eq!(
            cfg.values["hypervisor.qemu.seccompsandbox"].value.as_str(),
            Some("b")
        );
    }

    #[test]
    fn unknown_keys_are_kept() {
        let cfg = parse("[whatever]\nnot_a_kata_key = 1\n").unwrap();
        assert!(cfg.values.contains_key("whatever.not_a_kata_key"));
    }

    #[test]
    fn odd_key_segments_are_quoted() {
        let cfg = parse("[a.\"b.c\"]\nd = 1\n").unwrap();
        assert!(
            cfg.values.contains_key("a.\"b.c\".d"),
            "{:?}",
            cfg.values.keys()
        );
    }

    #[test]
    fn syntax_error_is_path_line_col() {
        let err = parse("[runtime]\nx = 1\nvalid_hypervisor_paths = \n").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("/etc/kata-containers/t.toml:3:"),
            "unexpected message: {msg}"
        );
        assert!(matches!(err, KataError::Parse { line: 3, .. }));
    }

    #[test]
    fn fuzz_crasher_of_toml_edit_0_23_is_a_plain_error() {
        // toml_edit 0.23.10 panicked here ("all items have spans"); found by fuzz/.
        let err = parse("a = =O\u{0}\n[a.b\n").unwrap_err();
        assert!(
            matches!(
                err,
                KataError::Parse {
                    line: 1,
                    column: 5,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn duplicate_keys_are_an_error() {
        let err = parse("a = 1\na = 2\n").unwrap_err();
        assert!(matches!(err, KataError::Parse { line: 2, .. }), "{err}");
    }
}
