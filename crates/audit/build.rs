//! Embeds every `docs/rules/<id>.md` page so `hvguard explain` works from the binary alone.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::{env, fs};

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let docs = manifest.join("../../docs/rules");
    println!("cargo:rerun-if-changed={}", docs.display());
    let mut pages: Vec<(String, PathBuf)> = fs::read_dir(&docs)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "md"))
                .filter_map(|p| {
                    let id = p.file_stem()?.to_str()?.to_string();
                    Some((id, fs::canonicalize(&p).ok()?))
                })
                .collect()
        })
        .unwrap_or_default();
    pages.sort();
    let mut out = String::from("static RULE_DOCS: &[(&str, &str)] = &[\n");
    for (id, path) in &pages {
        println!("cargo:rerun-if-changed={}", path.display());
        let _ = writeln!(
            out,
            "    ({id:?}, include_str!({:?})),",
            path.display().to_string()
        );
    }
    out.push_str("];\n");
    let dest = PathBuf::from(env::var("OUT_DIR").unwrap_or_default()).join("rule_docs.rs");
    if let Err(e) = fs::write(&dest, out) {
        panic!("cannot write {}: {e}", dest.display());
    }
}
