//! How images are referenced: `[images] require-digest` and `deny-tags` →
//! `digest-not-pinned`, `tag-missing`, `tag-denied`; and `unresolved-variable` for a
//! reference that cannot be judged at all.

use portcullis_reference::ImageRef;

use super::At;
use crate::config::{ConfigSite, ImagesSettings};
use crate::finding::{Finding, Severity};
use crate::rules::Rule;

/// The tag and digest rules for one image; they are independent of each other.
pub(crate) fn check(settings: &ImagesSettings, at: &At<'_>, image: &ImageRef) -> Vec<Finding> {
    let mut out = Vec::new();
    if settings.require_digest.value && image.digest().is_none() {
        out.push(not_pinned(at, settings.require_digest.site.as_ref()));
    }
    match (image.tag(), image.digest()) {
        (None, None) => out.push(missing(at)),
        (Some(tag), digest) => {
            if let Some(denied) = settings.deny_tags.iter().find(|denied| denied.value == tag) {
                out.push(self::denied(
                    at,
                    tag,
                    digest.is_some(),
                    denied.site.as_ref(),
                ));
            }
        }
        (None, Some(_)) => {}
    }
    out
}

/// ``run `portcullis pin FILE` `` for a reference in a file, else how to pin by hand.
fn pin_help(at: &At<'_>) -> String {
    match at.command_path() {
        Some(file) => format!("run `portcullis pin {file}`"),
        None => "reference it by digest, `name:tag@sha256:…`".to_owned(),
    }
}

pub(crate) fn unresolved_variable(at: &At<'_>, variable: &str) -> Finding {
    let dockerfile = at
        .subject
        .written
        .as_ref()
        .is_some_and(|written| written.context.is_dockerfile());
    let help = if dockerfile {
        format!("pass `--build-arg {variable}=VALUE`, or give `ARG {variable}` a default value")
    } else {
        "write the image reference literally, or check the file where the value is known".to_owned()
    };
    let message = format!(
        "`{}` uses `{variable}`, which has no value here, so the image cannot be checked",
        at.subject.text
    );
    at.finding(
        Rule::UnresolvedVariable,
        Severity::Error,
        message,
        Some(help),
    )
}

fn not_pinned(at: &At<'_>, cause: Option<&ConfigSite>) -> Finding {
    let message = format!("`{}` is not pinned to a digest", at.subject.text);
    let mut finding = at.finding(
        Rule::DigestNotPinned,
        Severity::Error,
        message,
        Some(pin_help(at)),
    );
    finding.cause = cause.map(|site| site.labelled("`require-digest` set here"));
    finding
}

fn missing(at: &At<'_>) -> Finding {
    let message = format!(
        "`{}` has neither tag nor digest, so it means `latest`",
        at.subject.text
    );
    let help = format!("write the tag you mean, then {}", pin_help(at));
    at.finding(Rule::TagMissing, Severity::Error, message, Some(help))
}

fn denied(at: &At<'_>, tag: &str, pinned: bool, cause: Option<&ConfigSite>) -> Finding {
    let text = &at.subject.text;
    let (severity, message, help) = if pinned {
        (
            Severity::Warning,
            format!("`{text}` uses the denied tag `{tag}` (pinned by digest, so it does not move)"),
            "replace the tag with the version the digest points at".to_owned(),
        )
    } else {
        (
            Severity::Error,
            format!("`{text}` uses the denied tag `{tag}`"),
            format!(
                "use a version tag instead of `{tag}`, then {}",
                pin_help(at)
            ),
        )
    };
    let mut finding = at.finding(Rule::TagDenied, severity, message, Some(help));
    finding.cause = cause.map(|site| site.labelled(format!("`{tag}` denied here")));
    finding
}
