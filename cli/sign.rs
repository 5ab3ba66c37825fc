//! `portcullis sign`, `attest` and `verify`: parse the flags, call `portcullis_trust` on
//! the registry client, and hand one report to the output.

use std::collections::BTreeMap;
use std::path::Path;

use portcullis_policy::{judge_signatures, Config, Finding, Note, Report, Rule, Severity};
use portcullis_reference::ImageRef;
use portcullis_registry::Client;
use portcullis_report::Format;
use portcullis_sources::Root;
use portcullis_trust::image::{
    attest_image, sign_image, verify_image, ImageError, ImageSigned, ImageVerification, Layout,
    SignOptions, Wanted,
};
use portcullis_trust::statement::{
    CiBuild, Predicate, PredicateKind, PredicateLimits, Statement, StatementError,
};
use portcullis_trust::verify::{Signer, VerifiedIdentity};
use portcullis_trust::TrustRoot;

use crate::args::{AttestArgs, Global, LayoutArg, SignArgs, VerifyArgs};
use crate::output::Output;
use crate::sigstore::{runtime, usage};
use crate::workspace;

fn layout(arg: LayoutArg) -> Layout {
    match arg {
        LayoutArg::Bundle => Layout::Bundle,
        LayoutArg::Legacy => Layout::Legacy,
        LayoutArg::Both => Layout::Both,
    }
}

fn parse_image(text: &str) -> anyhow::Result<ImageRef> {
    ImageRef::parse(text).map_err(|e| usage(format!("`{text}`: {e}")))
}

/// The image by digest: as given, or (`resolve`) what its tag names now, resolved once.
fn pinned(
    client: &Client,
    rt: &tokio::runtime::Runtime,
    image: ImageRef,
    resolve: bool,
) -> anyhow::Result<ImageRef> {
    if image.digest().is_some() {
        return Ok(image);
    }
    if !resolve {
        return Err(usage(ImageError::NoDigest(image.to_string())));
    }
    let resolved = rt
        .block_on(client.resolve_digest(&image))
        .map_err(|e| anyhow::anyhow!("cannot resolve `{image}`: {}", crate::resolve::chain(&e)))?;
    tracing::info!(%image, digest = %resolved.digest, "resolved once; that digest is signed");
    Ok(image.with_digest(resolved.digest))
}

pub(crate) fn failed(error: ImageError) -> anyhow::Error {
    if error.is_bad_input() {
        usage(error)
    } else {
        anyhow::Error::new(error)
    }
}

/// What every signing command works with: the policy (registry settings,
/// `[[trust.signer]]`), a registry client on it, a runtime, and the Sigstore HTTP client.
struct Session {
    root: Root,
    config: Config,
    client: Client,
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
}

fn session(global: &Global) -> anyhow::Result<Session> {
    let root = Root::current()?;
    let config = workspace::policy_here(&root, global.config.as_deref())?;
    let client = crate::resolve::client(&config)?;
    Ok(Session {
        root,
        config,
        client,
        rt: runtime()?,
        http: portcullis_trust::http_client(),
    })
}

pub(crate) fn signed_note(what: &str, signed: &ImageSigned) -> Note {
    let mut wrote = Vec::new();
    if let Some(referrer) = &signed.referrer {
        wrote.push(format!("referrer `{}`", referrer.manifest));
    }
    if let Some(legacy) = &signed.legacy {
        wrote.push(format!("tag `{}`", legacy.tag));
    }
    let who = signed
        .verified
        .first()
        .map_or_else(String::new, |v| format!(" as {}", who(v)));
    Note::info(format!(
        "{what} `{}`{who}: wrote {}, read back and verified",
        signed.image,
        wrote.join(" and ")
    ))
}

fn who(identity: &VerifiedIdentity) -> String {
    let signer = match (&identity.identity, &identity.issuer) {
        (Some(san), Some(issuer)) => format!("`{san}` (issuer `{issuer}`)"),
        _ => "a key (key-based)".to_owned(),
    };
    match identity.log_index {
        Some(index) => format!("{signer}, log index {index}"),
        None => format!("{signer}, not in a transparency log"),
    }
}

pub fn sign(global: &Global, args: &SignArgs) -> anyhow::Result<u8> {
    let output = Output::new(
        global,
        &args.output.output_args(),
        Format::GitlabCodequality,
    )?;
    let Session {
        root: root_dir,
        config: _,
        client,
        rt,
        http,
    } = session(global)?;
    let image = pinned(&client, &rt, parse_image(&args.image)?, args.resolve_tag)?;
    let mode = crate::sigstore::mode(&args.signing, &rt, &http)?;
    let root = crate::sigstore::signing_root(&args.signing)?;
    let options = SignOptions {
        mode: &mode,
        layout: layout(args.format),
        annotations: args.annotations.iter().cloned().collect(),
        http: &http,
        root: &root,
        created: jiff::Timestamp::now(),
    };
    let signed = rt
        .block_on(sign_image(&client, &image, &options))
        .map_err(failed)?;
    let mut report = Report::default();
    report.notes.push(signed_note("signed", &signed));
    report.finish();
    Ok(output.emit(&report, &root_dir.dir, &[]))
}

pub fn attest(global: &Global, args: &AttestArgs) -> anyhow::Result<u8> {
    let output = Output::new(
        global,
        &args.output.output_args(),
        Format::GitlabCodequality,
    )?;
    let Session {
        root: root_dir,
        config: _,
        client,
        rt,
        http,
    } = session(global)?;
    let image = pinned(&client, &rt, parse_image(&args.image)?, args.resolve_tag)?;
    let digest = image.digest().expect("pinned").clone();
    let kind: PredicateKind = args
        .predicate_type
        .parse()
        .map_err(|e| usage(format!("`--type {}`: {e}", args.predicate_type)))?;
    let predicate = if args.predicate == "auto" {
        if kind != PredicateKind::SlsaProvenance {
            return Err(usage(format!(
                "`--predicate auto` builds SLSA provenance; `--type {}` needs a predicate file",
                args.predicate_type
            )));
        }
        let env: BTreeMap<String, String> = std::env::vars().collect();
        let build = CiBuild::from_env(&env).map_err(usage)?;
        let bases = if args.base_images.is_empty() {
            base_images_here(global)?
        } else {
            args.base_images
                .iter()
                .map(|text| parse_image(text))
                .collect::<anyhow::Result<Vec<_>>>()?
        };
        Predicate::slsa_provenance(&build, &bases).map_err(usage)?
    } else {
        let limits = PredicateLimits {
            max_bytes: args.max_predicate_bytes,
        };
        Predicate::read_file(kind, Path::new(&args.predicate), limits).map_err(|e| match e {
            StatementError::TooLarge { .. } => usage(format!("{e} (`--max-predicate-bytes`)")),
            other => usage(other),
        })?
    };
    let statement = Statement::about_image(&image, &digest, predicate);
    let mode = crate::sigstore::mode(&args.signing, &rt, &http)?;
    let root = crate::sigstore::signing_root(&args.signing)?;
    let options = SignOptions {
        mode: &mode,
        layout: layout(args.format),
        annotations: BTreeMap::new(),
        http: &http,
        root: &root,
        created: jiff::Timestamp::now(),
    };
    let signed = rt
        .block_on(attest_image(&client, &image, &statement, &options))
        .map_err(failed)?;
    let mut report = Report::default();
    report.notes.push(signed_note(
        &format!("attested `{}` about", statement.predicate_type),
        &signed,
    ));
    report.finish();
    Ok(output.emit(&report, &root_dir.dir, &[]))
}

/// The digest-pinned base images of the Dockerfiles under the current directory, as
/// `check` reads them: what `--predicate auto` names as the build's resolved dependencies.
fn base_images_here(global: &Global) -> anyhow::Result<Vec<ImageRef>> {
    let sources = crate::args::SourceArgs {
        paths: Vec::new(),
        exclude: Vec::new(),
        build_args: Vec::new(),
    };
    let ws = workspace::Workspace::load(global.config.as_deref(), &sources)?;
    let mut bases: Vec<ImageRef> = ws
        .groups
        .iter()
        .flat_map(|group| portcullis_sources::pinned_base_images(&group.collected.occurrences))
        .collect();
    bases.sort();
    bases.dedup();
    tracing::info!(count = bases.len(), "base images found by check");
    Ok(bases)
}

pub fn verify(global: &Global, args: &VerifyArgs) -> anyhow::Result<u8> {
    let output = Output::new(global, &args.output, Format::GitlabCodequality)?;
    let Session {
        root: root_dir,
        config,
        client,
        rt,
        ..
    } = session(global)?;
    let given = parse_image(&args.image)?;
    let image = pinned(&client, &rt, given.clone(), true)?;
    let wanted = match args.predicate_type.as_deref() {
        None => Wanted::Signatures,
        Some("any") => Wanted::Attestations(None),
        Some(text) => {
            let kind: PredicateKind = text
                .parse()
                .map_err(|e| usage(format!("`--type {text}`: {e}")))?;
            Wanted::Attestations(Some(kind.uri().to_owned()))
        }
    };
    let trust_root = crate::sigstore::verifying_root(&args.identity)?;
    let flagged = crate::sigstore::signer(&args.identity)?;
    if flagged.is_none() && config.trust().signers_for(&given).is_empty() {
        return Err(usage(format!(
            "name the signer (`--certificate-identity` and `--certificate-oidc-issuer`, or `--key`), or add a `[[trust.signer]]` covering `{}` to the policy",
            given.name()
        )));
    }
    let signer = flagged.clone().unwrap_or(Signer::AnyCertificate);
    let found = rt
        .block_on(verify_image(&client, &image, &signer, &trust_root, &wanted))
        .map_err(failed)?;
    let mut report = Report::default();
    let accepted = accepted(&config, &given, flagged.is_some(), &found);
    for (checked_in, identity) in &accepted {
        report.notes.push(Note::info(format!(
            "`{image}`: {checked_in} verified, signed by {}",
            who(identity)
        )));
        if let Some(statement) = &identity.statement {
            if matches!(wanted, Wanted::Attestations(_)) {
                report.notes.push(Note::info(format!(
                    "{} predicate: {}",
                    statement.predicate_type, statement.predicate
                )));
            }
        }
    }
    if accepted.is_empty() {
        report
            .findings
            .push(refusal(&config, &given, &image, flagged.is_some(), &found));
    }
    report.finish();
    Ok(output.emit(&report, &root_dir.dir, &[]))
}

/// The signatures that verified and whose signer is accepted: by the flags (the verifier
/// checked them), else by a `[[trust.signer]]` of the policy.
fn accepted<'a>(
    config: &Config,
    image: &ImageRef,
    by_flags: bool,
    found: &'a ImageVerification,
) -> Vec<(&'a str, &'a VerifiedIdentity)> {
    found
        .checked
        .iter()
        .filter_map(|c| Some((c.found_in.as_str(), c.result.as_ref().ok()?)))
        .filter(|(_, identity)| by_flags || config.trust().trusts(image, &identity.signer()))
        .collect()
}

/// Why nothing was accepted, as the finding the report carries.
fn refusal(
    config: &Config,
    given: &ImageRef,
    image: &ImageRef,
    by_flags: bool,
    found: &ImageVerification,
) -> Finding {
    if !by_flags {
        let fact = crate::sigstore::fact(found);
        if let Some(finding) = judge_signatures(config.trust(), given, &fact) {
            return finding;
        }
    }
    let rejected = found.rejected();
    if rejected.is_empty() {
        Finding::new(
            Rule::SignatureMissing,
            Severity::Error,
            format!("`{image}` has no signature to verify"),
            Some("sign it with `portcullis sign` (or `cosign sign`)".to_owned()),
        )
    } else {
        Finding::new(
            Rule::SignatureInvalid,
            Severity::Error,
            format!(
                "no signature of `{image}` verifies: {}",
                rejected.join("; ")
            ),
            None,
        )
    }
}

/// What verifying `image` found, for the policy, and the digest it was verified at (the
/// one to use from then on). Fails closed: any error is recorded and counts as unsigned.
pub async fn signature_fact(
    client: &Client,
    image: &ImageRef,
    root: &TrustRoot,
) -> (Option<ImageRef>, portcullis_policy::SignatureFact) {
    let pinned = match image.digest() {
        Some(_) => Ok(image.clone()),
        None => client
            .resolve_digest(image)
            .await
            .map(|resolved| image.with_digest(resolved.digest))
            .map_err(|e| format!("cannot resolve it: {}", crate::resolve::chain(&e))),
    };
    let pinned = match pinned {
        Ok(pinned) => pinned,
        Err(error) => {
            return (
                None,
                portcullis_policy::SignatureFact {
                    error: Some(error),
                    ..portcullis_policy::SignatureFact::default()
                },
            )
        }
    };
    let found = verify_image(
        client,
        &pinned,
        &Signer::AnyCertificate,
        root,
        &Wanted::Signatures,
    )
    .await;
    let fact = match found {
        Ok(found) => crate::sigstore::fact(&found),
        Err(error) => portcullis_policy::SignatureFact {
            error: Some(error.to_string()),
            ..portcullis_policy::SignatureFact::default()
        },
    };
    (Some(pinned), fact)
}

/// `ci` on the default branch or a tag: signs `image` (resolved once when it is a tag) and,
/// with `attest`, attests SLSA provenance built from the CI environment and the base images
/// `check` found. Returns the signed digest and what to say.
pub fn sign_in_ci(
    global: &Global,
    signing: &crate::args::SigningArgs,
    image: &str,
    attest: bool,
) -> anyhow::Result<(String, Vec<Note>)> {
    let Session {
        client, rt, http, ..
    } = session(global)?;
    let image = pinned(&client, &rt, parse_image(image)?, true)?;
    let digest = image.digest().expect("pinned").clone();
    let mode = crate::sigstore::mode(signing, &rt, &http)?;
    let root = crate::sigstore::signing_root(signing)?;
    let options = SignOptions {
        mode: &mode,
        layout: Layout::Bundle,
        annotations: BTreeMap::new(),
        http: &http,
        root: &root,
        created: jiff::Timestamp::now(),
    };
    let mut notes = Vec::new();
    let signed = rt
        .block_on(sign_image(&client, &image, &options))
        .map_err(failed)?;
    notes.push(signed_note("signed", &signed));
    if attest {
        let env: BTreeMap<String, String> = std::env::vars().collect();
        let build = CiBuild::from_env(&env).map_err(usage)?;
        let predicate =
            Predicate::slsa_provenance(&build, &base_images_here(global)?).map_err(usage)?;
        let statement = Statement::about_image(&image, &digest, predicate);
        let attested = rt
            .block_on(attest_image(&client, &image, &statement, &options))
            .map_err(failed)?;
        notes.push(signed_note("attested SLSA provenance about", &attested));
    }
    Ok((digest.to_string(), notes))
}
