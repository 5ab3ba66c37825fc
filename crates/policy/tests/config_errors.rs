//! Snapshots of the full error output for broken policy files: each names the file, line,
//! column and the offending key or value, and all problems come out together.

use portcullis_policy::Config;
use proptest::prelude::*;

fn errors(text: &str) -> String {
    match Config::parse("portcullis.toml", text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(errors) => errors.to_string(),
    }
}

#[test]
fn unknown_key_nested() {
    insta::assert_snapshot!(errors(
        "[images]\nallow = []\nrequire-digset = true\n\n[scan]\n[[scan.hook]]\nname = \"x\"\ncommand = \"x\"\nformat = \"sarif\"\ntimeot = \"5m\"\n\n[registries.\"r.example.com\"]\nca = \"x\"\n[bogus]\n"
    ));
}

#[test]
fn wrong_type() {
    insta::assert_snapshot!(errors(
        "report = \"off\"\n[images]\nrequire-digest = \"yes\"\nallow = \"ghcr.io/org/*\"\ndeny-tags = [\"latest\", 3]\n\n[scan]\nonly-fixed = 1\nfail-on = true\n\nmirror = 5\n"
    ));
}

#[test]
fn bad_pattern_and_bad_enum_values() {
    insta::assert_snapshot!(errors(
        "[images]\nallow = [\"ghcr.io/org/***\", \"Not Valid\"]\ndeny = [\"\"]\n\n[scan]\nfail-on = \"hihg\"\n\n[sign]\nmode = \"kms\"\nformat = \"bundel\"\n\n[report]\ncomment = \"sticky\"\n"
    ));
}

#[test]
fn bad_dates() {
    insta::assert_snapshot!(errors(
        "[[waiver]]\nrules = [\"tag-denied\"]\nreason = \"r\"\nexpires = \"31/03/2027\"\n\n[[waiver]]\nrules = [\"tag-denied\"]\nreason = \"r\"\nexpires = \"2027-02-30\"\n\n[[waiver]]\nrules = [\"tag-denied\"]\nreason = \"r\"\nexpires = 2027-03-31T10:00:00Z\n\n[[waiver]]\nrules = [\"tag-denied\"]\nreason = \"r\"\nexpires = 20270331\n"
    ));
}

#[test]
fn waiver_without_reason_or_expires_or_scope() {
    insta::assert_snapshot!(errors(
        "[[waiver]]\nrules = [\"digest-not-pined\"]\n\n[[waiver]]\nreason = \"  \"\nexpires = 2027-01-01\n"
    ));
}

#[test]
fn several_errors_at_once_sorted_by_position() {
    insta::assert_snapshot!(errors(
        r#"[images]
allow = ["ghcr.io/org/*"]
requires-digest = true

[[waiver]]
ids = ["CVE-2024-1"]
expires = 2027-01-01

[trust]
[[trust.signer]]
identity-regex = "(unclosed"

[scan]
hooks = ["trivvy"]
[[scan.hook]]
name = "trivy"
command = []
format = "json"
timeout = "5 minutes"

[sign]
fulcio-url = "fulcio.example.com"

[[mirror]]
from = "docker.io/library/alpine:3.20"
platforms = ["linux"]

[stale]
max-age = "month"
trigger = "cron"

[registries."https://r.example.com/path"]
insecure = true
"#
    ));
}

#[test]
fn invalid_toml_points_at_the_syntax_error() {
    insta::assert_snapshot!(errors("[images]\nallow = [\"a\"\nrequire-digest = true\n"));
}

#[test]
fn impossible_toml_date_is_a_syntax_error() {
    insta::assert_snapshot!(errors(
        "[[waiver]]\nrules = [\"tag-denied\"]\nreason = \"r\"\nexpires = 2027-02-30\n"
    ));
}

proptest! {
    /// Any bytes: parsing never panics, and errors always carry a position inside the text.
    #[test]
    fn never_panics_on_arbitrary_text(text in "\\PC{0,200}") {
        if let Err(errors) = Config::parse("p.toml", &text) {
            prop_assert!(!errors.errors.is_empty());
            let lines = u32::try_from(text.lines().count()).unwrap() + 1;
            for error in &errors.errors {
                prop_assert!(error.line >= 1 && error.line <= lines, "{error}");
            }
        }
    }

    /// Random bytes, decoded lossily: never panics.
    #[test]
    fn never_panics_on_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = Config::parse("p.toml", &text);
    }

    /// TOML-shaped input with the real keys and random values: never panics.
    #[test]
    fn never_panics_on_toml_shaped_text(
        section in prop::sample::select(vec!["images", "scan", "sign", "stale", "report", "[waiver]", "[mirror]", "trust", "[trust.signer]", "[scan.hook]", "registries.\"h:1\""]),
        key in prop::sample::select(vec!["allow", "deny", "require-digest", "deny-tags", "rules", "ids", "images", "reason", "expires", "hooks", "fail-on", "command", "format", "timeout", "from", "to", "tags", "tag-regex", "platforms", "max-age", "trigger", "comment", "insecure", "ca-file", "issuer-regex", "mode"]),
        value in prop::sample::select(vec!["true", "1", "1.5", "\"\"", "\"x\"", "[]", "[\"a\", 1]", "{}", "2027-01-01", "2027-01-01T00:00:00Z", "\"all\"", "[\"**\"]", "[\"{a,\"]", "\"(\""]),
    ) {
        let text = format!("[{section}]\n{key} = {value}\n");
        let _ = Config::parse("p.toml", &text);
    }
}
