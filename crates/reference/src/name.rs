//! Image references (`registry/repository[:tag][@digest]`): parsing with Docker's grammar,
//! normalization to one canonical spelling, and printing. Policy is only ever evaluated on
//! the normalized form, so every alias of an image (`nginx`, `library/nginx`,
//! `index.docker.io/library/nginx`, …) is judged the same way.

use std::fmt;
use std::str::FromStr;

use crate::{Digest, ParseError};

/// The canonical name of Docker Hub.
pub const DOCKER_HUB: &str = "docker.io";
/// The host that serves Docker Hub's registry API.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// Longest `registry/repository` Docker accepts (after normalization).
pub const NAME_MAX_LEN: usize = 255;
/// Longest tag Docker accepts.
pub const TAG_MAX_LEN: usize = 128;

/// A normalized image reference: `registry/repository[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageRef {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl ImageRef {
    /// Parses and normalizes (`nginx` → `docker.io/library/nginx`, `index.docker.io` →
    /// `docker.io`, ...). The tag stays `None` when none is written.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        if text.is_empty() {
            return Err(ParseError::Empty);
        }
        let invalid = |reason: String| ParseError::Invalid {
            text: text.to_owned(),
            reason,
        };
        if let Some(c) = text.chars().find(|c| !c.is_ascii() || c.is_ascii_control()) {
            return Err(invalid(format!(
                "unexpected character `{}`",
                c.escape_default()
            )));
        }

        let (name_tag, digest) = match text.split_once('@') {
            Some((rest, digest)) => {
                let digest = Digest::parse(digest).map_err(|err| match err {
                    ParseError::InvalidDigest { text: d, reason } => {
                        invalid(format!("digest `{d}`: {reason}"))
                    }
                    other => invalid(other.to_string()),
                })?;
                (rest, Some(digest))
            }
            None => (text, None),
        };

        let (name, tag) = split_tag(name_tag);
        if let Some(tag) = tag {
            check_tag(tag).map_err(invalid)?;
        }
        if name.is_empty() {
            return Err(invalid("missing repository name".to_owned()));
        }

        let (registry, path) = split_registry(name);
        let registry = match registry {
            Some(host) => normalize_host(host).map_err(invalid)?,
            None => DOCKER_HUB.to_owned(),
        };
        check_path(path).map_err(invalid)?;
        if registry == DOCKER_HUB
            && path.len() == 64
            && path.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(invalid(format!(
                "repository `{path}` is a 64-character hex string, which Docker reads as an \
                 image ID"
            )));
        }
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_owned()
        };
        let full_len = registry.len() + 1 + repository.len();
        if full_len > NAME_MAX_LEN {
            return Err(invalid(format!(
                "name `{registry}/{repository}` is {full_len} characters, more than \
                 {NAME_MAX_LEN}"
            )));
        }
        Ok(Self {
            registry,
            repository,
            tag: tag.map(str::to_owned),
            digest,
        })
    }

    /// Registry host (with port), e.g. `docker.io`, `ghcr.io`, `localhost:5000`.
    #[must_use]
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// Repository path, e.g. `library/nginx`.
    #[must_use]
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag as written; `None` when none is written (no implicit `latest`).
    #[must_use]
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The tag a pull would use: the written tag, else `latest` when no digest is written
    /// either; `None` for a digest-only reference.
    #[must_use]
    pub fn implied_tag(&self) -> Option<&str> {
        match (&self.tag, &self.digest) {
            (Some(tag), _) => Some(tag),
            (None, None) => Some("latest"),
            (None, Some(_)) => None,
        }
    }

    /// The pinned digest, if written.
    #[must_use]
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// `registry/repository`, e.g. `docker.io/library/nginx`.
    #[must_use]
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// Whether the image lives on Docker Hub.
    #[must_use]
    pub fn is_docker_hub(&self) -> bool {
        self.registry == DOCKER_HUB
    }

    /// The host to talk to for the registry API (`registry-1.docker.io` for `docker.io`).
    #[must_use]
    pub fn api_host(&self) -> &str {
        if self.is_docker_hub() {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// The short form Docker prints: `nginx:1.27`, `user/app`, `ghcr.io/org/app@sha256:…`.
    /// For display only; policy always works on the normalized form.
    #[must_use]
    pub fn familiar(&self) -> String {
        let mut out = if self.is_docker_hub() {
            match self.repository.strip_prefix("library/") {
                Some(short) if !short.contains('/') => short.to_owned(),
                // `docker.io/a.b/c` must keep its host: `a.b/c` would name registry `a.b`.
                _ if self
                    .repository
                    .split_once('/')
                    .is_some_and(|(first, _)| is_registry_component(first)) =>
                {
                    self.name()
                }
                _ => self.repository.clone(),
            }
        } else {
            self.name()
        };
        if let Some(tag) = &self.tag {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(&digest.to_string());
        }
        out
    }

    /// A copy with `digest` set (tag kept).
    #[must_use]
    pub fn with_digest(&self, digest: Digest) -> Self {
        Self {
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// A copy with the digest removed.
    #[must_use]
    pub fn without_digest(&self) -> Self {
        Self {
            digest: None,
            ..self.clone()
        }
    }

    /// A copy with `tag` set. The tag is not checked; use [`ImageRef::try_with_tag`] for
    /// text that comes from outside.
    #[must_use]
    pub fn with_tag(&self, tag: &str) -> Self {
        Self {
            tag: Some(tag.to_owned()),
            ..self.clone()
        }
    }

    /// A copy with `tag` set, after checking it against Docker's tag grammar.
    pub fn try_with_tag(&self, tag: &str) -> Result<Self, ParseError> {
        check_tag(tag).map_err(|reason| ParseError::Invalid {
            text: format!("{}:{tag}", self.name()),
            reason,
        })?;
        Ok(self.with_tag(tag))
    }

    /// A copy with the tag removed.
    #[must_use]
    pub fn without_tag(&self) -> Self {
        Self {
            tag: None,
            ..self.clone()
        }
    }
}

/// Prints the normalized form: `docker.io/library/nginx:1.27@sha256:…` (no implicit tag).
impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Piece by piece rather than through `write!`: every reference's text is made
        // from this, tens of thousands in a monorepo.
        f.write_str(&self.registry)?;
        f.write_str("/")?;
        f.write_str(&self.repository)?;
        if let Some(tag) = &self.tag {
            f.write_str(":")?;
            f.write_str(tag)?;
        }
        if let Some(digest) = &self.digest {
            f.write_str("@")?;
            f.write_str(digest.algorithm().as_str())?;
            f.write_str(":")?;
            f.write_str(digest.hex())?;
        }
        Ok(())
    }
}

impl FromStr for ImageRef {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for ImageRef {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ImageRef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Splits `name[:tag]`: the tag is after the last `:` that follows the last `/`, so a
/// registry port (`localhost:5000/app`) is not a tag.
pub(crate) fn split_tag(text: &str) -> (&str, Option<&str>) {
    let slash = text.rfind('/').map_or(0, |i| i + 1);
    match text[slash..].rfind(':') {
        Some(i) => (&text[..slash + i], Some(&text[slash + i + 1..])),
        None => (text, None),
    }
}

/// Whether a first path component names a registry: it contains `.` or `:`, or is
/// `localhost`.
pub(crate) fn is_registry_component(first: &str) -> bool {
    first.contains(['.', ':']) || first.eq_ignore_ascii_case("localhost")
}

/// Splits `[registry/]path`, returning the registry as written (not normalized).
fn split_registry(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest)) if is_registry_component(first) => (Some(first), rest),
        _ => (None, name),
    }
}

/// Maps Docker Hub's aliases to `docker.io`.
pub(crate) fn canonical_registry(host: String) -> String {
    if crate::host::DOCKER_HUB_ALIASES.contains(&host.as_str()) {
        DOCKER_HUB.to_owned()
    } else {
        host
    }
}

/// Checks `host[:port]` (DNS name, IPv4 or `[IPv6]`) and returns it lowercased, with
/// Docker Hub aliases mapped to `docker.io`.
fn normalize_host(host: &str) -> Result<String, String> {
    let bad = |why: &str| format!("registry `{host}`: {why}");
    let (hostname, port) = if let Some(inner) = host.strip_prefix('[') {
        let Some((addr, after)) = inner.split_once(']') else {
            return Err(bad("missing `]` after IPv6 address"));
        };
        if addr.is_empty() || !addr.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return Err(bad("IPv6 address must be hex digits and `:`"));
        }
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| bad("expected `:port` after `]`"))?,
            ),
        };
        (&host[..addr.len() + 2], port)
    } else {
        let (h, port) = match host.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host, None),
        };
        for label in h.split('.') {
            let bytes = label.as_bytes();
            let ok = !bytes.is_empty()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
                && bytes[0] != b'-'
                && bytes[bytes.len() - 1] != b'-';
            if !ok {
                return Err(bad(&format!(
                    "host label `{label}` must be letters, digits and inner `-`"
                )));
            }
        }
        (h, port)
    };
    if let Some(port) = port {
        if port.is_empty()
            || port.len() > 5
            || !port.bytes().all(|b| b.is_ascii_digit())
            || port.parse::<u32>().map_or(true, |p| p > 65535)
        {
            return Err(bad(&format!("port `{port}` is not a number up to 65535")));
        }
    }
    let mut out = hostname.to_ascii_lowercase();
    if let Some(port) = port {
        out.push(':');
        out.push_str(port);
    }
    Ok(canonical_registry(out))
}

/// Checks the repository path against Docker's grammar: `/`-separated components of
/// `[a-z0-9]+` joined by `.`, `_`, `__` or runs of `-`.
fn check_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("missing repository name after the registry".to_owned());
    }
    if path.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(format!(
            "repository `{path}` has uppercase letters (repository names are lowercase)"
        ));
    }
    if path.starts_with('/') || path.ends_with('/') || path.contains("//") {
        return Err(format!(
            "repository `{path}` has an empty path component (doubled, leading or trailing `/`)"
        ));
    }
    if let Some(c) = path
        .chars()
        .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '.' | '_' | '-' | '/'))
    {
        return Err(format!(
            "repository `{path}` has `{}` (allowed: lowercase letters, digits, `.`, `_`, `-`, \
             `/`)",
            c.escape_default()
        ));
    }
    for component in path.split('/') {
        if let Err(why) = check_component(component) {
            return Err(format!("path component `{component}` in `{path}`: {why}"));
        }
    }
    Ok(())
}

fn check_component(component: &str) -> Result<(), &'static str> {
    if component.is_empty() {
        return Err("empty component (doubled or trailing `/`)");
    }
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return Err("must start and end with a lowercase letter or digit");
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &component[start..i];
        let ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|b| b == b'-');
        if !ok {
            return Err(
                "separators are `.`, `_`, `__` or `-` runs, between lowercase letters or digits",
            );
        }
    }
    Ok(())
}

/// Checks a tag against Docker's grammar `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub(crate) fn check_tag(tag: &str) -> Result<(), String> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    if bytes.is_empty() {
        return Err("empty tag after `:`".to_owned());
    }
    if !word(bytes[0]) {
        return Err(format!(
            "tag `{tag}` must start with a letter, digit or `_`"
        ));
    }
    if let Some(bad) = bytes
        .iter()
        .find(|&&b| !(word(b) || b == b'.' || b == b'-'))
    {
        return Err(format!(
            "tag `{tag}` has `{}` (allowed: letters, digits, `_`, `.`, `-`)",
            char::from(*bad).escape_default()
        ));
    }
    if bytes.len() > TAG_MAX_LEN {
        return Err(format!(
            "tag `{tag}` is {} characters, more than {TAG_MAX_LEN}",
            bytes.len()
        ));
    }
    Ok(())
}
