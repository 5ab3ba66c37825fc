//! Registry credentials: a user name and a password or token, the password kept in a
//! [`Secret`] so that printing credentials never prints it.

use portcullis_secret::Secret;

/// A user name and password (or token) for one registry.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Credentials {
    pub username: String,
    pub password: Secret,
}

impl Credentials {
    /// Builds credentials.
    #[must_use]
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: Secret::new(password),
        }
    }

    /// The `Authorization: Basic …` header value, itself a secret.
    #[must_use]
    pub fn basic_header(&self) -> Secret {
        use base64::Engine as _;
        let raw = format!("{}:{}", self.username, self.password.expose());
        Secret::new(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_is_base64_and_redacted() {
        let credentials = Credentials::new("ci", "canary-51c0de");
        let header = credentials.basic_header();
        assert_eq!(header.expose(), "Basic Y2k6Y2FuYXJ5LTUxYzBkZQ==");
        let printed = format!("{header} {header:?} {credentials:?}");
        assert!(
            !printed.contains("canary-51c0de") && !printed.contains("Y2k6"),
            "{printed}"
        );
    }
}
