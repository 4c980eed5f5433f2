//! `hvguard bench`: boot times of two hypervisor builds (`--compare A B`) or of one build
//! without and with a security feature (`--feature NAME`), alternating A and B; `--baseline`
//! gates the result in Kata's CI metrics format (docs/smoke-and-bench.md).
//!
//! Exit codes: 0 every boot worked and every baseline metric is within bounds, 1 otherwise,
//! 2 usage or input error.

use super::smoke::{mib, ms, resolve_spec, run_line, SmokeFlags, SmokeFormat};
use super::Outcome;
use crate::output;
use anyhow::Result;
use hvguard_smoke::{run_bench, Baseline, BenchKind, BenchReport, BenchSide, Feature};
use std::fmt::Write as _;
use std::path::PathBuf;

/// Recorded boots per side when `--runs` is not given.
const DEFAULT_BENCH_RUNS: u32 = 5;

/// `hvguard bench`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["compare", "feature"])))]
pub struct BenchArgs {
    /// Two hypervisor binaries to compare (A, then B); every other setting is shared.
    #[arg(long, num_args = 2, value_names = ["A", "B"], conflicts_with = "hypervisor")]
    pub compare: Vec<PathBuf>,
    /// A security feature to measure, A without it and B with it: sandbox (QEMU -sandbox as
    /// harden sets it), iommu (vIOMMU), machine (q35 against microvm).
    #[arg(long, value_name = "NAME", value_parser = parse_feature)]
    pub feature: Option<Feature>,
    /// A Kata CI metrics baseline (`[[metric]]` with name, checktype, bounds): exit 1 when a
    /// metric leaves its bounds.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    #[command(flatten)]
    pub flags: SmokeFlags,
}

fn parse_feature(s: &str) -> Result<Feature, String> {
    s.parse()
}

pub fn run(args: BenchArgs) -> Result<Outcome> {
    // Read the baseline first: a broken gate is an input error before any boot.
    let baseline = args.baseline.as_deref().map(Baseline::load).transpose()?;
    let base = resolve_spec(&args.flags)?;
    let runs = args.flags.runs.unwrap_or(DEFAULT_BENCH_RUNS);
    let (a, b, kind) = match (&args.feature, args.compare.as_slice()) {
        (Some(feature), _) => {
            let (a, b) = feature.variants(&base)?;
            (a, b, BenchKind::Feature(*feature))
        }
        (None, [pa, pb]) => {
            let mut a = base.clone();
            let mut b = base;
            a.hypervisor = pa.clone();
            b.hypervisor = pb.clone();
            (a, b, BenchKind::Compare)
        }
        _ => anyhow::bail!("give --compare A B or --feature NAME"),
    };
    let mut report = run_bench(&a, &b, runs, kind)?;
    if let Some(baseline) = &baseline {
        let gate = baseline.check(&report);
        report.ok &= gate.ok;
        report.gate = Some(gate);
    }
    let text = match args.flags.format {
        SmokeFormat::Json => report.to_json() + "\n",
        SmokeFormat::Text => render_text(&report),
    };
    output::print(&text)?;
    Ok(if report.ok {
        Outcome::Clean
    } else {
        Outcome::Findings
    })
}

fn side_line(out: &mut String, name: &str, side: &BenchSide) {
    let _ = writeln!(
        out,
        "  {name}  {:>9} {:>9} {:>9} {:>9}   {}{}",
        ms(side.median_ms),
        ms(side.min_ms),
        ms(side.max_ms),
        mib(side.median_peak_rss_kib),
        side.label,
        side.version
            .as_deref()
            .map_or_else(String::new, |v| format!(" (QEMU {v})")),
    );
}

fn render_text(report: &BenchReport) -> String {
    let mut out = String::new();
    let what = match report.feature {
        Some(f) => format!("feature {f}"),
        None => "compare".to_string(),
    };
    let recorded = report.a.runs.iter().filter(|r| r.ok).count();
    let _ = writeln!(
        out,
        "hvguard bench: {what}, {}, {recorded} boots per side, A and B alternating",
        report.accel.as_str().to_uppercase()
    );
    let _ = writeln!(out, "          median       min       max  peak RSS");
    side_line(&mut out, "A", &report.a);
    side_line(&mut out, "B", &report.b);
    match report.ratio {
        Some(r) => {
            let _ = writeln!(out, "  ratio B/A  {r:.3} ({:+.1} %)", (r - 1.0) * 100.0);
        }
        None => {
            let _ = writeln!(out, "  ratio B/A  - (a side did not boot)");
        }
    }
    for note in &report.notes {
        let _ = writeln!(out, "  note  {note}");
    }
    for (name, side) in [("A", &report.a), ("B", &report.b)] {
        for (i, run) in side.runs.iter().enumerate().filter(|(_, r)| !r.ok) {
            run_line(&mut out, &format!("{name} run {}", i + 1), run);
        }
    }
    if let Some(gate) = &report.gate {
        let _ = writeln!(
            out,
            "  baseline {}: {}",
            gate.baseline.display(),
            if gate.ok {
                "within bounds"
            } else {
                "OUT OF BOUNDS"
            }
        );
        for m in &gate.metrics {
            let value = m
                .value
                .map_or_else(|| "no value".to_string(), |v| format!("{v:.3}"));
            let _ = writeln!(
                out,
                "    {} {:<18} {:<6} {value} in [{:.3}, {:.3}] (line {})",
                if m.ok { "ok  " } else { "FAIL" },
                m.name,
                m.checktype.as_str(),
                m.min,
                m.max,
                m.line
            );
        }
    }
    if !report.ok && report.gate.as_ref().is_none_or(|g| g.ok) {
        let _ = writeln!(out, "  a boot failed: no comparison is complete");
    }
    out
}
