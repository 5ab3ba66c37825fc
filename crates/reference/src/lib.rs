//! Container image references: parse, normalize and print them the way Docker does, check
//! digests, and match them against allow/deny glob patterns. [`host`] knows registry hosts
//! (Docker Hub's aliases, loopback, the tag grammar); [`source`] holds what every crate
//! shares about where a reference is written: [`Location`], [`Context`], [`Resolution`] and
//! per-file [`Problem`]s; [`inline`] the parts of an inline waiver comment as written.
//!
//! Everything here is pure (no I/O), so every other crate can depend on it.
//!
//! ```
//! use portcullis_reference::{ImageRef, Pattern};
//!
//! let image = ImageRef::parse("nginx:1.27").unwrap();
//! assert_eq!(image.to_string(), "docker.io/library/nginx:1.27");
//! assert_eq!(image.familiar(), "nginx:1.27");
//! assert!(Pattern::parse("docker.io/library/{nginx,alpine}").unwrap().matches(&image));
//! assert!(!Pattern::parse("ghcr.io/**").unwrap().matches(&image));
//! ```

mod digest;
pub mod host;
pub mod identity;
pub mod inline;
mod name;
mod pattern;
mod platform;
pub mod source;

pub use digest::{Algorithm, Digest};
pub use name::{ImageRef, DOCKER_HUB, DOCKER_HUB_API, NAME_MAX_LEN, TAG_MAX_LEN};
pub use pattern::Pattern;
pub use platform::{Platform, PlatformError};
pub use source::{Context, Location, Problem, ProblemKind, Resolution};

/// Error parsing an image reference, a digest or a pattern. Every message quotes the text,
/// with control and non-ASCII characters escaped so hostile input cannot drive a terminal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The reference text is empty.
    #[error("empty image reference")]
    Empty,
    /// The reference is not a valid image reference.
    #[error("invalid image reference `{}`: {reason}", shown(text))]
    Invalid {
        /// The reference as written.
        text: String,
        /// What is wrong, naming the offending part in backticks.
        reason: String,
    },
    /// The digest is not `sha256:` + 64 lowercase hex or `sha512:` + 128.
    #[error("invalid digest `{}`: {reason}", shown(text))]
    InvalidDigest {
        /// The digest as written.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The allow/deny pattern is malformed.
    #[error("invalid pattern `{}`: {reason}", shown(text))]
    InvalidPattern {
        /// The pattern as written.
        text: String,
        /// What is wrong, naming the offending part in backticks.
        reason: String,
    },
}

/// The text as it may be shown in a message: printable ASCII kept, everything else escaped
/// (`\n`, `\u{1b}`, …).
fn shown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == ' ' || c.is_ascii_graphic() {
            out.push(c);
        } else {
            out.extend(c.escape_default());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_escape_terminal_control_characters() {
        let err = ImageRef::parse("nginx\u{1b}[31m\n").unwrap_err();
        let msg = err.to_string();
        assert!(!msg.contains('\u{1b}') && !msg.contains('\n'), "{msg:?}");
        assert!(msg.contains("`nginx\\u{1b}[31m\\n`"), "{msg}");
        let err = Pattern::parse("gh\u{202e}cr.io/x").unwrap_err();
        assert!(err.to_string().contains("gh\\u{202e}cr.io/x"), "{err}");
    }
}
