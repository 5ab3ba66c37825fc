//! `portcullis sign-blob` and `portcullis verify-blob`: parse the flags, call
//! `portcullis_trust`, and hand one report to the output.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use portcullis_policy::{Finding, Note, Report, Rule, Severity};
use portcullis_reference::Digest;
use portcullis_report::Format;
use portcullis_secret::Secret;
use portcullis_trust::sign::{self, Mode, Payload, Services, SigningKey};
use portcullis_trust::token::{self, TokenSource};
use portcullis_trust::verify::{self, Extension, IdentityPolicy, Matcher, Signer, Subject};
use portcullis_trust::{TrustConfig, TrustRoot};

use crate::args::{Global, SignBlobArgs, VerifyBlobArgs};
use crate::exit::UsageError;
use crate::output::Output;

fn read(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(anyhow::Error::new)
        .context(UsageError(format!(
            "cannot read {what} `{}`",
            path.display()
        )))
}

fn usage(error: impl std::fmt::Display) -> anyhow::Error {
    anyhow::Error::new(UsageError(error.to_string()))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

pub fn sign_blob(global: &Global, args: &SignBlobArgs) -> anyhow::Result<u8> {
    let output = Output::new(global, &args.output, Format::GitlabCodequality)?;
    let digest = Digest::sha256(&read(&args.file, "the file to sign")?);
    let http = portcullis_trust::http_client();
    let rt = runtime()?;
    let mode = if let Some(path) = &args.key {
        let text = String::from_utf8_lossy(&read(path, "the key")?).into_owned();
        let key = SigningKey::from_pem(&text)
            .map_err(|e| usage(format!("`--key {}`: {e}", path.display())))?;
        Mode::Key {
            key,
            rekor_url: args.rekor_url.clone(),
        }
    } else {
        let services = services(args)?;
        let source = match (&args.identity_token, &args.identity_token_file) {
            (Some(token), _) => TokenSource::Explicit(Secret::new(token.as_str())),
            (None, Some(path)) => TokenSource::File(path.clone()),
            (None, None) => TokenSource::Ambient,
        };
        let env: token::Environment = std::env::vars().collect();
        let token = rt
            .block_on(token::obtain(&source, &env, &http))
            .map_err(|e| match e {
                token::TokenError::GithubRequest { .. }
                | token::TokenError::GithubStatus { .. } => anyhow::Error::new(e),
                other => usage(other),
            })?;
        tracing::info!(issuer = %token.issuer, subject = %token.subject, "identity token");
        Mode::Keyless { token, services }
    };
    let signed = rt
        .block_on(sign::sign(Payload::Blob(&digest), &mode, &http))
        .map_err(|e| {
            if e.is_bad_input() {
                usage(e)
            } else {
                anyhow::Error::new(e)
            }
        })?;
    let bundle_path = args
        .bundle
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.sigstore.json", args.file.display())));
    portcullis_sources::write_atomic(&bundle_path, signed.to_json()?.as_bytes())
        .with_context(|| format!("cannot write `{}`", bundle_path.display()))?;
    let how = if signed.key_based {
        match signed.log_index {
            Some(index) => format!("key-based, logged at index {index}"),
            None => "key-based, not logged in a transparency log".to_owned(),
        }
    } else {
        format!(
            "keyless, logged at index {}",
            signed
                .log_index
                .map_or_else(|| "?".into(), |i| i.to_string())
        )
    };
    let mut report = Report::default();
    report.notes.push(Note::info(format!(
        "signed `{}` ({digest}), {how}: bundle written to `{}`",
        args.file.display(),
        bundle_path.display()
    )));
    report.finish();
    Ok(output.emit(&report, Path::new("."), &[]))
}

fn services(args: &SignBlobArgs) -> anyhow::Result<Services> {
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
        return Err(usage(
            "keyless signing needs its services: `--fulcio-url` and `--rekor-url`, `--signing-config FILE` or `--trust-config FILE` (or sign with `--key`)",
        ));
    };
    Services::from_signing_config(&config).map_err(usage)
}

pub fn verify_blob(global: &Global, args: &VerifyBlobArgs) -> anyhow::Result<u8> {
    let output = Output::new(global, &args.output, Format::GitlabCodequality)?;
    let bundle_text = String::from_utf8(read(&args.bundle, "the bundle")?).map_err(|_| {
        usage(format!(
            "the bundle `{}` is not UTF-8",
            args.bundle.display()
        ))
    })?;
    let bundle = verify::parse_bundle(&bundle_text)
        .map_err(|e| usage(format!("`{}`: {e}", args.bundle.display())))?;
    let root = match (&args.trusted_root, &args.trust_config) {
        (Some(path), _) => TrustRoot::from_file(path).map_err(usage)?,
        (None, Some(path)) => TrustConfig::from_file(path).map_err(usage)?.root,
        (None, None) => TrustRoot::production(),
    };
    let signer = signer(args)?;
    let bytes;
    let digest;
    let subject = if let Some(text) = &args.digest {
        digest = Digest::parse(text).map_err(|e| usage(format!("`--digest {text}`: {e}")))?;
        Subject::Digest(&digest)
    } else if let Some(file) = &args.file {
        bytes = read(file, "the file to verify")?;
        Subject::Bytes(&bytes)
    } else {
        return Err(usage("give the FILE to verify or `--digest sha256:HEX`"));
    };
    let what = args.file.as_ref().map_or_else(
        || args.digest.clone().unwrap_or_default(),
        |f| f.display().to_string(),
    );
    let mut report = Report::default();
    match verify::verify(&bundle, subject, &signer, &root) {
        Ok(proved) => {
            let who = match (&proved.identity, &proved.issuer) {
                (Some(identity), Some(issuer)) => format!("by `{identity}` (issuer `{issuer}`)"),
                _ => "with the given key (key-based)".to_owned(),
            };
            let log = proved.log_index.map_or_else(
                || "no transparency log entry".to_owned(),
                |i| format!("log index {i}"),
            );
            report.notes.push(Note::info(format!(
                "`{what}` verified: signed {who}, {log}, against {}",
                root.origin()
            )));
        }
        Err(error) if error.is_bad_input() => {
            return Err(usage(format!("`{}`: {error}", args.bundle.display())));
        }
        Err(error) => {
            report.findings.push(Finding::new(
                Rule::SignatureInvalid,
                Severity::Error,
                format!("`{what}` with bundle `{}`: {error}", args.bundle.display()),
                None,
            ));
        }
    }
    report.finish();
    Ok(output.emit(&report, Path::new("."), &[]))
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

fn signer(args: &VerifyBlobArgs) -> anyhow::Result<Signer> {
    if let Some(path) = &args.key {
        let text = String::from_utf8_lossy(&read(path, "the public key")?).into_owned();
        let public_key = verify::public_key_from_pem(&text)
            .map_err(|e| usage(format!("`--key {}`: {e}", path.display())))?;
        return Ok(Signer::Key {
            public_key,
            tlog: !args.insecure_ignore_tlog,
        });
    }
    let identity = matcher(
        args.certificate_identity.as_ref(),
        args.certificate_identity_regexp.as_ref(),
        "certificate-identity",
    )?
    .ok_or_else(|| {
        usage("give `--certificate-identity` or `--certificate-identity-regexp` (or `--key`)")
    })?;
    let issuer = matcher(
        args.certificate_oidc_issuer.as_ref(),
        args.certificate_oidc_issuer_regexp.as_ref(),
        "certificate-oidc-issuer",
    )?
    .ok_or_else(|| {
        usage("give `--certificate-oidc-issuer` or `--certificate-oidc-issuer-regexp`")
    })?;
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
    Ok(Signer::Keyless(IdentityPolicy {
        issuer,
        identity,
        extensions,
    }))
}
