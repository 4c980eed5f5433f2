//! Go's lexical path functions (`filepath.Clean`, `Join`, `Dir`, `Split`), because containerd
//! identifies an imported file by the path string they produce: two spellings of one file
//! are two files to it, and a file is skipped only when the very same string was loaded.

use std::path::PathBuf;

/// `filepath.Clean`: one `/` between names, no `.`, `..` folded into what precedes it (and
/// dropped at the root); the empty path is `.`.
pub fn go_clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut kept: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match kept.last() {
                Some(&last) if last != ".." => {
                    kept.pop();
                }
                _ if rooted => {}
                _ => kept.push(".."),
            },
            name => kept.push(name),
        }
    }
    let body = kept.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".to_string(),
        (false, false) => body,
    }
}

/// `filepath.Join(a, b)`: the two joined by `/` and cleaned; an empty side is left out.
pub fn go_join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => String::new(),
        (true, false) => go_clean(b),
        (false, true) => go_clean(a),
        (false, false) => go_clean(&format!("{a}/{b}")),
    }
}

/// `filepath.Dir`: everything before the last `/`, cleaned.
pub fn go_dir(path: &str) -> String {
    go_clean(split_last(path).0)
}

/// `filepath.Split`: (everything up to and including the last `/`, the rest).
pub fn split_last(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(i) => (&path[..=i], &path[i + 1..]),
        None => ("", path),
    }
}

/// The host path a containerd path string names. A relative one is relative to the daemon's
/// working directory, `/` for a systemd service.
pub fn host_path_of(name: &str) -> PathBuf {
    if name.starts_with('/') {
        PathBuf::from(go_clean(name))
    } else {
        PathBuf::from(go_clean(&format!("/{name}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_like_go() {
        for (input, want) in [
            ("", "."),
            ("/", "/"),
            ("a//b/./c/", "a/b/c"),
            ("/etc/containerd/../../opt/x.toml", "/opt/x.toml"),
            ("/../x", "/x"),
            ("../x/../../y", "../../y"),
            ("a/..", "."),
            ("./conf.d/*.toml", "conf.d/*.toml"),
        ] {
            assert_eq!(go_clean(input), want, "{input}");
        }
    }

    #[test]
    fn join_dir_split() {
        assert_eq!(
            go_join("/etc/containerd", "conf.d/a.toml"),
            "/etc/containerd/conf.d/a.toml"
        );
        assert_eq!(go_join(".", "a.toml"), "a.toml");
        assert_eq!(go_join("/etc", "../x"), "/x");
        assert_eq!(go_dir("/etc/containerd/config.toml"), "/etc/containerd");
        assert_eq!(go_dir("config.toml"), ".");
        assert_eq!(go_dir("/config.toml"), "/");
        assert_eq!(split_last("/a/b*"), ("/a/", "b*"));
        assert_eq!(split_last("b*"), ("", "b*"));
        assert_eq!(host_path_of("etc/x.toml"), PathBuf::from("/etc/x.toml"));
        assert_eq!(host_path_of("../x.toml"), PathBuf::from("/x.toml"));
    }
}
