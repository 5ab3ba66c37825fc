//! The cosign vuln v1 predicate and scanner metadata read from real reports.

use portcullis_scan::{parse_report, vuln_predicate, ScanResult, ScannerInfo, VULN_PREDICATE_TYPE};

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn predicate_carries_raw_report_scanner_and_times() {
    let report = data("alpine-310.json");
    let result = ScanResult {
        image: "ghcr.io/acme/app@sha256:00".into(),
        scanners: vec!["trivy".into()],
        vulnerabilities: parse_report(&report, None).unwrap(),
        ..ScanResult::default()
    };
    let info = ScannerInfo::from_report(&report);
    assert_eq!(info.version, "dev", "from the report's Trivy.Version");
    assert_eq!(info.uri, "pkg:github/aquasecurity/trivy@dev");
    let started: jiff::Timestamp = "2025-01-02T03:04:05Z".parse().unwrap();
    let finished: jiff::Timestamp = "2025-01-02T03:05:06Z".parse().unwrap();
    let predicate = vuln_predicate(&result, &info, started, finished);
    assert_eq!(
        predicate["metadata"]["scanStartedOn"],
        "2025-01-02T03:04:05Z"
    );
    assert_eq!(
        predicate["metadata"]["scanFinishedOn"],
        "2025-01-02T03:05:06Z"
    );
    assert_eq!(
        predicate["scanner"]["uri"],
        "pkg:github/aquasecurity/trivy@dev"
    );
    assert_eq!(predicate["scanner"]["version"], "dev");
    assert!(predicate["scanner"]["db"].is_object());
    assert_eq!(
        predicate["scanner"]["result"],
        serde_json::from_slice::<serde_json::Value>(&report).unwrap()
    );
    for key in ["parameters", "uri", "event_id", "builder.id"] {
        assert!(
            predicate["invocation"].get(key).is_some(),
            "invocation.{key}"
        );
    }
    assert_eq!(
        VULN_PREDICATE_TYPE,
        "https://cosign.sigstore.dev/attestation/vuln/v1"
    );
}

#[test]
fn predicate_without_raw_report_embeds_normalized_result() {
    let report = data("grype-image.json");
    let result = ScanResult {
        image: "x".into(),
        scanners: vec!["grype".into()],
        vulnerabilities: parse_report(&report, None).unwrap(),
        ..ScanResult::default()
    };
    let mut info = ScannerInfo::from_report(&report);
    assert_eq!(info.uri, "pkg:github/anchore/grype@[not provided]");
    info.raw_result = None;
    let now = jiff::Timestamp::UNIX_EPOCH;
    let predicate = vuln_predicate(&result, &info, now, now);
    assert_eq!(
        predicate["scanner"]["result"]["vulnerabilities"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        predicate["scanner"]["result"]["vulnerabilities"][0]["severity"],
        "low"
    );
}
