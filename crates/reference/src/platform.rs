//! A build platform, `os/arch[/variant]` (`linux/amd64`, `linux/arm/v7`), as `docker build
//! --platform` and `[build] platforms` spell it.

use std::fmt;
use std::str::FromStr;

/// `os/arch[/variant]`, each part lowercase ASCII letters, digits or `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform {
    os: String,
    arch: String,
    variant: Option<String>,
}

/// A platform string that is not `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid platform `{text}`: expected `os/arch` or `os/arch/variant`, like `linux/arm64`")]
pub struct PlatformError {
    /// The text as written (control and non-ASCII characters escaped).
    pub text: String,
}

impl Platform {
    /// Parses `os/arch[/variant]`.
    pub fn parse(text: &str) -> Result<Self, PlatformError> {
        let parts: Vec<&str> = text.split('/').collect();
        let valid = (2..=3).contains(&parts.len())
            && parts.iter().all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            });
        if !valid {
            return Err(PlatformError {
                text: text.escape_default().to_string(),
            });
        }
        Ok(Self {
            os: parts[0].to_owned(),
            arch: parts[1].to_owned(),
            variant: parts.get(2).map(|v| (*v).to_owned()),
        })
    }

    /// `linux`.
    #[must_use]
    pub fn os(&self) -> &str {
        &self.os
    }

    /// `amd64`.
    #[must_use]
    pub fn arch(&self) -> &str {
        &self.arch
    }

    /// `v7` in `linux/arm/v7`.
    #[must_use]
    pub fn variant(&self) -> Option<&str> {
        self.variant.as_deref()
    }
}

impl FromStr for Platform {
    type Err = PlatformError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_os_arch_variant() {
        let arm = Platform::parse("linux/arm/v7").unwrap();
        assert_eq!(
            (arm.os(), arm.arch(), arm.variant()),
            ("linux", "arm", Some("v7"))
        );
        assert_eq!(arm.to_string(), "linux/arm/v7");
        let amd = Platform::parse("linux/amd64").unwrap();
        assert_eq!(amd.variant(), None);
        assert_eq!(amd.to_string(), "linux/amd64");
    }

    #[test]
    fn refuses_anything_else_naming_the_text() {
        for bad in [
            "linux",
            "linux/",
            "/amd64",
            "Linux/amd64",
            "linux/amd64/v8/x",
            "linux amd64",
            "",
        ] {
            let error = Platform::parse(bad).unwrap_err();
            assert!(error.to_string().contains(&format!("`{bad}`")), "{error}");
        }
    }
}
