// Shared by `fuzz/fuzz_targets/os_names.rs` and its replay test
// (`crates/kata/tests/fuzz_corpus.rs`), which `include!` it.
//
// The input is a file name, as bytes. Checked:
// - `display_os` is lossless: a UTF-8 name is kept as it is (control characters are the
//   output edge's job, `hvguard_core::escape`), a name that is not UTF-8 is escaped to text
//   with no control character, and unescaping it gives the input back;
// - a drop-in with that name in `config.d/` is applied, like Kata applies it: the merged
//   configuration holds its value, and the recorded path is the escaped one and serialises
//   to JSON.

use hvguard_core::os_name::display_os;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Reverses `display_os`'s escapes (`\\`, `\xNN`, `\u{N..}`).
fn unescape(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        match chars.next()? {
            '\\' => out.push(b'\\'),
            'x' => {
                let hi = chars.next()?.to_digit(16)?;
                let lo = chars.next()?.to_digit(16)?;
                out.push(u8::try_from(hi * 16 + lo).ok()?);
            }
            'u' => {
                if chars.next()? != '{' {
                    return None;
                }
                let mut code = 0u32;
                loop {
                    let d = chars.next()?;
                    if d == '}' {
                        break;
                    }
                    code = code.checked_mul(16)?.checked_add(d.to_digit(16)?)?;
                }
                let mut buf = [0u8; 4];
                out.extend_from_slice(char::from_u32(code)?.encode_utf8(&mut buf).as_bytes());
            }
            _ => return None,
        }
    }
    Some(out)
}

pub fn check_os_name(data: &[u8]) {
    let name = OsStr::from_bytes(data);
    let shown = display_os(name);
    if std::str::from_utf8(data).is_ok() {
        assert_eq!(shown.as_bytes(), data, "a UTF-8 name is kept as it is");
    } else {
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
        assert_eq!(unescape(&shown).as_deref(), Some(data), "{shown:?}");
    }
    // A name the file system takes as one entry of config.d/.
    if data.is_empty()
        || data.len() > 255
        || data.contains(&b'/')
        || data.contains(&0)
        || data == b"."
        || data == b".."
    {
        return;
    }
    let Ok(dir) = tempfile_dir() else {
        return;
    };
    let kata = dir.join("etc/kata-containers");
    if std::fs::create_dir_all(kata.join("config.d")).is_err()
        || std::fs::write(kata.join("configuration.toml"), "[runtime]\nenable_debug = false\n")
            .is_err()
        || std::fs::write(kata.join("config.d").join(name), "[runtime]\nenable_debug = true\n")
            .is_err()
    {
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    let root = hvguard_core::HostRoot::new(&dir);
    let loaded = root.ok().and_then(|root| {
        hvguard_kata::load_with_dropins(
            &root,
            Path::new("/etc/kata-containers/configuration.toml"),
            None,
        )
        .ok()
    });
    let _ = std::fs::remove_dir_all(&dir);
    let loaded = loaded.expect("the configuration loads");
    let value = &loaded.config.values["runtime.enable_debug"];
    assert_eq!(value.value.as_bool(), Some(true), "drop-in {shown:?} not applied");
    let expected = Path::new("/etc/kata-containers/config.d").join(shown.as_ref());
    assert_eq!(loaded.config.dropins, vec![expected.clone()]);
    assert_eq!(value.path, expected);
    assert!(serde_json::to_string(&loaded.config).is_ok());
}

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "hvguard-fuzz-names-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
