//! Which image a scanner report is about, and whether that is the image being scanned, so
//! a report made for `alpine:3.10` cannot pass the gate for `nginx:1.27`.
//!
//! Where reports name their image:
//! - Trivy JSON: `ArtifactName` (what was passed to `trivy image`), `Metadata.RepoTags` and
//!   `Metadata.RepoDigests`; only when `ArtifactType` is `container_image`;
//! - Trivy SARIF: the run's `properties.imageName`, `repoTags` and `repoDigests`;
//! - Grype JSON: `source.target.userInput`, `tags`, `repoDigests` and `manifestDigest`, when
//!   `source.type` is `image`;
//! - Grype SARIF: the `<image>@<layer>:/<path>` logical locations of its results (no digests).
//!
//! A scanner given an archive (`trivy image --input app.tar`, `grype docker-archive:app.tar`)
//! names the file; then the first of the image's own tags says which image it is. The image
//! ID (config digest) is not used: it is not a manifest digest, so it never equals the digest
//! of a reference.
//!
//! [`check_image`] compares: the normalized repositories must be equal (`nginx:1.27` and
//! `docker.io/library/nginx:1.27` are the same image); tags are not compared, since a report
//! made by digest may carry any tag. When the scanned reference has a digest and the report
//! lists digests (in its name, its repo digests or Grype's manifest digest), the scanned
//! digest must be one of them: Grype lists the index digest as repo digest and the platform
//! manifest digest apart, so either spelling of a multi-platform image matches. A report
//! that names no image (a filesystem scan) is accepted.

use std::fmt;
use std::path::PathBuf;

use portcullis_reference::{Digest, ImageRef};

/// The image a report names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedImage {
    /// The image as the report writes it (`alpine:3.10`), scheme prefix removed.
    pub name: String,
    /// Manifest digests the report lists for the image (repo digests, manifest digest).
    pub digests: Vec<Digest>,
}

/// `alpine:3.10`, or `alpine:3.10 (sha256:…, sha256:…)` when the report lists digests.
impl fmt::Display for ReportedImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        let extra: Vec<String> = self
            .digests
            .iter()
            .map(ToString::to_string)
            .filter(|d| !self.name.contains(d.as_str()))
            .collect();
        if !extra.is_empty() {
            write!(f, " ({})", extra.join(", "))?;
        }
        Ok(())
    }
}

/// Where findings came from: a hook that ran, or a file that was read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum InputSource {
    /// The output of the hook with this name.
    Hook(String),
    /// A `--report`, `--vex` or `[scan] vex` file.
    File(PathBuf),
}

/// ``hook `trivy` `` or `` `path/report.json` ``.
impl fmt::Display for InputSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Hook(name) => write!(f, "hook `{name}`"),
            Self::File(path) => write!(f, "`{}`", path.display()),
        }
    }
}

/// A report about another image (or another digest) than the one scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportMismatch {
    /// The hook or file that produced the report.
    pub source: InputSource,
    /// The image the report names, as written (with its digests when those differ).
    pub reported: String,
    /// The image being scanned.
    pub expected: ImageRef,
}

impl ReportMismatch {
    /// The mismatch as the policy reports it (`scan-report-mismatch`).
    #[must_use]
    pub fn to_policy(&self) -> portcullis_policy::ReportMismatch {
        portcullis_policy::ReportMismatch {
            source: match &self.source {
                InputSource::Hook(name) => format!("hook {name}"),
                InputSource::File(path) => path.display().to_string(),
            },
            reported: self.reported.clone(),
            expected: self.expected.to_string(),
        }
    }
}

impl fmt::Display for ReportMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is a report about `{}`, not about `{}`",
            self.source, self.reported, self.expected
        )
    }
}

/// Compares the scanned image with the image a report names (see the module docs).
/// `None` when they agree or the report names no image.
#[must_use]
pub fn check_image(
    source: &InputSource,
    expected: &ImageRef,
    reported: Option<&ReportedImage>,
) -> Option<ReportMismatch> {
    let reported = reported?;
    let mismatch = |text: String| ReportMismatch {
        source: source.clone(),
        reported: text,
        expected: expected.clone(),
    };
    let Ok(named) = ImageRef::parse(&reported.name) else {
        return Some(mismatch(reported.name.clone()));
    };
    if named.name() != expected.name() {
        return Some(mismatch(reported.name.clone()));
    }
    let digest = expected.digest()?;
    let listed: Vec<&Digest> = named
        .digest()
        .into_iter()
        .chain(&reported.digests)
        .collect();
    if listed.is_empty() || listed.contains(&digest) {
        None
    } else {
        Some(mismatch(reported.to_string()))
    }
}

/// Schemes that name an image in a registry or a daemon (Syft/Grype source syntax).
const IMAGE_SCHEMES: [&str; 4] = ["registry:", "docker:", "podman:", "containerd:"];
/// Schemes that name a file or directory, not an image reference.
const FILE_SCHEMES: [&str; 8] = [
    "docker-archive:",
    "oci-archive:",
    "oci-dir:",
    "dir:",
    "file:",
    "singularity:",
    "sbom:",
    "purl:",
];
/// File name endings of image archives.
const ARCHIVE_ENDINGS: [&str; 7] = [
    ".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.xz", ".tar.bz2", ".sif",
];

/// `text` as an image name (scheme prefix removed), or `None` when it names a file.
fn image_name(text: &str) -> Option<&str> {
    let text = text.trim();
    let text = IMAGE_SCHEMES
        .iter()
        .find_map(|scheme| text.strip_prefix(scheme))
        .unwrap_or(text);
    let lower = text.to_ascii_lowercase();
    let is_file = text.is_empty()
        || FILE_SCHEMES.iter().any(|scheme| lower.starts_with(scheme))
        || text.starts_with(['/', '.', '~'])
        || ARCHIVE_ENDINGS.iter().any(|end| lower.ends_with(end));
    (!is_file).then_some(text)
}

/// The digest of a repo digest (`nginx@sha256:…`) or of a bare digest.
fn digest_of(text: &str) -> Option<Digest> {
    let digest = text.rsplit_once('@').map_or(text, |(_, digest)| digest);
    Digest::parse(digest).ok()
}

/// The image named by `name`, else by the first of `tags` or `repo_digests`; with the
/// digests of `repo_digests` and `manifest_digests`. `None` when nothing names an image.
pub(crate) fn reported(
    name: Option<&str>,
    tags: &[String],
    repo_digests: &[String],
    manifest_digests: &[&str],
) -> Option<ReportedImage> {
    let repo_digest_name = repo_digests
        .iter()
        .find_map(|d| d.rsplit_once('@').map(|(repo, _)| repo));
    let name = name
        .and_then(image_name)
        .or_else(|| tags.iter().find_map(|t| image_name(t)))
        .or(repo_digest_name.and_then(image_name))?;
    let mut digests: Vec<Digest> = Vec::new();
    for digest in repo_digests
        .iter()
        .map(String::as_str)
        .chain(manifest_digests.iter().copied())
        .filter_map(digest_of)
    {
        if !digests.contains(&digest) {
            digests.push(digest);
        }
    }
    Some(ReportedImage {
        name: name.to_owned(),
        digests,
    })
}

/// The image of a Grype SARIF logical location, `<image>@<layer digest or empty>:/<path>`.
pub(crate) fn from_grype_location(fully_qualified_name: &str) -> Option<&str> {
    fully_qualified_name
        .match_indices('@')
        .map(|(at, _)| at)
        .find(|&at| {
            let rest = &fully_qualified_name[at + 1..];
            let after_layer = rest.strip_prefix("sha256:").map_or(rest, |hex| {
                let len = hex.bytes().take_while(u8::is_ascii_hexdigit).count();
                &hex[len..]
            });
            after_layer.starts_with(":/")
        })
        .map(|at| &fully_qualified_name[..at])
        .filter(|name| !name.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn image(text: &str) -> ImageRef {
        ImageRef::parse(text).unwrap()
    }

    fn named(name: &str, digests: &[&str]) -> ReportedImage {
        ReportedImage {
            name: name.to_owned(),
            digests: digests.iter().map(|d| Digest::parse(d).unwrap()).collect(),
        }
    }

    fn agrees(expected: &str, reported: &ReportedImage) -> bool {
        check_image(
            &InputSource::Hook("h".into()),
            &image(expected),
            Some(reported),
        )
        .is_none()
    }

    #[test]
    fn repositories_are_compared_normalized_and_tags_are_not() {
        assert!(agrees(
            "nginx:1.27",
            &named("docker.io/library/nginx:1.27", &[])
        ));
        assert!(agrees(
            "index.docker.io/library/nginx",
            &named("nginx:1.27", &[])
        ));
        assert!(agrees("nginx:1.27", &named("nginx:1.26", &[])));
        assert!(!agrees("nginx:1.27", &named("alpine:3.10", &[])));
        assert!(!agrees("ghcr.io/acme/nginx:1", &named("nginx:1", &[])));
        assert!(!agrees("nginx:1.27", &named("Not An Image", &[])));
    }

    #[test]
    fn digests_must_agree_when_both_sides_have_one() {
        let pinned = format!("nginx:1.27@{A}");
        assert!(agrees(&pinned, &named("nginx:1.27", &[])));
        assert!(agrees("nginx:1.27", &named("nginx:1.27", &[B])));
        assert!(
            agrees(&pinned, &named("nginx:1.27", &[B, A])),
            "repo digest list"
        );
        assert!(agrees(&pinned, &named(&format!("nginx@{A}"), &[])));
        assert!(!agrees(&pinned, &named("nginx:1.27", &[B])));
        assert!(!agrees(&pinned, &named(&format!("nginx@{B}"), &[])));
    }

    #[test]
    fn mismatch_names_source_report_and_scanned_image() {
        let source = InputSource::File("reports/alpine.json".into());
        let got = check_image(
            &source,
            &image("nginx:1.27"),
            Some(&named("alpine:3.10", &[])),
        );
        let want = ReportMismatch {
            source,
            reported: "alpine:3.10".into(),
            expected: image("nginx:1.27"),
        };
        assert_eq!(got.as_ref(), Some(&want));
        assert_eq!(
            want.to_string(),
            "`reports/alpine.json` is a report about `alpine:3.10`, not about `docker.io/library/nginx:1.27`"
        );
        let pinned = image(&format!("nginx@{A}"));
        let got = check_image(&want.source, &pinned, Some(&named("nginx:1.27", &[B]))).unwrap();
        assert_eq!(got.reported, format!("nginx:1.27 ({B})"));
    }

    #[test]
    fn a_report_naming_no_image_is_accepted() {
        assert_eq!(
            check_image(&InputSource::Hook("h".into()), &image("nginx"), None),
            None
        );
        assert_eq!(reported(Some("app.tar"), &[], &[], &[]), None);
        assert_eq!(reported(None, &[], &[], &[A]), None);
    }

    #[test]
    fn names_files_and_schemes() {
        let r = |name: &str| reported(Some(name), &[], &[], &[]).map(|r| r.name);
        assert_eq!(
            r("registry:ghcr.io/a/b:1").as_deref(),
            Some("ghcr.io/a/b:1")
        );
        assert_eq!(r("nginx:1.27").as_deref(), Some("nginx:1.27"));
        for file in [
            "testdata/fixtures/images/alpine-310.tar.gz",
            "/tmp/x",
            "./img",
            "docker-archive:/tmp/app.tar",
            "oci-dir:layout",
            "",
        ] {
            assert_eq!(r(file), None, "{file}");
        }
        let tags = vec!["ghcr.io/t/alpine:3.10".to_owned()];
        let digests = vec![format!("ghcr.io/t/alpine@{A}"), "garbage".to_owned()];
        let got = reported(Some("alpine.tar"), &tags, &digests, &[B, A]).unwrap();
        assert_eq!(got, named("ghcr.io/t/alpine:3.10", &[A, B]));
        let got = reported(None, &[], &digests, &[]).unwrap();
        assert_eq!(got.name, "ghcr.io/t/alpine");
    }

    #[test]
    fn grype_locations() {
        assert_eq!(
            from_grype_location("user-input@:/somefile-1.txt"),
            Some("user-input")
        );
        assert_eq!(
            from_grype_location(&format!("nginx@{A}@{B}:/usr/lib/node_modules/@x/y")),
            Some(&*format!("nginx@{A}"))
        );
        assert_eq!(from_grype_location("/home/a@b/file:/x"), None);
        assert_eq!(from_grype_location("@:/x"), None);
    }
}
