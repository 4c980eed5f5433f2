//! Turning the PATH arguments into a stream of files to read.
//!
//! Folders are walked depth-first with an explicit stack, one directory handle at a time and
//! without collecting or sorting a folder's entries, so a folder of 100,000 reports costs no
//! more memory than one of ten. Every folder's identity (device, inode) is remembered: a
//! symbolic link back into a folder being walked (a loop) or to one already read is named
//! and not followed again. Files that are not read are named too, never dropped silently.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::Problem;

/// Deeper than this is not a layout anyone fetches reports into.
pub const MAX_DEPTH: usize = 32;

/// One thing the walk found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A file to read.
    File(PathBuf),
    /// Something that is not read, and why.
    Problem(Problem),
}

/// A folder waiting to be listed: its path, its depth, and the folders it sits in (device,
/// inode), to tell a loop from a second way into a folder.
struct Pending {
    path: PathBuf,
    depth: usize,
    ancestors: Vec<(u64, u64)>,
}

/// Walks `paths` and hands every file and every problem to `emit` as it is found. A file
/// named on the command line is read whatever its name; in folders only `*.json` files are,
/// and hidden (dot) files are skipped, as temporary files usually are.
pub fn walk(paths: &[PathBuf], emit: &mut dyn FnMut(Found)) {
    let mut seen_dirs: HashSet<(u64, u64)> = HashSet::new();
    for path in paths {
        match std::fs::metadata(path) {
            Err(e) => emit(problem(path, &format!("cannot read: {}", io_reason(&e)))),
            Ok(meta) if meta.is_file() => emit(Found::File(path.clone())),
            Ok(meta) if meta.is_dir() => {
                let id = (meta.dev(), meta.ino());
                if !seen_dirs.insert(id) {
                    emit(problem(path, "folder given twice: read once"));
                    continue;
                }
                walk_dir(
                    Pending {
                        path: path.clone(),
                        depth: 0,
                        ancestors: vec![id],
                    },
                    &mut seen_dirs,
                    emit,
                );
            }
            Ok(_) => emit(problem(path, "not a regular file or a folder")),
        }
    }
}

fn walk_dir(start: Pending, seen_dirs: &mut HashSet<(u64, u64)>, emit: &mut dyn FnMut(Found)) {
    let mut stack = vec![start];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir.path) {
            Ok(entries) => entries,
            Err(e) => {
                emit(problem(
                    &dir.path,
                    &format!("cannot list the folder: {}", io_reason(&e)),
                ));
                continue;
            }
        };
        let mut not_read = 0u64;
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    emit(problem(
                        &dir.path,
                        &format!("listing stopped: {}", io_reason(&e)),
                    ));
                    break;
                }
            };
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let Ok(kind) = entry.file_type() else {
                emit(problem(&path, "cannot tell what it is"));
                continue;
            };
            if kind.is_symlink() {
                follow_symlink(
                    &path,
                    &name,
                    &dir,
                    seen_dirs,
                    &mut stack,
                    &mut not_read,
                    emit,
                );
            } else if kind.is_dir() {
                match entry.metadata() {
                    Ok(meta) => {
                        descend(&path, &meta, &dir, seen_dirs, &mut stack, emit);
                    }
                    Err(e) => emit(problem(&path, &format!("cannot read: {}", io_reason(&e)))),
                }
            } else if kind.is_file() && is_report_name(&name) {
                emit(Found::File(path));
            } else {
                not_read += 1;
            }
        }
        if not_read > 0 {
            emit(problem(
                &dir.path,
                &format!(
                    "{not_read} entr{} not read: only *.json files are (hidden files, other \
                     names and special files are skipped)",
                    if not_read == 1 { "y" } else { "ies" }
                ),
            ));
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn follow_symlink(
    path: &Path,
    name: &str,
    dir: &Pending,
    seen_dirs: &mut HashSet<(u64, u64)>,
    stack: &mut Vec<Pending>,
    not_read: &mut u64,
    emit: &mut dyn FnMut(Found),
) {
    match std::fs::metadata(path) {
        Err(e) if e.raw_os_error() == Some(libc_eloop()) => {
            emit(problem(path, "symlink loop: the link resolves to itself"));
        }
        Err(e) => emit(problem(
            path,
            &format!("dangling symlink: {}", io_reason(&e)),
        )),
        Ok(meta) if meta.is_dir() => descend(path, &meta, dir, seen_dirs, stack, emit),
        Ok(meta) if meta.is_file() && is_report_name(name) => emit(Found::File(path.to_path_buf())),
        Ok(_) => *not_read += 1,
    }
}

fn descend(
    path: &Path,
    meta: &std::fs::Metadata,
    parent: &Pending,
    seen_dirs: &mut HashSet<(u64, u64)>,
    stack: &mut Vec<Pending>,
    emit: &mut dyn FnMut(Found),
) {
    let id = (meta.dev(), meta.ino());
    if parent.ancestors.contains(&id) {
        emit(problem(
            path,
            "symlink loop: leads back into a folder that contains it; not followed",
        ));
        return;
    }
    if !seen_dirs.insert(id) {
        emit(problem(
            path,
            "folder already read through another path; not read twice",
        ));
        return;
    }
    if parent.depth + 1 > MAX_DEPTH {
        emit(problem(
            path,
            &format!("deeper than {MAX_DEPTH} folders; not read"),
        ));
        return;
    }
    let mut ancestors = parent.ancestors.clone();
    ancestors.push(id);
    stack.push(Pending {
        path: path.to_path_buf(),
        depth: parent.depth + 1,
        ancestors,
    });
}

fn is_report_name(name: &str) -> bool {
    !name.starts_with('.') && name.ends_with(".json")
}

/// ELOOP on Linux (every architecture hvguard builds for).
fn libc_eloop() -> i32 {
    40
}

fn problem(path: &Path, reason: &str) -> Found {
    Found::Problem(Problem::new(path, reason))
}

/// The OS error without Rust's "(os error N)" suffix.
pub(crate) fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn run(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<Problem>) {
        let mut files = Vec::new();
        let mut problems = Vec::new();
        walk(paths, &mut |found| match found {
            Found::File(p) => files.push(p),
            Found::Problem(p) => problems.push(p),
        });
        files.sort();
        problems.sort();
        (files, problems)
    }

    #[test]
    fn folders_are_walked_and_loops_named_not_followed() {
        let d = tempfile::tempdir().unwrap();
        let top = d.path().join("reports");
        std::fs::create_dir_all(top.join("rack-1/deep")).unwrap();
        std::fs::write(top.join("a.json"), "{}").unwrap();
        std::fs::write(top.join("rack-1/b.json"), "{}").unwrap();
        std::fs::write(top.join("rack-1/deep/c.json"), "{}").unwrap();
        std::fs::write(top.join("rack-1/notes.txt"), "x").unwrap();
        std::fs::write(top.join(".d.json.tmp-1"), "x").unwrap();
        symlink(&top, top.join("rack-1/deep/back-to-top")).unwrap();
        symlink("self", top.join("self")).unwrap();
        symlink("nowhere.json", top.join("gone.json")).unwrap();
        std::fs::create_dir(d.path().join("elsewhere")).unwrap();
        std::fs::write(d.path().join("elsewhere/e.json"), "{}").unwrap();
        symlink(d.path().join("elsewhere"), top.join("link-1")).unwrap();
        symlink(d.path().join("elsewhere"), top.join("link-2")).unwrap();

        let (files, problems) = run(std::slice::from_ref(&top));
        let names: Vec<String> = files
            .iter()
            .map(|p| p.strip_prefix(&top).unwrap().display().to_string())
            .collect();
        assert_eq!(names.len(), 4, "{names:?}");
        assert!(names.contains(&"rack-1/deep/c.json".to_owned()));
        let reasons: Vec<String> = problems
            .iter()
            .map(|p| {
                format!(
                    "{} {}",
                    p.file.strip_prefix(&top).unwrap().display(),
                    p.reason
                )
            })
            .collect();
        let has = |needle: &str| reasons.iter().any(|r| r.contains(needle));
        assert!(
            has("rack-1/deep/back-to-top symlink loop: leads back"),
            "{reasons:?}"
        );
        assert!(
            has("self symlink loop: the link resolves to itself"),
            "{reasons:?}"
        );
        assert!(has("gone.json dangling symlink"), "{reasons:?}");
        assert!(has("already read through another path"), "{reasons:?}");
        assert!(has("rack-1 1 entry not read"), "{reasons:?}");
        // The hidden temporary file in the top folder.
        assert!(
            reasons.iter().any(|r| r.starts_with(" 1 entry not read")),
            "{reasons:?}"
        );
    }

    #[test]
    fn named_files_are_read_whatever_their_name_and_missing_ones_named() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("report.txt");
        std::fs::write(&file, "{}").unwrap();
        let missing = d.path().join("missing.json");
        let (files, problems) = run(&[file.clone(), missing.clone(), d.path().to_path_buf()]);
        assert_eq!(files, vec![file]);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems
            .iter()
            .any(|p| p.file == missing && p.reason == "cannot read: No such file or directory"));
    }
}
