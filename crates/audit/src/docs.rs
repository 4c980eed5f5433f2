//! The `docs/rules/<id>.md` pages, embedded at build time (see build.rs).

include!(concat!(env!("OUT_DIR"), "/rule_docs.rs"));

/// The documentation page of a rule, as Markdown.
pub fn rule_doc(id: &str) -> Option<&'static str> {
    RULE_DOCS
        .binary_search_by(|(doc_id, _)| (*doc_id).cmp(id))
        .ok()
        .map(|i| RULE_DOCS[i].1)
}
