//! Where images are pulled from: `[[mirror]]` → `not-from-mirror`, and which mirror entry
//! covers a reference and what it becomes on the mirror (what `pin --mirror` writes).
//!
//! A reference is covered by an entry when its normalized repository equals the entry's
//! `from` (`alpine` is `docker.io/library/alpine`; `docker.io/library/alpine-evil` and
//! `docker.io/library/alpine/x` are other repositories) and its tag is one of `tags` or
//! matches `tag-regex`, which is anchored at both ends like the image patterns
//! (`3\.2\d` matches `3.20`, not `3.20-alpine` or `13.20`). A reference without a tag
//! means `latest`, as Docker pulls it; a digest-only reference is covered by its
//! repository alone. The first covering entry, in file order, wins.

use portcullis_reference::ImageRef;

use super::At;
use crate::config::settings::MirrorSettings;
use crate::finding::{Finding, Severity};
use crate::rules::Rule;

/// A `tag-regex` compiled anchored at both ends: it must match the whole tag.
#[derive(Debug, Clone)]
pub struct TagRegex {
    /// As written in the policy.
    text: String,
    anchored: regex::Regex,
}

impl TagRegex {
    /// Compiles `text` so that it matches whole tags only.
    pub fn new(text: &str) -> Result<Self, regex::Error> {
        Ok(Self {
            text: text.to_owned(),
            anchored: regex::Regex::new(&format!("^(?:{text})$"))?,
        })
    }

    /// Whether the whole of `tag` matches.
    #[must_use]
    pub fn is_match(&self, tag: &str) -> bool {
        self.anchored.is_match(tag)
    }

    /// The expression as written in the policy.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Two expressions are equal when they are written the same.
impl PartialEq for TagRegex {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl MirrorSettings {
    /// Whether `image` names the entry's source repository (normalized; tag and digest
    /// ignored).
    #[must_use]
    pub fn covers_repository(&self, image: &ImageRef) -> bool {
        let from = &self.from.value;
        image.registry() == from.registry() && image.repository() == from.repository()
    }

    /// Whether `tag` is one of `tags` or matches the whole of `tag-regex`.
    #[must_use]
    pub fn covers_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|listed| listed.value == tag)
            || self
                .tag_pattern
                .as_ref()
                .is_some_and(|pattern| pattern.is_match(tag))
    }

    /// Whether the entry mirrors the image `image` names: its repository, and its tag
    /// (`latest` when none is written), or its digest alone when it has no tag.
    #[must_use]
    pub fn covers(&self, image: &ImageRef) -> bool {
        self.covers_repository(image) && image.implied_tag().is_none_or(|t| self.covers_tag(t))
    }

    /// `image` on the mirror: the entry's `to` with the same tag and digest.
    #[must_use]
    pub fn on_mirror(&self, image: &ImageRef) -> ImageRef {
        let mut out = self.to.value.clone();
        if let Some(tag) = image.tag() {
            out = out.with_tag(tag);
        }
        if let Some(digest) = image.digest() {
            out = out.with_digest(digest.clone());
        }
        out
    }
}

/// A reference a `[[mirror]]` entry covers, and the same reference on the mirror.
#[derive(Debug, Clone, PartialEq)]
pub struct MirrorMatch<'a> {
    /// The covering entry (the first in file order).
    pub entry: &'a MirrorSettings,
    /// The reference with its repository replaced by the entry's `to`: same tag, same
    /// digest.
    pub image: ImageRef,
}

/// The first entry of `mirrors` that covers `image`, and `image` on that mirror.
#[must_use]
pub fn mirror_for<'a>(mirrors: &'a [MirrorSettings], image: &ImageRef) -> Option<MirrorMatch<'a>> {
    let entry = mirrors.iter().find(|entry| entry.covers(image))?;
    Some(MirrorMatch {
        entry,
        image: entry.on_mirror(image),
    })
}

/// `not-from-mirror` for a reference written in a file that a `[[mirror]]` entry covers.
/// An image in no file (a mirror's own source, a scanned image) is not flagged.
pub(crate) fn check(mirrors: &[MirrorSettings], at: &At<'_>, image: &ImageRef) -> Option<Finding> {
    at.subject.written.as_ref()?;
    let mirrored = mirror_for(mirrors, image)?;
    let entry = mirrored.entry;
    let message = format!(
        "`{}` pulls `{}`, which is mirrored to `{}`",
        at.subject.text, entry.from.value, entry.to.value
    );
    let help = match at.command_path() {
        Some(file) => format!("run `portcullis pin --mirror {file}`"),
        None => format!("reference `{}` instead", mirrored.image),
    };
    let mut finding = at.finding(Rule::NotFromMirror, Severity::Error, message, Some(help));
    finding.cause.clone_from(&entry.site);
    Some(finding)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::subject::{HelpPaths, Subject};
    use portcullis_reference::{Context, Location, Resolution};

    const POLICY: &str = r#"
[[mirror]]
from = "alpine"
to = "registry.example.com/mirror/alpine"
tags = ["3.20", "3.21"]

[[mirror]]
from = "docker.io/library/postgres"
to = "registry.example.com/mirror/postgres"
tag-regex = '16\.\d+'

[[mirror]]
from = "docker.io/library/alpine"
to = "registry.example.com/second/alpine"
tags = ["3.20", "edge"]
"#;

    fn config() -> Config {
        Config::parse("portcullis.toml", POLICY).unwrap()
    }

    fn image(text: &str) -> ImageRef {
        ImageRef::parse(text).unwrap()
    }

    const DIGEST: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    /// The mirrored reference as text, `None` when no entry covers it.
    fn mirrored(text: &str) -> Option<String> {
        let config = config();
        mirror_for(config.mirrors(), &image(text)).map(|m| m.image.to_string())
    }

    #[test]
    fn a_listed_tag_moves_to_the_mirror_keeping_tag_and_digest() {
        assert_eq!(
            mirrored("alpine:3.20").as_deref(),
            Some("registry.example.com/mirror/alpine:3.20")
        );
        assert_eq!(
            mirrored(&format!("docker.io/library/alpine:3.21@{DIGEST}")),
            Some(format!("registry.example.com/mirror/alpine:3.21@{DIGEST}"))
        );
        // Every spelling of the source repository is the same repository.
        assert_eq!(
            mirrored("index.docker.io/library/alpine:3.20").as_deref(),
            Some("registry.example.com/mirror/alpine:3.20")
        );
    }

    #[test]
    fn the_first_covering_entry_wins_and_later_ones_fill_in() {
        let config = config();
        let first = mirror_for(config.mirrors(), &image("alpine:3.20")).unwrap();
        assert_eq!(
            first.entry.to.value.to_string(),
            "registry.example.com/mirror/alpine"
        );
        // `edge` is only in the third entry.
        assert_eq!(
            mirrored("alpine:edge").as_deref(),
            Some("registry.example.com/second/alpine:edge")
        );
    }

    #[test]
    fn other_repositories_and_tags_are_not_covered() {
        for text in [
            "docker.io/library/alpine-evil:3.20",
            "docker.io/library/alpine/x:3.20",
            "docker.io/alpine:3.20x",
            "ghcr.io/library/alpine:3.20",
            "docker.io.evil.com/library/alpine:3.20",
            "alpine:3.19",
            "alpine:3.20-slim",
            // No tag means `latest`, which is not mirrored.
            "alpine",
            // Already the mirror.
            "registry.example.com/mirror/alpine:3.20",
        ] {
            assert_eq!(mirrored(text), None, "{text}");
        }
    }

    #[test]
    fn a_digest_only_reference_is_covered_by_its_repository() {
        assert_eq!(
            mirrored(&format!("alpine@{DIGEST}")),
            Some(format!("registry.example.com/mirror/alpine@{DIGEST}"))
        );
        assert_eq!(mirrored(&format!("alpine-evil@{DIGEST}")), None);
    }

    #[test]
    fn tag_regex_is_anchored_at_both_ends() {
        assert_eq!(
            mirrored("postgres:16.4").as_deref(),
            Some("registry.example.com/mirror/postgres:16.4")
        );
        for text in [
            "postgres:16.4-alpine",
            "postgres:116.4",
            "postgres:x16.4",
            "postgres:16",
        ] {
            assert_eq!(mirrored(text), None, "{text}");
        }
        // An alternation is anchored as a whole, not only its first and last branch.
        let either = TagRegex::new("3.20|edge").unwrap();
        assert!(either.is_match("edge") && either.is_match("3.20"));
        assert!(!either.is_match("3.20-slim") && !either.is_match("bleeding-edge"));
        assert_eq!(either.as_str(), "3.20|edge");
        // Anchors written in the policy change nothing.
        let written = TagRegex::new(r"^3\.2\d$").unwrap();
        assert!(written.is_match("3.21") && !written.is_match("3.210"));
    }

    fn written(text: &str) -> Subject {
        let location = Location {
            file: "services/web/Dockerfile".to_owned(),
            line: 3,
            column: 6,
            end_line: 3,
            end_column: 6 + text.len() as u32,
            span: 0..text.len(),
        };
        Subject::written(
            Resolution::Image(image(text)),
            text.to_owned(),
            location,
            Context::DockerfileFrom,
        )
    }

    #[test]
    fn a_covered_reference_in_a_file_is_an_error_naming_the_mirror_and_the_fix() {
        let config = config();
        let help = HelpPaths::default();
        let subject = written("alpine:3.20");
        let at = At::new(&subject, &help);
        let finding = check(config.mirrors(), &at, &image("alpine:3.20")).unwrap();
        assert_eq!(finding.rule, Rule::NotFromMirror);
        assert_eq!(finding.severity, Severity::Error);
        assert_eq!(
            finding.message,
            "`alpine:3.20` pulls `docker.io/library/alpine`, which is mirrored to \
             `registry.example.com/mirror/alpine`"
        );
        assert_eq!(
            finding.help.as_deref(),
            Some("run `portcullis pin --mirror services/web/Dockerfile`")
        );
        let cause = finding.cause.unwrap();
        assert_eq!(
            (cause.line, cause.label.as_str()),
            (2, "mirror declared here")
        );
    }

    #[test]
    fn references_not_covered_and_images_in_no_file_are_not_flagged() {
        let config = config();
        let help = HelpPaths::default();
        let other = written("alpine:3.19");
        let at = At::new(&other, &help);
        assert!(check(config.mirrors(), &at, &image("alpine:3.19")).is_none());
        // A mirror's own source, given by name, is judged by the other rules only.
        let source = Subject::image(image("alpine:3.20"));
        let at = At::new(&source, &help);
        assert!(check(config.mirrors(), &at, &image("alpine:3.20")).is_none());
        // No `[[mirror]]`, no finding.
        let none = Config::parse("portcullis.toml", "").unwrap();
        let at = At::new(&other, &help);
        assert!(check(none.mirrors(), &at, &image("alpine:3.20")).is_none());
    }
}
