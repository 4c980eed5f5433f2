//! Plan values and dotted keys as TOML.

use hvguard_core::ConfigValue;
use toml_edit::{Array, Value};

/// The TOML value for a plan value, with toml_edit's quoting and escaping.
pub(crate) fn to_toml(value: &ConfigValue) -> Value {
    match value {
        ConfigValue::Bool(b) => Value::from(*b),
        ConfigValue::Integer(i) => Value::from(*i),
        ConfigValue::Float(f) => Value::from(*f),
        ConfigValue::String(s) => Value::from(s.as_str()),
        ConfigValue::Array(items) => {
            let mut array = Array::new();
            for item in items {
                array.push(to_toml(item));
            }
            Value::Array(array)
        }
    }
}

/// `value` as it would appear after `key = ` in a file, without surrounding space: TOML
/// (`8192`, `true`, `"on"`), never Rust's `Debug` (`Integer(8192)`).
pub fn render(value: &ConfigValue) -> String {
    let mut v = to_toml(value);
    v.decor_mut().clear();
    v.to_string().trim().to_string()
}

/// Splits `hypervisor.qemu.seccompsandbox` into its table (`hypervisor.qemu`) and leaf key.
/// A key without a dot belongs to the root table, whose name is empty.
pub(crate) fn split_key(key: &str) -> (&str, &str) {
    key.rsplit_once('.').unwrap_or(("", key))
}

/// A TOML bare key where possible, a quoted one otherwise (so odd plan keys stay valid TOML).
pub(crate) fn key_repr(segment: &str) -> String {
    let bare = !segment.is_empty()
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        segment.to_string()
    } else {
        toml_edit::Key::new(segment).display_repr().into_owned()
    }
}

/// A dotted table or key path in TOML syntax (`hypervisor.qemu`).
pub(crate) fn path_repr(dotted: &str) -> String {
    dotted
        .split('.')
        .map(key_repr)
        .collect::<Vec<_>>()
        .join(".")
}

/// Collapses a free-text reason onto one comment line.
pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_render_as_toml() {
        assert_eq!(render(&ConfigValue::Bool(false)), "false");
        assert_eq!(render(&ConfigValue::Integer(4)), "4");
        assert_eq!(render(&ConfigValue::String("a\"b".into())), r#"'a"b'"#);
        assert_eq!(
            render(&ConfigValue::Array(vec![
                ConfigValue::String("x".into()),
                ConfigValue::String("y".into())
            ])),
            r#"["x", "y"]"#
        );
    }

    #[test]
    fn keys_split_and_quote() {
        assert_eq!(
            split_key("hypervisor.qemu.rootless"),
            ("hypervisor.qemu", "rootless")
        );
        assert_eq!(split_key("top"), ("", "top"));
        assert_eq!(key_repr("seccompsandbox"), "seccompsandbox");
        assert_eq!(key_repr("a b"), "\"a b\"");
        assert_eq!(one_line("two\nlines  here"), "two lines here");
    }
}
