//! The hardened full copy, for Kata releases that do not read `config.d/`.
//!
//! The copy is the operator's file edited with `toml_edit`, which keeps every comment, blank
//! line and untouched value byte for byte: a key that exists gets its new value in place (its
//! decor kept, a `# hvguard:` comment line added above it); a missing key is appended to the end
//! of its table; a missing table is created. The original is only read.

use super::atomic::write_atomic;
use super::error::HardenError;
use super::paths::Placement;
use super::value::{one_line, to_toml};
use super::write::{backup, read_existing, DropinStatus};
use hvguard_core::{ConfigValue, HardeningPlan, HardeningSetting, HostRoot};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use toml_edit::{DocumentMut, Item, Table, TableLike};

/// Inserted before `.toml`: `configuration-qemu.toml` -> `configuration-qemu.hvguard-hardened.toml`.
pub const COPY_SUFFIX: &str = ".hvguard-hardened";

/// The result of [`write_hardened_copy`]; paths are host paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HardenedCopy {
    /// The hardened copy.
    pub path: PathBuf,
    /// Created, replaced (after a backup) or already up to date.
    pub status: DropinStatus,
    /// Where a replaced older copy was saved.
    pub backup: Option<PathBuf>,
    /// How to make Kata use the copy (containerd's `ConfigPath`), for the operator.
    pub instructions: String,
}

/// Writes a hardened copy of `plan.config` beside it and says how to point containerd at it.
pub fn write_hardened_copy(
    root: &HostRoot,
    plan: &HardeningPlan,
    now: jiff::Timestamp,
) -> Result<HardenedCopy, HardenError> {
    let prepared = prepare(root, plan)?;
    let mut result = prepared.copy;
    if result.status != DropinStatus::Unchanged {
        let name = copy_name(&prepared.placement.main_name);
        if let Some(old) = &prepared.existing {
            result.backup = Some(backup(root, &prepared.placement, &name, old, now)?);
        }
        write_atomic(
            &prepared.placement.config_dir,
            &name,
            None,
            prepared.content.as_bytes(),
        )?;
    }
    Ok(result)
}

/// What [`write_hardened_copy`] would do, and the copy's full text, without writing anything
/// (the dry run for releases without drop-in support).
pub fn preview_hardened_copy(
    root: &HostRoot,
    plan: &HardeningPlan,
) -> Result<(HardenedCopy, String), HardenError> {
    let prepared = prepare(root, plan)?;
    Ok((prepared.copy, prepared.content))
}

/// True for a file name hvguard gives its hardened copies (`*.hvguard-hardened.toml`): an
/// output of hvguard, never a configuration to harden (or to copy again).
pub fn is_hardened_copy(path: &Path) -> bool {
    path.file_name().is_some_and(|n| {
        n.as_bytes()
            .ends_with(format!("{COPY_SUFFIX}.toml").as_bytes())
    })
}

struct Prepared {
    placement: Placement,
    existing: Option<Vec<u8>>,
    content: String,
    copy: HardenedCopy,
}

fn prepare(root: &HostRoot, plan: &HardeningPlan) -> Result<Prepared, HardenError> {
    let placement = Placement::for_main(root, &plan.config)?;
    // The main configuration is read through the folder that was checked, like every write.
    let main = OsStr::new(&placement.main_name);
    let main_path = placement.config_dir.entry_path(main);
    let bytes = read_existing(&placement.config_dir, &placement.main_name)?.ok_or_else(|| {
        HardenError::io(
            &main_path,
            "read main configuration",
            std::io::Error::from(std::io::ErrorKind::NotFound),
        )
    })?;
    let text = String::from_utf8(bytes).map_err(|_| HardenError::NotText {
        path: main_path.clone(),
    })?;
    let content = harden_text(&plan.config, &text, &plan.settings)?;
    let name = copy_name(&placement.main_name);
    let host = placement.config_dir.entry_path(OsStr::new(&name));
    let existing = read_existing(&placement.config_dir, &name)?;
    let status = match &existing {
        None => DropinStatus::Create,
        Some(old) if old == content.as_bytes() => DropinStatus::Unchanged,
        Some(_) => DropinStatus::Replace,
    };
    Ok(Prepared {
        placement,
        existing,
        content,
        copy: HardenedCopy {
            instructions: instructions(&host),
            path: host,
            status,
            backup: None,
        },
    })
}

fn copy_name(main_name: &str) -> String {
    let stem = main_name.strip_suffix(".toml").unwrap_or(main_name);
    format!("{stem}{COPY_SUFFIX}.toml")
}

/// `text` with every setting applied; comments and untouched lines are kept.
pub(crate) fn harden_text(
    path: &Path,
    text: &str,
    settings: &[HardeningSetting],
) -> Result<String, HardenError> {
    let mut doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
        let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
        HardenError::Parse {
            path: path.to_path_buf(),
            line,
            column,
            message: one_line(e.message()),
        }
    })?;
    for s in settings {
        let comment = format!("# hvguard: {}: {}", s.rule, one_line(&s.reason));
        set_key(&mut doc, &s.key, &s.value, &comment).map_err(|reason| HardenError::Shape {
            path: path.to_path_buf(),
            key: s.key.clone(),
            reason,
        })?;
    }
    Ok(doc.to_string())
}

fn set_key(
    doc: &mut DocumentMut,
    key: &str,
    value: &ConfigValue,
    comment: &str,
) -> Result<(), String> {
    let segments: Vec<&str> = key.split('.').collect();
    let Some((leaf, tables)) = segments.split_last() else {
        return Err("empty key".into());
    };
    let mut table: &mut dyn TableLike = doc.as_table_mut();
    for (i, seg) in tables.iter().enumerate() {
        let last = i + 1 == tables.len();
        let item = table.entry(seg).or_insert_with(|| {
            let mut t = Table::new();
            // Intermediate tables stay header-less (`[hypervisor]` is never written by Kata).
            t.set_implicit(!last);
            Item::Table(t)
        });
        table = item
            .as_table_like_mut()
            .ok_or_else(|| format!("`{}` is a value, not a table", tables[..=i].join(".")))?;
    }
    let mut new = to_toml(value);
    match table.get_mut(leaf) {
        Some(Item::Value(old)) => {
            *new.decor_mut() = old.decor().clone();
            *old = new;
        }
        Some(Item::None) | None => {
            table.insert(leaf, Item::Value(new));
        }
        Some(_) => return Err(format!("`{key}` is a table, not a value")),
    }
    if let Some(mut k) = table.key_mut(leaf) {
        let decor = k.leaf_decor_mut();
        let prefix = decor
            .prefix()
            .and_then(|p| p.as_str())
            .unwrap_or("")
            .to_string();
        // The prefix holds the comment lines above the key and then its indentation.
        let (head, indent) = match prefix.rfind('\n') {
            Some(i) => prefix.split_at(i + 1),
            None => ("", prefix.as_str()),
        };
        decor.set_prefix(format!("{head}{indent}{comment}\n{indent}"));
    }
    Ok(())
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn instructions(copy: &Path) -> String {
    let p = copy.display();
    format!(
        "This Kata release does not read config.d/ drop-ins, so hvguard wrote a hardened copy:\n\
         \x20 {p}\n\
         Point the Kata runtime entry of containerd at it (runtime `kata` shown; use yours), in\n\
         /etc/containerd/config.toml or the file it imports:\n\
         \x20 containerd config version 2:\n\
         \x20   [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata.options]\n\
         \x20     ConfigPath = \"{p}\"\n\
         \x20 containerd config version 3:\n\
         \x20   [plugins.\"io.containerd.cri.v1.runtime\".containerd.runtimes.kata.options]\n\
         \x20     ConfigPath = \"{p}\"\n\
         then restart containerd (`systemctl restart containerd`). New pods use the copy; running\n\
         pods keep the configuration they started with. To roll back, remove the ConfigPath line\n\
         (or restore the old one) and restart containerd again.\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use hvguard_core::RuleId;

    fn setting(key: &str, value: ConfigValue) -> HardeningSetting {
        HardeningSetting {
            key: key.into(),
            value,
            rule: RuleId::new("kata.debug-enabled").unwrap(),
            reason: "why".into(),
        }
    }

    const TEXT: &str = "# top comment\n[hypervisor.qemu]\n# keep me\n  enable_debug = true # trailing\npath = \"/q\"\n\n# before runtime\n[runtime]\nx = 1\n";

    #[test]
    fn sets_in_place_keeping_comments() {
        let out = harden_text(
            Path::new("/c.toml"),
            TEXT,
            &[setting(
                "hypervisor.qemu.enable_debug",
                ConfigValue::Bool(false),
            )],
        )
        .unwrap();
        assert_eq!(
            out,
            "# top comment\n[hypervisor.qemu]\n# keep me\n  # hvguard: kata.debug-enabled: why\n  enable_debug = false # trailing\npath = \"/q\"\n\n# before runtime\n[runtime]\nx = 1\n"
        );
    }

    #[test]
    fn appends_missing_keys_and_tables() {
        let out = harden_text(
            Path::new("/c.toml"),
            TEXT,
            &[
                setting(
                    "hypervisor.qemu.seccompsandbox",
                    ConfigValue::String("on".into()),
                ),
                setting("agent.kata.enable_debug", ConfigValue::Bool(false)),
            ],
        )
        .unwrap();
        let doc: DocumentMut = out.parse().unwrap();
        assert_eq!(
            doc["hypervisor"]["qemu"]["seccompsandbox"].as_str(),
            Some("on")
        );
        assert_eq!(doc["agent"]["kata"]["enable_debug"].as_bool(), Some(false));
        let seccomp = out.find("seccompsandbox").unwrap();
        assert!(seccomp < out.find("# before runtime").unwrap(), "{out}");
        assert!(out.contains("[agent.kata]"), "{out}");
        assert!(out.starts_with(
            "# top comment\n[hypervisor.qemu]\n# keep me\n  enable_debug = true # trailing\n"
        ));
    }

    #[test]
    fn invalid_toml_is_an_error_with_position() {
        let err = harden_text(Path::new("/c.toml"), "[a]\nx = \n", &[]).unwrap_err();
        assert!(err.to_string().starts_with("/c.toml:2:"), "{err}");
    }

    #[test]
    fn value_where_a_table_is_needed_is_an_error() {
        let err = harden_text(
            Path::new("/c.toml"),
            "runtime = 1\n",
            &[setting("runtime.enable_debug", ConfigValue::Bool(false))],
        )
        .unwrap_err();
        assert!(matches!(err, HardenError::Shape { .. }), "{err}");
    }

    #[test]
    fn copy_names() {
        assert_eq!(
            copy_name("configuration-qemu.toml"),
            "configuration-qemu.hvguard-hardened.toml"
        );
        assert_eq!(copy_name("kata"), "kata.hvguard-hardened.toml");
    }
}
