use super::*;
use crate::config::Config;
use crate::subject::{HelpPaths, Subject};
use crate::vuln::{VulnSeverity, Vulnerability};

const THEN: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const NOW: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
const IMAGE: &str = "sha256:3333333333333333333333333333333333333333333333333333333333333333";

fn config(text: &str) -> Config {
    Config::parse("portcullis.toml", text).unwrap_or_else(|errors| panic!("{errors}"))
}

fn errors(text: &str) -> String {
    Config::parse("portcullis.toml", text)
        .expect_err("the policy is refused")
        .to_string()
}

fn at(text: &str) -> jiff::Timestamp {
    text.parse().unwrap()
}

fn fact() -> StaleFact {
    StaleFact {
        subject: Subject::image(ImageRef::parse("registry.example.com/acme/app:latest").unwrap()),
        digest: Digest::parse(IMAGE).unwrap(),
        created: Some(at("2026-01-01T00:00:00Z")),
        bases: vec![BaseFact {
            name: ImageRef::parse("docker.io/library/alpine:3.20").unwrap(),
            then: Digest::parse(THEN).unwrap(),
            now: Some(Digest::parse(THEN).unwrap()),
        }],
        scan: None,
        checked_at: at("2026-01-20T00:00:00Z"),
    }
}

fn judge(config: &Config, fact: &StaleFact) -> Option<Finding> {
    let help = HelpPaths::default();
    let at = At::new(&fact.subject, &help);
    check(config.stale(), config.scan(), &at, fact)
}

fn vuln(id: &str, severity: VulnSeverity, fix_state: FixState) -> Vulnerability {
    Vulnerability {
        id: id.to_owned(),
        package: "openssl".to_owned(),
        severity,
        fix_state,
        ..Vulnerability::default()
    }
}

#[test]
fn a_fresh_image_on_an_unchanged_base_is_not_stale() {
    let config = config("[stale]\nmax-age = \"30d\"\n");
    assert_eq!(judge(&config, &fact()), None);
}

#[test]
fn a_base_that_moved_makes_the_image_stale_and_names_both_digests() {
    let config = config("[stale]\nmax-age = \"30d\"\n");
    let mut fact = fact();
    fact.bases[0].now = Some(Digest::parse(NOW).unwrap());
    let finding = judge(&config, &fact).expect("stale");
    assert_eq!(finding.rule, Rule::ImageStale);
    assert_eq!(finding.severity, Severity::Error);
    assert!(finding.message.contains(THEN) && finding.message.contains(NOW));
    assert!(finding.message.contains("docker.io/library/alpine:3.20"));
    let detail = finding.stale().unwrap();
    assert_eq!(detail.digest.to_string(), IMAGE);
    let (base, then, now) = detail.drifted_base().unwrap();
    assert_eq!(base.to_string(), "docker.io/library/alpine:3.20");
    assert_eq!(
        (then.to_string(), now.to_string()),
        (THEN.into(), NOW.into())
    );
}

#[test]
fn a_base_that_cannot_move_or_was_not_resolved_is_no_reason() {
    let config = config("[stale]\n");
    let mut fact = fact();
    fact.bases[0].now = None;
    assert_eq!(judge(&config, &fact), None);
}

#[test]
fn an_image_older_than_max_age_is_stale_and_points_at_max_age() {
    let config = config("[stale]\nmax-age = \"7d\"\n");
    let finding = judge(&config, &fact()).expect("19 days is more than 7");
    assert!(
        finding.message.contains("`max-age` 1w"),
        "{}",
        finding.message
    );
    assert_eq!(finding.cause.as_ref().unwrap().line, 2);
    assert_eq!(
        finding.stale().unwrap().reasons[0].code(),
        "too-old",
        "{finding:?}"
    );
    // Without `max-age`, age is no reason.
    assert_eq!(judge(&self::config("[stale]\n"), &fact()), None);
    // An image without a build time is not judged by age.
    let mut undated = fact();
    undated.created = None;
    assert_eq!(judge(&config, &undated), None);
}

#[test]
fn fixable_vulnerabilities_at_the_gate_level_make_the_image_stale() {
    let config = config("[scan]\nfail-on = \"high\"\n[stale]\n");
    let mut fact = fact();
    fact.scan = Some(ScanResult {
        image: "registry.example.com/acme/app:latest".into(),
        vulnerabilities: vec![
            vuln("CVE-1", VulnSeverity::Critical, FixState::Fixed),
            vuln("CVE-2", VulnSeverity::High, FixState::Fixed),
            vuln("CVE-3", VulnSeverity::High, FixState::Fixed),
            // Below the level, or without a fix, or not affecting: no reason.
            vuln("CVE-4", VulnSeverity::Medium, FixState::Fixed),
            vuln("CVE-5", VulnSeverity::Critical, FixState::NotFixed),
            Vulnerability {
                suppressed_by: Some(SuppressedBy::Vex),
                ..vuln("CVE-6", VulnSeverity::Critical, FixState::Fixed)
            },
        ],
        ..ScanResult::default()
    });
    let finding = judge(&config, &fact).expect("stale");
    assert!(
        finding
            .message
            .contains("3 vulnerabilities with a fix at or above `high` (1 critical, 2 high)"),
        "{}",
        finding.message
    );
    let none_fixed = config_with_fail_on("none");
    assert_eq!(
        judge(&none_fixed, &fact),
        None,
        "`fail-on = none` gates nothing"
    );
}

fn config_with_fail_on(level: &str) -> Config {
    config(&format!("[scan]\nfail-on = \"{level}\"\n[stale]\n"))
}

#[test]
fn one_finding_carries_every_reason() {
    let config = config("[stale]\nmax-age = \"7d\"\n");
    let mut fact = fact();
    fact.bases[0].now = Some(Digest::parse(NOW).unwrap());
    let finding = judge(&config, &fact).unwrap();
    let codes: Vec<&str> = finding
        .stale()
        .unwrap()
        .reasons
        .iter()
        .map(StaleReason::code)
        .collect();
    assert_eq!(codes, ["base-drifted", "too-old"]);
}

#[test]
fn stale_settings_are_read_with_their_trigger_keys() {
    let config = config(
        r#"[stale]
max-age = "30d"
trigger = "github-workflow"
images = ["registry.example.com/acme/app:latest", "registry.example.com/acme/api@sha256:3333333333333333333333333333333333333333333333333333333333333333"]
repository = "acme/app"
workflow = "build.yml"
ref = "main"
"#,
    );
    let stale = config.stale();
    assert_eq!(stale.images.as_ref().unwrap().len(), 2);
    assert_eq!(stale.workflow.as_ref().unwrap().value, "build.yml");
    assert_eq!(stale.git_ref.as_ref().unwrap().value, "main");
    assert_eq!(stale.event_type(), DEFAULT_EVENT_TYPE);
    let own = self::config("[stale]\nown = [\"registry.example.com/acme/**\"]\n");
    assert!(own
        .stale()
        .owns(&ImageRef::parse("registry.example.com/acme/app:1").unwrap()));
    assert!(!own
        .stale()
        .owns(&ImageRef::parse("registry.example.com/other/app:1").unwrap()));
}

#[test]
fn bad_stale_settings_are_refused_at_their_line() {
    let text = errors(
        r#"[stale]
images = ["Not A Reference"]
trigger = "github-workflow"
event-type = "rebuild"
project = "acme/app"
repository = "acme"
"#,
    );
    assert!(text.contains("portcullis.toml:2:"), "{text}");
    assert!(text.contains("`Not A Reference`"), "{text}");
    assert!(text.contains("needs `workflow`"), "{text}");
    assert!(
        text.contains("portcullis.toml:4:") && text.contains("`event-type` is not used"),
        "{text}"
    );
    assert!(
        text.contains("portcullis.toml:5:") && text.contains("`project` is not used"),
        "{text}"
    );
    assert!(
        text.contains("`repository` must be `owner/name`, found `acme`"),
        "{text}"
    );
    let both = errors("[stale]\nimages = [\"alpine:3\"]\nown = [\"docker.io/**\"]\n");
    assert!(
        both.contains("portcullis.toml:3:") && both.contains("not both"),
        "{both}"
    );
    let unknown = errors("[stale]\nimage = []\n");
    assert!(unknown.contains("did you mean `images`"), "{unknown}");
}
