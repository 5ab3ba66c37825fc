//! What `pin` may rewrite and how: which references have their text written in the
//! repository (a [`Literal`]), the tag each one is pinned to, and the byte-span [`Edit`]s
//! that write `name:tag@digest` in place once a digest is chosen.

use std::collections::BTreeMap;

use portcullis_reference::{Digest, ImageRef};

use crate::{Edit, LiteralForm, Occurrence, Resolution};

/// A reference `pin` may rewrite: its text is written in the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinTarget<'a> {
    pub occurrence: &'a Occurrence,
    /// The reference as written (with its digest, if pinned).
    pub image: ImageRef,
    /// The tag to look up: the reference without its digest, with `latest` when it names no
    /// tag, as Docker does.
    pub lookup: ImageRef,
}

impl PinTarget<'_> {
    /// [`PinTarget::lookup`] with the digest as written: the tag the registry resolves and
    /// the pin it is compared with.
    #[must_use]
    pub fn query(&self) -> ImageRef {
        match self.image.digest() {
            Some(digest) => self.lookup.with_digest(digest.clone()),
            None => self.lookup.clone(),
        }
    }

    /// The edit that pins this reference to `digest`: `name:tag@digest` over the literal's
    /// bytes, replacing a digest already written, or, for a digest of its own
    /// ([`LiteralForm::Digest`]), the digest over its value or a new `digest:` line. `None`
    /// when the text already says that.
    #[must_use]
    pub fn edit(&self, digest: &Digest) -> Option<Edit> {
        let literal = self.occurrence.literal.as_ref()?;
        let replacement = match &literal.form {
            LiteralForm::Reference => {
                let name = literal
                    .text
                    .split_once('@')
                    .map_or(literal.text.as_str(), |(name, _)| name);
                format!("{name}@{digest}")
            }
            LiteralForm::Digest { before, after } => format!("{before}{digest}{after}"),
        };
        (replacement != literal.text).then(|| Edit {
            span: literal.span.clone(),
            expected: literal.text.clone(),
            replacement,
        })
    }

    /// Whether the reference's whole text is written in one place, so [`PinTarget::edit_to`]
    /// can name another repository there (not so for a separate `digest:` value).
    #[must_use]
    pub fn renamable(&self) -> bool {
        self.occurrence
            .literal
            .as_ref()
            .is_some_and(|literal| literal.form == LiteralForm::Reference)
    }

    /// The edit that writes `image` (in Docker's short form, `alpine:3.20@sha256:…`,
    /// `registry.example.com/mirror/alpine:3.20@sha256:…`) over the reference's text: how
    /// `pin --mirror` points a reference at its mirror. `None` when the text already names
    /// `image` or is not [`PinTarget::renamable`].
    #[must_use]
    pub fn edit_to(&self, image: &ImageRef) -> Option<Edit> {
        let literal = self.occurrence.literal.as_ref()?;
        if literal.form != LiteralForm::Reference {
            return None;
        }
        let replacement = image.familiar();
        (replacement != literal.text).then(|| Edit {
            span: literal.span.clone(),
            expected: literal.text.clone(),
            replacement,
        })
    }
}

/// Why `pin` leaves a reference alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// The reference resolves to `image` through a value written elsewhere (a build
    /// argument given on the command line, an environment variable), so there is no text
    /// here to rewrite.
    NotWrittenHere { image: ImageRef },
    /// The reference depends on `variable`, which has no value.
    Unresolved { variable: String },
}

/// A reference `pin` leaves alone, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped<'a> {
    pub occurrence: &'a Occurrence,
    pub reason: SkipReason,
}

/// The references of a scan split into those `pin` rewrites and those it leaves alone,
/// each list in the order of the occurrences.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PinTargets<'a> {
    pub targets: Vec<PinTarget<'a>>,
    pub skipped: Vec<Skipped<'a>>,
}

/// Splits `occurrences` into the references `pin` may rewrite (those with a literal) and
/// those it must leave alone.
#[must_use]
pub fn pin_targets(occurrences: &[Occurrence]) -> PinTargets<'_> {
    let mut out = PinTargets::default();
    for occurrence in occurrences {
        match (&occurrence.resolution, &occurrence.literal) {
            (Resolution::Image(image), Some(_)) => out.targets.push(PinTarget {
                occurrence,
                image: image.clone(),
                lookup: lookup_key(image),
            }),
            (Resolution::Image(image), None) => out.skipped.push(Skipped {
                occurrence,
                reason: SkipReason::NotWrittenHere {
                    image: image.clone(),
                },
            }),
            (Resolution::Unresolved { variable }, _) => out.skipped.push(Skipped {
                occurrence,
                reason: SkipReason::Unresolved {
                    variable: variable.clone(),
                },
            }),
        }
    }
    out
}

/// The tag `pin` resolves for `image`: its tag without any digest, `latest` when it names
/// none (`alpine@sha256:…` → `alpine:latest`), as Docker does.
#[must_use]
pub fn lookup_key(image: &ImageRef) -> ImageRef {
    let base = image.without_digest();
    if base.tag().is_some() {
        base
    } else {
        base.with_tag("latest")
    }
}

/// The edits per file (keyed by [`crate::Location::file`]) that pin each target to its
/// chosen digest: sorted by position, one per span (references sharing a literal, such
/// as two `FROM $BASE` of one `ARG BASE=…`, edit it once), and files whose references
/// already say their digest left out.
#[must_use]
pub fn pin_edits<'t, 'o: 't>(
    chosen: impl IntoIterator<Item = (&'t PinTarget<'o>, &'t Digest)>,
) -> BTreeMap<String, Vec<Edit>> {
    let mut edits: BTreeMap<String, Vec<Edit>> = BTreeMap::new();
    for (target, digest) in chosen {
        if let Some(edit) = target.edit(digest) {
            edits
                .entry(target.occurrence.location.file.clone())
                .or_default()
                .push(edit);
        }
    }
    for list in edits.values_mut() {
        list.sort_by_key(|e| (e.span.start, e.span.end));
        list.dedup_by(|a, b| a.span == b.span);
    }
    edits
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse, ParseOptions, SourceFile, SourceKind};

    fn dockerfile(rel: &str, text: &str, build_args: &[(&str, &str)]) -> Vec<Occurrence> {
        let file = SourceFile {
            path: rel.into(),
            rel: rel.to_owned(),
            kind: SourceKind::Dockerfile,
        };
        let options = ParseOptions {
            build_args: build_args
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..ParseOptions::default()
        };
        let (occurrences, problems) = parse(&file, text.as_bytes(), &options);
        assert!(problems.is_empty(), "{problems:?}");
        occurrences
    }

    fn image(text: &str) -> ImageRef {
        ImageRef::parse(text).unwrap()
    }

    fn digest(fill: char) -> Digest {
        Digest::parse(&format!("sha256:{}", fill.to_string().repeat(64))).unwrap()
    }

    #[test]
    fn targets_are_the_written_references_and_the_others_say_why_not() {
        let text = "ARG BASE=alpine:3.20\nARG FROM_CLI=x\nARG UNSET\n\
                    FROM $BASE\nFROM $FROM_CLI\nFROM $UNSET\nFROM nginx\n";
        let occurrences = dockerfile("Dockerfile", text, &[("FROM_CLI", "debian:12")]);
        let split = pin_targets(&occurrences);
        let targets: Vec<(String, String)> = split
            .targets
            .iter()
            .map(|t| (t.occurrence.text.clone(), t.lookup.to_string()))
            .collect();
        assert_eq!(
            targets,
            [
                (
                    "$BASE".to_owned(),
                    "docker.io/library/alpine:3.20".to_owned()
                ),
                (
                    "nginx".to_owned(),
                    "docker.io/library/nginx:latest".to_owned()
                ),
            ]
        );
        let reasons: Vec<&SkipReason> = split.skipped.iter().map(|s| &s.reason).collect();
        assert_eq!(
            reasons,
            [
                &SkipReason::NotWrittenHere {
                    image: image("debian:12")
                },
                &SkipReason::Unresolved {
                    variable: "UNSET".to_owned()
                },
            ]
        );
        assert_eq!(split.skipped[1].occurrence.location.line, 6);
    }

    #[test]
    fn lookup_is_the_tag_without_digest_and_latest_when_none() {
        let pinned = format!("ghcr.io/org/app:1.2@{}", digest('a'));
        assert_eq!(lookup_key(&image(&pinned)), image("ghcr.io/org/app:1.2"));
        assert_eq!(lookup_key(&image("alpine")), image("alpine:latest"));
        let digest_only = format!("alpine@{}", digest('b'));
        assert_eq!(lookup_key(&image(&digest_only)), image("alpine:latest"));
    }

    #[test]
    fn query_keeps_the_written_digest_on_the_lookup_tag() {
        let text = format!("FROM alpine@{}\nFROM alpine:3.20\n", digest('c'));
        let occurrences = dockerfile("Dockerfile", &text, &[]);
        let split = pin_targets(&occurrences);
        assert_eq!(
            split.targets[0].query(),
            image(&format!("alpine:latest@{}", digest('c')))
        );
        assert_eq!(split.targets[1].query(), image("alpine:3.20"));
    }

    #[test]
    fn edits_write_name_tag_at_digest_replacing_an_old_digest() {
        let text = format!(
            "FROM --platform=linux/amd64   alpine:3.20   AS a\nFROM nginx:1.27@{}\nFROM debian\n",
            digest('1')
        );
        let occurrences = dockerfile("app/Dockerfile", &text, &[]);
        let split = pin_targets(&occurrences);
        let new = digest('2');
        let edits = pin_edits(split.targets.iter().map(|t| (t, &new)));
        let list = &edits["app/Dockerfile"];
        let replacements: Vec<(&str, &str)> = list
            .iter()
            .map(|e| (e.expected.as_str(), e.replacement.as_str()))
            .collect();
        let (old, new) = (digest('1').to_string(), new.to_string());
        assert_eq!(
            replacements,
            [
                ("alpine:3.20", format!("alpine:3.20@{new}").as_str()),
                (
                    format!("nginx:1.27@{old}").as_str(),
                    format!("nginx:1.27@{new}").as_str()
                ),
                ("debian", format!("debian@{new}").as_str()),
            ]
        );
        for edit in list {
            assert_eq!(&text[edit.span.clone()], edit.expected);
        }
    }

    #[test]
    fn edits_are_sorted_deduplicated_and_empty_when_unchanged() {
        let pinned = digest('d');
        let text =
            format!("ARG BASE=alpine:3.20\nFROM nginx:1.27@{pinned}\nFROM $BASE\nFROM $BASE\n");
        let occurrences = dockerfile("Dockerfile", &text, &[]);
        let split = pin_targets(&occurrences);
        assert_eq!(split.targets.len(), 3);
        // Reversed, so sorting is the function's doing.
        let chosen: Vec<(&PinTarget<'_>, &Digest)> =
            split.targets.iter().rev().map(|t| (t, &pinned)).collect();
        let edits = pin_edits(chosen);
        let list = &edits["Dockerfile"];
        assert_eq!(list.len(), 1, "{list:?}");
        assert_eq!(list[0].expected, "alpine:3.20");
        assert_eq!(list[0].span, 9..20);

        let other = digest('e');
        let chosen = split.targets.iter().rev().map(|t| (t, &other));
        let list = &pin_edits(chosen)["Dockerfile"];
        let starts: Vec<usize> = list.iter().map(|e| e.span.start).collect();
        assert_eq!(starts, [9, 26]);

        // Already pinned to the chosen digest: no file at all.
        let done = dockerfile("Dockerfile", &format!("FROM nginx:1.27@{pinned}\n"), &[]);
        let split = pin_targets(&done);
        assert!(pin_edits(split.targets.iter().map(|t| (t, &pinned))).is_empty());
    }

    #[test]
    fn edit_to_names_another_repository_over_the_reference_or_its_arg_default() {
        let d = digest('f');
        let text = format!(
            "ARG BASE=alpine:3.20\nFROM $BASE\nFROM --platform=linux/amd64 alpine:3.20 AS b\nFROM m.example/alpine:3.20@{d}\n"
        );
        let occurrences = dockerfile("Dockerfile", &text, &[]);
        let split = pin_targets(&occurrences);
        let mirror = image(&format!("m.example/alpine:3.20@{d}"));
        let edits: Vec<Option<Edit>> = split.targets.iter().map(|t| t.edit_to(&mirror)).collect();
        let written = format!("m.example/alpine:3.20@{d}");
        // The ARG default, the FROM line; the reference already on the mirror is unchanged.
        assert_eq!(edits[0].as_ref().unwrap().replacement, written);
        assert_eq!(
            &text[edits[0].as_ref().unwrap().span.clone()],
            "alpine:3.20"
        );
        assert_eq!(edits[1].as_ref().unwrap().replacement, written);
        assert_eq!(edits[1].as_ref().unwrap().expected, "alpine:3.20");
        assert_eq!(edits[2], None);
        assert!(split.targets.iter().all(PinTarget::renamable));
        // A Docker Hub target is written the short way Docker prints it.
        let hub = image(&format!("docker.io/library/alpine:3.20@{d}"));
        let edit = split.targets[2].edit_to(&hub).unwrap();
        assert_eq!(edit.replacement, format!("alpine:3.20@{d}"));
    }

    #[test]
    fn a_separate_digest_value_cannot_be_renamed() {
        let file = SourceFile {
            path: "chart/values.yaml".into(),
            rel: "chart/values.yaml".to_owned(),
            kind: SourceKind::HelmValues,
        };
        let text = "image:\n  repository: alpine\n  tag: \"3.20\"\n";
        let (occurrences, problems) = parse(&file, text.as_bytes(), &ParseOptions::default());
        assert!(problems.is_empty(), "{problems:?}");
        let split = pin_targets(&occurrences);
        assert_eq!(split.targets.len(), 1, "{occurrences:?}");
        let target = &split.targets[0];
        assert!(!target.renamable());
        assert_eq!(target.edit_to(&image("m.example/alpine:3.20")), None);
        // Pinning it is still possible.
        assert!(target.edit(&digest('1')).is_some());
    }
}
