//! `portcullis sign-blob` and `portcullis verify-blob`: parse the flags, call
//! `portcullis_trust`, and hand one report to the output.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use portcullis_policy::{Finding, Note, Report, Rule, Severity};
use portcullis_reference::Digest;
use portcullis_report::Format;
use portcullis_trust::sign::{self, Payload};
use portcullis_trust::verify::{self, Subject};

use crate::sigstore::{read, runtime, usage};

use crate::args::{Global, SignBlobArgs, VerifyBlobArgs};
use crate::output::Output;

pub fn sign_blob(global: &Global, args: &SignBlobArgs) -> anyhow::Result<u8> {
    let output = Output::new(global, &args.output, Format::GitlabCodequality)?;
    let digest = Digest::sha256(&read(&args.file, "the file to sign")?);
    let http = portcullis_trust::http_client();
    let rt = runtime()?;
    let mode = crate::sigstore::mode(&args.signing, &rt, &http)?;
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
    let root = crate::sigstore::verifying_root(&args.identity)?;
    let signer = crate::sigstore::signer(&args.identity)?.ok_or_else(|| {
        usage("give `--certificate-identity` and `--certificate-oidc-issuer` (exact or `-regexp`), or `--key`")
    })?;
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
