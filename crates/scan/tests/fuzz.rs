//! No panics on any input: random bytes and mutated real reports through every parser.

use portcullis_scan::{merge, parse_document, parse_vex, Format, Sbom};
use proptest::prelude::*;

const FORMATS: [Option<Format>; 8] = [
    None,
    Some(Format::TrivyJson),
    Some(Format::GrypeJson),
    Some(Format::Sarif),
    Some(Format::Cyclonedx),
    Some(Format::CyclonedxVex),
    Some(Format::SpdxJson),
    Some(Format::Openvex),
];

fn fixtures() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path
            .extension()
            .is_some_and(|e| e == "json" || e == "sarif")
        {
            out.push(std::fs::read(path).unwrap());
        }
    }
    out.sort();
    out
}

fn exercise(bytes: &[u8]) {
    for hint in FORMATS {
        if let Ok(portcullis_scan::Document::Report {
            vulnerabilities, ..
        }) = parse_document("fuzz", bytes, hint)
        {
            let _ = merge(vulnerabilities);
        }
        let _ = parse_vex("fuzz", bytes, hint);
    }
    let _ = Sbom::validate("fuzz", bytes.to_vec());
    let _ = portcullis_scan::ScannerInfo::from_report(bytes);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        exercise(&bytes);
    }

    #[test]
    fn mutated_reports_never_panic(
        which in 0_usize..64,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let all = fixtures();
        let mut bytes = all[which % all.len()].clone();
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        exercise(&bytes);
        let end = cut.index(bytes.len() + 1);
        exercise(&bytes[..end]);
    }

    #[test]
    fn arbitrary_json_values_never_panic(doc in arb_json()) {
        exercise(doc.to_string().as_bytes());
    }
}

/// JSON documents shaped loosely like scanner output (known keys, random values).
fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    let keys = prop::sample::select(vec![
        "Results",
        "Vulnerabilities",
        "VulnerabilityID",
        "Severity",
        "Status",
        "FixedVersion",
        "CVSS",
        "V3Score",
        "matches",
        "vulnerability",
        "id",
        "fix",
        "state",
        "versions",
        "artifact",
        "runs",
        "results",
        "ruleId",
        "ruleIndex",
        "tool",
        "driver",
        "rules",
        "statements",
        "status",
        "products",
        "subcomponents",
        "@id",
        "bomFormat",
        "vulnerabilities",
        "analysis",
        "affects",
        "ref",
        "ExperimentalModifiedFindings",
        "Finding",
        "relatedVulnerabilities",
        "ignoredMatches",
    ]);
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        "[a-zA-Z0-9:%@#/._ -]{0,12}".prop_map(serde_json::Value::from),
        prop::sample::select(vec![
            "HIGH",
            "fixed",
            "not_affected",
            "CycloneDX",
            "pkg:npm/a@1",
            "9.9"
        ])
        .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::vec((keys.clone(), inner), 0..6).prop_map(|pairs| {
                serde_json::Value::Object(
                    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
                )
            }),
        ]
    })
}
