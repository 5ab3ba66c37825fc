//! Small serde helpers shared by the report parsers: `null`-tolerant fields, JSON parsing
//! that reports the path of the offending field, and severity/fix-state spellings.

use serde::de::{DeserializeOwned, Error as _, Unexpected};
use serde::{Deserialize, Deserializer};

use crate::{Format, ScanError, VulnSeverity};

/// Deserializes `null` (or an absent field, with `#[serde(default)]`) as `T::default()`.
/// Go's `omitempty` and nil slices make both spellings common in scanner output.
pub(crate) fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Parses `bytes` as `T`, naming the JSON path of the first offending field on error.
pub(crate) fn from_json<T: DeserializeOwned>(
    source_name: &str,
    format: Format,
    bytes: &[u8],
) -> Result<T, ScanError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let field = e.path().to_string();
        ScanError::Parse {
            source_name: source_name.to_owned(),
            format,
            field,
            error: e.into_inner(),
        }
    })?;
    deserializer.end().map_err(|error| ScanError::Parse {
        source_name: source_name.to_owned(),
        format,
        field: ".".to_owned(),
        error,
    })?;
    Ok(value)
}

/// Parses a severity spelled by Trivy (`HIGH`), Grype (`High`, `Negligible`) or a SARIF
/// message (`high`). `None` for anything else.
pub(crate) fn severity_from_str(text: &str) -> Option<VulnSeverity> {
    Some(match text.trim().to_ascii_lowercase().as_str() {
        "unknown" | "" => VulnSeverity::Unknown,
        "negligible" => VulnSeverity::Negligible,
        "low" => VulnSeverity::Low,
        "medium" | "moderate" => VulnSeverity::Medium,
        "high" | "important" => VulnSeverity::High,
        "critical" => VulnSeverity::Critical,
        _ => return None,
    })
}

/// Serde default for absent severities.
pub(crate) fn unknown_severity() -> VulnSeverity {
    VulnSeverity::Unknown
}

/// Deserializes an optional severity string; an unrecognised spelling is an error (the gate
/// fails closed rather than treating an unknown word as harmless).
pub(crate) fn severity<'de, D>(deserializer: D) -> Result<VulnSeverity, D::Error>
where
    D: Deserializer<'de>,
{
    let text: Option<String> = Option::deserialize(deserializer)?;
    match text {
        None => Ok(VulnSeverity::Unknown),
        Some(text) => severity_from_str(&text).ok_or_else(|| {
            D::Error::invalid_value(
                Unexpected::Str(&text),
                &"one of UNKNOWN, NEGLIGIBLE, LOW, MEDIUM, HIGH, CRITICAL",
            )
        }),
    }
}

/// The severity bucket of a CVSS v3 base score (FIRST's qualitative rating scale).
pub(crate) fn severity_from_cvss(score: f64) -> VulnSeverity {
    if score >= 9.0 {
        VulnSeverity::Critical
    } else if score >= 7.0 {
        VulnSeverity::High
    } else if score >= 4.0 {
        VulnSeverity::Medium
    } else if score > 0.0 {
        VulnSeverity::Low
    } else {
        VulnSeverity::Unknown
    }
}

/// A CVSS score if it is a real one (finite, 0–10).
pub(crate) fn valid_cvss(score: f64) -> Option<f64> {
    (score.is_finite() && (0.0..=10.0).contains(&score)).then_some(score)
}

/// Larger of two optional scores.
pub(crate) fn max_cvss(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Pushes `item` unless an equal item is already there (keeps first-seen order).
pub(crate) fn push_unique(list: &mut Vec<String>, item: &str) {
    if !item.is_empty() && !list.iter().any(|existing| existing == item) {
        list.push(item.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_spellings() {
        for (text, want) in [
            ("CRITICAL", Some(VulnSeverity::Critical)),
            ("High", Some(VulnSeverity::High)),
            ("medium", Some(VulnSeverity::Medium)),
            ("Negligible", Some(VulnSeverity::Negligible)),
            ("UNKNOWN", Some(VulnSeverity::Unknown)),
            ("SUPER", None),
        ] {
            assert_eq!(severity_from_str(text), want, "{text}");
        }
    }

    #[test]
    fn cvss_buckets() {
        assert_eq!(severity_from_cvss(9.8), VulnSeverity::Critical);
        assert_eq!(severity_from_cvss(7.0), VulnSeverity::High);
        assert_eq!(severity_from_cvss(5.3), VulnSeverity::Medium);
        assert_eq!(severity_from_cvss(0.1), VulnSeverity::Low);
        assert_eq!(severity_from_cvss(0.0), VulnSeverity::Unknown);
        assert_eq!(valid_cvss(f64::NAN), None);
        assert_eq!(valid_cvss(11.0), None);
    }
}
