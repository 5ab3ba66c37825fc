//! The stable rule codes, each with its one description and severity score (used by docs,
//! `--help`, SARIF rules and the PR comment). The codes and the list of rules are derived
//! from the enum; the wording of each rule's findings lives with its family in
//! [`crate::families`].

use std::str::FromStr;

use strum::IntoEnumIterator as _;

/// Stable rule codes (DESIGN.md). Each has one description used everywhere.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
    strum::IntoStaticStr,
    strum::Display,
    strum::EnumIter,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Rule {
    ImageNotAllowed,
    DigestNotPinned,
    TagMissing,
    TagDenied,
    UnresolvedVariable,
    DigestNotFound,
    DigestStale,
    SignatureMissing,
    SignatureInvalid,
    Vulnerability,
    WaiverExpired,
    WaiverUnused,
    ImageStale,
    FileInvalid,
    ReferenceInvalid,
    ScanReportMismatch,
    NotFromMirror,
    PromotionRefused,
}

impl Rule {
    /// Every rule, in declaration order.
    pub fn all() -> impl Iterator<Item = Rule> {
        Self::iter()
    }

    /// The kebab-case code.
    #[must_use]
    pub fn code(self) -> &'static str {
        self.into()
    }

    /// The rule with this code.
    #[must_use]
    pub fn from_code(code: &str) -> Option<Self> {
        Self::iter().find(|rule| rule.code() == code)
    }

    /// Whether the rule reports input that could not be read or trusted (exit 2). Such
    /// findings are never waived: a gate that cannot read its input fails closed.
    #[must_use]
    pub fn is_bad_input(self) -> bool {
        matches!(
            self,
            Self::FileInvalid | Self::ReferenceInvalid | Self::ScanReportMismatch
        )
    }

    /// One-sentence description (docs, `--help`, SARIF rules, PR comment).
    #[must_use]
    pub fn description(self) -> &'static str {
        match self {
            Self::ImageNotAllowed => "The image matches no `allow` pattern of the policy, or matches a `deny` pattern.",
            Self::DigestNotPinned => "The reference has no `@sha256:` digest, so the image it names can change under it.",
            Self::TagMissing => "The reference has neither tag nor digest, so it silently means `latest`.",
            Self::TagDenied => "The reference uses a tag listed in `deny-tags`, such as `latest`.",
            Self::UnresolvedVariable => {
                "The reference uses a build argument or variable with no value, so it cannot be checked."
            }
            Self::DigestNotFound => "The pinned digest does not exist in the registry.",
            Self::DigestStale => "The tag now points at another digest than the pin.",
            Self::SignatureMissing => "The image has no signature from a signer trusted for it.",
            Self::SignatureInvalid => "The image has a signature that does not verify against the trusted signers.",
            Self::Vulnerability => "The image contains a vulnerability at or above the `fail-on` severity.",
            Self::WaiverExpired => "A waiver's `expires` date has passed, so the findings it covered count again.",
            Self::WaiverUnused => "A waiver matched no finding and can be removed.",
            Self::ImageStale => {
                "The image is stale: its base digest drifted, it is older than `max-age`, or it has fixable vulnerabilities."
            }
            Self::FileInvalid => "A file that should hold image references cannot be read or parsed.",
            Self::ReferenceInvalid => "A value in an image position is not a valid image reference.",
            Self::ScanReportMismatch => "A scanner report names another image or digest than the one scanned.",
            Self::NotFromMirror => {
                "The reference names a source repository that a `[[mirror]]` entry copies, instead of the mirror."
            }
            Self::PromotionRefused => {
                "The promotion matches no `[[promote]]` entry, a check its entry requires cannot run, or the target tag points at another image."
            }
        }
    }

    /// SARIF `security-severity` (0.0–10.0) for code scanning. For `vulnerability` findings
    /// prefer [`Finding::security_severity`], which uses the CVSS score.
    #[must_use]
    pub fn security_severity(self) -> f32 {
        match self {
            Self::ImageNotAllowed
            | Self::SignatureMissing
            | Self::ScanReportMismatch
            | Self::PromotionRefused => 8.0,
            Self::FileInvalid | Self::ReferenceInvalid => 6.0,
            Self::SignatureInvalid => 9.0,
            Self::Vulnerability | Self::DigestNotFound => 7.0,
            Self::DigestNotPinned
            | Self::TagDenied
            | Self::TagMissing
            | Self::WaiverExpired
            | Self::NotFromMirror => 5.0,
            Self::DigestStale | Self::ImageStale => 4.0,
            Self::UnresolvedVariable => 3.0,
            Self::WaiverUnused => 1.0,
        }
    }
}

/// Error for an unknown rule code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown rule `{0}`")]
pub struct UnknownRule(pub String);

impl FromStr for Rule {
    type Err = UnknownRule;
    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Self::from_code(code).ok_or_else(|| UnknownRule(code.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_kebab_case_and_match_serde() {
        let mut seen = std::collections::BTreeSet::new();
        for rule in Rule::all() {
            let code = rule.code();
            assert!(seen.insert(code), "duplicate code {code}");
            assert!(
                code.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{code}"
            );
            assert!(
                !code.starts_with('-') && !code.ends_with('-') && !code.contains("--"),
                "{code}"
            );
            assert_eq!(serde_json::to_value(rule).unwrap(), serde_json::json!(code));
            assert_eq!(
                serde_json::from_value::<Rule>(serde_json::json!(code)).unwrap(),
                rule
            );
            assert_eq!(code.parse::<Rule>(), Ok(rule));
            assert!(rule.description().ends_with('.'), "{code}");
            assert!((0.0..=10.0).contains(&rule.security_severity()), "{code}");
        }
        assert_eq!(seen.len(), Rule::all().count());
        assert!(Rule::FileInvalid.is_bad_input() && !Rule::DigestNotPinned.is_bad_input());
        assert!("nope".parse::<Rule>().is_err());
    }
}
