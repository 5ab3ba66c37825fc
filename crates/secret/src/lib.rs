//! Secrets (passwords, tokens, `Authorization` header values) in a type that never prints
//! its content, so a `{:?}` in a log line or an error cannot leak a credential.
//!
//! A leaf crate with no dependencies and no I/O: the registry client, signing and the forge
//! clients all hold credentials, and none of them should need another to name the type.
//!
//! ```
//! use portcullis_secret::Secret;
//!
//! let token = Secret::new("ghp_example");
//! assert_eq!(format!("{token} {token:?}"), "*** Secret(***)");
//! assert_eq!(token.expose(), "ghp_example");
//! ```

use std::fmt;

/// A credential or token. `Debug` and `Display` print `***`; read it with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value, for the one place that must send it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANARY: &str = "canary-3d9f1b-token";

    #[test]
    fn debug_and_display_redact() {
        let secret = Secret::new(CANARY);
        assert_eq!(format!("{secret}"), "***");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        assert_eq!(format!("{secret:#?}"), "Secret(***)");
        // Width and fill flags must not reach the value either.
        assert_eq!(format!("{secret:>12}"), "***");
    }

    #[test]
    fn canary_never_appears_in_any_formatting_of_a_holder() {
        /// A type that holds a secret the way clients do, with derived `Debug`.
        #[derive(Debug, Clone, Default)]
        #[allow(dead_code)]
        struct Login {
            user: String,
            token: Secret,
            previous: Option<Secret>,
            all: Vec<Secret>,
        }
        let from_string = Secret::from(CANARY.to_owned());
        let login = Login {
            user: "ci".into(),
            token: Secret::new(CANARY),
            previous: Some(from_string.clone()),
            all: vec![from_string, Secret::new(format!("Bearer {CANARY}"))],
        };
        let printed = [
            format!("{login:?}"),
            format!("{login:#?}"),
            format!("{} {:?}", login.token, login.previous),
        ];
        for text in &printed {
            assert!(!text.contains(CANARY), "canary leaked: {text}");
            assert!(text.contains("***"), "nothing printed in its place: {text}");
        }
        assert_eq!(login.token.expose(), CANARY, "the value itself is kept");
        assert!(!login.token.is_empty() && Secret::default().is_empty());
    }
}
