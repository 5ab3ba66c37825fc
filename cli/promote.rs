//! `portcullis promote SOURCE@DIGEST TARGET[:TAG]`: the policy's `[[promote]]` decision,
//! the source's signature (`[trust]`) and the scan gate (`[scan]`, `--report`), then the
//! copy by digest (every platform, referrers, the tag last), a signature of the target
//! digest and an attested promotion record. Nothing is written to the target unless every
//! check passed; `--dry-run` runs the checks and prints the plan.

use std::collections::BTreeMap;
use std::path::PathBuf;

use portcullis_policy::families::promote::{self as decide, Need, PromotionPlan, ScanInputs};
use portcullis_policy::{
    judge_signatures, Config, CopyKind, Facts, Failure, MirrorOutcome, Mirrored, Note, Report,
    SignFormat, SignMode,
};
use portcullis_reference::{Digest, ImageRef};
use portcullis_registry::{Client, CopyOptions, CopyReport, RegistryError};
use portcullis_report::Format;
use portcullis_scan::{SbomKind, ScanRequest};
use portcullis_sources::Root;
use portcullis_trust::image::{attest_image, sign_image, Layout, SignOptions};
use portcullis_trust::promotion::{
    Artifact, CheckRecord, Outcome, PolicyRecord, Promoter, PromotionRecord, SignerRecord,
};
use portcullis_trust::sign::Mode;
use portcullis_trust::TrustRoot;

use crate::args::{Global, PromoteArgs, SigningArgs};
use crate::output::Output;
use crate::sigstore::usage;
use crate::workspace;

pub fn run(global: &Global, args: &PromoteArgs) -> anyhow::Result<u8> {
    let output = Output::new(global, &args.output, Format::GitlabCodequality)?;
    let root = Root::current()?;
    let config = workspace::policy_here(&root, global.config.as_deref())?
        .with_scan_gate(args.fail_on, args.only_fixed);
    let (source, source_digest) = source(&args.source)?;
    let target = target(&args.target)?;
    let signing = signing_args(&args.signing, &config, args.dry_run)?;
    let layout = match config.sign().format.value {
        SignFormat::Bundle => Layout::Bundle,
        SignFormat::Legacy => Layout::Legacy,
        SignFormat::Both => Layout::Both,
    };
    let configs = [(config.name().to_owned(), config.source.clone())];
    let mut report = Report {
        policies: vec![config.name().to_owned()],
        ..Report::default()
    };
    let inputs = ScanInputs {
        hooks: !args.hook.is_empty(),
        reports: !args.report.is_empty(),
    };
    let plan = match decide::plan(&config, &source, &target, inputs) {
        Ok(plan) => plan,
        Err(refused) => {
            report.findings.extend(refused);
            report
                .mirrored
                .push(entry(&source, &target, MirrorOutcome::Refused, None));
            report.finish();
            return Ok(output.emit(&report, &root.dir, &configs));
        }
    };
    let trust_root = crate::sigstore::signing_root(&signing)?;
    let client = crate::resolve::client(&config)?;
    let rt = crate::sigstore::runtime()?;
    let http = portcullis_trust::http_client();

    // The checks, each recorded; any refusal stops the promotion before a write.
    let checks = vec![
        verify(
            &config,
            &client,
            &rt,
            &trust_root,
            &source,
            &plan,
            &mut report,
        ),
        scan(&root, &config, args, &source, &plan, &mut report)?,
    ];
    report.finish();
    if report.exit_code() != portcullis_policy::exit::PASSED {
        report
            .mirrored
            .push(entry(&source, &target, MirrorOutcome::Refused, None));
        report.finish();
        return Ok(output.emit(&report, &root.dir, &configs));
    }

    let target_tag = target.tag().or(source.tag()).map(str::to_owned);
    let written = match &target_tag {
        Some(tag) => target.without_digest().with_tag(tag),
        None => target.clone(),
    };
    let promotion = Promotion {
        config: &config,
        client: &client,
        rt: &rt,
        source: &source,
        source_digest: &source_digest,
        written: &written,
        tagged: target_tag.is_some(),
    };
    if args.dry_run {
        promotion.plan(&mut report);
    } else {
        let mode = crate::sigstore::mode(&signing, &rt, &http)?;
        let sign_options = SignOptions {
            mode: &mode,
            layout,
            annotations: BTreeMap::new(),
            http: &http,
            root: &trust_root,
            created: jiff::Timestamp::now(),
        };
        promotion.write(args.allow_retag, &sign_options, checks, &mut report)?;
    }
    report.finish();
    Ok(output.emit(&report, &root.dir, &configs))
}

/// A promotion whose checks passed.
struct Promotion<'a> {
    config: &'a Config,
    client: &'a Client,
    rt: &'a tokio::runtime::Runtime,
    source: &'a ImageRef,
    source_digest: &'a Digest,
    /// The target, with the tag written last (when there is one).
    written: &'a ImageRef,
    tagged: bool,
}

impl Promotion<'_> {
    /// `--dry-run`: what would be copied, signed and attested.
    fn plan(&self, report: &mut Report) {
        let (source, written) = (self.source, self.written);
        report
            .mirrored
            .push(entry(source, written, MirrorOutcome::Planned, None));
        let pinned = written.with_digest(self.source_digest.clone());
        report.notes.push(Note::info(format!(
            "would sign `{pinned}` ({}) and attest a promotion record (`{}`) about it",
            self.config.sign().format.value.as_str(),
            portcullis_trust::promotion::PROMOTION_V1
        )));
        report.notes.push(Note::info(format!(
            "dry run: nothing was written; the copy would take every platform with its signatures and attestations{}",
            if self.tagged {
                ", the tag last"
            } else {
                " (no tag: by digest only)"
            }
        )));
    }

    /// Copies, signs and attests. The identity was obtained before this first write, so
    /// a missing token copies nothing.
    fn write(
        &self,
        allow_retag: bool,
        sign_options: &SignOptions<'_>,
        checks: Vec<CheckRecord>,
        report: &mut Report,
    ) -> anyhow::Result<()> {
        let (source, written, client, rt) = (self.source, self.written, self.client, self.rt);
        // The tag is the last write: the image goes over by digest, is signed and attested,
        // and only then does the tag point at it. A tag already on another digest is
        // refused before anything is written.
        let tag_in_place =
            match rt.block_on(client.tag_holds(written, self.source_digest, allow_retag)) {
                Ok(in_place) => in_place,
                Err(error) => {
                    self.copy_failed(&error, report);
                    return Ok(());
                }
            };
        let untagged = written
            .without_tag()
            .with_digest(self.source_digest.clone());
        let options = CopyOptions {
            platforms: None,
            allow_retag,
            referrers: true,
            source_tags: None,
        };
        let copied = match rt.block_on(client.copy(source, &untagged, &options)) {
            Ok(copied) => copied,
            Err(error) => {
                self.copy_failed(&error, report);
                return Ok(());
            }
        };
        let outcome = if tag_in_place {
            MirrorOutcome::Present
        } else {
            MirrorOutcome::Copied
        };
        report
            .mirrored
            .push(entry(source, written, outcome, Some(&copied)));
        let digest = copied
            .digest
            .clone()
            .unwrap_or_else(|| self.source_digest.clone());
        let pinned = written.with_digest(digest.clone());
        let signed = rt
            .block_on(sign_image(client, &pinned, sign_options))
            .map_err(crate::sign::failed)?;
        report
            .notes
            .push(crate::sign::signed_note("signed", &signed));

        let env: BTreeMap<String, String> = std::env::vars().collect();
        let token = match sign_options.mode {
            Mode::Keyless { token, .. } => Some(token),
            Mode::Key { .. } => None,
        };
        let record = PromotionRecord {
            promoter: Promoter::new(token, &env),
            promoted_at: now_seconds(),
            source: Artifact::new(source, self.source_digest),
            target: Artifact::new(written, &digest),
            checks,
            policy: PolicyRecord::of(self.config.name(), self.config.source.as_bytes()),
        };
        let statement = record.statement(written, &digest);
        let attested = rt
            .block_on(attest_image(client, &pinned, &statement, sign_options))
            .map_err(crate::sign::failed)?;
        report.notes.push(crate::sign::signed_note(
            "attested the promotion record about",
            &attested,
        ));
        if self.tagged && !tag_in_place {
            let options = CopyOptions {
                referrers: false,
                ..options
            };
            if let Err(error) = rt.block_on(client.copy(source, written, &options)) {
                report.failures.push(Failure {
                    message: format!(
                        "signed and attested `{pinned}`, but cannot point the tag at it: {}",
                        crate::resolve::chain(&error)
                    ),
                    image: Some(source.to_string()),
                    location: None,
                });
                return Ok(());
            }
        }
        report.notes.push(Note::info(format!(
            "promoted `{source}` to `{pinned}` under `{}` ({})",
            self.config.name(),
            record.policy.digest
        )));
        Ok(())
    }
}

impl Promotion<'_> {
    /// Records a copy (or tag) that did not happen: a retag refusal is the policy's
    /// finding, anything else a runtime failure.
    fn copy_failed(&self, error: &RegistryError, report: &mut Report) {
        let (source, written) = (self.source, self.written);
        if let RegistryError::Retag { .. } = error {
            report.findings.push(decide::refusal(
                source,
                format!("promotion refused: {error}"),
                format!("pass `--allow-retag` to move the tag, or promote to another tag than `{written}`"),
                None,
            ));
            report
                .mirrored
                .push(entry(source, written, MirrorOutcome::Refused, None));
            return;
        }
        report
            .mirrored
            .push(entry(source, written, MirrorOutcome::Failed, None));
        report.failures.push(Failure {
            message: format!(
                "cannot copy `{source}` to `{written}`: {}",
                crate::resolve::chain(error)
            ),
            image: Some(source.to_string()),
            location: None,
        });
    }
}

/// SOURCE: a reference with a digest; a tag alone is refused.
fn source(text: &str) -> anyhow::Result<(ImageRef, Digest)> {
    let image = ImageRef::parse(text)
        .map_err(|e| usage(format!("SOURCE `{text}` is not an image reference: {e}")))?;
    let Some(digest) = image.digest().cloned() else {
        return Err(usage(format!(
            "SOURCE `{text}` has no digest: promote `IMAGE@sha256:…` (a tag is never trusted; `portcullis pin` or `skopeo inspect` gives the digest)"
        )));
    };
    Ok((image, digest))
}

/// TARGET: a repository with an optional tag; a digest is refused (the source's is copied).
fn target(text: &str) -> anyhow::Result<ImageRef> {
    let image = ImageRef::parse(text)
        .map_err(|e| usage(format!("TARGET `{text}` is not an image reference: {e}")))?;
    if image.digest().is_some() {
        return Err(usage(format!(
            "TARGET `{text}` has a digest: name the repository and, optionally, a tag (the source's digest is what gets copied)"
        )));
    }
    Ok(image)
}

/// The signing flags, with what `[sign]` says where no flag says otherwise (a dry run
/// signs nothing, so it needs no key).
fn signing_args(args: &SigningArgs, config: &Config, dry_run: bool) -> anyhow::Result<SigningArgs> {
    let sign = config.sign();
    if sign.mode.value == SignMode::Key && args.key.is_none() && !dry_run {
        return Err(usage(
            "`[sign] mode = \"key\"` in the policy: pass the key with `--key FILE`",
        ));
    }
    let policy_path = |value: &Option<portcullis_policy::Spanned<PathBuf>>| {
        value.as_ref().map(|path| config.resolve_path(&path.value))
    };
    let given_services = args.fulcio_url.is_some()
        || args.rekor_url.is_some()
        || args.signing_config.is_some()
        || args.trust_config.is_some();
    let (fulcio_url, rekor_url, signing_config) = if given_services {
        (
            args.fulcio_url.clone(),
            args.rekor_url.clone(),
            args.signing_config.clone(),
        )
    } else {
        (
            sign.fulcio_url.as_ref().map(|url| url.value.clone()),
            sign.rekor_url.as_ref().map(|url| url.value.clone()),
            policy_path(&sign.signing_config),
        )
    };
    let trusted_root = args.trusted_root.clone().or_else(|| {
        args.trust_config
            .is_none()
            .then(|| policy_path(&sign.trusted_root))
            .flatten()
    });
    Ok(SigningArgs {
        identity_token: args.identity_token.clone(),
        identity_token_file: args.identity_token_file.clone(),
        fulcio_url: fulcio_url.filter(|_| rekor_url.is_some()),
        rekor_url,
        signing_config,
        trust_config: args.trust_config.clone(),
        trusted_root,
        key: args.key.clone(),
    })
}

/// The `[trust]` check on the source, when the plan runs it: fails closed.
fn verify(
    config: &Config,
    client: &Client,
    rt: &tokio::runtime::Runtime,
    root: &TrustRoot,
    source: &ImageRef,
    plan: &PromotionPlan,
    report: &mut Report,
) -> CheckRecord {
    if !plan.verify.runs() {
        return CheckRecord::Verify {
            outcome: Outcome::Skipped,
            identities: Vec::new(),
        };
    }
    let (_, fact) = rt.block_on(crate::sign::signature_fact(client, source, root));
    if let Some(finding) = judge_signatures(config.trust(), source, &fact) {
        report.findings.push(finding);
    }
    let identities: Vec<SignerRecord> = fact
        .verified
        .iter()
        .filter(|signer| config.trust().trusts(source, signer))
        .map(SignerRecord::from)
        .collect();
    for identity in &identities {
        report.notes.push(Note::info(format!(
            "`{source}`: signature verified, signed by `{}` (issuer `{}`){}",
            identity.identity.as_deref().unwrap_or("a key"),
            identity.issuer.as_deref().unwrap_or("none"),
            if plan.verify == Need::Required {
                ", as `[[promote]]` requires"
            } else {
                ""
            }
        )));
    }
    CheckRecord::Verify {
        outcome: Outcome::Passed,
        identities,
    }
}

/// The scan gate on the source, when the plan runs it: its findings and inventory go into
/// `report` (a failing gate refuses the promotion).
fn scan(
    root: &Root,
    config: &Config,
    args: &PromoteArgs,
    source: &ImageRef,
    plan: &PromotionPlan,
    report: &mut Report,
) -> anyhow::Result<CheckRecord> {
    if !plan.scan.runs() {
        return Ok(CheckRecord::Scan {
            outcome: Outcome::Skipped,
            counts: BTreeMap::new(),
            fail_on: None,
            failing: 0,
            scanners: Vec::new(),
        });
    }
    let reports: Vec<PathBuf> = args.report.iter().map(|p| root.from_cwd(p)).collect();
    let vex: Vec<PathBuf> = args.vex.iter().map(|p| root.from_cwd(p)).collect();
    let policy_dir = config.resolve_path(std::path::Path::new(""));
    let request = ScanRequest {
        image: source.clone(),
        settings: config.scan(),
        policy_dir: &policy_dir,
        hooks: &args.hook,
        reports: &reports,
        vex: &vex,
        sbom: SbomKind::CycloneDx,
        timeout: None,
    };
    let scanned = portcullis_scan::run(&request).map_err(crate::scan::classify)?;
    let facts = Facts {
        scans: vec![scanned.result],
        mismatches: scanned
            .mismatches
            .iter()
            .map(portcullis_scan::ReportMismatch::to_policy)
            .collect(),
        partial_tree: true,
        ..Facts::default()
    };
    let gated = portcullis_policy::evaluate(config, &facts, workspace::today()?);
    let record = gated.scans.first().map(|scan| {
        let gate = scan.gate.clone().unwrap_or_default();
        let found = &gate.found;
        let counts = [
            ("critical", found.critical),
            ("high", found.high),
            ("medium", found.medium),
            ("low", found.low),
            ("negligible", found.negligible),
            ("unknown", found.unknown),
        ]
        .into_iter()
        .map(|(name, count)| (name.to_owned(), count as u64))
        .collect();
        CheckRecord::Scan {
            outcome: Outcome::Passed,
            counts,
            fail_on: Some(gate.fail_on.clone()),
            failing: gate.failing as u64,
            scanners: scan.scanners.clone(),
        }
    });
    report.findings.extend(gated.findings);
    report.scans.extend(gated.scans);
    report.notes.extend(gated.notes);
    Ok(record.unwrap_or(CheckRecord::Scan {
        outcome: Outcome::Passed,
        counts: BTreeMap::new(),
        fail_on: None,
        failing: 0,
        scanners: Vec::new(),
    }))
}

/// Now, in whole seconds, RFC 3339 in UTC.
fn now_seconds() -> String {
    let now = jiff::Timestamp::now();
    jiff::Timestamp::from_second(now.as_second())
        .unwrap_or(now)
        .to_string()
}

fn entry(
    source: &ImageRef,
    target: &ImageRef,
    outcome: MirrorOutcome,
    copied: Option<&CopyReport>,
) -> Mirrored {
    let copied = copied.cloned().unwrap_or_default();
    Mirrored {
        source: source.to_string(),
        target: target.to_string(),
        outcome,
        digest: copied.digest.as_ref().map(ToString::to_string),
        manifests: copied.manifests_copied,
        blobs: copied.blobs_uploaded + copied.blobs_mounted,
        bytes: copied.bytes,
        referrers: copied.referrers_copied + copied.legacy_tags_copied,
        kind: CopyKind::Promotion,
    }
}
