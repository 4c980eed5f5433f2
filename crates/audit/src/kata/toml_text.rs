//! Configuration values written back as TOML text, for evidence and messages.

use hvguard_core::ConfigValue;
use std::fmt::Write as _;

/// A value as it would appear on the right of `key = ` in a TOML file.
pub(crate) fn value_to_toml(value: &ConfigValue) -> String {
    match value {
        ConfigValue::Bool(b) => b.to_string(),
        ConfigValue::Integer(i) => i.to_string(),
        ConfigValue::Float(f) => float_to_toml(*f),
        ConfigValue::String(s) => string_to_toml(s),
        ConfigValue::Array(items) => {
            let inner: Vec<String> = items.iter().map(value_to_toml).collect();
            format!("[{}]", inner.join(", "))
        }
    }
}

fn float_to_toml(f: f64) -> String {
    if f.is_nan() {
        "nan".to_string()
    } else if f.is_infinite() {
        if f > 0.0 { "inf" } else { "-inf" }.to_string()
    } else {
        // Debug keeps a fractional part (`1.0`), which TOML needs to read a float back.
        format!("{f:?}")
    }
}

/// A TOML basic string with the escapes the TOML spec requires.
pub(crate) fn string_to_toml(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_every_kind() {
        let v = ConfigValue::Array(vec![
            ConfigValue::String("a\"b\\c\n".into()),
            ConfigValue::Integer(-3),
            ConfigValue::Float(1.0),
            ConfigValue::Bool(true),
        ]);
        assert_eq!(value_to_toml(&v), r#"["a\"b\\c\n", -3, 1.0, true]"#);
        assert_eq!(value_to_toml(&ConfigValue::Float(f64::NAN)), "nan");
        assert_eq!(string_to_toml("\u{1}"), "\"\\u0001\"");
    }
}
