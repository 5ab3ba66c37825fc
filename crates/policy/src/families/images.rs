//! Which images may be used: `[images] allow` and `deny` → `image-not-allowed`.

use portcullis_reference::ImageRef;

use super::At;
use crate::config::{ConfigSite, ImagesSettings};
use crate::finding::{Finding, Severity};
use crate::rules::Rule;

/// `image-not-allowed` when `image` matches a `deny` pattern, or no `allow` pattern.
pub(crate) fn check(settings: &ImagesSettings, at: &At<'_>, image: &ImageRef) -> Option<Finding> {
    if let Some(deny) = settings
        .deny
        .iter()
        .find(|pattern| pattern.value.matches(image))
    {
        return Some(denied(at, image, deny.value.as_str(), deny.site.as_ref()));
    }
    let allow = settings.allow.as_ref()?;
    if allow.iter().any(|pattern| pattern.value.matches(image)) {
        return None;
    }
    Some(not_allowed(at, image, settings.allow_site.as_ref()))
}

fn denied(at: &At<'_>, image: &ImageRef, pattern: &str, cause: Option<&ConfigSite>) -> Finding {
    let message = format!("`{image}` matches the deny pattern `{pattern}`");
    let help = "use another image; the policy refuses this one".to_owned();
    let mut finding = at.finding(Rule::ImageNotAllowed, Severity::Error, message, Some(help));
    finding.cause = cause.map(|site| site.labelled(format!("`{pattern}` denied here")));
    finding
}

fn not_allowed(at: &At<'_>, image: &ImageRef, cause: Option<&ConfigSite>) -> Finding {
    let message = format!("`{image}` matches no `allow` pattern");
    let help = format!(
        "use an allowed image, or add a pattern matching `{}` to `[images] allow`",
        image.name()
    );
    let mut finding = at.finding(Rule::ImageNotAllowed, Severity::Error, message, Some(help));
    finding.cause = cause.map(|site| site.labelled("no pattern of `allow` matches"));
    finding
}
