//! Who signed something, as a verified signature says: the OIDC issuer and subject of a
//! Fulcio certificate and the claims Fulcio copied into its extensions, or a public key.
//! `trust` produces these after every cryptographic check passed; `policy` matches them
//! against `[[trust.signer]]`. Nothing here is trusted before `trust` made it.

use std::collections::BTreeMap;
use std::fmt;

/// A Fulcio certificate extension (OID arc `1.3.6.1.4.1.57264.1`) that carries a claim of
/// the signer's identity token, by the name `[[trust.signer]]` uses for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, strum::EnumIter)]
pub enum CertificateExtension {
    /// `.8`: the token's issuer (also the identity's issuer).
    Issuer,
    /// `.9`: the workflow or pipeline definition that ran (GitHub `job_workflow_ref`).
    BuildSignerUri,
    /// `.10`: the commit of that definition.
    BuildSignerDigest,
    /// `.11`: `github-hosted` or `self-hosted`.
    RunnerEnvironment,
    /// `.12`: the source repository.
    SourceRepositoryUri,
    /// `.13`: the commit built.
    SourceRepositoryDigest,
    /// `.14`: the ref built (`refs/heads/main`, `refs/tags/v1`).
    SourceRepositoryRef,
    /// `.15`: the repository's immutable id.
    SourceRepositoryIdentifier,
    /// `.16`: the repository owner.
    SourceRepositoryOwnerUri,
    /// `.17`: the owner's immutable id.
    SourceRepositoryOwnerIdentifier,
    /// `.18`: the top-level build configuration.
    BuildConfigUri,
    /// `.19`: its commit.
    BuildConfigDigest,
    /// `.20`: the event that started the build (`push`, `workflow_dispatch`, ...).
    BuildTrigger,
    /// `.21`: the run (`https://github.com/org/repo/actions/runs/1/attempts/1`).
    RunInvocationUri,
    /// `.22`: `public` or `private` when signed.
    SourceRepositoryVisibility,
}

impl CertificateExtension {
    /// The dotted OID.
    #[must_use]
    pub fn oid(self) -> &'static str {
        match self {
            Self::Issuer => "1.3.6.1.4.1.57264.1.8",
            Self::BuildSignerUri => "1.3.6.1.4.1.57264.1.9",
            Self::BuildSignerDigest => "1.3.6.1.4.1.57264.1.10",
            Self::RunnerEnvironment => "1.3.6.1.4.1.57264.1.11",
            Self::SourceRepositoryUri => "1.3.6.1.4.1.57264.1.12",
            Self::SourceRepositoryDigest => "1.3.6.1.4.1.57264.1.13",
            Self::SourceRepositoryRef => "1.3.6.1.4.1.57264.1.14",
            Self::SourceRepositoryIdentifier => "1.3.6.1.4.1.57264.1.15",
            Self::SourceRepositoryOwnerUri => "1.3.6.1.4.1.57264.1.16",
            Self::SourceRepositoryOwnerIdentifier => "1.3.6.1.4.1.57264.1.17",
            Self::BuildConfigUri => "1.3.6.1.4.1.57264.1.18",
            Self::BuildConfigDigest => "1.3.6.1.4.1.57264.1.19",
            Self::BuildTrigger => "1.3.6.1.4.1.57264.1.20",
            Self::RunInvocationUri => "1.3.6.1.4.1.57264.1.21",
            Self::SourceRepositoryVisibility => "1.3.6.1.4.1.57264.1.22",
        }
    }

    /// The key `[[trust.signer]]` and reports use (`source-repository-uri`, ...).
    #[must_use]
    pub fn key(self) -> &'static str {
        match self {
            Self::Issuer => "issuer",
            Self::BuildSignerUri => "build-signer-uri",
            Self::BuildSignerDigest => "build-signer-digest",
            Self::RunnerEnvironment => "runner-environment",
            Self::SourceRepositoryUri => "source-repository-uri",
            Self::SourceRepositoryDigest => "source-repository-digest",
            Self::SourceRepositoryRef => "source-repository-ref",
            Self::SourceRepositoryIdentifier => "source-repository-identifier",
            Self::SourceRepositoryOwnerUri => "source-repository-owner-uri",
            Self::SourceRepositoryOwnerIdentifier => "source-repository-owner-identifier",
            Self::BuildConfigUri => "build-config-uri",
            Self::BuildConfigDigest => "build-config-digest",
            Self::BuildTrigger => "build-trigger",
            Self::RunInvocationUri => "run-invocation-uri",
            Self::SourceRepositoryVisibility => "source-repository-visibility",
        }
    }

    /// Its name in Fulcio's documentation.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Issuer => "Issuer",
            Self::BuildSignerUri => "Build Signer URI",
            Self::BuildSignerDigest => "Build Signer Digest",
            Self::RunnerEnvironment => "Runner Environment",
            Self::SourceRepositoryUri => "Source Repository URI",
            Self::SourceRepositoryDigest => "Source Repository Digest",
            Self::SourceRepositoryRef => "Source Repository Ref",
            Self::SourceRepositoryIdentifier => "Source Repository Identifier",
            Self::SourceRepositoryOwnerUri => "Source Repository Owner URI",
            Self::SourceRepositoryOwnerIdentifier => "Source Repository Owner Identifier",
            Self::BuildConfigUri => "Build Config URI",
            Self::BuildConfigDigest => "Build Config Digest",
            Self::BuildTrigger => "Build Trigger",
            Self::RunInvocationUri => "Run Invocation URI",
            Self::SourceRepositoryVisibility => "Source Repository Visibility At Signing",
        }
    }

    /// The last arc of its OID (`9` for `1.3.6.1.4.1.57264.1.9`).
    #[must_use]
    pub fn arc(self) -> u8 {
        self.oid()
            .rsplit('.')
            .next()
            .and_then(|arc| arc.parse().ok())
            .unwrap_or(0)
    }

    /// The extensions that carry claims of the build (every one but the issuer), in OID
    /// order.
    pub fn claims() -> impl Iterator<Item = Self> {
        use strum::IntoEnumIterator as _;
        Self::iter().filter(|extension| *extension != Self::Issuer)
    }

    /// The extension a dotted OID names.
    #[must_use]
    pub fn from_oid(oid: &str) -> Option<Self> {
        use strum::IntoEnumIterator as _;
        Self::iter().find(|extension| extension.oid() == oid)
    }

    /// The extension a `[[trust.signer]]` key names.
    #[must_use]
    pub fn from_key(key: &str) -> Option<Self> {
        use strum::IntoEnumIterator as _;
        Self::iter().find(|extension| extension.key() == key)
    }
}

/// `Source Repository URI (1.3.6.1.4.1.57264.1.12)`: its name and OID, as Fulcio documents it.
impl fmt::Display for CertificateExtension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.oid())
    }
}

/// A verified signer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum SignerIdentity {
    /// A Fulcio certificate: the OIDC issuer, the subject (the certificate's SAN: a URI for
    /// CI identities, an email for people) and the claims in its extensions.
    Certificate {
        issuer: String,
        subject: String,
        extensions: BTreeMap<CertificateExtension, String>,
    },
    /// A public key (key-based signing): its SHA-256 fingerprint, `sha256:<hex>` of the
    /// DER `SubjectPublicKeyInfo`.
    Key { fingerprint: String },
}

impl fmt::Display for SignerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Certificate {
                issuer, subject, ..
            } => write!(f, "`{subject}` (issuer `{issuer}`)"),
            Self::Key { fingerprint } => write!(f, "key `{fingerprint}`"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator as _;

    #[test]
    fn every_extension_round_trips_by_oid_and_key() {
        for extension in CertificateExtension::iter() {
            assert_eq!(
                CertificateExtension::from_oid(extension.oid()),
                Some(extension)
            );
            assert_eq!(
                CertificateExtension::from_key(extension.key()),
                Some(extension)
            );
        }
        assert_eq!(
            CertificateExtension::from_oid("1.3.6.1.4.1.57264.1.1"),
            None
        );
        assert_eq!(
            CertificateExtension::SourceRepositoryRef.oid(),
            "1.3.6.1.4.1.57264.1.14"
        );
    }
}
