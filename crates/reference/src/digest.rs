//! Content digests (`sha256:<hex>`, `sha512:<hex>`): strict parsing, hashing and
//! verification. Registries address everything by digest, so a lax parser here would let a
//! forged or truncated pin through every later check.

use std::fmt;
use std::str::FromStr;

use sha2::Digest as _;

use crate::ParseError;

/// Digest algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// SHA-256, 64 hex characters; what every registry uses.
    Sha256,
    /// SHA-512, 128 hex characters; allowed by the OCI image spec.
    Sha512,
}

impl Algorithm {
    /// The algorithm's name as written before the `:` (`sha256`, `sha512`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// How many hex characters an encoded digest of this algorithm has.
    #[must_use]
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A content digest such as `sha256:<64 hex>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

impl Digest {
    /// Parses `sha256:<64 lowercase hex>` or `sha512:<128 lowercase hex>`.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let invalid = |reason: String| ParseError::InvalidDigest {
            text: text.to_owned(),
            reason,
        };
        let Some((alg, hex)) = text.split_once(':') else {
            return Err(invalid(
                "expected `sha256:` or `sha512:` followed by hex".to_owned(),
            ));
        };
        let algorithm = match alg {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            other => {
                return Err(invalid(format!(
                    "unsupported algorithm `{other}` (expected `sha256` or `sha512`)"
                )))
            }
        };
        if let Some(bad) = hex.chars().find(|c| !matches!(c, '0'..='9' | 'a'..='f')) {
            let what = if bad.is_ascii_hexdigit() {
                "uppercase hex"
            } else {
                "non-hex character"
            };
            return Err(invalid(format!(
                "{what} `{}` (expected lowercase hex)",
                bad.escape_default()
            )));
        }
        let want = algorithm.hex_len();
        if hex.len() != want {
            return Err(invalid(format!(
                "{} hex characters, expected {want} for `{algorithm}`",
                hex.len()
            )));
        }
        Ok(Self {
            algorithm,
            hex: hex.to_owned(),
        })
    }

    /// The sha256 digest of `bytes`.
    #[must_use]
    pub fn sha256(bytes: &[u8]) -> Self {
        Self {
            algorithm: Algorithm::Sha256,
            hex: hex::encode(sha2::Sha256::digest(bytes)),
        }
    }

    /// The sha512 digest of `bytes`.
    #[must_use]
    pub fn sha512(bytes: &[u8]) -> Self {
        Self {
            algorithm: Algorithm::Sha512,
            hex: hex::encode(sha2::Sha512::digest(bytes)),
        }
    }

    /// The digest of `bytes` computed with `algorithm`.
    #[must_use]
    pub fn of(algorithm: Algorithm, bytes: &[u8]) -> Self {
        match algorithm {
            Algorithm::Sha256 => Self::sha256(bytes),
            Algorithm::Sha512 => Self::sha512(bytes),
        }
    }

    /// Whether `bytes` hash to this digest (with this digest's algorithm).
    #[must_use]
    pub fn verify(&self, bytes: &[u8]) -> bool {
        Self::of(self.algorithm, bytes) == *self
    }

    /// The digest's algorithm.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The lowercase hex part.
    #[must_use]
    pub fn hex(&self) -> &str {
        &self.hex
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.hex)
    }
}

impl FromStr for Digest {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn sha256_of_empty_input_is_the_well_known_value() {
        let d = Digest::sha256(b"");
        assert_eq!(d.to_string(), format!("sha256:{EMPTY_SHA256}"));
        assert_eq!(Digest::parse(&d.to_string()).unwrap(), d);
    }

    #[test]
    fn sha512_of_abc_matches_fips_180_vector() {
        let d = Digest::sha512(b"abc");
        assert_eq!(
            d.hex(),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
             2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        );
        assert_eq!(d.algorithm(), Algorithm::Sha512);
        assert!(d.verify(b"abc"));
        assert!(!d.verify(b"abd"));
    }

    #[test]
    fn verify_rejects_other_bytes() {
        let d = Digest::sha256(b"layer");
        assert!(d.verify(b"layer"));
        assert!(!d.verify(b"layer "));
    }

    #[test]
    fn malformed_digests_are_rejected_with_the_text_quoted() {
        let cases = [
            "sha256:abc",
            &format!("sha256:{}", EMPTY_SHA256.to_uppercase()),
            &format!("sha256:{EMPTY_SHA256}0"),
            &format!("md5:{EMPTY_SHA256}"),
            &format!("sha512:{EMPTY_SHA256}"),
            &format!("sha256:{}g", &EMPTY_SHA256[1..]),
            EMPTY_SHA256,
            "",
            "sha256:",
        ];
        for text in cases {
            let err = Digest::parse(text).unwrap_err();
            assert!(
                matches!(&err, ParseError::InvalidDigest { text: t, .. } if t == text),
                "{text}: {err:?}"
            );
            assert!(err.to_string().contains(&format!("`{text}`")), "{err}");
        }
    }
}
