//! The flags the signing commands share (`sign`, `attest`, `sign-blob`; `verify`,
//! `verify-blob`), turned into `portcullis_trust` values.

use std::path::Path;

use anyhow::Context as _;
use portcullis_secret::Secret;
use portcullis_trust::sign::{Mode, Services, SigningKey};
use portcullis_trust::token::{self, TokenSource};
use portcullis_trust::verify::{self, Extension, IdentityPolicy, Matcher, Signer};
use portcullis_trust::{TrustConfig, TrustRoot};

use crate::args::{IdentityArgs, SigningArgs};
use crate::exit::UsageError;

pub fn read(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(anyhow::Error::new)
        .context(UsageError(format!(
            "cannot read {what} `{}`",
            path.display()
        )))
}

pub fn usage(error: impl std::fmt::Display) -> anyhow::Error {
    anyhow::Error::new(UsageError(error.to_string()))
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// How to sign: the key, or a token from where the flags or the CI say and the services.
pub fn mode(
    args: &SigningArgs,
    rt: &tokio::runtime::Runtime,
    http: &reqwest::Client,
) -> anyhow::Result<Mode> {
    if let Some(path) = &args.key {
        let text = String::from_utf8_lossy(&read(path, "the key")?).into_owned();
        let key = SigningKey::from_pem(&text)
            .map_err(|e| usage(format!("`--key {}`: {e}", path.display())))?;
        return Ok(Mode::Key {
            key,
            rekor_url: args.rekor_url.clone(),
        });
    }
    let services = services(args)?;
    let source = match (&args.identity_token, &args.identity_token_file) {
        (Some(token), _) => TokenSource::Explicit(Secret::new(token.as_str())),
        (None, Some(path)) => TokenSource::File(path.clone()),
        (None, None) => TokenSource::Ambient,
    };
    let env: token::Environment = std::env::vars().collect();
    let token =
        rt.block_on(token::obtain(&source, &env, http))
            .map_err(|e| match e {
                token::TokenError::GithubRequest { .. }
                | token::TokenError::GithubStatus { .. } => anyhow::Error::new(e),
                other => usage(other),
            })?;
    tracing::info!(issuer = %token.issuer, subject = %token.subject, "identity token");
    Ok(Mode::Keyless { token, services })
}

/// Fulcio and Rekor: named, from a signing or trust config, else the public-good instance.
fn services(args: &SigningArgs) -> anyhow::Result<Services> {
    if let (Some(fulcio), Some(rekor)) = (&args.fulcio_url, &args.rekor_url) {
        return Ok(Services {
            fulcio_url: fulcio.clone(),
            rekor_url: rekor.clone(),
        });
    }
    let config = if let Some(path) = &args.signing_config {
        portcullis_trust::root::signing_config_from_file(path).map_err(usage)?
    } else if let Some(path) = &args.trust_config {
        TrustConfig::from_file(path).map_err(usage)?.signing
    } else {
        portcullis_trust::root::production_signing_config()
    };
    Services::from_signing_config(&config).map_err(usage)
}

/// The root a freshly written signature is checked against.
pub fn signing_root(args: &SigningArgs) -> anyhow::Result<TrustRoot> {
    Ok(match (&args.trusted_root, &args.trust_config) {
        (Some(path), _) => TrustRoot::from_file(path).map_err(usage)?,
        (None, Some(path)) => TrustConfig::from_file(path).map_err(usage)?.root,
        (None, None) => TrustRoot::production(),
    })
}

/// A trusted root file: a `trusted_root.json` or a client trust config.
pub fn root_file(path: &Path) -> anyhow::Result<TrustRoot> {
    TrustRoot::from_file(path).map_err(usage)
}

/// The root verification trusts.
pub fn verifying_root(args: &IdentityArgs) -> anyhow::Result<TrustRoot> {
    Ok(match (&args.trusted_root, &args.trust_config) {
        (Some(path), _) => TrustRoot::from_file(path).map_err(usage)?,
        (None, Some(path)) => TrustConfig::from_file(path).map_err(usage)?.root,
        (None, None) => TrustRoot::production(),
    })
}

fn matcher(
    exact: Option<&String>,
    regex: Option<&String>,
    flag: &str,
) -> anyhow::Result<Option<Matcher>> {
    match (exact, regex) {
        (Some(value), _) => Ok(Some(Matcher::Exact(value.clone()))),
        (None, Some(pattern)) => Matcher::regex(pattern)
            .map(Some)
            .map_err(|e| usage(format!("`--{flag}-regexp {pattern}`: {e}"))),
        (None, None) => Ok(None),
    }
}

/// The signer the flags name; `None` when they name none (the policy decides then).
pub fn signer(args: &IdentityArgs) -> anyhow::Result<Option<Signer>> {
    if let Some(path) = &args.key {
        let text = String::from_utf8_lossy(&read(path, "the public key")?).into_owned();
        let public_key = verify::public_key_from_pem(&text)
            .map_err(|e| usage(format!("`--key {}`: {e}", path.display())))?;
        return Ok(Some(Signer::Key {
            public_key,
            tlog: !args.insecure_ignore_tlog,
        }));
    }
    let identity = matcher(
        args.certificate_identity.as_ref(),
        args.certificate_identity_regexp.as_ref(),
        "certificate-identity",
    )?;
    let issuer = matcher(
        args.certificate_oidc_issuer.as_ref(),
        args.certificate_oidc_issuer_regexp.as_ref(),
        "certificate-oidc-issuer",
    )?;
    let (identity, issuer) = match (identity, issuer) {
        (None, None) => return Ok(None),
        (Some(identity), Some(issuer)) => (identity, issuer),
        (None, Some(_)) => {
            return Err(usage(
                "give `--certificate-identity` or `--certificate-identity-regexp` with the issuer",
            ))
        }
        (Some(_), None) => {
            return Err(usage(
                "give `--certificate-oidc-issuer` or `--certificate-oidc-issuer-regexp` with the identity",
            ))
        }
    };
    let mut extensions = Vec::new();
    for (extension, value) in [
        (
            Extension::SourceRepositoryUri,
            &args.certificate_github_workflow_repository,
        ),
        (
            Extension::SourceRepositoryRef,
            &args.certificate_github_workflow_ref,
        ),
        (
            Extension::SourceRepositoryDigest,
            &args.certificate_github_workflow_sha,
        ),
        (
            Extension::BuildTrigger,
            &args.certificate_github_workflow_trigger,
        ),
        (
            Extension::BuildSignerUri,
            &args.certificate_build_signer_uri,
        ),
        (
            Extension::RunnerEnvironment,
            &args.certificate_runner_environment,
        ),
    ] {
        if let Some(value) = value {
            let value = if extension == Extension::SourceRepositoryUri && !value.contains("://") {
                // cosign's flag takes `owner/repo`; the extension holds the URL.
                format!("https://github.com/{value}")
            } else {
                value.clone()
            };
            extensions.push((extension, Matcher::Exact(value)));
        }
    }
    Ok(Some(Signer::Keyless(IdentityPolicy {
        issuer,
        identity,
        extensions,
    })))
}

/// What verification found, as the policy judges it.
pub fn fact(
    found: &portcullis_trust::image::ImageVerification,
) -> portcullis_policy::SignatureFact {
    portcullis_policy::SignatureFact {
        verified: found
            .verified()
            .map(portcullis_trust::verify::VerifiedIdentity::signer)
            .collect(),
        rejected: found.rejected(),
        error: None,
    }
}
