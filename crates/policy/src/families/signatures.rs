//! Whose signatures are trusted: `[trust]` and its `[[trust.signer]]` entries →
//! `signature-missing`, `signature-invalid`. `trust` verifies signatures (chain, log,
//! subject digest) and hands over who signed ([`SignatureFact`]); which of those signers
//! the policy accepts for an image is decided here.

use portcullis_reference::identity::{CertificateExtension, SignerIdentity};
use portcullis_reference::{ImageRef, Pattern};
use schemars::JsonSchema;

use super::At;
use crate::finding::{Finding, Severity};
use crate::rules::Rule;

use crate::config::reader::{Reader, Section};
use crate::config::sections::{pattern, regex_key};
use crate::config::settings::Spanned;
use crate::config::ConfigSite;

/// `[trust]`: whose signatures are accepted.
#[derive(Debug, Clone, Default, PartialEq, JsonSchema)]
#[schemars(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct TrustSettings {
    /// `[[trust.signer]]` entries.
    #[schemars(rename = "signer")]
    pub signers: Vec<Signer>,
}

/// `[[trust.signer]]`: a Sigstore identity trusted for some images.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[schemars(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Signer {
    /// Images this signer vouches for (empty: every image).
    #[schemars(with = "Vec<String>", default)]
    pub images: Vec<Spanned<Pattern>>,
    /// Exact OIDC issuer.
    #[schemars(with = "Option<String>")]
    pub issuer: Option<Spanned<String>>,
    /// Issuer regular expression.
    #[schemars(with = "Option<String>")]
    pub issuer_regex: Option<Spanned<String>>,
    /// Exact certificate identity (SAN).
    #[schemars(with = "Option<String>")]
    pub identity: Option<Spanned<String>>,
    /// Identity regular expression.
    #[schemars(with = "Option<String>")]
    pub identity_regex: Option<Spanned<String>>,
    /// Certificate extensions that must hold exactly these values
    /// (`source-repository-uri`, `source-repository-ref`, `build-signer-uri`,
    /// `runner-environment`, ...).
    #[schemars(skip)]
    pub extensions: Vec<(CertificateExtension, Spanned<String>)>,
    #[schemars(skip)]
    pub site: Option<ConfigSite>,
}

impl TrustSettings {
    /// The signers trusted for `image` (an entry without `images` covers every image).
    #[must_use]
    pub fn signers_for(&self, image: &ImageRef) -> Vec<&Signer> {
        self.signers
            .iter()
            .filter(|signer| {
                signer.images.is_empty() || signer.images.iter().any(|p| p.value.matches(image))
            })
            .collect()
    }
}

impl TrustSettings {
    /// Whether some `[[trust.signer]]` for `image` accepts `identity`.
    #[must_use]
    pub fn trusts(&self, image: &ImageRef, identity: &SignerIdentity) -> bool {
        self.signers_for(image)
            .iter()
            .any(|signer| signer.accepts(identity).is_ok())
    }
}

impl Signer {
    /// Whether this signer entry accepts `identity`; the error says which part differs.
    /// Regular expressions match the whole value (`^…$` is implied), so
    /// `https://github.com/org/.*` never accepts `https://github.com/org-evil/x`
    /// through a prefix.
    pub fn accepts(&self, identity: &SignerIdentity) -> Result<(), String> {
        let SignerIdentity::Certificate {
            issuer,
            subject,
            extensions,
        } = identity
        else {
            return Err(format!(
                "{identity} is a key, and `[[trust.signer]]` names certificate identities"
            ));
        };
        check_value(
            "issuer",
            issuer,
            self.issuer.as_ref(),
            self.issuer_regex.as_ref(),
        )?;
        check_value(
            "identity",
            subject,
            self.identity.as_ref(),
            self.identity_regex.as_ref(),
        )?;
        for (extension, want) in &self.extensions {
            match extensions.get(extension) {
                Some(got) if *got == want.value => {}
                Some(got) => {
                    return Err(format!(
                        "{} is `{got}`, not `{}`",
                        extension.key(),
                        want.value
                    ));
                }
                None => return Err(format!("the certificate has no {}", extension.key())),
            }
        }
        Ok(())
    }
}

fn check_value(
    what: &str,
    got: &str,
    exact: Option<&Spanned<String>>,
    pattern: Option<&Spanned<String>>,
) -> Result<(), String> {
    if let Some(exact) = exact {
        if got != exact.value {
            return Err(format!("{what} is `{got}`, not `{}`", exact.value));
        }
    }
    if let Some(pattern) = pattern {
        let anchored = format!("^(?:{})$", pattern.value);
        // Validated when the policy was read; a pattern that does not compile accepts nothing.
        let matched = regex::Regex::new(&anchored).is_ok_and(|re| re.is_match(got));
        if !matched {
            return Err(format!("{what} `{got}` does not match `{}`", pattern.value));
        }
    }
    Ok(())
}

/// What signature verification found for one image (by digest).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignatureFact {
    /// Signers of the signatures that verified: certificate chain to the trusted root,
    /// transparency log, and the image digest as their subject.
    pub verified: Vec<SignerIdentity>,
    /// Signatures found that did not verify, with why.
    pub rejected: Vec<String>,
    /// Why the signatures could not be looked up or checked at all (a registry or trust
    /// root failure), when that happened. Fails closed: the image counts as unsigned.
    pub error: Option<String>,
}

/// What the policy says of `image`, named by itself (not written in a file: `verify`, the
/// mirror gate), given what verification found: `None` when a trusted signer is among the
/// verified ones, or when no `[[trust.signer]]` covers the image.
#[must_use]
pub fn judge_signatures(
    trust: &TrustSettings,
    image: &ImageRef,
    fact: &SignatureFact,
) -> Option<Finding> {
    let subject = crate::subject::Subject::image(image.clone());
    let help = crate::subject::HelpPaths::default();
    check(trust, fact, &At::new(&subject, &help), image)
}

/// The signature rules for an image some `[[trust.signer]]` covers: nothing when a verified
/// signer is accepted, `signature-invalid` when signatures exist but none is acceptable,
/// else `signature-missing`.
pub(crate) fn check(
    trust: &TrustSettings,
    fact: &SignatureFact,
    at: &At<'_>,
    image: &ImageRef,
) -> Option<Finding> {
    let signers = trust.signers_for(image);
    let first = signers.first()?;
    let mut reasons = Vec::new();
    for identity in &fact.verified {
        for signer in &signers {
            match signer.accepts(identity) {
                Ok(()) => return None,
                Err(reason) => reasons.push(format!("signed by {identity}, but {reason}")),
            }
        }
    }
    reasons.extend(fact.rejected.iter().cloned());
    let text = &at.subject.text;
    let (rule, message) = if let Some(error) = &fact.error {
        (
            Rule::SignatureMissing,
            format!("the signatures of `{text}` could not be checked: {error}"),
        )
    } else if reasons.is_empty() {
        (
            Rule::SignatureMissing,
            format!("`{text}` has no signature from a signer trusted for it"),
        )
    } else {
        reasons.sort();
        reasons.dedup();
        (
            Rule::SignatureInvalid,
            format!(
                "no signature of `{text}` is from a signer trusted for it: {}",
                reasons.join("; ")
            ),
        )
    };
    let help = "sign it with an identity a `[[trust.signer]]` names (`portcullis sign`), or \
                check with `portcullis verify` who signed it"
        .to_owned();
    let mut finding = at.finding(rule, Severity::Error, message, Some(help));
    finding.cause.clone_from(&first.site);
    Some(finding)
}

/// The certificate extensions a `[[trust.signer]]` may pin (the issuer has its own keys).
const EXTENSION_KEYS: [CertificateExtension; 14] = [
    CertificateExtension::BuildSignerUri,
    CertificateExtension::BuildSignerDigest,
    CertificateExtension::RunnerEnvironment,
    CertificateExtension::SourceRepositoryUri,
    CertificateExtension::SourceRepositoryDigest,
    CertificateExtension::SourceRepositoryRef,
    CertificateExtension::SourceRepositoryIdentifier,
    CertificateExtension::SourceRepositoryOwnerUri,
    CertificateExtension::SourceRepositoryOwnerIdentifier,
    CertificateExtension::BuildConfigUri,
    CertificateExtension::BuildConfigDigest,
    CertificateExtension::BuildTrigger,
    CertificateExtension::RunInvocationUri,
    CertificateExtension::SourceRepositoryVisibility,
];

pub(crate) fn read(reader: &mut Reader<'_>, section: &Section<'_>) -> TrustSettings {
    reader.check_keys(section, &["signer"]);
    let mut trust = TrustSettings::default();
    for signer in &reader.tables(section, "signer", "[[trust.signer]]") {
        let mut keys = vec![
            "images",
            "issuer",
            "identity",
            "identity-regex",
            "issuer-regex",
        ];
        keys.extend(EXTENSION_KEYS.iter().map(|e| e.key()));
        reader.check_keys(signer, &keys);
        let extensions = EXTENSION_KEYS
            .iter()
            .filter_map(|extension| {
                let value = reader.non_empty_string(signer, extension.key())?;
                Some((*extension, value))
            })
            .collect();
        let images = reader
            .converted(signer, "images", pattern)
            .map(|(v, _)| v)
            .unwrap_or_default();
        let issuer = reader.non_empty_string(signer, "issuer");
        let issuer_regex = regex_key(reader, signer, "issuer-regex");
        let identity = reader.non_empty_string(signer, "identity");
        let identity_regex = regex_key(reader, signer, "identity-regex");
        let present = |key: &str| Reader::entry(signer, key).is_some();
        if !present("issuer") && !present("issuer-regex") {
            reader.error(
                signer.span.as_ref(),
                "`[[trust.signer]]` needs `issuer` or `issuer-regex`".to_owned(),
            );
        }
        if !present("identity") && !present("identity-regex") {
            reader.error(
                signer.span.as_ref(),
                "`[[trust.signer]]` needs `identity` or `identity-regex`".to_owned(),
            );
        }
        let site = reader.site(signer.span.clone(), "signer declared here".to_owned());
        trust.signers.push(Signer {
            images,
            issuer,
            issuer_regex,
            identity,
            identity_regex,
            extensions,
            site,
        });
    }
    trust
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use portcullis_reference::identity::{CertificateExtension, SignerIdentity};
    use portcullis_reference::ImageRef;

    use crate::config::Config;

    fn trust(toml: &str) -> Config {
        Config::parse("portcullis.toml", toml).expect("valid policy")
    }

    fn github(subject: &str, extensions: &[(CertificateExtension, &str)]) -> SignerIdentity {
        SignerIdentity::Certificate {
            issuer: "https://token.actions.githubusercontent.com".into(),
            subject: subject.into(),
            extensions: extensions
                .iter()
                .map(|(k, v)| (*k, (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    const RELEASE: &str =
        "https://github.com/acme/images/.github/workflows/release.yml@refs/heads/main";

    #[test]
    fn a_signer_accepts_only_its_issuer_identity_and_extensions() {
        let config = trust(
            r#"
[[trust.signer]]
images = ["ghcr.io/acme/*"]
issuer = "https://token.actions.githubusercontent.com"
identity-regex = "https://github.com/acme/.*/.github/workflows/release.yml@refs/heads/main"
source-repository-ref = "refs/heads/main"
"#,
        );
        let image = ImageRef::parse("ghcr.io/acme/base:1").unwrap();
        let signers = config.trust().signers_for(&image);
        assert_eq!(signers.len(), 1);
        assert!(config
            .trust()
            .signers_for(&ImageRef::parse("docker.io/library/alpine").unwrap())
            .is_empty());
        let signer = signers[0];
        let main = [(CertificateExtension::SourceRepositoryRef, "refs/heads/main")];
        assert_eq!(signer.accepts(&github(RELEASE, &main)), Ok(()));
        assert!(config.trust().trusts(&image, &github(RELEASE, &main)));
        let elsewhere = ImageRef::parse("docker.io/library/alpine").unwrap();
        assert!(
            !config.trust().trusts(&elsewhere, &github(RELEASE, &main)),
            "no signer covers that image"
        );
        // The regex matches the whole identity: a longer one is not accepted.
        let longer = format!("{RELEASE}-evil");
        let error = signer.accepts(&github(&longer, &main)).unwrap_err();
        assert!(error.contains("does not match"), "{error}");
        // A prefix cannot smuggle another organisation in.
        let other = "https://github.com/acme-evil/x/.github/workflows/release.yml@refs/heads/main";
        assert!(signer.accepts(&github(other, &main)).is_err());
        // An extension that differs, or is missing.
        let branch = [(CertificateExtension::SourceRepositoryRef, "refs/heads/dev")];
        let error = signer.accepts(&github(RELEASE, &branch)).unwrap_err();
        assert!(
            error.contains("source-repository-ref is `refs/heads/dev`"),
            "{error}"
        );
        let error = signer.accepts(&github(RELEASE, &[])).unwrap_err();
        assert!(error.contains("no source-repository-ref"), "{error}");
        // Another issuer.
        let google = SignerIdentity::Certificate {
            issuer: "https://accounts.google.com".into(),
            subject: RELEASE.into(),
            extensions: BTreeMap::new(),
        };
        assert!(signer.accepts(&google).unwrap_err().contains("issuer"));
        // A key is not a certificate identity.
        let key = SignerIdentity::Key {
            fingerprint: "sha256:00".into(),
        };
        assert!(signer.accepts(&key).is_err());
    }

    #[test]
    fn an_unknown_signer_key_is_a_policy_error() {
        let error = Config::parse(
            "portcullis.toml",
            r#"
[[trust.signer]]
issuer = "https://token.actions.githubusercontent.com"
identity = "x"
source-repository = "https://github.com/acme/images"
"#,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("source-repository"), "{error}");
    }
}
