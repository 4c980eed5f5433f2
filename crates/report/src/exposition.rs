//! A writer for the Prometheus text exposition format (version 0.0.4).
//!
//! A family's name, help, type and label names are declared once ([`Family`]); samples can
//! only be written through their family, with exactly as many label values as it has label
//! names, so `# HELP`, `# TYPE` and every sample always agree.

use std::fmt::Write as _;

/// One metric family. Every hvguard family is a gauge (see `prometheus.rs`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Family<const N: usize> {
    pub name: &'static str,
    pub help: &'static str,
    pub labels: [&'static str; N],
}

#[derive(Debug)]
pub(crate) struct Exposition {
    out: String,
}

impl Exposition {
    /// Starts the text with a comment naming its schema (comments are ignored by parsers).
    pub fn new(schema: &str) -> Exposition {
        Exposition {
            out: format!(
                "# {schema}: hvguard scan metrics; every family is a gauge of the last scan.\n"
            ),
        }
    }

    /// Writes `# HELP`, `# TYPE` and the samples of one family. A family without samples
    /// still gets its HELP and TYPE, which the format allows.
    pub fn family<const N: usize, S: AsRef<str>>(
        &mut self,
        family: &Family<N>,
        samples: impl IntoIterator<Item = ([S; N], i64)>,
    ) {
        let _ = writeln!(
            self.out,
            "# HELP {} {}",
            family.name,
            escape_help(family.help)
        );
        let _ = writeln!(self.out, "# TYPE {} gauge", family.name);
        for (values, value) in samples {
            self.out.push_str(family.name);
            if N > 0 {
                self.out.push('{');
                for (i, (name, value)) in family.labels.iter().zip(values.iter()).enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    self.out.push_str(name);
                    self.out.push_str("=\"");
                    push_label_value(&mut self.out, value.as_ref());
                    self.out.push('"');
                }
                self.out.push('}');
            }
            let _ = writeln!(self.out, " {value}");
        }
    }

    /// A family without labels and with one sample (or none, when the value is unknown).
    pub fn single(&mut self, family: &Family<0>, value: Option<i64>) {
        self.family(family, value.map(|v| ([] as [&str; 0], v)));
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// HELP text escapes backslash and line feed.
fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Label values escape backslash, double quote and line feed; everything else (any UTF-8,
/// carriage returns and tabs included) is taken literally by the format.
pub(crate) fn push_label_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: Family<0> = Family {
        name: "x_plain",
        help: "a \\ b\nc",
        labels: [],
    };
    const LABELLED: Family<2> = Family {
        name: "x_labelled",
        help: "two labels",
        labels: ["a", "b"],
    };

    #[test]
    fn writes_help_type_and_samples_of_a_family() {
        let mut e = Exposition::new("s/v1");
        e.single(&PLAIN, Some(3));
        e.family(&LABELLED, [(["1", "2"], -1), (["3", "4"], 0)]);
        e.family(&LABELLED, Vec::<([&str; 2], i64)>::new());
        assert_eq!(
            e.finish(),
            "# s/v1: hvguard scan metrics; every family is a gauge of the last scan.\n\
             # HELP x_plain a \\\\ b\\nc\n# TYPE x_plain gauge\nx_plain 3\n\
             # HELP x_labelled two labels\n# TYPE x_labelled gauge\n\
             x_labelled{a=\"1\",b=\"2\"} -1\nx_labelled{a=\"3\",b=\"4\"} 0\n\
             # HELP x_labelled two labels\n# TYPE x_labelled gauge\n"
        );
    }

    #[test]
    fn label_values_escape_backslash_quote_and_newline_only() {
        let mut out = String::new();
        push_label_value(&mut out, "C:\\dir\\\"q\"\nnext\tTAB\r é");
        assert_eq!(out, "C:\\\\dir\\\\\\\"q\\\"\\nnext\tTAB\r é");
    }
}
