use std::collections::BTreeMap;

use serde_json::json;

use super::*;

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn github_env() -> BTreeMap<String, String> {
    env(&[
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_REPOSITORY", "acme/app"),
        (
            "GITHUB_WORKFLOW_REF",
            "acme/app/.github/workflows/release.yml@refs/tags/v1.2.3",
        ),
        ("GITHUB_REF", "refs/tags/v1.2.3"),
        ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"),
        ("GITHUB_RUN_ID", "987654"),
        ("GITHUB_RUN_ATTEMPT", "2"),
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_REPOSITORY_ID", "42"),
        ("RUNNER_ENVIRONMENT", "github-hosted"),
    ])
}

fn gitlab_env() -> BTreeMap<String, String> {
    env(&[
        ("GITLAB_CI", "true"),
        ("CI_SERVER_URL", "https://gitlab.example.com"),
        ("CI_PROJECT_PATH", "group/app"),
        ("CI_PROJECT_URL", "https://gitlab.example.com/group/app"),
        ("CI_COMMIT_SHA", "fedcba9876543210fedcba9876543210fedcba98"),
        ("CI_COMMIT_REF_NAME", "main"),
        (
            "CI_JOB_URL",
            "https://gitlab.example.com/group/app/-/jobs/555",
        ),
        ("CI_JOB_NAME", "build-image"),
        ("CI_RUNNER_ID", "17"),
        ("CI_RUNNER_VERSION", "17.5.0"),
        ("CI_PIPELINE_ID", "1234"),
        ("CI_PIPELINE_SOURCE", "push"),
        ("CI_JOB_STARTED_AT", "2026-03-01T10:20:30Z"),
    ])
}

fn bases() -> Vec<ImageRef> {
    vec![
        ImageRef::parse(&format!("alpine:3.20@sha256:{}", "a".repeat(64))).unwrap(),
        ImageRef::parse(&format!("ghcr.io/acme/base@sha256:{}", "b".repeat(64))).unwrap(),
    ]
}

/// The in-toto spec's rules for a Statement v1 and a resource descriptor, and SLSA v1's
/// required fields, checked on the JSON as serialized (not on our types).
fn assert_valid_statement(json: &Value) {
    assert_eq!(json["_type"], STATEMENT_TYPE_V1);
    let subjects = json["subject"].as_array().expect("subject is a list");
    assert!(!subjects.is_empty());
    for subject in subjects {
        assert_resource_descriptor(subject);
    }
    let predicate_type = json["predicateType"].as_str().unwrap();
    assert!(is_uri(predicate_type), "{predicate_type}");
    assert!(json["predicate"].is_object());
}

fn assert_resource_descriptor(rd: &Value) {
    let object = rd.as_object().unwrap();
    assert!(
        ["uri", "digest", "content"]
            .iter()
            .any(|k| object.contains_key(*k)),
        "a resource descriptor needs uri, digest or content: {rd}"
    );
    if let Some(digest) = object.get("digest") {
        for (algorithm, value) in digest.as_object().unwrap() {
            let value = value.as_str().unwrap();
            if algorithm != "gitCommit" {
                assert!(value
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
            }
            assert!(!value.is_empty());
        }
    }
}

fn assert_valid_slsa_v1(predicate: &Value) {
    let definition = &predicate["buildDefinition"];
    assert!(!definition["buildType"].as_str().unwrap().is_empty());
    let external = definition["externalParameters"].as_object().unwrap();
    assert!(!external.is_empty(), "externalParameters must not be empty");
    for dependency in definition["resolvedDependencies"].as_array().unwrap() {
        assert_resource_descriptor(dependency);
    }
    assert!(!predicate["runDetails"]["builder"]["id"]
        .as_str()
        .unwrap()
        .is_empty());
}

#[test]
fn slsa_provenance_from_a_github_environment() {
    let build = CiBuild::from_env(&github_env()).unwrap();
    assert_eq!(build.ci, CiKind::GitHubActions);
    let predicate = Predicate::slsa_provenance(&build, &bases()).unwrap();
    let image = ImageRef::parse("ghcr.io/acme/app:v1.2.3").unwrap();
    let digest = Digest::sha256(b"the built image");
    let statement = Statement::about_image(&image, &digest, predicate);
    let json: Value = serde_json::from_slice(&statement.to_bytes()).unwrap();
    assert_valid_statement(&json);
    assert_eq!(json["predicateType"], SLSA_PROVENANCE_V1);
    assert_eq!(json["subject"][0]["name"], "ghcr.io/acme/app");
    assert_eq!(json["subject"][0]["digest"]["sha256"], digest.hex());
    let p = &json["predicate"];
    assert_valid_slsa_v1(p);
    assert_eq!(
        p["buildDefinition"]["buildType"],
        "https://actions.github.io/buildtypes/workflow/v1"
    );
    assert_eq!(
        p["buildDefinition"]["externalParameters"],
        json!({"workflow": {"ref": "refs/tags/v1.2.3", "repository": "https://github.com/acme/app", "path": ".github/workflows/release.yml"}})
    );
    assert_eq!(
        p["buildDefinition"]["internalParameters"]["github"]["runner_environment"],
        "github-hosted"
    );
    let deps = p["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .unwrap();
    assert_eq!(
        deps[0],
        json!({"uri": "git+https://github.com/acme/app@refs/tags/v1.2.3", "digest": {"gitCommit": "0123456789abcdef0123456789abcdef01234567"}})
    );
    assert_eq!(
        deps[1],
        json!({"name": "docker.io/library/alpine:3.20", "digest": {"sha256": "a".repeat(64)}})
    );
    assert_eq!(deps[2]["name"], "ghcr.io/acme/base");
    assert_eq!(
        p["runDetails"]["builder"]["id"],
        "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.2.3"
    );
    assert_eq!(
        p["runDetails"]["metadata"]["invocationId"],
        "https://github.com/acme/app/actions/runs/987654/attempts/2"
    );
    // The predicate reads back as SLSA v1 through the file path too.
    let bytes = serde_json::to_vec(p).unwrap();
    Predicate::read(
        PredicateKind::SlsaProvenance,
        "provenance.json",
        &bytes,
        PredicateLimits::default(),
    )
    .unwrap();
}

#[test]
fn slsa_provenance_from_a_gitlab_environment() {
    let build = CiBuild::from_env(&gitlab_env()).unwrap();
    assert_eq!(build.ci, CiKind::GitLabCi);
    let predicate = Predicate::slsa_provenance(&build, &bases()).unwrap();
    let p = &predicate.value;
    assert_valid_slsa_v1(p);
    assert_eq!(
        p["buildDefinition"]["buildType"],
        "https://gitlab.com/gitlab-org/gitlab-runner/-/blob/v17.5.0/PROVENANCE.md"
    );
    assert_eq!(
        p["buildDefinition"]["externalParameters"]["source"],
        "https://gitlab.example.com/group/app"
    );
    assert_eq!(
        p["buildDefinition"]["externalParameters"]["entryPoint"],
        "build-image"
    );
    assert_eq!(
        p["buildDefinition"]["internalParameters"]["gitlab"]["pipeline_id"],
        "1234"
    );
    assert_eq!(
        p["buildDefinition"]["resolvedDependencies"][0]["uri"],
        "git+https://gitlab.example.com/group/app@refs/heads/main"
    );
    assert_eq!(
        p["runDetails"]["builder"]["id"],
        "https://gitlab.example.com/group/app/-/runners/17"
    );
    assert_eq!(
        p["runDetails"]["metadata"],
        json!({"invocationId": "https://gitlab.example.com/group/app/-/jobs/555", "startedOn": "2026-03-01T10:20:30Z"})
    );
}

#[test]
fn provenance_names_what_is_missing() {
    let mut github = github_env();
    github.remove("GITHUB_WORKFLOW_REF");
    let error = CiBuild::from_env(&github).unwrap_err().to_string();
    assert!(error.contains("`GITHUB_WORKFLOW_REF`"), "{error}");
    let mut gitlab = gitlab_env();
    gitlab.insert("CI_JOB_STARTED_AT".into(), "yesterday".into());
    let error = CiBuild::from_env(&gitlab).unwrap_err().to_string();
    assert!(error.contains("`yesterday`"), "{error}");
    assert!(matches!(
        CiBuild::from_env(&BTreeMap::new()),
        Err(StatementError::NoCi)
    ));
    let build = CiBuild::from_env(&github_env()).unwrap();
    let unpinned = ImageRef::parse("alpine:3.20").unwrap();
    let error = Predicate::slsa_provenance(&build, &[unpinned]).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("`docker.io/library/alpine:3.20`"),
        "{error}"
    );
}

#[test]
fn cosign_image_signature_statement_is_what_cosign_v3_signs() {
    let digest = Digest::sha256(b"image");
    let annotations = BTreeMap::from([("env".to_owned(), "prod".to_owned())]);
    let statement = Statement::image_signature(&digest, &annotations);
    let expected = format!(
        r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"digest":{{"sha256":"{}"}},"annotations":{{"env":"prod"}}}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{{}}}}"#,
        digest.hex()
    );
    assert_eq!(String::from_utf8(statement.to_bytes()).unwrap(), expected);
    let back = Statement::parse(expected.as_bytes()).unwrap();
    assert!(back.names_digest(&digest));
    assert!(!back.names_digest(&Digest::sha256(b"other")));
    let old = expected.replace("Statement/v1", "Statement/v0.1");
    assert!(Statement::parse(old.as_bytes()).is_err());
}

#[test]
fn type_names_follow_cosign() {
    let kind = |s: &str| s.parse::<PredicateKind>().unwrap();
    assert_eq!(kind("slsaprovenance").uri(), SLSA_PROVENANCE_V1);
    assert_eq!(kind("vuln").uri(), COSIGN_VULN_V1);
    assert_eq!(kind("cyclonedx").uri(), CYCLONEDX_BOM);
    assert_eq!(kind("spdx").uri(), SPDX_DOCUMENT);
    assert_eq!(kind("spdxjson").uri(), SPDX_DOCUMENT);
    assert_eq!(kind("custom").uri(), COSIGN_CUSTOM_V1);
    assert_eq!(
        kind("promotion").uri(),
        "https://portcullis.dev/promotion/v1"
    );
    assert_eq!(
        kind("https://slsa.dev/provenance/v1"),
        PredicateKind::SlsaProvenance
    );
    assert_eq!(
        kind("https://example.com/review/v1"),
        PredicateKind::Custom("https://example.com/review/v1".into())
    );
    for bad in ["slsa", "", "https://", "not a uri://x", "://x"] {
        let error = bad.parse::<PredicateKind>().unwrap_err().to_string();
        assert!(error.contains(&format!("`{bad}`")), "{error}");
    }
}

#[test]
fn a_predicate_over_the_limit_is_refused_with_a_hint() {
    let document =
        serde_json::to_vec(&json!({"bomFormat": "CycloneDX", "pad": "x".repeat(2000)})).unwrap();
    let limits = PredicateLimits { max_bytes: 1024 };
    let error =
        Predicate::read(PredicateKind::CycloneDx, "sbom.cdx.json", &document, limits).unwrap_err();
    assert!(matches!(
        error,
        StatementError::TooLarge { limit: 1024, .. }
    ));
    let text = error.to_string();
    assert!(text.contains("`sbom.cdx.json`"), "{text}");
    assert!(text.contains(&document.len().to_string()), "{text}");
    assert!(text.contains("raise the predicate size limit"), "{text}");
    // Under the limit, the same document is read.
    let read = Predicate::read(
        PredicateKind::CycloneDx,
        "sbom.cdx.json",
        &document,
        PredicateLimits::default(),
    )
    .unwrap();
    assert_eq!(read.value["bomFormat"], "CycloneDX");
    assert_eq!(PredicateLimits::default().max_bytes, 16 * 1024 * 1024);
}

#[test]
fn predicates_are_checked_for_their_kind() {
    let limits = PredicateLimits::default();
    let error = Predicate::read(
        PredicateKind::Spdx,
        "bom.json",
        b"{\n  \"a\": 1,\n  \"b\": nope\n}",
        limits,
    )
    .unwrap_err();
    assert!(
        matches!(error, StatementError::NotJson { line: 3, .. }),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .starts_with("predicate `bom.json` line 3, column"),
        "{error}"
    );
    let error = Predicate::read(
        PredicateKind::Spdx,
        "bom.json",
        br#"{"bomFormat":"CycloneDX"}"#,
        limits,
    )
    .unwrap_err();
    assert!(error.to_string().contains("SPDX"), "{error}");
    Predicate::read(
        PredicateKind::Spdx,
        "bom.json",
        br#"{"spdxVersion":"SPDX-2.3"}"#,
        limits,
    )
    .unwrap();
    let error = Predicate::read(
        PredicateKind::SlsaProvenance,
        "p.json",
        br#"{"buildDefinition":{"buildType":"","externalParameters":{}},"runDetails":{"builder":{"id":"x"}}}"#,
        limits,
    )
    .unwrap_err();
    assert!(error.to_string().contains("buildType"), "{error}");
    // The shape `portcullis_scan::vuln_predicate` returns.
    let vuln = json!({
        "invocation": {"parameters": [], "uri": "", "event_id": "", "builder.id": ""},
        "scanner": {"uri": "pkg:github/aquasecurity/trivy@0.58.0", "version": "0.58.0",
                    "db": {"uri": "ghcr.io/aquasecurity/trivy-db", "version": ""},
                    "result": {"Results": []}},
        "metadata": {"scanStartedOn": "2026-03-01T10:00:00Z", "scanFinishedOn": "2026-03-01T10:01:00Z"}
    });
    let predicate = Predicate::vuln(vuln.clone()).unwrap();
    assert_eq!(predicate.kind.uri(), COSIGN_VULN_V1);
    let mut broken = vuln;
    broken.as_object_mut().unwrap().remove("scanner");
    assert!(Predicate::vuln(broken).is_err());
    let error = Predicate::read(
        PredicateKind::Custom("https://example.com/x/v1".into()),
        "x.json",
        b"[1]",
        limits,
    )
    .unwrap_err();
    assert!(error.to_string().contains("JSON object"), "{error}");
}

#[test]
fn a_predicate_file_over_the_limit_is_refused_by_its_size_and_a_missing_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sbom.json");
    std::fs::write(&path, r#"{"bomFormat":"CycloneDX","specVersion":"1.5"}"#).unwrap();
    let small = PredicateLimits { max_bytes: 10 };
    let error = Predicate::read_file(PredicateKind::CycloneDx, &path, small).unwrap_err();
    assert!(
        matches!(error, StatementError::TooLarge { limit: 10, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("sbom.json"), "{error}");
    let read = Predicate::read_file(PredicateKind::CycloneDx, &path, PredicateLimits::default());
    assert!(read.is_ok(), "{read:?}");
    let missing = dir.path().join("missing.json");
    let error = Predicate::read_file(
        PredicateKind::CycloneDx,
        &missing,
        PredicateLimits::default(),
    )
    .unwrap_err();
    assert!(
        matches!(error, StatementError::Unreadable { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("missing.json"), "{error}");
}
