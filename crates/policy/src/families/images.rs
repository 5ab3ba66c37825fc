//! Which images may be used: `[images] allow` and `deny` → `image-not-allowed`.

use portcullis_reference::{ImageRef, Pattern};
use schemars::JsonSchema;

use super::At;
use crate::config::reader::{Reader, Section};
use crate::config::sections::{pattern, tag};
use crate::config::settings::Spanned;
use crate::config::ConfigSite;
use crate::finding::{Finding, Severity};
use crate::rules::Rule;

/// `[images]`: which images may be used and how they must be referenced.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[schemars(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct ImagesSettings {
    /// Patterns of allowed images; absent means every image is allowed.
    #[schemars(with = "Option<Vec<String>>")]
    pub allow: Option<Vec<Spanned<Pattern>>>,
    /// Where `allow` is written (the cause when nothing matches).
    #[schemars(skip)]
    pub allow_site: Option<ConfigSite>,
    /// Patterns of denied images (checked before `allow`).
    #[schemars(with = "Vec<String>")]
    pub deny: Vec<Spanned<Pattern>>,
    /// Every reference must carry an `@sha256:` digest (default `true`).
    #[schemars(with = "bool")]
    pub require_digest: Spanned<bool>,
    /// Tags that may not be used (default `["latest"]`).
    #[schemars(with = "Vec<String>")]
    pub deny_tags: Vec<Spanned<String>>,
}

impl Default for ImagesSettings {
    fn default() -> Self {
        Self {
            allow: None,
            allow_site: None,
            deny: Vec::new(),
            require_digest: Spanned::unsited(true),
            deny_tags: vec![Spanned::unsited("latest".to_owned())],
        }
    }
}

pub(crate) fn read(reader: &mut Reader<'_>, section: &Section<'_>) -> ImagesSettings {
    reader.check_keys(section, &["allow", "deny", "require-digest", "deny-tags"]);
    let mut images = ImagesSettings::default();
    if let Some((allow, site)) = reader.converted(section, "allow", pattern) {
        images.allow = Some(allow);
        images.allow_site = site;
    }
    if let Some((deny, _)) = reader.converted(section, "deny", pattern) {
        images.deny = deny;
    }
    if let Some(require) = reader.bool(section, "require-digest") {
        images.require_digest = require;
    }
    if let Some((tags, _)) = reader.converted(section, "deny-tags", tag) {
        images.deny_tags = tags;
    }
    images
}

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
