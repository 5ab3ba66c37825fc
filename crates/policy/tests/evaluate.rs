//! Image rules: each fires when it should, stays quiet when it should not, and they are
//! independent of each other.

mod common;

use std::collections::BTreeMap;

use common::{
    check, config, facts, find, image, rules, today, unresolved, DIGEST, OTHER_DIGEST,
    PLATFORM_DIGEST,
};
use portcullis_policy::{evaluate, Config, Context, Facts, RegistryFact, Rule, Severity, Subject};
use portcullis_reference::{Digest, ImageRef};

const ALLOW_ALPINE: &str = r#"
[images]
allow = ["docker.io/library/alpine", "ghcr.io/org/*"]
deny = ["ghcr.io/org/forbidden"]
"#;

#[test]
fn nginx_latest_outside_the_allowlist_gets_three_independent_findings() {
    let report = check(ALLOW_ALPINE, vec![image("Dockerfile", 1, "nginx:latest")]);
    assert_eq!(
        rules(&report),
        ["digest-not-pinned", "image-not-allowed", "tag-denied"]
    );
    for finding in &report.findings {
        let location = finding.location.as_ref().unwrap();
        assert_eq!(
            (location.file.as_str(), location.line, location.column),
            ("Dockerfile", 1, 6)
        );
        assert_eq!(
            finding.image.as_deref(),
            Some("docker.io/library/nginx:latest")
        );
        assert_eq!(finding.context, Some(Context::DockerfileFrom));
        assert_eq!(finding.severity, Severity::Error);
    }
    assert_eq!(report.summary.errors, 3);
    assert_eq!(report.exit_code(), 1);
}

#[test]
fn image_not_allowed_points_at_the_allow_key_and_names_the_image() {
    let report = check(
        ALLOW_ALPINE,
        vec![image("Dockerfile", 1, &format!("nginx:1.27@{DIGEST}"))],
    );
    assert_eq!(rules(&report), ["image-not-allowed"]);
    let finding = find(&report, Rule::ImageNotAllowed);
    assert!(
        finding
            .message
            .contains("`docker.io/library/nginx:1.27@sha256:"),
        "{}",
        finding.message
    );
    let cause = finding.cause.as_ref().unwrap();
    assert_eq!(
        (cause.file.as_str(), cause.line, cause.column),
        ("portcullis.toml", 3, 1)
    );
    assert!(finding
        .help
        .as_ref()
        .unwrap()
        .contains("`docker.io/library/nginx`"));
}

#[test]
fn allowed_pinned_versioned_image_passes() {
    let report = check(
        ALLOW_ALPINE,
        vec![image("Dockerfile", 1, &format!("alpine:3.20@{DIGEST}"))],
    );
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    assert_eq!(report.exit_code(), 0);
    assert_eq!(report.summary.images, 1);
}

#[test]
fn deny_wins_over_allow_and_points_at_the_deny_entry() {
    let report = check(
        ALLOW_ALPINE,
        vec![image(
            "Dockerfile",
            1,
            &format!("ghcr.io/org/forbidden:1@{DIGEST}"),
        )],
    );
    assert_eq!(rules(&report), ["image-not-allowed"]);
    let finding = find(&report, Rule::ImageNotAllowed);
    assert!(
        finding
            .message
            .contains("deny pattern `ghcr.io/org/forbidden`"),
        "{}",
        finding.message
    );
    let cause = finding.cause.as_ref().unwrap();
    assert_eq!((cause.line, cause.column), (4, 9));

    let allowed = check(
        ALLOW_ALPINE,
        vec![image(
            "Dockerfile",
            1,
            &format!("ghcr.io/org/fine:1@{DIGEST}"),
        )],
    );
    assert!(allowed.findings.is_empty());
}

#[test]
fn empty_allow_list_allows_nothing_and_missing_allow_allows_everything() {
    let pinned = format!("alpine:3.20@{DIGEST}");
    let report = check(
        "[images]\nallow = []\n",
        vec![image("Dockerfile", 1, &pinned)],
    );
    assert_eq!(rules(&report), ["image-not-allowed"]);
    let report = check("[images]\n", vec![image("Dockerfile", 1, &pinned)]);
    assert!(report.findings.is_empty());
}

#[test]
fn digest_not_pinned_only_without_digest_and_only_when_required() {
    let report = check("", vec![image("services/web/Dockerfile", 3, "nginx:1.27")]);
    assert_eq!(rules(&report), ["digest-not-pinned"]);
    let finding = find(&report, Rule::DigestNotPinned);
    assert_eq!(
        finding.help.as_deref(),
        Some("run `portcullis pin services/web/Dockerfile`")
    );
    assert!(finding.message.contains("`nginx:1.27`"));

    let report = check(
        "[images]\nrequire-digest = true\n",
        vec![image("Dockerfile", 1, "nginx:1.27")],
    );
    let cause = find(&report, Rule::DigestNotPinned).cause.as_ref().unwrap();
    assert_eq!(
        (cause.line, cause.column),
        (2, 18),
        "cause is the `require-digest` value"
    );

    let report = check(
        "[images]\nrequire-digest = false\n",
        vec![image("Dockerfile", 1, "nginx:1.27")],
    );
    assert!(report.findings.is_empty());
    let report = check(
        "",
        vec![image("Dockerfile", 1, &format!("nginx:1.27@{DIGEST}"))],
    );
    assert!(report.findings.is_empty());
}

#[test]
fn tag_missing_stands_instead_of_tag_denied() {
    let report = check(
        "[images]\nrequire-digest = false\n",
        vec![image("Dockerfile", 1, "nginx")],
    );
    assert_eq!(rules(&report), ["tag-missing"]);
    assert!(find(&report, Rule::TagMissing).message.contains("`nginx`"));
    // A digest without a tag is fine.
    let report = check("", vec![image("Dockerfile", 1, &format!("nginx@{DIGEST}"))]);
    assert!(report.findings.is_empty());
}

#[test]
fn tag_denied_is_an_error_without_digest_and_a_warning_with_one() {
    let text = "[images]\nrequire-digest = false\ndeny-tags = [\"latest\", \"edge\"]\n";
    let report = check(text, vec![image("Dockerfile", 1, "alpine:edge")]);
    assert_eq!(rules(&report), ["tag-denied"]);
    let finding = find(&report, Rule::TagDenied);
    assert_eq!(finding.severity, Severity::Error);
    let cause = finding.cause.as_ref().unwrap();
    assert_eq!(
        (cause.line, cause.column),
        (3, 24),
        "cause is the `edge` entry"
    );

    let report = check(
        text,
        vec![image("Dockerfile", 1, &format!("alpine:edge@{DIGEST}"))],
    );
    let finding = find(&report, Rule::TagDenied);
    assert_eq!(finding.severity, Severity::Warning);
    assert_eq!((report.summary.errors, report.summary.warnings), (0, 1));
    assert_eq!(report.exit_code(), 0, "warnings pass the gate");

    let report = check(text, vec![image("Dockerfile", 1, "alpine:3.20")]);
    assert!(report.findings.is_empty());
    let report = check(
        "[images]\nrequire-digest = false\ndeny-tags = []\n",
        vec![image("Dockerfile", 1, "alpine:latest")],
    );
    assert!(report.findings.is_empty());
}

#[test]
fn unresolved_reference_gets_only_unresolved_variable() {
    let report = check(
        ALLOW_ALPINE,
        vec![unresolved("Dockerfile", 2, "${BASE}", "BASE")],
    );
    assert_eq!(rules(&report), ["unresolved-variable"]);
    let finding = &report.findings[0];
    assert_eq!(finding.severity, Severity::Error);
    assert!(finding.message.contains("`${BASE}`") && finding.message.contains("`BASE`"));
    assert!(finding
        .help
        .as_ref()
        .unwrap()
        .contains("--build-arg BASE=VALUE"));
    assert_eq!(finding.image, None);
    assert_eq!(report.summary.images, 0, "not counted as an image");
    assert!(report.images.is_empty());
}

fn registry(entries: &[(&str, RegistryFact)]) -> BTreeMap<ImageRef, RegistryFact> {
    entries
        .iter()
        .map(|(key, fact)| (ImageRef::parse(key).unwrap(), fact.clone()))
        .collect()
}

fn digest(text: &str) -> Digest {
    Digest::parse(text).unwrap()
}

#[test]
fn registry_rules_need_resolve_facts() {
    let text = format!("alpine:3.20@{DIGEST}");
    let key = format!("docker.io/library/alpine:3.20@{DIGEST}");
    let run = |fact: RegistryFact| {
        let mut facts = facts(vec![image("Dockerfile", 1, &text)]);
        facts.registry = Some(registry(&[(key.as_str(), fact)]));
        evaluate(&Config::embedded_default(), &facts, today())
    };
    let up_to_date = RegistryFact {
        tag_digest: Some(digest(DIGEST)),
        platform_digests: vec![],
        pinned_exists: Some(true),
    };
    assert!(run(up_to_date.clone()).findings.is_empty());

    let missing = RegistryFact {
        pinned_exists: Some(false),
        ..up_to_date.clone()
    };
    let report = run(missing);
    assert_eq!(rules(&report), ["digest-not-found"]);
    assert_eq!(report.findings[0].severity, Severity::Error);
    assert!(report.findings[0].message.contains(DIGEST));

    let moved = RegistryFact {
        tag_digest: Some(digest(OTHER_DIGEST)),
        ..up_to_date.clone()
    };
    let report = run(moved.clone());
    assert_eq!(rules(&report), ["digest-stale"]);
    assert_eq!(report.findings[0].severity, Severity::Warning);
    assert!(report.findings[0]
        .help
        .as_ref()
        .unwrap()
        .contains("portcullis pin Dockerfile"));

    // A kept platform pin under the current index is not stale.
    let platform = RegistryFact {
        platform_digests: vec![digest(DIGEST)],
        ..moved
    };
    assert!(run(platform).findings.is_empty());

    // Without --resolve there are no registry findings at all.
    let report = check("", vec![image("Dockerfile", 1, &text)]);
    assert!(report.findings.is_empty());
    let _ = PLATFORM_DIGEST;
}

#[test]
fn findings_are_sorted_by_file_line_column_rule_and_summarised() {
    let occurrences = vec![
        image("b/Dockerfile", 9, "nginx:latest"),
        image("a/Dockerfile", 5, "alpine"),
        image("a/Dockerfile", 2, &format!("alpine:3.20@{DIGEST}")),
        unresolved("a/Dockerfile", 3, "$X", "X"),
    ];
    let mut facts = facts(occurrences);
    facts.files = 2;
    let report = evaluate(&config(ALLOW_ALPINE), &facts, today());
    let order: Vec<(String, u32, &str)> = report
        .findings
        .iter()
        .map(|f| {
            let location = f.location.as_ref().unwrap();
            (location.file.clone(), location.line, f.rule.code())
        })
        .collect();
    let expected = [
        ("a/Dockerfile", 3, "unresolved-variable"),
        ("a/Dockerfile", 5, "digest-not-pinned"),
        ("a/Dockerfile", 5, "tag-missing"),
        ("b/Dockerfile", 9, "digest-not-pinned"),
        ("b/Dockerfile", 9, "image-not-allowed"),
        ("b/Dockerfile", 9, "tag-denied"),
    ];
    let expected: Vec<(String, u32, &str)> = expected
        .iter()
        .map(|(f, l, r)| ((*f).to_owned(), *l, *r))
        .collect();
    assert_eq!(order, expected);
    assert_eq!(report.summary.files, 2);
    assert_eq!(report.summary.images, 3);
    assert_eq!(report.summary.errors, 6);
    assert_eq!(report.images.len(), 3);
    // Images are listed by file and line too, so merged reports do not depend on order.
    let files: Vec<&str> = report.images.iter().map(|i| i.file.as_str()).collect();
    assert_eq!(files, ["a/Dockerfile", "a/Dockerfile", "b/Dockerfile"]);
    assert_eq!(report.images[0].context, Context::DockerfileFrom);
}

#[test]
fn embedded_default_requires_digests_denies_latest_allows_everything() {
    let config = Config::embedded_default();
    assert!(config.path.is_none());
    assert!(config.images().allow.is_none());
    let run = |text: &str| evaluate(&config, &facts(vec![image("Dockerfile", 1, text)]), today());
    assert_eq!(rules(&run("quay.io/some/thing:1.0")), ["digest-not-pinned"]);
    assert_eq!(
        rules(&run("nginx:latest")),
        ["digest-not-pinned", "tag-denied"]
    );
    assert!(run(&format!("quay.io/some/thing:1.0@{DIGEST}"))
        .findings
        .is_empty());
    // The embedded default is not a file: findings carry no config site.
    assert!(run("nginx:latest")
        .findings
        .iter()
        .all(|f| f.cause.is_none()));
}

/// Mirror, verify, promote and stale gate images that are in no file: the same rules apply.
#[test]
fn an_image_given_by_name_only_is_judged_by_the_same_rules() {
    let config = common::config(ALLOW_ALPINE);
    let facts = Facts {
        subjects: vec![Subject::image(ImageRef::parse("nginx:latest").unwrap())],
        ..Facts::default()
    };
    let report = evaluate(&config, &facts, today());
    assert_eq!(
        rules(&report),
        ["digest-not-pinned", "image-not-allowed", "tag-denied"]
    );
    for finding in &report.findings {
        assert!(finding.location.is_none() && finding.context.is_none());
        assert_eq!(
            finding.image.as_deref(),
            Some("docker.io/library/nginx:latest")
        );
        // No file to pin: the help says how to pin by hand instead of naming a command.
        assert!(!finding.help.as_deref().unwrap().contains("portcullis pin"));
    }
    assert_eq!(report.images.len(), 0);
    assert_eq!(report.exit_code(), 1);
    let allowed = Facts {
        subjects: vec![Subject::image(
            ImageRef::parse(&format!("alpine:3.20@{DIGEST}")).unwrap(),
        )],
        ..Facts::default()
    };
    assert!(evaluate(&config, &allowed, today()).findings.is_empty());
}

mod properties {
    use super::common::{config, facts, image, today, unresolved, DIGEST};
    use portcullis_policy::{evaluate, Rule, Severity};
    use proptest::prelude::*;

    fn reference() -> impl Strategy<Value = String> {
        let name = prop::sample::select(vec![
            "nginx",
            "alpine",
            "ghcr.io/org/app",
            "localhost:5000/x",
            "user/app",
        ]);
        let tag = prop::option::of(prop::sample::select(vec!["latest", "1.27", "edge"]));
        (name, tag, any::<bool>()).prop_map(|(name, tag, pinned)| {
            let mut text = name.to_owned();
            if let Some(tag) = tag {
                text = format!("{text}:{tag}");
            }
            if pinned {
                text = format!("{text}@{DIGEST}");
            }
            text
        })
    }

    proptest! {
        /// Whatever the references, the summary agrees with the findings, unresolved
        /// references get exactly one finding, and `tag-missing` never sits beside `tag-denied`.
        #[test]
        fn summary_matches_findings(refs in prop::collection::vec(prop::option::of(reference()), 0..12)) {
            let occurrences: Vec<_> = refs
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let line = u32::try_from(i).unwrap() + 1;
                    match r {
                        Some(text) => image("Dockerfile", line, text),
                        None => unresolved("Dockerfile", line, "$X", "X"),
                    }
                })
                .collect();
            let text = "[images]\nallow = [\"docker.io/library/*\"]\ndeny-tags = [\"latest\", \"edge\"]\n";
            let report = evaluate(&config(text), &facts(occurrences), today());
            let errors = report.findings.iter().filter(|f| !f.waived && f.severity == Severity::Error).count();
            prop_assert_eq!(report.summary.errors, errors);
            prop_assert_eq!(report.summary.images, refs.iter().filter(|r| r.is_some()).count());
            for (i, r) in refs.iter().enumerate() {
                let line = u32::try_from(i).unwrap() + 1;
                let on_line: Vec<Rule> = report
                    .findings
                    .iter()
                    .filter(|f| f.location.as_ref().is_some_and(|l| l.line == line))
                    .map(|f| f.rule)
                    .collect();
                if r.is_none() {
                    prop_assert_eq!(on_line, vec![Rule::UnresolvedVariable]);
                } else {
                    prop_assert!(!(on_line.contains(&Rule::TagMissing) && on_line.contains(&Rule::TagDenied)));
                }
            }
            let mut sorted = report.findings.clone();
            sorted.sort_by(|a, b| {
                let key = |f: &portcullis_policy::Finding| {
                    let l = f.location.clone().unwrap();
                    (l.file, l.line, l.column, f.rule.code())
                };
                key(a).cmp(&key(b))
            });
            prop_assert_eq!(sorted, report.findings);
        }
    }
}
