//! `portcullis.toml`: every documented key is accepted and typed; every kind of mistake is
//! reported at `file:line:col`, all at once; the starter file and the schema are valid.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use portcullis_policy::{
    CommentMode, Config, FailOn, HookCommand, Platforms, ReportFormat, Rule, SignFormat, SignMode,
    Trigger,
};

const FULL: &str = r#"
[images]
allow = ["cgr.dev/chainguard/**", "gcr.io/distroless/**", "docker.io/library/{alpine,debian}"]
deny = ["docker.io/library/debian:buster"]
require-digest = true
deny-tags = ["latest"]

[[waiver]]
rules = ["digest-not-pinned"]
images = ["docker.io/library/postgres"]
reason = "vendor image, migrating in Q1"
expires = 2027-03-31

[[waiver]]
ids = ["CVE-2024-1234"]
packages = ["openssl"]
reason = "not reachable"
expires = "2027-01-15"

[trust]
[[trust.signer]]
images = ["cgr.dev/chainguard/**"]
issuer = "https://token.actions.githubusercontent.com"
identity = "https://github.com/chainguard-images/images/.github/workflows/release.yaml@refs/heads/main"

[[trust.signer]]
issuer-regex = "^https://token\\.actions\\.githubusercontent\\.com$"
identity-regex = "^https://github\\.com/org/"

[scan]
hooks = ["trivy", "mine"]
fail-on = "medium"
only-fixed = true
vex = ["vex/app.openvex.json"]

[[scan.hook]]
name = "mine"
command = ["my-scanner", "--json", "{image}"]
format = "sarif"
timeout = "5m"

[[scan.hook]]
name = "shell"
command = "scan {image} > /dev/stdout"
format = "cyclonedx-vex"

[sign]
mode = "keyless"
format = "both"
fulcio-url = "https://fulcio.example.com"
rekor-url = "https://rekor.example.com"
trusted-root = "sigstore/trusted_root.json"
signing-config = "sigstore/signing_config.json"

[[mirror]]
from = "docker.io/library/alpine"
to = "registry.example.com/mirror/alpine"
tags = ["3.20", "3.21"]
platforms = "all"
scan = true

[[mirror]]
from = "docker.io/library/debian"
to = "registry.example.com/mirror/debian"
tag-regex = '^12\.\d+$'
platforms = ["linux/amd64", "linux/arm64/v8"]

[stale]
max-age = "30d"
trigger = "github-dispatch"

[report]
comment = "new"

[registries."registry.example.com:5000"]
insecure = false
ca-file = "certs/ca.pem"

[registries."localhost:5000"]
insecure = true
"#;

#[test]
fn every_documented_key_is_accepted_and_typed() {
    let config = Config::parse("portcullis.toml", FULL).unwrap_or_else(|errors| panic!("{errors}"));

    let images = config.images();
    let allow: Vec<&str> = images
        .allow
        .as_ref()
        .unwrap()
        .iter()
        .map(|p| p.value.as_str())
        .collect();
    assert_eq!(
        allow,
        [
            "cgr.dev/chainguard/**",
            "gcr.io/distroless/**",
            "docker.io/library/{alpine,debian}"
        ]
    );
    assert_eq!(images.deny.len(), 1);
    assert!(images.require_digest.value);
    assert_eq!(images.deny_tags[0].value, "latest");
    let site = images.allow_site.as_ref().unwrap();
    assert_eq!(
        (site.file.as_str(), site.line, site.column),
        ("portcullis.toml", 3, 1)
    );

    let waivers = config.waivers();
    assert_eq!(waivers.len(), 2);
    assert_eq!(waivers[0].rules[0].value, Rule::DigestNotPinned);
    assert_eq!(waivers[0].expires.value, jiff::civil::date(2027, 3, 31));
    assert_eq!(waivers[1].expires.value, jiff::civil::date(2027, 1, 15));
    assert_eq!(waivers[1].ids[0].value, "CVE-2024-1234");
    assert_eq!(waivers[1].packages[0].value, "openssl");
    assert_eq!(waivers[1].location.as_ref().unwrap().line, 14);

    let trust = config.trust();
    assert_eq!(trust.signers.len(), 2);
    assert_eq!(
        trust.signers[0].issuer.as_ref().unwrap().value,
        "https://token.actions.githubusercontent.com"
    );
    assert!(trust.signers[1].identity_regex.is_some() && trust.signers[1].issuer_regex.is_some());

    let scan = config.scan();
    assert_eq!(scan.fail_on.value, FailOn::Medium);
    assert!(scan.only_fixed.value);
    assert_eq!(scan.vex[0].value, PathBuf::from("vex/app.openvex.json"));
    assert_eq!(
        scan.hooks
            .iter()
            .map(|h| h.value.as_str())
            .collect::<Vec<_>>(),
        ["trivy", "mine"]
    );
    assert_eq!(
        scan.hook[0].command.value,
        HookCommand::Argv(vec!["my-scanner".into(), "--json".into(), "{image}".into()])
    );
    assert_eq!(scan.hook[0].format.value, ReportFormat::Sarif);
    assert_eq!(
        scan.hook[0].timeout.as_ref().unwrap().value,
        Duration::from_mins(5)
    );
    assert_eq!(
        scan.hook[1].command.value,
        HookCommand::Shell("scan {image} > /dev/stdout".into())
    );
    assert_eq!(scan.hook[1].format.value, ReportFormat::CyclonedxVex);

    let sign = config.sign();
    assert_eq!(
        (sign.mode.value, sign.format.value),
        (SignMode::Keyless, SignFormat::Both)
    );
    assert_eq!(
        sign.fulcio_url.as_ref().unwrap().value,
        "https://fulcio.example.com"
    );
    assert_eq!(
        sign.rekor_url.as_ref().unwrap().value,
        "https://rekor.example.com"
    );
    assert_eq!(
        sign.trusted_root.as_ref().unwrap().value,
        PathBuf::from("sigstore/trusted_root.json")
    );
    assert_eq!(
        sign.signing_config.as_ref().unwrap().value,
        PathBuf::from("sigstore/signing_config.json")
    );

    let mirrors = config.mirrors();
    assert_eq!(
        mirrors[0].from.value.to_string(),
        "docker.io/library/alpine"
    );
    assert_eq!(
        mirrors[0].to.value.to_string(),
        "registry.example.com/mirror/alpine"
    );
    assert_eq!(mirrors[0].tags.len(), 2);
    assert_eq!(mirrors[0].platforms.value, Platforms::All);
    // `scan` gates the source before copying; off unless written.
    assert!(mirrors[0].scan.value);
    assert!(!mirrors[1].scan.value);
    assert_eq!(mirrors[1].tag_regex.as_ref().unwrap().value, r"^12\.\d+$");
    assert_eq!(
        mirrors[1].platforms.value,
        Platforms::List(vec![
            portcullis_reference::Platform::parse("linux/amd64").unwrap(),
            portcullis_reference::Platform::parse("linux/arm64/v8").unwrap()
        ])
    );

    assert_eq!(
        config.stale().max_age.as_ref().unwrap().value,
        Duration::from_hours(720)
    );
    assert_eq!(config.stale().trigger.value, Trigger::GithubDispatch);
    assert_eq!(config.report().comment.value, CommentMode::New);

    let registries = config.registries();
    let private = &registries["registry.example.com:5000"];
    assert!(!private.insecure.value);
    assert_eq!(
        private.ca_file.as_ref().unwrap().value,
        PathBuf::from("certs/ca.pem")
    );
    assert!(registries["localhost:5000"].insecure.value);
}

#[test]
fn defaults_when_sections_are_absent() {
    let config = Config::parse("portcullis.toml", "").unwrap();
    assert!(config.images().allow.is_none());
    assert!(config.images().require_digest.value);
    assert_eq!(config.images().deny_tags[0].value, "latest");
    assert_eq!(config.scan().fail_on.value, FailOn::High);
    assert_eq!(config.sign().mode.value, SignMode::Keyless);
    assert_eq!(config.sign().format.value, SignFormat::Bundle);
    assert_eq!(config.report().comment.value, CommentMode::Update);
    assert_eq!(config.stale().trigger.value, Trigger::None);
    assert!(
        config.waivers().is_empty()
            && config.mirrors().is_empty()
            && config.registries().is_empty()
    );
}

#[test]
fn inline_tables_are_accepted_too() {
    let text = "images = { allow = [\"ghcr.io/org/*\"] }\nwaiver = [{ rules = [\"tag-denied\"], reason = \"r\", expires = 2030-01-01 }]\n";
    let config = Config::parse("p.toml", text).unwrap_or_else(|errors| panic!("{errors}"));
    assert_eq!(config.images().allow.as_ref().unwrap().len(), 1);
    assert_eq!(config.waivers().len(), 1);
}

/// `text` with the commented examples of the blank-line-separated blocks `pick` accepts
/// uncommented: `# [header]` lines and `# key = value` lines.
fn uncomment(text: &str, pick: impl Fn(&str) -> bool) -> String {
    text.split("\n\n")
        .map(|block| {
            if !pick(block) {
                return block.to_owned();
            }
            block
                .lines()
                .map(|line| {
                    let trimmed = line.trim_start();
                    let example = trimmed.starts_with("# [")
                        || trimmed.starts_with("# ")
                            && trimmed[2..].split_once(" = ").is_some_and(|(key, _)| {
                                !key.contains(' ')
                                    && key.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                            });
                    if example {
                        &trimmed[2..]
                    } else {
                        line
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[test]
fn starter_parses_and_matches_the_documented_defaults() {
    let config = Config::parse("portcullis.toml", Config::starter())
        .unwrap_or_else(|errors| panic!("{errors}"));
    assert!(config.images().require_digest.value);
    assert!(config.images().allow.is_some());
    assert_eq!(config.scan().fail_on.value, FailOn::High);
    // The later commands' sections stay commented out: a fresh `init` changes nothing.
    assert!(
        config.waivers().is_empty(),
        "the waiver example stays commented out"
    );
    assert!(config.mirrors().is_empty());
    assert!(config.trust().signers.is_empty());
    assert!(config.promotions().is_empty());
    assert_eq!(config.stale().trigger.value, Trigger::None);
    assert!(config.stale().max_age.is_none());
    assert!(config.stale().site.is_none() && config.sign().mode.site.is_none());
    assert!(!Config::starter().contains("\n[report]"));

    // The commented examples parse together once uncommented.
    let uncommented = uncomment(Config::starter(), |_| true);
    let config = Config::parse("uncommented.toml", &uncommented)
        .unwrap_or_else(|errors| panic!("{errors}\n{uncommented}"));
    assert_eq!(config.waivers().len(), 1);
    assert_eq!(config.scan().hook.len(), 1);
    assert_eq!(config.registries().len(), 1);
    assert_eq!(config.trust().signers.len(), 1);
    assert_eq!(config.sign().mode.value, SignMode::Keyless);
    assert_eq!(config.sign().format.value, SignFormat::Bundle);
    assert_eq!(config.mirrors().len(), 1);
    assert_eq!(config.promotions().len(), 1);
    assert_eq!(config.stale().trigger.value, Trigger::GithubDispatch);
    assert_eq!(
        config.stale().max_age.as_ref().unwrap().value,
        Duration::from_hours(720)
    );
}

#[test]
fn each_commented_section_of_the_starter_parses_alone() {
    let headers: Vec<&str> = Config::starter()
        .lines()
        .filter_map(|line| line.strip_prefix("# ["))
        .collect();
    for section in [
        "[waiver]]",
        "[scan.hook]]",
        "[trust.signer]]",
        "sign]",
        "[mirror]]",
        "[promote]]",
        "stale]",
        "registries.",
    ] {
        assert!(
            headers.iter().any(|header| header.starts_with(section)),
            "no commented `{section}` in the starter: {headers:?}"
        );
    }
    for header in headers {
        let uncommented = uncomment(Config::starter(), |block| {
            block
                .lines()
                .any(|line| line.strip_prefix("# [") == Some(header))
        });
        assert_ne!(uncommented, Config::starter(), "{header}");
        Config::parse("uncommented.toml", &uncommented)
            .unwrap_or_else(|errors| panic!("`[{header}` alone: {errors}\n{uncommented}"));
    }
}

#[test]
fn json_schema_describes_every_section_and_rejects_unknown_keys() {
    let schema = Config::json_schema();
    let properties = schema["properties"].as_object().unwrap();
    let keys: Vec<&str> = properties.keys().map(String::as_str).collect();
    for key in [
        "images",
        "build",
        "waiver",
        "trust",
        "scan",
        "sign",
        "mirror",
        "promote",
        "stale",
        "report",
        "registries",
    ] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    assert_eq!(schema["additionalProperties"], false);
    let mirror = &schema["definitions"]["MirrorSettings"]["properties"];
    assert_eq!(mirror["scan"]["type"], "boolean", "{mirror}");
    assert_eq!(mirror["scan"]["default"], false, "{mirror}");
    assert!(mirror.get("tag-pattern").is_none(), "{mirror}");
    let text = schema.to_string();
    for needle in [
        "require-digest",
        "deny-tags",
        "fail-on",
        "only-fixed",
        "tag-regex",
        "ca-file",
        "identity-regex",
        "\"critical\"",
        "\"digest-not-pinned\"",
        "trivy-json",
    ] {
        assert!(text.contains(needle), "{needle} missing from the schema");
    }
    assert!(
        !text.contains("allow_site") && !text.contains("\"site\""),
        "internal fields stay out"
    );
}

#[test]
fn find_walks_up_from_a_file_or_directory() {
    let root = std::env::temp_dir().join(format!("portcullis-policy-find-{}", std::process::id()));
    let nested = root.join("a/b");
    std::fs::create_dir_all(&nested).unwrap();
    std::fs::write(root.join("portcullis.toml"), "").unwrap();
    std::fs::write(nested.join("Dockerfile"), "FROM scratch\n").unwrap();
    assert_eq!(
        Config::find(&nested).unwrap(),
        Some(root.join("portcullis.toml"))
    );
    assert_eq!(
        Config::find(&nested.join("Dockerfile")).unwrap(),
        Some(root.join("portcullis.toml"))
    );
    let loaded = Config::load(&root.join("portcullis.toml")).unwrap();
    assert_eq!(loaded.path, Some(root.join("portcullis.toml")));
    std::fs::write(root.join("portcullis.toml"), "[images]\nallow = 1\n").unwrap();
    let error = Config::load_named(&root.join("portcullis.toml"), "portcullis.toml").unwrap_err();
    assert_eq!(
        error.to_string(),
        "portcullis.toml:2:9: `allow` must be an array of strings, found integer `1`"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn load_reports_unreadable_and_non_utf8_files() {
    let missing = Config::load(std::path::Path::new("/nonexistent/portcullis.toml")).unwrap_err();
    assert!(missing.to_string().starts_with(
        "/nonexistent/portcullis.toml: config file `/nonexistent/portcullis.toml` does not exist"
    ));
    let path = std::env::temp_dir().join(format!(
        "portcullis-policy-utf8-{}.toml",
        std::process::id()
    ));
    std::fs::write(&path, b"[images]\n\xff = 1\n").unwrap();
    let error = Config::load(&path).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("is not UTF-8 (invalid byte at offset 9)"),
        "{error}"
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn build_platforms_are_typed_with_a_default_and_bad_ones_are_named_at_their_line() {
    let default = Config::embedded_default();
    let names: Vec<String> = default
        .build()
        .platforms
        .value
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(names, ["linux/amd64", "linux/arm64"]);
    let config = Config::parse(
        "p.toml",
        "[build]\nplatforms = [\"linux/arm/v7\", \"windows/amd64\", \"linux/arm/v7\"]\n",
    )
    .unwrap();
    let platforms = &config.build().platforms.value;
    assert_eq!(platforms.len(), 2, "duplicates are dropped: {platforms:?}");
    assert_eq!(
        (
            platforms[0].os(),
            platforms[0].arch(),
            platforms[0].variant()
        ),
        ("linux", "arm", Some("v7"))
    );
    assert_eq!(platforms[1].to_string(), "windows/amd64");

    let errors = Config::parse(
        "p.toml",
        "[build]\nplatforms = [\"linux/amd64\",\n  \"Linux/ARM64\"]\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        errors.starts_with("p.toml:3:3: `platforms`: invalid platform `Linux/ARM64`"),
        "{errors}"
    );
    let empty = Config::parse("p.toml", "[build]\nplatforms = []\n")
        .unwrap_err()
        .to_string();
    assert!(
        empty.contains("p.toml:2:13: `platforms` needs at least one"),
        "{empty}"
    );
    let unknown = Config::parse("p.toml", "[build]\nplatform = [\"linux/amd64\"]\n")
        .unwrap_err()
        .to_string();
    assert!(unknown.contains("`platform`"), "{unknown}");
}

#[test]
fn mirror_scan_must_be_a_boolean_at_its_line() {
    let text = "[[mirror]]\nfrom = \"alpine\"\nto = \"m.example/alpine\"\ntags = [\"3.20\"]\nscan = \"yes\"\n";
    let errors = Config::parse("portcullis.toml", text)
        .unwrap_err()
        .to_string();
    assert!(
        errors.starts_with("portcullis.toml:5:") && errors.contains("`scan`"),
        "{errors}"
    );
}
