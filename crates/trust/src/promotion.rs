//! The promotion record: what `portcullis promote` attests about the image it wrote into
//! the target registry. An in-toto Statement v1 whose subject is the target digest, with
//! the predicate type [`PROMOTION_V1`] and a [`PromotionRecord`] as predicate: who
//! promoted, when, from where to where (references and digests), each check with its
//! outcome, and the sha256 digest of the policy file's bytes that decided it.
//!
//! The predicate's JSON (camelCase keys):
//!
//! ```json
//! {
//!   "promoter": { "issuer": "https://token.actions.githubusercontent.com",
//!                 "subject": "https://github.com/acme/app/.github/workflows/promote.yml@refs/heads/main",
//!                 "actor": "octocat" },
//!   "promotedAt": "2026-12-02T09:43:59Z",
//!   "source": { "reference": "staging.example.com/app", "digest": "sha256:…" },
//!   "target": { "reference": "registry.example.com/prod/app:1.4.2", "digest": "sha256:…" },
//!   "checks": [
//!     { "check": "verify", "outcome": "passed",
//!       "identities": [ { "issuer": "…", "identity": "…" } ] },
//!     { "check": "scan", "outcome": "passed", "failOn": "high", "failing": 0,
//!       "counts": { "critical": 0, "high": 0, "medium": 3, "low": 7, "negligible": 0, "unknown": 1 },
//!       "scanners": ["trivy"] }
//!   ],
//!   "policy": { "name": "portcullis.toml", "digest": "sha256:…" }
//! }
//! ```

use std::collections::BTreeMap;

use portcullis_reference::identity::SignerIdentity;
use portcullis_reference::{Digest, ImageRef};
use serde::{Deserialize, Serialize};

use crate::statement::{Predicate, PredicateKind, Statement};
use crate::token::IdentityToken;
use crate::verify::VerifiedIdentity;

/// The predicate type of a promotion record.
pub const PROMOTION_V1: &str = "https://portcullis.dev/promotion/v1";

/// What `portcullis promote` attests about the image it promoted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromotionRecord {
    pub promoter: Promoter,
    /// When, RFC 3339 in UTC.
    pub promoted_at: String,
    pub source: Artifact,
    pub target: Artifact,
    /// Every check, in the order they ran, including the ones not run.
    pub checks: Vec<CheckRecord>,
    pub policy: PolicyRecord,
}

/// Who promoted: the signing identity and the person or CI actor behind it, when known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promoter {
    /// The identity token's issuer (`None` when signing with a key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The identity token's subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The CI actor (`GITHUB_ACTOR`, `GITLAB_USER_LOGIN`), else the local `USER`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

impl Promoter {
    /// The signer of `token` (`None`: a key), and the actor `env` names.
    #[must_use]
    pub fn new(token: Option<&IdentityToken>, env: &BTreeMap<String, String>) -> Self {
        let actor = ["GITHUB_ACTOR", "GITLAB_USER_LOGIN", "USER"]
            .iter()
            .find_map(|name| env.get(*name).filter(|value| !value.trim().is_empty()))
            .cloned();
        Self {
            issuer: token.map(|t| t.issuer.clone()),
            subject: token.map(|t| t.subject.clone()),
            actor,
        }
    }
}

/// An image by reference and digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// The normalized reference without its digest (`registry/repository[:tag]`).
    pub reference: String,
    /// `sha256:…`.
    pub digest: String,
}

impl Artifact {
    #[must_use]
    pub fn new(image: &ImageRef, digest: &Digest) -> Self {
        Self {
            reference: image.without_digest().to_string(),
            digest: digest.to_string(),
        }
    }
}

/// How a check ended. A promotion is recorded only when every check that ran passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Passed,
    /// Not run: neither the policy nor the command asked for it.
    Skipped,
}

/// A signer identity that verified and that the policy accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignerRecord {
    /// The certificate's OIDC issuer (`None`: a key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The certificate's identity (SAN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
}

/// A signer as the policy matched it: a certificate's issuer and identity, or a key's
/// fingerprint as its identity.
impl From<&SignerIdentity> for SignerRecord {
    fn from(signer: &SignerIdentity) -> Self {
        match signer {
            SignerIdentity::Certificate {
                issuer, subject, ..
            } => Self {
                issuer: Some(issuer.clone()),
                identity: Some(subject.clone()),
            },
            SignerIdentity::Key { fingerprint } => Self {
                issuer: None,
                identity: Some(fingerprint.clone()),
            },
        }
    }
}

impl From<&VerifiedIdentity> for SignerRecord {
    fn from(verified: &VerifiedIdentity) -> Self {
        Self {
            issuer: verified.issuer.clone(),
            identity: verified.identity.clone(),
        }
    }
}

/// One check of the promotion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "check", rename_all = "kebab-case")]
pub enum CheckRecord {
    /// The source's signatures against `[trust]`.
    Verify {
        outcome: Outcome,
        /// The identities that verified and matched a `[[trust.signer]]`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        identities: Vec<SignerRecord>,
    },
    /// The `[scan]` gate.
    #[serde(rename_all = "camelCase")]
    Scan {
        outcome: Outcome,
        /// Every vulnerability found, by severity (`critical`, `high`, …).
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        counts: BTreeMap<String, u64>,
        /// The lowest severity that fails the gate.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fail_on: Option<String>,
        /// Vulnerabilities that counted against the gate (unwaived, at or above `failOn`).
        #[serde(default)]
        failing: u64,
        /// The scanners or reports read.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        scanners: Vec<String>,
    },
}

/// The policy that decided: how reports name it and the digest of its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRecord {
    pub name: String,
    /// `sha256:` of the policy file's bytes.
    pub digest: String,
}

impl PolicyRecord {
    /// The policy named `name` whose file holds `bytes`.
    #[must_use]
    pub fn of(name: &str, bytes: &[u8]) -> Self {
        Self {
            name: name.to_owned(),
            digest: Digest::sha256(bytes).to_string(),
        }
    }
}

impl PromotionRecord {
    /// The record as a predicate of type [`PROMOTION_V1`].
    #[must_use]
    pub fn predicate(&self) -> Predicate {
        Predicate {
            kind: PredicateKind::Custom(PROMOTION_V1.to_owned()),
            value: serde_json::to_value(self).unwrap_or_default(),
        }
    }

    /// The statement to attest: its subject is the target, by `target`'s name and digest.
    #[must_use]
    pub fn statement(&self, target: &ImageRef, digest: &Digest) -> Statement {
        Statement::about_image(target, digest, self.predicate())
    }

    /// The record a statement of type [`PROMOTION_V1`] carries (`None` for another type or
    /// a predicate of another shape).
    #[must_use]
    pub fn from_statement(statement: &Statement) -> Option<Self> {
        (statement.predicate_type == PROMOTION_V1)
            .then(|| serde_json::from_value(statement.predicate.clone()).ok())
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(byte: u8) -> Digest {
        Digest::sha256(&[byte])
    }

    fn record() -> PromotionRecord {
        let source = ImageRef::parse("staging.example.com/acme/app:1.4").unwrap();
        let target = ImageRef::parse("registry.example.com/prod/app:1.4").unwrap();
        let env = BTreeMap::from([
            ("USER".to_owned(), "alice".to_owned()),
            ("GITHUB_ACTOR".to_owned(), "octocat".to_owned()),
        ]);
        PromotionRecord {
            promoter: Promoter {
                issuer: Some("https://token.actions.githubusercontent.com".into()),
                subject: Some("https://github.com/acme/app/.github/workflows/promote.yml@refs/heads/main".into()),
                ..Promoter::new(None, &env)
            },
            promoted_at: "2026-12-02T09:43:59Z".into(),
            source: Artifact::new(&source.with_digest(digest(1)), &digest(1)),
            target: Artifact::new(&target, &digest(1)),
            checks: vec![
                CheckRecord::Verify {
                    outcome: Outcome::Passed,
                    identities: vec![SignerRecord {
                        issuer: Some("https://token.actions.githubusercontent.com".into()),
                        identity: Some("https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main".into()),
                    }],
                },
                CheckRecord::Scan {
                    outcome: Outcome::Passed,
                    counts: BTreeMap::from([("high".to_owned(), 0), ("medium".to_owned(), 3)]),
                    fail_on: Some("high".into()),
                    failing: 0,
                    scanners: vec!["trivy".into()],
                },
            ],
            policy: PolicyRecord::of("portcullis.toml", b"[images]\n"),
        }
    }

    #[test]
    fn the_record_is_a_statement_about_the_target_digest_with_its_own_type() {
        let record = record();
        let target = ImageRef::parse("registry.example.com/prod/app:1.4").unwrap();
        let statement = record.statement(&target, &digest(1));
        assert_eq!(
            statement.predicate_type,
            "https://portcullis.dev/promotion/v1"
        );
        assert!(statement.names_digest(&digest(1)));
        assert!(!statement.names_digest(&digest(2)));
        assert_eq!(
            statement.subject[0].name.as_deref(),
            Some("registry.example.com/prod/app")
        );
        let json = &statement.predicate;
        assert_eq!(
            json["promoter"]["actor"], "octocat",
            "the CI actor wins over USER"
        );
        assert_eq!(json["promotedAt"], "2026-12-02T09:43:59Z");
        assert_eq!(
            json["source"]["reference"],
            "staging.example.com/acme/app:1.4"
        );
        assert_eq!(json["source"]["digest"], digest(1).to_string());
        assert_eq!(
            json["target"]["reference"],
            "registry.example.com/prod/app:1.4"
        );
        assert_eq!(json["checks"][0]["check"], "verify");
        assert_eq!(json["checks"][0]["outcome"], "passed");
        assert_eq!(
            json["checks"][0]["identities"][0]["identity"],
            "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main"
        );
        assert_eq!(json["checks"][1]["check"], "scan");
        assert_eq!(json["checks"][1]["failOn"], "high");
        assert_eq!(json["checks"][1]["counts"]["medium"], 3);
        // sha256 of the policy's bytes, as `sha256sum` prints it.
        assert_eq!(
            json["policy"]["digest"],
            "sha256:65b663db487af7bda2c2df49b65006f41b7a40c0668cfb01900a5e99e1b43caa"
        );
        // Read back from a statement parsed from its bytes.
        let parsed = Statement::parse(&statement.to_bytes()).unwrap();
        assert_eq!(PromotionRecord::from_statement(&parsed), Some(record));
    }

    #[test]
    fn the_promoter_is_the_token_signer_and_the_local_user_outside_ci() {
        let env = BTreeMap::from([
            ("USER".to_owned(), "alice".to_owned()),
            ("GITHUB_ACTOR".to_owned(), " ".to_owned()),
        ]);
        let promoter = Promoter::new(None, &env);
        assert_eq!(promoter.actor.as_deref(), Some("alice"));
        assert_eq!(promoter.issuer, None, "a key has no issuer");
        assert_eq!(Promoter::new(None, &BTreeMap::new()).actor, None);
    }

    #[test]
    fn another_predicate_type_is_not_a_promotion_record() {
        let target = ImageRef::parse("registry.example.com/prod/app").unwrap();
        let mut statement = record().statement(&target, &digest(1));
        statement.predicate_type = "https://slsa.dev/provenance/v1".into();
        assert_eq!(PromotionRecord::from_statement(&statement), None);
    }
}
