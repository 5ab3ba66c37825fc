//! `portcullis mirror`'s decisions: which images a `[[mirror]]` entry copies (its tags,
//! and the listed tags its `tag-regex` matches, anchored at both ends: [`MirrorSettings::covers_tag`]), and whether the
//! policy admits each source — an image in no file, judged by `[images]` allow and deny, and
//! by `[trust]`: a source that a trusted signer must vouch for is refused until its
//! signature is verified (fail closed).

use portcullis_reference::ImageRef;

use crate::config::{Config, MirrorSettings, Platforms};
use crate::families::signatures::SignatureFact;
use crate::families::{images, At};
use crate::finding::{Finding, Severity};
use crate::subject::{HelpPaths, Subject};

/// One image a `[[mirror]]` entry copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorItem {
    /// `from:tag`.
    pub source: ImageRef,
    /// `to:tag`.
    pub target: ImageRef,
    /// Which platforms of an index to copy.
    pub platforms: Platforms,
    /// The source passes the `[scan]` gate before it is copied (`scan = true`).
    pub scan: bool,
    /// The index of the `[[mirror]]` entry in the policy file.
    pub entry: usize,
}

impl MirrorSettings {
    /// Whether the entry's `tag-regex` needs the source's tag list.
    #[must_use]
    pub fn lists_tags(&self) -> bool {
        self.tag_regex.is_some()
    }

    /// The images this entry copies: its `tags` in order, then the tags of `listed` (the
    /// source's tag list, when read) that match `tag-regex`, each once.
    #[must_use]
    pub fn plan(&self, entry: usize, listed: &[String]) -> Vec<MirrorItem> {
        let mut tags: Vec<&str> = self.tags.iter().map(|t| t.value.as_str()).collect();
        if self.tag_regex.is_some() {
            for tag in listed {
                if self.covers_tag(tag) && !tags.contains(&tag.as_str()) {
                    tags.push(tag);
                }
            }
        }
        tags.into_iter()
            .map(|tag| MirrorItem {
                source: self.from.value.without_digest().with_tag(tag),
                target: self.to.value.without_digest().with_tag(tag),
                platforms: self.platforms.value.clone(),
                scan: self.scan.value,
                entry,
            })
            .collect()
    }
}

/// Whether a `[[trust.signer]]` covers `source`: then its signatures are verified before
/// it is mirrored, and [`refusals`] needs what verification found.
#[must_use]
pub fn needs_signature(config: &Config, source: &ImageRef) -> bool {
    !config.trust().signers_for(source).is_empty()
}

/// Why the policy refuses to mirror `source`: `image-not-allowed` when `[images]` allow
/// and deny do not admit it; `signature-missing` or `signature-invalid` when a
/// `[[trust.signer]]` covers it and `signatures` (what verification found, `None`: not
/// verified) holds no signer it accepts. Empty: admitted.
#[must_use]
pub fn refusals(
    config: &Config,
    source: &ImageRef,
    signatures: Option<&SignatureFact>,
) -> Vec<Finding> {
    let subject = Subject::image(source.clone());
    let help = HelpPaths::default();
    let at = At::new(&subject, &help);
    let mut out: Vec<Finding> = images::check(config.images(), &at, source)
        .into_iter()
        .collect();
    let unverified = SignatureFact {
        error: Some("they were not verified".to_owned()),
        ..SignatureFact::default()
    };
    out.extend(crate::families::signatures::judge_signatures(
        config.trust(),
        source,
        signatures.unwrap_or(&unverified),
    ));
    out
}

/// The findings of a scan of a mirror source that keep it out (errors not waived): the
/// `[scan]` gate, as `scan` applies it, with the policy's waivers.
#[must_use]
pub fn scan_refusals(
    config: &Config,
    scan: crate::vuln::ScanResult,
    today: jiff::civil::Date,
) -> Vec<Finding> {
    let facts = crate::Facts {
        scans: vec![scan],
        partial_tree: true,
        ..crate::Facts::default()
    };
    crate::evaluate(config, &facts, today)
        .findings
        .into_iter()
        .filter(|finding| finding.counts(Severity::Error))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        Config::parse("portcullis.toml", text).unwrap()
    }

    #[test]
    fn explicit_tags_then_listed_tags_matching_the_whole_regex() {
        let config = config(
            r#"
[[mirror]]
from = "alpine"
to = "registry.example.com/mirror/alpine"
tags = ["3.19"]
tag-regex = '3\.2\d'
"#,
        );
        let entry = &config.mirrors()[0];
        let listed: Vec<String> = ["3.19", "3.20", "3.21", "3.20-rc", "x3.20", "latest"]
            .map(str::to_owned)
            .to_vec();
        let plan = entry.plan(0, &listed);
        let tags: Vec<&str> = plan.iter().filter_map(|i| i.source.tag()).collect();
        assert_eq!(tags, ["3.19", "3.20", "3.21"]);
        assert_eq!(plan[1].source.to_string(), "docker.io/library/alpine:3.20");
        assert_eq!(
            plan[1].target.to_string(),
            "registry.example.com/mirror/alpine:3.20"
        );
        assert!(!entry.covers_tag("3.20-rc"), "anchored at the end");
        assert!(!entry.covers_tag("x3.20"), "anchored at the start");
        assert!(!plan[0].scan, "no scan unless the entry asks");
    }

    use crate::rules::Rule;
    use portcullis_reference::identity::SignerIdentity;

    #[test]
    fn sources_outside_the_allowlist_or_needing_a_signature_are_refused() {
        let config = config(
            r#"
[images]
allow = ["docker.io/library/*", "ghcr.io/acme/*"]

[[trust.signer]]
images = ["ghcr.io/acme/*"]
issuer = "https://token.actions.githubusercontent.com"
identity = "https://github.com/acme/images/.github/workflows/release.yml@refs/heads/main"
"#,
        );
        let alpine = ImageRef::parse("alpine:3.20").unwrap();
        assert!(!needs_signature(&config, &alpine));
        assert!(refusals(&config, &alpine, None).is_empty());
        let evil = ImageRef::parse("docker.io/evil/alpine:3.20").unwrap();
        let refused = refusals(&config, &evil, None);
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].rule, Rule::ImageNotAllowed);
        assert!(refused[0].message.contains("docker.io/evil/alpine"));
        let signed = ImageRef::parse("ghcr.io/acme/base:1").unwrap();
        assert!(needs_signature(&config, &signed));
        // Not verified: refused, never copied unverified.
        let refused = refusals(&config, &signed, None);
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].rule, Rule::SignatureMissing);
        assert!(
            refused[0].message.contains("not verified"),
            "{}",
            refused[0].message
        );
        // Verified, by the trusted identity: admitted.
        let trusted = SignerIdentity::Certificate {
            issuer: "https://token.actions.githubusercontent.com".into(),
            subject: "https://github.com/acme/images/.github/workflows/release.yml@refs/heads/main"
                .into(),
            extensions: std::collections::BTreeMap::new(),
        };
        let fact = SignatureFact {
            verified: vec![trusted],
            ..SignatureFact::default()
        };
        assert!(refusals(&config, &signed, Some(&fact)).is_empty());
        // Verified, by somebody else: invalid, naming who signed.
        let stranger = SignerIdentity::Certificate {
            issuer: "https://token.actions.githubusercontent.com".into(),
            subject: "https://github.com/evil/fork/.github/workflows/release.yml@refs/heads/main"
                .into(),
            extensions: std::collections::BTreeMap::new(),
        };
        let fact = SignatureFact {
            verified: vec![stranger],
            ..SignatureFact::default()
        };
        let refused = refusals(&config, &signed, Some(&fact));
        assert_eq!(refused[0].rule, Rule::SignatureInvalid);
        assert!(
            refused[0].message.contains("evil/fork"),
            "{}",
            refused[0].message
        );
    }
}
