//! Which files containerd reads, and in which order, under one family's rules.
//!
//! Every family walks imports breadth first: the main file, then the files it imports in the
//! order listed (a glob's matches sorted), then their imports, and so on; a path string
//! already loaded is skipped (that is also how an import cycle ends; it is not an error).
//! Sources: `LoadConfig` and `resolveImports` in `services/server/config/config.go`
//! (v1.6.20, v1.7.0) and `cmd/containerd/server/config/config.go` (v2.0.0, v2.3.0).

use super::notes::Notes;
use super::paths::{go_clean, go_dir, go_join, host_path_of};
use super::tree::{Node, Table, TreeBuilder};
use crate::error::KataError;
use crate::glob::glob;
use crate::load::{parse_document, MAX_CONFIG_BYTES};
use crate::position::LineIndex;
use hvguard_core::{ContainerdSemantics, HostRoot};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use toml_edit::Item;

/// Imports nested deeper than this are not followed (containerd has no limit; real setups
/// use one or two levels).
pub const MAX_IMPORT_DEPTH: usize = 16;

/// At most this many files are read for one family (a glob over a huge folder, a symlink
/// loop that makes ever longer names).
pub const MAX_FILES: usize = 256;

/// What containerd takes from one file.
#[derive(Debug)]
pub struct FileDoc {
    /// The file, as the host sees it.
    pub host: Arc<PathBuf>,
    /// `version`, when the file sets it.
    pub version: Option<i64>,
    /// `imports`, as written.
    pub imports: Vec<String>,
    /// The `plugins` table (empty when the file has none).
    pub plugins: Table,
}

/// Reads and parses each file once, however many families and names reach it.
#[derive(Debug)]
pub struct Reader<'r> {
    root: &'r HostRoot,
    docs: BTreeMap<PathBuf, Option<Arc<FileDoc>>>,
    /// Files read, in first-read order.
    pub files: Vec<PathBuf>,
    /// Files that could not be read or used, each once.
    pub errors: Vec<KataError>,
}

impl<'r> Reader<'r> {
    pub fn new(root: &'r HostRoot) -> Self {
        Reader {
            root,
            docs: BTreeMap::new(),
            files: Vec::new(),
            errors: Vec::new(),
        }
    }

    fn doc(&mut self, host: &Path) -> Option<Arc<FileDoc>> {
        if let Some(doc) = self.docs.get(host) {
            return doc.clone();
        }
        let doc = match read_doc(self.root, host) {
            Ok(doc) => {
                self.files.push(host.to_path_buf());
                Some(Arc::new(doc))
            }
            Err(e) => {
                self.errors.push(e);
                None
            }
        };
        self.docs.insert(host.to_path_buf(), doc.clone());
        doc
    }
}

fn read_doc(root: &HostRoot, host: &Path) -> Result<FileDoc, KataError> {
    let text = root.read_text(host, MAX_CONFIG_BYTES)?;
    let index = LineIndex::new(&text);
    let doc = parse_document(host, &text, &index)?;
    let top = doc.as_table();
    let invalid = |item: &Item, message: &str| {
        let (line, column) = index.locate(item.span().map_or(0, |s| s.start));
        KataError::Invalid {
            path: host.to_path_buf(),
            line,
            column,
            message: message.to_string(),
        }
    };
    let version = match top.get("version") {
        None => None,
        Some(item) => Some(
            item.as_integer()
                .ok_or_else(|| invalid(item, "`version` must be an integer"))?,
        ),
    };
    let imports = match top.get("imports") {
        None => Vec::new(),
        Some(item) => {
            let bad = "`imports` must be an array of path strings";
            let array = item.as_array().ok_or_else(|| invalid(item, bad))?;
            array
                .iter()
                .map(|v| {
                    v.as_str().map(String::from).ok_or_else(|| {
                        let (line, column) = index.locate(v.span().map_or(0, |s| s.start));
                        KataError::Invalid {
                            path: host.to_path_buf(),
                            line,
                            column,
                            message: bad.to_string(),
                        }
                    })
                })
                .collect::<Result<_, _>>()?
        }
    };
    let builder = TreeBuilder {
        file: Arc::new(host.to_path_buf()),
        index: &index,
    };
    let plugins = match top.get_key_value("plugins") {
        None => Table::default(),
        Some((key, item)) => match builder.item(item, key.span(), 1)? {
            Some(Node::Table(t)) => t,
            _ => return Err(invalid(item, "`plugins` must be a table")),
        },
    };
    Ok(FileDoc {
        host: builder.file,
        version,
        imports,
        plugins,
    })
}

/// One file in containerd's load order.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The path string containerd loaded it as.
    pub name: String,
    pub doc: Arc<FileDoc>,
}

struct Pending {
    name: String,
    depth: usize,
    /// The importing file, for messages.
    parent: Option<Arc<PathBuf>>,
}

/// The files `semantics` loads from `main`, in merge order.
pub fn load_order(
    reader: &mut Reader<'_>,
    main: &str,
    semantics: ContainerdSemantics,
    notes: &mut Notes,
) -> Vec<Loaded> {
    let mut order: Vec<Loaded> = Vec::new();
    let mut loaded: BTreeSet<String> = BTreeSet::new();
    let mut pending = VecDeque::from([Pending {
        name: main.to_string(),
        depth: 0,
        parent: None,
    }]);
    while let Some(next) = pending.pop_front() {
        if loaded.contains(&next.name) {
            continue;
        }
        if order.len() >= MAX_FILES {
            notes.add(
                semantics,
                format!("{main}: more than {MAX_FILES} files imported; the rest is not read"),
            );
            break;
        }
        let host = host_path_of(&next.name);
        if next.depth > MAX_IMPORT_DEPTH {
            notes.add(
                semantics,
                format!(
                    "{}: skipped: imports nested deeper than {MAX_IMPORT_DEPTH} levels",
                    host.display()
                ),
            );
            continue;
        }
        if let Some(parent) = &next.parent {
            if reader.root.symlink_metadata(&host).is_err() {
                notes.fatal(
                    semantics,
                    format!(
                        "{}: import {} does not exist; containerd does not start with a missing import",
                        parent.display(),
                        next.name
                    ),
                );
                loaded.insert(next.name);
                continue;
            }
        }
        let Some(doc) = reader.doc(&host) else {
            notes.fatal(
                semantics,
                format!(
                    "{}: cannot be used (see its error); containerd does not start",
                    host.display()
                ),
            );
            loaded.insert(next.name);
            continue;
        };
        for import in resolve(reader.root, &next.name, &doc, semantics, notes) {
            pending.push_back(Pending {
                name: import,
                depth: next.depth + 1,
                parent: Some(Arc::clone(&doc.host)),
            });
        }
        loaded.insert(next.name.clone());
        order.push(Loaded {
            name: next.name,
            doc,
        });
    }
    order
}

/// The path strings `doc`'s imports name, as `semantics` resolves them.
///
/// Only a `*` makes an import a glob (`?` or `[` alone are taken literally). Before 1.6.29
/// and 1.7.16 a relative glob goes to Go's `filepath.Glob` as written, so it is relative to
/// the daemon's working directory; a relative plain path, and from those releases on a
/// relative glob too, is joined to the importing file's folder (fix: containerd commit
/// 0f2068a70 "Fix config import relative path glob", in v1.6.29; 62e9535f2 in v1.7.16).
fn resolve(
    root: &HostRoot,
    parent: &str,
    doc: &FileDoc,
    semantics: ContainerdSemantics,
    notes: &mut Notes,
) -> Vec<String> {
    let mut out = Vec::new();
    for import in &doc.imports {
        let cwd_glob = semantics == ContainerdSemantics::V1CwdGlobs && import.contains('*');
        let path = if cwd_glob {
            import.clone()
        } else {
            let clean = go_clean(import);
            if clean.starts_with('/') {
                clean
            } else {
                go_join(&go_dir(parent), &clean)
            }
        };
        if !path.contains('*') {
            out.push(path);
            continue;
        }
        match glob(root, &path) {
            Ok(matches) => out.extend(matches),
            Err(e) => notes.fatal(
                semantics,
                format!(
                    "{}: import {import}: {e}; containerd does not start",
                    doc.host.display()
                ),
            ),
        }
    }
    out
}
