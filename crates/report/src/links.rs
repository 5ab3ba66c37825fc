//! Links from a finding's `file:line` to that line of the file at the commit under test.
//! The report knows no forge: whoever knows the forge (the CI environment) gives a
//! [`SourceLinks`] holding the URL every path is appended to, and the Markdown links each
//! place through it.

use std::fmt::Write as _;

/// Where the files of the checked commit can be read on the web: a base URL that a
/// repository-relative path, percent-encoded per segment, and `#L{line}` complete.
///
/// GitHub's is `{server}/{owner}/{repo}/blob/{sha}/`, GitLab's
/// `{server}/{project}/-/blob/{sha}/`; `portcullis-forge` builds them from the CI
/// environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLinks {
    base: String,
}

impl SourceLinks {
    /// Links under `base`, the URL of the commit's tree; a `/` is added when it lacks one.
    #[must_use]
    pub fn new(base: impl Into<String>) -> Self {
        let mut base = base.into();
        if !base.ends_with('/') {
            base.push('/');
        }
        Self { base }
    }

    /// The URL of the tree the links point into, ending in `/`.
    #[must_use]
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The URL of line `line` of `path` (relative to the repository root, `/`-separated).
    #[must_use]
    pub fn line(&self, path: &str, line: u32) -> String {
        let path: Vec<String> = path
            .split('/')
            .filter(|segment| !segment.is_empty())
            .map(encode_segment)
            .collect();
        format!("{}{}#L{line}", self.base, path.join("/"))
    }
}

/// Percent-encodes one path segment: everything but RFC 3986's unreserved characters,
/// so a `#`, `?`, `%`, space, `(`, `)` or non-ASCII letter in a file name stays part of the
/// path (and cannot end a Markdown link).
#[must_use]
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_link_appends_the_encoded_path_and_the_line() {
        let links = SourceLinks::new("https://github.com/acme/app/blob/8f4e3c2");
        assert_eq!(links.base(), "https://github.com/acme/app/blob/8f4e3c2/");
        assert_eq!(
            links.line("services/web/Dockerfile", 3),
            "https://github.com/acme/app/blob/8f4e3c2/services/web/Dockerfile#L3"
        );
    }

    #[test]
    fn each_segment_is_percent_encoded_and_slashes_are_kept() {
        let links = SourceLinks::new("https://gitlab.example.com/g/p/-/blob/abc/");
        assert_eq!(
            links.line("my dir/a#b?c%(1).yml", 12),
            "https://gitlab.example.com/g/p/-/blob/abc/my%20dir/a%23b%3Fc%25%281%29.yml#L12"
        );
        assert_eq!(encode_segment("é"), "%C3%A9");
        assert_eq!(encode_segment("Docker-file_1.~x"), "Docker-file_1.~x");
    }
}
