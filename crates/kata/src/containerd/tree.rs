//! A containerd file as a tree of tables whose every key remembers the file and line that
//! wrote it, and the two ways containerd combines such trees: replacing a table (1.x, per
//! plugin) and merging it deeply (2.x).
//!
//! containerd decodes plugin configuration into Go maps (`map[string]interface{}` in 2.x,
//! `toml.Tree` in 1.x): tables and inline tables are maps, everything else (arrays, arrays of
//! tables, scalars) is a value that a later file replaces whole.

use crate::error::KataError;
use crate::load::{to_config_value, MAX_NESTING};
use crate::position::LineIndex;
use hvguard_core::ConfigValue;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use toml_edit::{Item, Key, Value};

/// Where a key was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file, as the host sees it.
    pub file: Arc<PathBuf>,
    /// 1-based line of the key.
    pub line: u32,
}

/// A table and the places that wrote it, in merge order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub entries: BTreeMap<String, Node>,
    pub origins: Vec<Origin>,
}

/// A key's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Table(Table),
    Value { value: ConfigValue, origin: Origin },
}

impl Table {
    /// The table at `key`, when there is one.
    pub fn table(&self, key: &str) -> Option<&Table> {
        match self.entries.get(key)? {
            Node::Table(t) => Some(t),
            Node::Value { .. } => None,
        }
    }

    /// The table at the end of `keys`.
    pub fn path(&self, keys: &[&str]) -> Option<&Table> {
        keys.iter().try_fold(self, |t, k| t.table(k))
    }

    /// The string at `key` and where it was written.
    pub fn string(&self, key: &str) -> Option<(&str, &Origin)> {
        match self.entries.get(key)? {
            Node::Value {
                value: ConfigValue::String(s),
                origin,
            } => Some((s, origin)),
            _ => None,
        }
    }

    /// The array at `key` and where it was written.
    pub fn array(&self, key: &str) -> Option<(&[ConfigValue], &Origin)> {
        match self.entries.get(key)? {
            Node::Value {
                value: ConfigValue::Array(a),
                origin,
            } => Some((a, origin)),
            _ => None,
        }
    }

    /// The line where `file` wrote this table, when it did.
    pub fn line_in(&self, file: &Path) -> Option<u32> {
        self.origins
            .iter()
            .rev()
            .find(|o| o.file.as_path() == file)
            .map(|o| o.line)
    }

    /// containerd 2.x: tables merge key by key; anything else `src` holds replaces what
    /// `self` had (an array is never appended to).
    pub fn merge_deep(&mut self, src: Table) {
        self.origins.extend(src.origins);
        for (key, node) in src.entries {
            match (self.entries.get_mut(&key), node) {
                (Some(Node::Table(dst)), Node::Table(src)) => dst.merge_deep(src),
                (_, node) => {
                    self.entries.insert(key, node);
                }
            }
        }
    }
}

/// Builds the tree of one parsed file.
#[derive(Debug)]
pub struct TreeBuilder<'a> {
    pub file: Arc<PathBuf>,
    pub index: &'a LineIndex<'a>,
}

impl TreeBuilder<'_> {
    fn origin(&self, span: Option<Range<usize>>) -> Origin {
        Origin {
            file: Arc::clone(&self.file),
            line: span.map_or(0, |s| self.index.locate(s.start).0),
        }
    }

    fn too_deep(&self, span: Option<Range<usize>>) -> KataError {
        let (line, column) = self.index.locate(span.map_or(0, |s| s.start));
        KataError::TooDeep {
            path: self.file.to_path_buf(),
            line,
            column,
            limit: MAX_NESTING,
        }
    }

    /// The tree of `table`, written at `at`.
    pub fn table(
        &self,
        table: &toml_edit::Table,
        at: Option<Range<usize>>,
        depth: usize,
    ) -> Result<Table, KataError> {
        if depth > MAX_NESTING {
            return Err(self.too_deep(table.span()));
        }
        let mut out = Table {
            entries: BTreeMap::new(),
            origins: vec![self.origin(at)],
        };
        for (name, item) in table.iter() {
            let at = table.key(name).and_then(Key::span).or_else(|| item.span());
            if let Some(node) = self.item(item, at, depth + 1)? {
                out.entries.insert(name.to_string(), node);
            }
        }
        Ok(out)
    }

    /// The node of `item`, written at `at` (`None` for an empty item).
    pub fn item(
        &self,
        item: &Item,
        at: Option<Range<usize>>,
        depth: usize,
    ) -> Result<Option<Node>, KataError> {
        Ok(Some(match item {
            Item::None => return Ok(None),
            Item::Table(t) => Node::Table(self.table(t, at, depth)?),
            Item::ArrayOfTables(a) => Node::Value {
                value: ConfigValue::Array(
                    a.iter()
                        .map(|t| ConfigValue::String(t.to_string().trim().to_string()))
                        .collect(),
                ),
                origin: self.origin(at),
            },
            Item::Value(Value::InlineTable(t)) => {
                if depth > MAX_NESTING {
                    return Err(self.too_deep(t.span()));
                }
                let mut out = Table {
                    entries: BTreeMap::new(),
                    origins: vec![self.origin(at)],
                };
                for (name, _) in t.iter() {
                    if let Some((key, item)) = t.get_key_value(name) {
                        let at = key.span().or_else(|| item.span());
                        if let Some(node) = self.item(item, at, depth + 1)? {
                            out.entries.insert(name.to_string(), node);
                        }
                    }
                }
                Node::Table(out)
            }
            Item::Value(v) => Node::Value {
                value: to_config_value(v, depth).map_err(|span| self.too_deep(span))?,
                origin: self.origin(at),
            },
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::load::parse_document;

    fn tree(name: &str, text: &str) -> Table {
        let index = LineIndex::new(text);
        let path = PathBuf::from(name);
        let doc = parse_document(&path, text, &index).unwrap();
        let builder = TreeBuilder {
            file: Arc::new(path),
            index: &index,
        };
        builder.table(doc.as_table(), None, 0).unwrap()
    }

    #[test]
    fn inline_and_dotted_tables_are_tables_with_lines() {
        let t = tree(
            "/a.toml",
            "[x.runtimes.kata]\nruntime_type = \"k\"\noptions = { ConfigPath = \"/c\" }\n",
        );
        let kata = t.path(&["x", "runtimes", "kata"]).unwrap();
        assert_eq!(kata.line_in(Path::new("/a.toml")), Some(1));
        assert_eq!(kata.string("runtime_type").unwrap().1.line, 2);
        assert_eq!(
            kata.path(&["options"])
                .unwrap()
                .string("ConfigPath")
                .unwrap()
                .0,
            "/c"
        );
    }

    #[test]
    fn deep_merge_replaces_arrays_and_keeps_other_keys() {
        let mut a = tree(
            "/a.toml",
            "[k]\nruntime_type = \"t\"\npod_annotations = [\"a\", \"b\"]\n[k.options]\nX = 1\n",
        );
        let b = tree(
            "/b.toml",
            "[k]\npod_annotations = [\"c\"]\n[k.options]\nY = 2\n",
        );
        a.merge_deep(b);
        let k = a.table("k").unwrap();
        assert_eq!(k.string("runtime_type").unwrap().0, "t");
        let (list, origin) = k.array("pod_annotations").unwrap();
        assert_eq!(list, &[ConfigValue::String("c".into())]);
        assert_eq!(origin.file.as_path(), Path::new("/b.toml"));
        assert_eq!(k.table("options").unwrap().entries.len(), 2);
        assert_eq!(k.line_in(Path::new("/a.toml")), Some(1));
        assert_eq!(k.line_in(Path::new("/b.toml")), Some(1));
    }

    #[test]
    fn a_value_replaces_a_table_and_back() {
        let mut a = tree("/a.toml", "[k]\nx = 1\n");
        a.merge_deep(tree("/b.toml", "k = 2\n"));
        assert!(a.table("k").is_none());
        a.merge_deep(tree("/c.toml", "[k]\ny = 1\n"));
        assert_eq!(a.table("k").unwrap().entries.len(), 1);
    }
}
