//! How each containerd family merges the loaded files into the runtime handlers it uses.
//!
//! 1.x (`mergeConfig` in `services/server/config/config.go`, v1.6.20 and v1.7.0): each
//! file's `plugins.<name>` table replaces the whole table of that name; the last non-zero
//! `version` wins; version 1 reads plugins by short name (`plugins.cri`), any other version
//! by URI (`plugins."io.containerd.grpc.v1.cri"`).
//!
//! 2.x (`LoadConfig`/`mergeConfig` in `cmd/containerd/server/config/config.go`): plugin
//! tables merge deeply (mergo with override: tables key by key, arrays and values
//! replaced). The CRI runtime handlers live in `io.containerd.cri.v1.runtime` (version 3);
//! a version 2 table `io.containerd.grpc.v1.cri` is moved there by the CRI runtime plugin's
//! `ConfigMigration` (`plugins/cri/runtime/plugin.go`). 2.0–2.2 lift a file without
//! `version` (or version 1) to the version merged so far, renaming short plugin names, and
//! migrate the merged configuration once when its version is below 3 (`server.New` in
//! `cmd/containerd/server/server.go`); 2.3 migrates every file on its own before merging
//! (`LoadConfigWithPlugins`, v2.3.0).

use super::notes::Notes;
use super::source::Loaded;
use super::tree::{Node, Table};
use super::KATA_RUNTIME_TYPE_PREFIX;
use hvguard_core::ContainerdSemantics;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

/// The CRI plugin's name in a version 1 file.
pub const CRI_SHORT: &str = "cri";
/// The CRI plugin of containerd 1.x (and version 2 files).
pub const GRPC_CRI: &str = "io.containerd.grpc.v1.cri";
/// The CRI runtime plugin of containerd 2.x (version 3 files).
pub const CRI_RUNTIME: &str = "io.containerd.cri.v1.runtime";

/// Keys of the CRI plugin's `containerd` table that 2.x moves to the image service instead.
const IMAGE_KEYS: [&str; 3] = [
    "snapshotter",
    "disable_snapshot_annotations",
    "discard_unpacked_layers",
];

/// Keys `io.containerd.grpc.v1.cri` keeps after the 2.x migration (`plugins/cri/cri.go`).
const SERVER_KEYS: [&str; 6] = [
    "disable_tcp_service",
    "stream_server_address",
    "stream_server_port",
    "stream_idle_timeout",
    "enable_tls_streaming",
    "x509_key_pair_streaming",
];

/// The runtime handlers table containerd uses under `semantics` after merging `order`;
/// `None` when no file gives that table (containerd's built-in handlers apply).
pub fn runtimes_table(
    order: &[Loaded],
    semantics: ContainerdSemantics,
    notes: &mut Notes,
) -> Option<Table> {
    for loaded in order {
        if let Some(v) = loaded.doc.version.filter(|v| *v < 0) {
            notes.add(
                semantics,
                format!(
                    "{}: version {v} is not a containerd configuration version",
                    loaded.doc.host.display()
                ),
            );
        }
    }
    let mut family = Family { semantics, notes };
    let (plugins, effective, why) = match semantics {
        ContainerdSemantics::V1CwdGlobs | ContainerdSemantics::V1 => family.v1(order),
        ContainerdSemantics::V2_0_0 | ContainerdSemantics::V2_0_2 => family.v2_0(order),
        ContainerdSemantics::V2_3 => family.v2_3(order),
    };
    for key in [CRI_SHORT, GRPC_CRI, CRI_RUNTIME] {
        if key == effective {
            continue;
        }
        let Some(plugin) = plugins.table(key) else {
            continue;
        };
        let (names, files) = kata_runtimes_in(plugin);
        if names.is_empty() {
            continue;
        }
        let why = if key == CRI_SHORT && !semantics.is_v1() {
            "only a file without `version` or with version 1 has its short plugin names renamed"
        } else {
            why.as_str()
        };
        family.note(format!(
            "{} in [plugins.\"{key}\"] ({}) {} not used: {why}",
            runtimes(&names),
            files.join(", "),
            are(&names)
        ));
    }
    plugins
        .path(&[effective, "containerd", "runtimes"])
        .cloned()
}

struct Family<'n> {
    semantics: ContainerdSemantics,
    notes: &'n mut Notes,
}

impl Family<'_> {
    fn note(&mut self, message: String) {
        self.notes.add(self.semantics, message);
    }

    fn fatal(&mut self, message: String) {
        self.notes.fatal(self.semantics, message);
    }

    /// containerd 1.x: (merged plugins, the CRI plugin key read, why other keys are not).
    fn v1(&mut self, order: &[Loaded]) -> (Table, &'static str, String) {
        let mut plugins = Table::default();
        let mut version = 0;
        for loaded in order {
            let doc = &loaded.doc;
            if let Some(v) = doc.version.filter(|v| *v != 0) {
                version = v;
            }
            for (key, node) in &doc.plugins.entries {
                if let Some(Node::Table(old)) = plugins.entries.get(key.as_str()) {
                    self.replaced(key, old, node, &doc.host);
                }
                plugins.entries.insert(key.clone(), node.clone());
            }
        }
        let version = if version == 0 { 1 } else { version };
        if version >= 2 {
            self.v1_plugin_keys(&plugins, version);
        }
        if version > 2 {
            self.note(format!(
                "the configuration is version {version}: containerd 1.6.32+/1.7.17+ do not start with it; older 1.x releases read it as version 2"
            ));
        }
        let effective = if version == 1 { CRI_SHORT } else { GRPC_CRI };
        let why = format!(
            "the configuration is version {version}, which takes runtimes from [plugins.\"{effective}\"]"
        );
        (plugins, effective, why)
    }

    /// A 1.x file replacing a CRI table that defined runtimes.
    fn replaced(&mut self, key: &str, old: &Table, new: &Node, by: &Arc<PathBuf>) {
        if key != CRI_SHORT && key != GRPC_CRI {
            return;
        }
        let Some(from) = old.origins.first().map(|o| Arc::clone(&o.file)) else {
            return;
        };
        if from == *by {
            return;
        }
        let kept = match new {
            Node::Table(t) => runtime_names(t),
            Node::Value { .. } => Vec::new(),
        };
        let (redefined, lost): (Vec<String>, Vec<String>) = runtime_names(old)
            .into_iter()
            .partition(|n| kept.contains(n));
        let mut parts = Vec::new();
        if !lost.is_empty() {
            parts.push(format!("{} {} dropped", runtimes(&lost), are(&lost)));
        }
        if !redefined.is_empty() {
            parts.push(format!(
                "what it set for {} is discarded",
                runtimes(&redefined)
            ));
        }
        if parts.is_empty() {
            return;
        }
        self.note(format!(
            "{} sets [plugins.\"{key}\"], which replaces the whole table {} set: {}",
            by.display(),
            from.display(),
            parts.join("; ")
        ));
    }

    /// `ValidateV2`: 1.6 wants four dot-separated parts in every plugin key of a version 2
    /// configuration, 1.7 also the `io.containerd.` prefix.
    fn v1_plugin_keys(&mut self, plugins: &Table, version: i64) {
        for (key, node) in &plugins.entries {
            let file = match node {
                Node::Table(t) => t.origins.first().map(|o| o.file.display().to_string()),
                Node::Value { origin, .. } => Some(origin.file.display().to_string()),
            }
            .unwrap_or_default();
            if key.split('.').count() < 4 {
                self.fatal(format!(
                    "{file}: plugin key `{key}` is not a plugin URI (io.containerd.<type>.<version>.<name>) in a version {version} configuration; containerd does not start"
                ));
            } else if !key.starts_with("io.containerd.") {
                self.note(format!(
                    "{file}: plugin key `{key}` does not start with `io.containerd.`; containerd 1.7 does not start"
                ));
            }
        }
    }

    /// containerd 2.0–2.2.
    fn v2_0(&mut self, order: &[Loaded]) -> (Table, &'static str, String) {
        let mut merged = Table::default();
        let mut version: i64 = 3;
        let mut set_by: Option<Arc<PathBuf>> = None;
        for loaded in order {
            let doc = &loaded.doc;
            let mut plugins = doc.plugins.clone();
            match doc.version.unwrap_or(0) {
                0 | 1 => self.rename_v1(&mut plugins, &doc.host),
                v => {
                    version = v;
                    set_by = Some(Arc::clone(&doc.host));
                }
            }
            merged.merge_deep(plugins);
        }
        if version > 3 {
            self.fatal(format!(
                "the configuration is version {version}; containerd 2.0-2.2 accept at most 3 and do not start"
            ));
        }
        let early = self.semantics == ContainerdSemantics::V2_0_0;
        if version < 3 {
            self.migrate(&mut merged, early);
        }
        let source = match &set_by {
            Some(file) => format!("{} sets it", file.display()),
            None => "no file sets `version`, and a file without it is read as the current version"
                .to_string(),
        };
        let why = format!(
            "the merged configuration is version {version} ({source}); only a version 2 configuration has them moved to [plugins.\"{CRI_RUNTIME}\"]"
        );
        (merged, CRI_RUNTIME, why)
    }

    /// containerd 2.3 and later.
    fn v2_3(&mut self, order: &[Loaded]) -> (Table, &'static str, String) {
        const CURRENT: i64 = 4;
        let mut merged = Table::default();
        let mut root_version = 0;
        for loaded in order {
            let doc = &loaded.doc;
            let version = doc.version.unwrap_or(0);
            if root_version == 0 {
                root_version = version;
            }
            if version > root_version {
                self.fatal(format!(
                    "{}: version {version} is higher than the main configuration's {root_version}; containerd does not start",
                    doc.host.display()
                ));
            }
            if version > CURRENT {
                self.fatal(format!(
                    "{}: version {version}; containerd 2.3 accepts at most {CURRENT} and does not start",
                    doc.host.display()
                ));
            }
            let mut plugins = doc.plugins.clone();
            for step in version.max(0)..CURRENT {
                if step == 1 {
                    self.rename_v1(&mut plugins, &doc.host);
                }
                if step < 3 {
                    self.migrate(&mut plugins, false);
                }
            }
            merged.merge_deep(plugins);
        }
        let why = "only files of version 2 or lower have them moved there".to_string();
        (merged, CRI_RUNTIME, why)
    }

    /// `v1Migrate`: a version 1 file's short plugin names become URIs (`cri` ->
    /// `io.containerd.grpc.v1.cri`); other short names do not matter to runtime handlers.
    fn rename_v1(&mut self, plugins: &mut Table, file: &Arc<PathBuf>) {
        let Some(cri) = plugins.entries.remove(CRI_SHORT) else {
            return;
        };
        if plugins.entries.contains_key(GRPC_CRI) {
            self.note(format!(
                "{}: sets both [plugins.cri] and [plugins.\"{GRPC_CRI}\"]; containerd 2.x renames the first to the second and keeps either one, at random",
                file.display()
            ));
        }
        plugins.entries.insert(GRPC_CRI.to_string(), cri);
    }

    /// The CRI runtime plugin's migration of `io.containerd.grpc.v1.cri` into
    /// `io.containerd.cri.v1.runtime`: 2.0.0 and 2.0.1 replace the target with the whole
    /// table; later releases copy each key of its `containerd` table only where the target
    /// has none (so the `runtimes` of a target that already has some win). Keys outside
    /// `containerd` do not hold runtime handlers and are left out.
    fn migrate(&mut self, plugins: &mut Table, replace: bool) {
        let Some(Node::Table(src)) = plugins.entries.get(GRPC_CRI).cloned() else {
            return;
        };
        if replace {
            if let Some(Node::Table(old)) = plugins.entries.get(CRI_RUNTIME) {
                let names = runtime_names(old);
                if !names.is_empty() {
                    self.note(format!(
                        "[plugins.\"{GRPC_CRI}\"] ({}) is moved over [plugins.\"{CRI_RUNTIME}\"] ({}): {} defined there {} dropped",
                        files_of(&src).join(", "),
                        files_of(old).join(", "),
                        runtimes(&names),
                        are(&names)
                    ));
                }
            }
            plugins
                .entries
                .insert(CRI_RUNTIME.to_string(), Node::Table(src));
        } else if let Some(src_containerd) = src.table("containerd") {
            let mut dst = match plugins.entries.remove(CRI_RUNTIME) {
                Some(Node::Table(t)) => t,
                _ => Table::default(),
            };
            let mut dst_containerd = match dst.entries.remove("containerd") {
                Some(Node::Table(t)) => t,
                _ => Table::default(),
            };
            for (key, node) in &src_containerd.entries {
                if IMAGE_KEYS.contains(&key.as_str()) {
                    continue;
                }
                if !dst_containerd.entries.contains_key(key) {
                    dst_containerd.entries.insert(key.clone(), node.clone());
                } else if key == "runtimes" {
                    let names = runtime_names(&src);
                    if !names.is_empty() {
                        self.note(format!(
                            "{} in [plugins.\"{GRPC_CRI}\"] ({}) {} dropped: [plugins.\"{CRI_RUNTIME}\"] ({}) already has runtimes",
                            runtimes(&names),
                            files_of(&src).join(", "),
                            are(&names),
                            files_of(&dst).join(", ")
                        ));
                    }
                }
            }
            dst.entries
                .insert("containerd".to_string(), Node::Table(dst_containerd));
            plugins
                .entries
                .insert(CRI_RUNTIME.to_string(), Node::Table(dst));
        }
        if let Some(Node::Table(grpc)) = plugins.entries.get_mut(GRPC_CRI) {
            grpc.entries
                .retain(|k, _| SERVER_KEYS.contains(&k.as_str()));
        }
    }
}

/// "runtime a" or "runtimes a, b".
fn runtimes(names: &[String]) -> String {
    match names {
        [one] => format!("runtime {one}"),
        _ => format!("runtimes {}", names.join(", ")),
    }
}

fn are(names: &[String]) -> &'static str {
    if names.len() == 1 {
        "is"
    } else {
        "are"
    }
}

/// Every runtime handler's name in a CRI plugin table.
fn runtime_names(plugin: &Table) -> Vec<String> {
    plugin
        .path(&["containerd", "runtimes"])
        .map(|r| r.entries.keys().cloned().collect())
        .unwrap_or_default()
}

/// The Kata runtime handlers of a CRI plugin table, and the files that define them.
fn kata_runtimes_in(plugin: &Table) -> (Vec<String>, Vec<String>) {
    let mut names = Vec::new();
    let mut files = BTreeSet::new();
    if let Some(runtimes) = plugin.path(&["containerd", "runtimes"]) {
        for (name, node) in &runtimes.entries {
            let Node::Table(t) = node else { continue };
            if let Some((kind, origin)) = t.string("runtime_type") {
                if kind.starts_with(KATA_RUNTIME_TYPE_PREFIX) {
                    names.push(name.clone());
                    files.insert(origin.file.display().to_string());
                }
            }
        }
    }
    (names, files.into_iter().collect())
}

/// The files that wrote a table or anything in it, sorted.
fn files_of(table: &Table) -> Vec<String> {
    let mut files = BTreeSet::new();
    collect_files(table, &mut files);
    files.into_iter().collect()
}

fn collect_files(table: &Table, out: &mut BTreeSet<String>) {
    out.extend(table.origins.iter().map(|o| o.file.display().to_string()));
    for node in table.entries.values() {
        match node {
            Node::Table(t) => collect_files(t, out),
            Node::Value { origin, .. } => {
                out.insert(origin.file.display().to_string());
            }
        }
    }
}
