//! Parsing a 50 MB Trivy report: time and peak memory. Ignored by default; run with
//! `cargo test -p portcullis-scan --release --test large_report -- --ignored --nocapture`.

use std::time::Instant;

use portcullis_scan::{bench::synthetic_trivy_report, merge, parse_report, Format};

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[test]
#[allow(clippy::print_stderr)] // a benchmark reports its measurements
#[ignore = "benchmark: generates and parses a 50 MB report"]
fn large_report_parses_in_proportional_memory() {
    let template = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/centos-7.json"
    ))
    .unwrap();
    let (report, entries) = synthetic_trivy_report(&template, 50 * 1024 * 1024).unwrap();
    let rss_before = status_kib("VmRSS:");
    // Reset the peak-RSS counter so VmHWM measures the parse alone (Linux `clear_refs`).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let started = Instant::now();
    let vulns = parse_report(&report, Some(Format::TrivyJson)).unwrap();
    let parse_time = started.elapsed();
    let peak = status_kib("VmHWM:");
    let started = Instant::now();
    let merged = merge(vulns.clone());
    let merge_time = started.elapsed();
    assert_eq!(vulns.len(), entries);
    assert_eq!(merged.len(), entries, "numbered ids never merge");
    let sniffed = Instant::now();
    assert_eq!(parse_report(&report, None).unwrap().len(), entries);
    let sniff_total = sniffed.elapsed();
    let growth_mib = peak.saturating_sub(rss_before) / 1024;
    eprintln!(
        "report {} MiB, {entries} findings: parse {parse_time:?}, merge {merge_time:?}, sniff+parse {sniff_total:?}; \
         RSS before {} MiB, peak during parse {} MiB (+{growth_mib} MiB)",
        report.len() / (1024 * 1024),
        rss_before / 1024,
        peak / 1024,
    );
    // Findings keep only gate fields: memory grows by a fraction of the report size.
    assert!(
        growth_mib < 50,
        "parse grew RSS by {growth_mib} MiB for a 50 MiB report"
    );
}
