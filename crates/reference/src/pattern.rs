//! Allow/deny glob patterns over normalized image names. They exist so a policy can say
//! "anything from `cgr.dev/chainguard/**`" without the classic bypasses of prefix or
//! unanchored matching (`ghcr.io.evil.com`, `mycompanyevil`, `ubuntu-evil`): a pattern is
//! normalized like a reference and matched against the whole normalized name.
//!
//! Syntax: `*` matches within one `/` segment, a `**` segment matches any number of
//! segments, `{a,b}` gives alternatives (nestable), and an optional `:tag` part after the
//! last `/` also matches the tag (`*` in a tag matches any characters).

use std::fmt;
use std::str::FromStr;

use crate::name::{canonical_registry, is_registry_component, split_tag, DOCKER_HUB};
use crate::{ImageRef, ParseError};

/// Longest pattern text accepted.
const MAX_PATTERN_LEN: usize = 1024;
/// Most alternatives one pattern may expand to through `{…}`.
const MAX_ALTERNATIVES: usize = 1024;

/// An allow/deny glob pattern over normalized references: `*` within one segment, `**`
/// across segments, `{a,b}` alternatives, anchored at both ends, optional `:tag` part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    alternatives: Vec<Alternative>,
}

/// One brace-free alternative of a pattern, normalized and compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Alternative {
    /// Normalized text, e.g. `docker.io/library/ubuntu:2*`.
    normalized: String,
    name: Vec<Token>,
    tag: Option<Vec<Token>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// One exact byte.
    Lit(u8),
    /// `*`: any run of bytes without `/`.
    Star,
    /// `**` as a whole last (or only) segment: any run of bytes.
    Any,
    /// `**/` as a whole segment followed by more: nothing, or any run ending in `/`.
    Segments,
}

impl Pattern {
    /// Parses a pattern. The repository part is normalized like a reference
    /// (`ubuntu` → `docker.io/library/ubuntu`).
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let invalid = |reason: String| ParseError::InvalidPattern {
            text: text.to_owned(),
            reason,
        };
        if text.is_empty() {
            return Err(invalid("empty pattern".to_owned()));
        }
        if text.len() > MAX_PATTERN_LEN {
            return Err(invalid(format!(
                "{} characters, more than {MAX_PATTERN_LEN}",
                text.len()
            )));
        }
        if let Some(c) = text
            .chars()
            .find(|c| !(c.is_ascii_graphic()) || matches!(c, '@' | '?' | '\\'))
        {
            let why = if c == '@' {
                " (patterns match names and tags, not digests)".to_owned()
            } else {
                String::new()
            };
            return Err(invalid(format!(
                "unexpected character `{}`{why}",
                c.escape_default()
            )));
        }
        let expanded = expand(text).map_err(invalid)?;
        let mut alternatives = Vec::with_capacity(expanded.len());
        for alt in &expanded {
            let compiled = compile(alt).map_err(|why| {
                if expanded.len() == 1 || alt.is_empty() {
                    invalid(why)
                } else {
                    invalid(format!("in alternative `{alt}`: {why}"))
                }
            })?;
            if !alternatives.contains(&compiled) {
                alternatives.push(compiled);
            }
        }
        Ok(Self {
            text: text.to_owned(),
            alternatives,
        })
    }

    /// Whether the image matches (registry + repository, and tag when the pattern has one).
    /// A reference with neither tag nor digest counts as `:latest` for the tag part; a
    /// digest-only reference matches no pattern that has a tag part.
    #[must_use]
    pub fn matches(&self, image: &ImageRef) -> bool {
        // `registry/repository` put together on the stack: an image is matched against
        // every pattern of a policy, tens of thousands of times in a monorepo.
        let (registry, repository) = (image.registry().as_bytes(), image.repository().as_bytes());
        let len = registry.len() + 1 + repository.len();
        let mut buffer = [0u8; 256];
        let owned;
        let name: &[u8] = if len <= buffer.len() {
            buffer[..registry.len()].copy_from_slice(registry);
            buffer[registry.len()] = b'/';
            buffer[registry.len() + 1..len].copy_from_slice(repository);
            &buffer[..len]
        } else {
            owned = image.name();
            owned.as_bytes()
        };
        self.alternatives.iter().any(|alt| {
            glob_match(&alt.name, name)
                && match &alt.tag {
                    None => true,
                    Some(tag) => image
                        .implied_tag()
                        .is_some_and(|t| glob_match(tag, t.as_bytes())),
                }
        })
    }

    /// The pattern as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The normalized alternatives, e.g. `ubuntu` → `["docker.io/library/ubuntu"]` and
    /// `{alpine,ghcr.io/x/*}` → `["docker.io/library/alpine", "ghcr.io/x/*"]`.
    pub fn normalized(&self) -> impl Iterator<Item = &str> {
        self.alternatives.iter().map(|a| a.normalized.as_str())
    }

    /// Whether some alternative has a `:tag` part.
    #[must_use]
    pub fn has_tag(&self) -> bool {
        self.alternatives.iter().any(|a| a.tag.is_some())
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Pattern {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for Pattern {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for Pattern {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Expands `{a,b}` alternatives (nested allowed) into brace-free strings.
fn expand(text: &str) -> Result<Vec<String>, String> {
    let Some(open) = text.find(['{', '}']) else {
        return Ok(vec![text.to_owned()]);
    };
    if text.as_bytes()[open] == b'}' {
        return Err(format!("`}}` at offset {open} has no matching `{{`"));
    }
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut close = None;
    let mut commas = Vec::new();
    for (i, &b) in bytes.iter().enumerate().skip(open) {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(i);
                    break;
                }
            }
            b',' if depth == 1 => commas.push(i),
            _ => {}
        }
    }
    let Some(close) = close else {
        return Err(format!("`{{` at offset {open} is never closed"));
    };
    let prefix = &text[..open];
    let mut bounds = vec![open];
    bounds.extend(commas);
    bounds.push(close);
    let suffixes = expand(&text[close + 1..])?;
    let mut out = Vec::new();
    for pair in bounds.windows(2) {
        for middle in expand(&text[pair[0] + 1..pair[1]])? {
            for suffix in &suffixes {
                if out.len() == MAX_ALTERNATIVES {
                    return Err(format!(
                        "expands to more than {MAX_ALTERNATIVES} alternatives"
                    ));
                }
                out.push(format!("{prefix}{middle}{suffix}"));
            }
        }
    }
    Ok(out)
}

/// Normalizes one brace-free alternative like a reference and compiles it.
fn compile(alt: &str) -> Result<Alternative, String> {
    if alt.is_empty() {
        return Err("empty alternative".to_owned());
    }
    if let Some(c) = alt.chars().find(|c| matches!(c, ',' | '{' | '}')) {
        return Err(format!("unexpected `{c}`"));
    }
    let (name, tag) = split_tag(alt);
    if name.is_empty() {
        return Err("missing repository before the `:tag` part".to_owned());
    }
    let segments: Vec<&str> = name.split('/').collect();
    let (registry, path) = if segments.len() > 1 && is_registry_component(segments[0]) {
        let host = canonical_registry(segments[0].to_ascii_lowercase());
        check_registry(&host)?;
        (Some(host), &segments[1..])
    } else if segments[0] == "**" {
        // A leading `**` stands for any registry: `**`, `**/nginx`.
        (None, &segments[..])
    } else {
        (Some(DOCKER_HUB.to_owned()), &segments[..])
    };
    let mut path: Vec<&str> = path.to_vec();
    if registry.as_deref() == Some(DOCKER_HUB) && path.len() == 1 && path[0] != "**" {
        path.insert(0, "library");
    }
    for segment in &path {
        check_segment(segment, name)?;
    }
    let mut normalized: Vec<&str> = Vec::with_capacity(path.len() + 1);
    if let Some(host) = &registry {
        normalized.push(host);
    }
    normalized.extend(&path);
    let name_tokens = name_tokens(&normalized);
    let mut text = normalized.join("/");
    let tag = match tag {
        None => None,
        Some(tag) => {
            check_tag_glob(tag)?;
            text.push(':');
            text.push_str(tag);
            Some(
                tag.bytes()
                    .map(|b| {
                        if b == b'*' {
                            Token::Star
                        } else {
                            Token::Lit(b)
                        }
                    })
                    .collect(),
            )
        }
    };
    Ok(Alternative {
        normalized: text,
        name: name_tokens,
        tag,
    })
}

fn check_registry(host: &str) -> Result<(), String> {
    let ok = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'*'));
    if !ok || host.contains("**") {
        return Err(format!(
            "registry `{host}` may only have letters, digits, `.`, `-`, `:`, `[]` and `*`"
        ));
    }
    Ok(())
}

fn check_segment(segment: &str, name: &str) -> Result<(), String> {
    if segment.is_empty() {
        return Err(format!("empty path segment in `{name}`"));
    }
    if segment.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(format!(
            "segment `{segment}` has uppercase letters; repository names are lowercase, so it \
             would never match"
        ));
    }
    if let Some(b) = segment.bytes().find(|&b| {
        !(b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-' | b'*'))
    }) {
        return Err(format!(
            "segment `{segment}` has `{}` (allowed: lowercase letters, digits, `.`, `_`, `-`, \
             `*`)",
            char::from(b)
        ));
    }
    if segment.contains("**") && segment != "**" {
        return Err(format!(
            "`**` must be a whole segment (`a/**/b`), not part of `{segment}`"
        ));
    }
    Ok(())
}

fn check_tag_glob(tag: &str) -> Result<(), String> {
    if tag.is_empty() {
        return Err("empty tag after `:`".to_owned());
    }
    if let Some(b) = tag
        .bytes()
        .find(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'*')))
    {
        return Err(format!(
            "tag `{tag}` has `{}` (allowed: letters, digits, `_`, `.`, `-`, `*`)",
            char::from(b)
        ));
    }
    if tag.contains("**") {
        return Err(format!("tag `{tag}`: use `*`; a tag has no segments"));
    }
    Ok(())
}

/// Compiles normalized segments: `**` alone, last (`a/**`) or inner/leading (`a/**/b`,
/// `**/b`, which also match with zero segments).
fn name_tokens(segments: &[&str]) -> Vec<Token> {
    let mut tokens = Vec::new();
    let last = segments.len() - 1;
    for (i, segment) in segments.iter().enumerate() {
        if *segment == "**" {
            if i == last {
                tokens.push(Token::Any);
            } else {
                tokens.push(Token::Segments);
            }
            continue;
        }
        tokens.extend(segment.bytes().map(|b| {
            if b == b'*' {
                Token::Star
            } else {
                Token::Lit(b)
            }
        }));
        if i != last {
            tokens.push(Token::Lit(b'/'));
        }
    }
    tokens
}

/// Anchored glob match in O(tokens × text) with a reachable-position set, so no input
/// can make it backtrack exponentially.
fn glob_match(tokens: &[Token], text: &[u8]) -> bool {
    // Fast path: the literal prefix (usually the registry and organisation) must match
    // byte for byte, and a pattern without wildcards is plain equality. This keeps the
    // position scan below for the wildcard part only.
    let literal = tokens
        .iter()
        .take_while(|t| matches!(t, Token::Lit(_)))
        .count();
    if literal > text.len() {
        return false;
    }
    for (token, &byte) in tokens[..literal].iter().zip(text) {
        if *token != Token::Lit(byte) {
            return false;
        }
    }
    let (tokens, text) = (&tokens[literal..], &text[literal..]);
    if tokens.is_empty() {
        return text.is_empty();
    }
    let n = text.len();
    let mut cur = vec![false; n + 1];
    cur[0] = true;
    let mut next = vec![false; n + 1];
    for token in tokens {
        next.fill(false);
        match *token {
            Token::Lit(c) => {
                for i in 0..n {
                    next[i + 1] = cur[i] && text[i] == c;
                }
            }
            Token::Star => {
                let mut reach = false;
                for j in 0..=n {
                    reach |= cur[j];
                    next[j] = reach;
                    if j < n && text[j] == b'/' {
                        reach = false;
                    }
                }
            }
            Token::Any => {
                let mut reach = false;
                for j in 0..=n {
                    reach |= cur[j];
                    next[j] = reach;
                }
            }
            Token::Segments => {
                let mut reach = false;
                for j in 0..=n {
                    next[j] = cur[j] || (reach && j > 0 && text[j - 1] == b'/');
                    reach |= cur[j];
                }
            }
        }
        std::mem::swap(&mut cur, &mut next);
        if !cur.iter().any(|&x| x) {
            return false;
        }
    }
    cur[n]
}
