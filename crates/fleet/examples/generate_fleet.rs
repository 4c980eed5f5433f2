//! Writes a generated fleet of node reports (varied from the fixture hosts' real reports)
//! for the hyperfine run in docs/benchmarks.md:
//!
//! `cargo run --release -p hvguard-fleet --example generate_fleet -- DIR [NODES]`

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/generate.rs"]
mod generate;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: generate_fleet DIR [NODES]");
        std::process::exit(2);
    };
    let nodes: usize = args.next().map(|n| n.parse().unwrap()).unwrap_or(10_000);
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap();
    let generated = generate::write_fleet(&dir, nodes, jiff::Timestamp::now());
    eprintln!(
        "{} reports and {} update results, {} MiB, in {}",
        generated.reports,
        generated.update_results,
        generated.bytes >> 20,
        dir.display()
    );
}
